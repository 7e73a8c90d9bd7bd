"""Calibration on generated probabilities with known answers: a calibrated generator has ECE ≈ 0, temperature
scaling finds the temperature an over-confident model was sharpened by, conformal sets cover as promised."""
from __future__ import annotations

import numpy as np
import pytest

from allrepro.audit.calibration import brier, conformal, ece, fit_temperature, reliability, scale, summary


def calibrated(n: int, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    return proba, y


def test_a_calibrated_generator_has_ece_near_zero_and_a_sharpened_one_does_not():
    proba, y = calibrated(20000)
    assert ece(proba, y, 15) < 0.015
    assert ece(scale(proba, 0.5), y, 15) > 0.08  # sharpened: over-confident


def test_temperature_scaling_recovers_the_sharpening_and_keeps_every_prediction():
    proba, y = calibrated(20000, seed=1)
    sharp = scale(proba, 0.5)
    t = fit_temperature(sharp[:10000], y[:10000])
    assert t == pytest.approx(2.0, rel=0.1)
    fixed = scale(sharp[10000:], t)
    assert ece(fixed, y[10000:], 15) < 0.02 and (fixed.argmax(axis=1) == sharp[10000:].argmax(axis=1)).all()


def test_brier_and_reliability_of_known_cases():
    onehot = np.eye(3)[[0, 1, 2, 0]]
    assert brier(onehot, np.array([0, 1, 2, 0])) == 0.0 and brier(onehot, np.array([1, 1, 2, 0])) == 0.5
    proba, y = calibrated(20000, seed=2)
    confidence, accuracy = reliability(proba, y, 10)
    gap = np.abs(confidence - accuracy)
    assert gap[1:].max() < 0.02 and gap[0] < 0.1  # the lowest bin (top label just above 1/4) holds few images


def test_conformal_sets_cover_as_promised_and_qhat_forms_the_same_sets():
    proba, y = calibrated(8000, seed=3)
    out, sets = conformal(proba[:4000], y[:4000], proba[4000:], y[4000:], 0.9)
    assert 0.88 <= out["coverage"] <= 0.93 and 1 < out["mean_set_size"] < 4
    assert (sets == (1 - proba[4000:] <= out["qhat"] + 1e-9)).all()  # what predict needs to form a set


def test_no_validation_part_fits_nothing():
    proba, y = calibrated(200, seed=4)
    out = summary(None, None, proba, y, 15, 0.95)
    assert out["temperature"] is None and out["conformal"] is None and out["ece"] >= 0
