"""Calibration: can a model's probabilities be read as probabilities? (patel's γ thresholds them.)

- ECE: the top-label expected calibration error — test images binned by the probability of the predicted class in
  `bins` equal-width bins over [0, 1]; the mean |accuracy − confidence| of the bins, weighted by their counts.
- Brier score: the mean squared distance between the probability vector and the one-hot truth (0 is perfect,
  2 the worst), over all classes.
- Reliability diagram: accuracy against confidence per bin (scikit-learn's calibration_curve on the top label).
- Temperature scaling (Guo et al. 2017): one scalar T fitted on the validation part by minimum negative
  log-likelihood, softmax(log p / T); it changes confidence, never the predicted class.
- Conformal prediction sets (split conformal, crepes): non-conformity 1 − p(class), calibrated on the
  validation part; at confidence 1 − ε a test image's set holds every class whose score is at most the
  calibration quantile `qhat`, and covers the true class with probability ≥ 1 − ε when validation and test images
  are exchangeable — an abstention with a guarantee, where patel's γ has none.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

EPS = 1e-12


def ece(proba: np.ndarray, y: np.ndarray, bins: int) -> float:
    """Top-label expected calibration error over `bins` equal-width confidence bins."""
    if not len(y):
        return float("nan")
    confidence, pred = proba.max(axis=1), proba.argmax(axis=1)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs((pred[inside] == y[inside]).mean() - confidence[inside].mean())
    return float(total / len(y))


def brier(proba: np.ndarray, y: np.ndarray) -> float:
    """Multiclass Brier score: mean over images of the squared distance to the one-hot truth."""
    if not len(y):
        return float("nan")
    onehot = np.eye(proba.shape[1])[y]
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def reliability(proba: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean confidence, accuracy) of each non-empty bin of the top label (scikit-learn's calibration curve)."""
    from sklearn.calibration import calibration_curve

    correct = (proba.argmax(axis=1) == y).astype(int)
    accuracy, confidence = calibration_curve(correct, proba.max(axis=1), n_bins=bins, strategy="uniform")
    return confidence, accuracy


def scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the probabilities at temperature T (T > 1 softens, T < 1 sharpens)."""
    logits = np.log(np.clip(proba, EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the negative log-likelihood of the labels (the validation part)."""
    def nll(t: float) -> float:
        return float(-np.log(np.clip(scale(proba, t)[np.arange(len(y)), y], EPS, 1.0)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded", options={"xatol": 1e-4}).x)


def conformal(proba_cal: np.ndarray, y_cal: np.ndarray, proba_test: np.ndarray, y_test: np.ndarray,
              confidence: float) -> dict:
    """Split-conformal prediction sets at `confidence` (crepes, unsmoothed p-values): calibrated on
    (proba_cal, y_cal), evaluated on the test part — empirical coverage, mean set size, the share of single-class
    sets, and `qhat` (a class is in the set when 1 − p(class) ≤ qhat: what predict needs to form a set)."""
    from crepes import ConformalClassifier

    scores = 1.0 - proba_cal[np.arange(len(y_cal)), y_cal]
    sets = ConformalClassifier().fit(scores).predict_set(1.0 - proba_test, confidence=confidence, smoothing=False)
    sets = np.asarray(sets, dtype=bool)
    n = len(scores)
    rank = int(np.ceil((n + 1) * confidence))  # the calibration quantile behind crepes' p-values
    qhat = float(np.sort(scores)[rank - 1]) if rank <= n else 1.0
    size = sets.sum(axis=1)
    return {"confidence": confidence, "calibration_images": int(n), "qhat": qhat,
            "coverage": float(sets[np.arange(len(y_test)), y_test].mean()) if len(y_test) else float("nan"),
            "mean_set_size": float(size.mean()) if len(size) else float("nan"),
            "single_class_share": float((size == 1).mean()) if len(size) else float("nan")}, sets


def summary(proba_val: np.ndarray | None, y_val: np.ndarray | None, proba_test: np.ndarray, y_test: np.ndarray,
            bins: int, confidence: float) -> dict:
    """One model's calibration on the test part, before and after temperature scaling, and its conformal sets
    (both fitted on the validation part; None where there is no validation part to fit them on)."""
    out = {"bins": bins, "ece": ece(proba_test, y_test, bins), "brier": brier(proba_test, y_test),
           "temperature": None, "ece_scaled": None, "brier_scaled": None, "conformal": None}
    if proba_val is not None and len(y_val):
        t = fit_temperature(proba_val, y_val)
        scaled = scale(proba_test, t)
        out.update(temperature=round(t, 4), ece_scaled=ece(scaled, y_test, bins), brier_scaled=brier(scaled, y_test),
                   conformal=conformal(proba_val, y_val, proba_test, y_test, confidence)[0])
    return out
