"""The weighted-threshold ensemble rule on hand-made probabilities, and the corrected-images table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allrepro.combine import ABSTAIN, combine
from allrepro.combine import score
from allrepro.ensemble import corrected_images

CLASSES = ["a", "b", "c"]
A = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
B = np.array([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.05, 0.05, 0.9]])


def test_argmax_of_weighted_sum():
    pred, combined = combine([A, B], [0.5, 0.5], gamma=0.0)
    np.testing.assert_allclose(combined, 0.5 * A + 0.5 * B)
    assert pred.tolist() == [0, 1, 1, 2]  # row 1: (0.15, 0.45, 0.40) -> b
    pred, _ = combine([A, B], [0.3, 0.7], gamma=0.0)
    assert pred[1] == 2  # row 1 leans on B now: (0.13, 0.35, 0.52) -> c


def test_threshold_abstains_below_gamma():
    pred, combined = combine([A, B], [0.5, 0.5], gamma=0.7)
    assert combined.max(axis=1).round(3).tolist() == [0.75, 0.45, 0.525, 0.85]
    assert pred.tolist() == [0, ABSTAIN, ABSTAIN, 2]


def test_fallback_to_the_best_member():
    pred, _ = combine([A, B], [0.5, 0.5], gamma=0.7, fallback="best", best=1)
    assert pred.tolist() == [0, 2, 1, 2]  # the unsure rows take member B's argmax


def test_gamma_exactly_at_the_confidence_is_confident():
    pred, _ = combine([np.array([[0.8, 0.2, 0.0]])], [1.0], gamma=0.8)
    assert pred.tolist() == [0]


def test_weights_must_match_members():
    with pytest.raises(ValueError, match="2 members but 1 weights"):
        combine([A, B], [1.0], gamma=0.5)


def test_score_counts_abstentions_as_wrong():
    y = np.array([0, 1, 1, 2])
    pred = np.array([0, ABSTAIN, ABSTAIN, 2])
    s = score(y, pred, CLASSES)
    assert s["coverage"] == 0.5 and s["accuracy_all"] == 0.5 and s["accuracy_covered"] == 1.0
    assert s["b"]["sensitivity"] == 0.0 and s["a"]["specificity"] == pytest.approx(1 / 3)


def test_corrected_images_are_member_errors_fixed_by_the_ensemble():
    y = np.array([0, 1, 1, 2])
    pred = np.array([0, 1, 1, 2])
    table = corrected_images(pd.Series(["p0", "p1", "p2", "p3"]), y, {"A": A, "B": B}, pred, CLASSES)
    # A is wrong on p2 (said a), B on p1 (said c); the ensemble is right on both
    fn = table[table["kind"] == "FN->TP"].sort_values("member")
    assert fn[["member", "path", "class"]].values.tolist() == [["A", "p2", "b"], ["B", "p1", "b"]]
    fp = table[table["kind"] == "FP->TN"].sort_values("member")
    assert fp[["member", "path", "class"]].values.tolist() == [["A", "p2", "a"], ["B", "p1", "c"]]
