"""Classification metrics from labels and probabilities: the numbers every paper reports, and a few more."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, matthews_corrcoef, precision_recall_fscore_support,
                             roc_auc_score)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[str],
                           averages=("macro", "weighted")) -> dict:
    labels = np.arange(len(classes))
    y_pred = proba.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    negatives = cm.sum() - cm.sum(axis=1)             # true negatives + false positives per class
    true_neg = negatives - (cm.sum(axis=0) - np.diag(cm))
    specificity = np.divide(true_neg, negatives, out=np.zeros(len(classes)), where=negatives > 0)
    auc = _one_vs_rest_auc(y_true, proba, labels)
    per_class = {c: {"precision": float(precision[i]), "recall": float(recall[i]), "specificity": float(specificity[i]),
                     "f1": float(f1[i]), "support": int(support[i]), "roc_auc": auc[i]}
                 for i, c in enumerate(classes)}
    out = {"n": int(len(y_true)), "accuracy": float(accuracy_score(y_true, y_pred)),
           "mcc": float(matthews_corrcoef(y_true, y_pred)), "per_class": per_class,
           "confusion_matrix": cm.tolist()}
    weights = support / max(support.sum(), 1)
    for avg in averages:
        w = np.full(len(classes), 1 / len(classes)) if avg == "macro" else weights
        out[avg] = {k: _weighted([per_class[c][k] for c in classes], w)
                    for k in ("precision", "recall", "specificity", "f1", "roc_auc")}
    return out


def _weighted(values: list, weights: np.ndarray) -> float | None:
    """Weighted mean over the classes where the metric is defined (JSON has no NaN)."""
    defined = np.array([v is not None for v in values])
    if not defined.any() or weights[defined].sum() == 0:
        return None
    v = np.array([x for x in values if x is not None], dtype=float)
    return float(np.dot(weights[defined], v) / weights[defined].sum())


def _one_vs_rest_auc(y_true, proba, labels) -> list[float | None]:
    """AUC per class; None where a class is absent (or alone) in y_true, so the AUC is undefined."""
    out = []
    for k in labels:
        positive = y_true == k
        out.append(float(roc_auc_score(positive, proba[:, k])) if 0 < positive.sum() < len(y_true) else None)
    return out
