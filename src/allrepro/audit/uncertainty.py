"""Uncertainty: bootstrap confidence intervals, McNemar's test, and where the papers' numbers fall.

One test part of 490 images moves accuracy by 0.2% per image, so a single number says little on its
own. Resampling the test images (seeded) gives percentile intervals for every metric the papers print,
computed from confusion matrices in bulk (one bincount per resample). An abstention of the ensemble
is a prediction of an extra "none" class that is never right, so it counts as an error everywhere.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

HEADLINE = ("accuracy", "macro.f1", "mcc")


def confusions(y: np.ndarray, pred: np.ndarray, k: int, samples: np.ndarray) -> np.ndarray:
    """(B, k+1, k+1) confusion matrices of the resampled rows; label k is "no prediction"."""
    pred = np.where(pred < 0, k, pred)
    cells = (y * (k + 1) + pred)[samples]                               # (B, n)
    offsets = np.arange(len(samples))[:, None] * (k + 1) ** 2
    counts = np.bincount((cells + offsets).ravel(), minlength=len(samples) * (k + 1) ** 2)
    return counts.reshape(len(samples), k + 1, k + 1)


def metrics_from_confusions(cm: np.ndarray, classes: list[str]) -> dict[str, np.ndarray]:
    """The metrics of metrics.json (same names and paths) for a stack of confusion matrices."""
    k = len(classes)
    total = cm.sum(axis=(1, 2)).astype(float)
    tp = np.diagonal(cm, axis1=1, axis2=2)[:, :k].astype(float)
    true_n = cm.sum(axis=2)[:, :k].astype(float)
    pred_n = cm.sum(axis=1)[:, :k].astype(float)
    div = lambda a, b: np.divide(a, b, out=np.zeros_like(a), where=b > 0)  # noqa: E731
    precision, recall = div(tp, pred_n), div(tp, true_n)
    f1 = div(2 * precision * recall, precision + recall)
    negatives = total[:, None] - true_n
    specificity = div(negatives - (pred_n - tp), negatives)
    out = {"accuracy": tp.sum(axis=1) / total}
    # multiclass MCC (Gorodkin), as sklearn computes it, on the (k+1)-square matrix
    t, p = cm.sum(axis=2).astype(float), cm.sum(axis=1).astype(float)
    c = np.trace(cm, axis1=1, axis2=2).astype(float)
    cov_ytyp = c * total - (t * p).sum(axis=1)
    cov_ypyp = total ** 2 - (p * p).sum(axis=1)
    cov_ytyt = total ** 2 - (t * t).sum(axis=1)
    denom = np.sqrt(cov_ytyt * cov_ypyp)
    out["mcc"] = div(cov_ytyp, denom)
    for name, values in (("precision", precision), ("recall", recall), ("specificity", specificity), ("f1", f1)):
        out[f"macro.{name}"] = values.mean(axis=1)
        for i, cls in enumerate(classes):
            out[f"per_class.{cls}.{name}"] = values[:, i]
    return out


def labels_of(frame: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(classes)}
    return frame["true"].map(index).to_numpy(), frame["pred"].map(index).fillna(-1).astype(int).to_numpy()


def bootstrap(predictions: dict[str, pd.DataFrame], classes: list[str], resamples: int, seed: int,
              level: float) -> pd.DataFrame:
    """Point estimate and percentile interval of every metric for every model (long form).
    All models are resampled with the same indices, so their intervals are comparable."""
    n = len(next(iter(predictions.values())))
    samples = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    rows = []
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    for model, frame in predictions.items():
        y, pred = labels_of(frame, classes)
        point = metrics_from_confusions(confusions(y, pred, len(classes), np.arange(n)[None, :]), classes)
        boot = metrics_from_confusions(confusions(y, pred, len(classes), samples), classes)
        for metric, values in boot.items():
            rows.append({"model": model, "metric": metric, "value": float(point[metric][0]),
                         "low": float(np.percentile(values, lo)), "high": float(np.percentile(values, hi)),
                         "n": n, "resamples": resamples, "level": level})
    return pd.DataFrame(rows)


def mcnemar(predictions: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    """Exact McNemar test (binomial on the discordant images) for every pair of models."""
    correct = {m: np.equal(*labels_of(f, classes)) for m, f in predictions.items()}
    names, rows = list(correct), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            only_a = int((correct[a] & ~correct[b]).sum())
            only_b = int((~correct[a] & correct[b]).sum())
            p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
            rows.append({"model A": a, "model B": b, "A right, B wrong": only_a, "A wrong, B right": only_b,
                         "p value": float(p)})
    return pd.DataFrame(rows, columns=["model A", "model B", "A right, B wrong", "A wrong, B right", "p value"])


def paper_check(intervals: pd.DataFrame, paper_rows: dict[str, dict], stand_in: dict[str, str]) -> pd.DataFrame:
    """Every number a paper reports beside our interval for the model that answers it (ours, or the
    quick profile's stand-in), and whether it lies inside."""
    rows = []
    for paper_model, values in paper_rows.items():
        ours = stand_in[paper_model]
        for metric, reported in values.items():
            hit = intervals[(intervals["model"] == ours) & (intervals["metric"] == metric)]
            if not len(hit):
                continue
            r = hit.iloc[0]
            rows.append({"paper model": paper_model, "ours": ours, "metric": metric, "paper %": reported,
                         "ours %": round(100 * r["value"], 2), "low %": round(100 * r["low"], 2),
                         "high %": round(100 * r["high"], 2),
                         "inside": bool(100 * r["low"] - 1e-9 <= reported <= 100 * r["high"] + 1e-9)})
    return pd.DataFrame(rows, columns=["paper model", "ours", "metric", "paper %", "ours %", "low %", "high %", "inside"])
