"""metrics on hand-made labels and probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from allrepro.metrics import classification_metrics


def test_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    a = m["per_class"]["a"]
    assert a["precision"] == pytest.approx(0.5) and a["recall"] == pytest.approx(0.5)
    assert a["specificity"] == pytest.approx(3 / 4)  # of the 4 non-a images, 3 were not called a
    assert m["per_class"]["b"]["specificity"] == pytest.approx(3 / 4)
    assert m["macro"]["recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert -1 <= m["mcc"] <= 1 and m["per_class"]["c"]["roc_auc"] is not None


def test_perfect_and_absent_class():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.eye(3)[y], ["a", "b", "c"])
    assert m["accuracy"] == 1.0 and m["mcc"] == pytest.approx(1.0)
    assert m["per_class"]["c"]["roc_auc"] is None  # undefined without positives
