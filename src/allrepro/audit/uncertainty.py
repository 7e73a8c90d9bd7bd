"""Uncertainty: confidence intervals, McNemar's test, and where the papers' numbers fall.

One test part of 490 images moves accuracy by 0.2% per image, so a single number says little on its own.
Proportions — accuracy and each class's precision, recall (sensitivity) and specificity — get the exact
Clopper–Pearson interval of k successes in n (scipy's binomtest): it never collapses at 0 or 1 (a class right
on all of its 30 images: [88.4%, 100%], where the percentile bootstrap gives [100, 100] and would call a
paper's 99% "outside"), and its coverage is at least the nominal level, so "the paper's value lies outside"
is never claimed on too narrow an interval. The other metrics (MCC, F1, macro averages) are not proportions:
they keep the percentile bootstrap over the test images (seeded; every model resampled with the same
indices), computed from confusion matrices in bulk. An abstention of the ensemble is a prediction of an
extra "none" class that is never right, so it counts as an error everywhere.
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


EXACT = "Clopper-Pearson"
BOOTSTRAP = "bootstrap percentile"


def proportion_counts(cm: np.ndarray, classes: list[str]) -> dict[str, tuple[int, int]]:
    """(successes, trials) of every proportion of one confusion matrix ((k+1)-square: the last label is "no
    prediction"): accuracy, and each class's precision, recall and specificity, by metrics.json's names."""
    k, total = len(classes), int(cm.sum())
    out = {"accuracy": (int(np.trace(cm[:k, :k])), total)}
    for i, cls in enumerate(classes):
        tp, true_n, pred_n = int(cm[i, i]), int(cm[i].sum()), int(cm[:k, i].sum())
        negatives = total - true_n
        out.update({f"per_class.{cls}.precision": (tp, pred_n), f"per_class.{cls}.recall": (tp, true_n),
                    f"per_class.{cls}.specificity": (negatives - (pred_n - tp), negatives)})
    return out


def exact_interval(k: int, n: int, level: float) -> tuple[float, float]:
    """Clopper–Pearson interval of k successes in n trials ((0, 1) when there are none)."""
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def bootstrap(predictions: dict[str, pd.DataFrame], classes: list[str], resamples: int, seed: int,
              level: float) -> pd.DataFrame:
    """Point estimate and interval of every metric for every model (long form): Clopper–Pearson for the
    proportions (`method`, and `trials`: its denominator), the percentile bootstrap for the rest.
    All models are resampled with the same indices, so their bootstrap intervals are comparable."""
    n = len(next(iter(predictions.values())))
    samples = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    rows = []
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    for model, frame in predictions.items():
        y, pred = labels_of(frame, classes)
        whole = confusions(y, pred, len(classes), np.arange(n)[None, :])
        point = metrics_from_confusions(whole, classes)
        boot = metrics_from_confusions(confusions(y, pred, len(classes), samples), classes)
        exact = proportion_counts(whole[0], classes)
        for metric, values in boot.items():
            if metric in exact:
                (low, high), method, trials = exact_interval(*exact[metric], level), EXACT, exact[metric][1]
            else:
                low, high = float(np.percentile(values, lo)), float(np.percentile(values, hi))
                method, trials = BOOTSTRAP, n
            rows.append({"model": model, "metric": metric, "value": float(point[metric][0]), "low": low,
                         "high": high, "n": n, "trials": trials, "method": method, "resamples": resamples,
                         "level": level})
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


def paper_check(intervals: pd.DataFrame, paper_rows: dict[str, dict], stand_in: dict[str, str],
                judged: set[str] | None = None) -> pd.DataFrame:
    """Every number a paper reports beside our interval for the model that answers it, and whether it lies
    inside. `judged`: the paper models whose own network ran under the paper's protocol (default: those that
    answer for themselves); any other row is a stand-in's — what another network gets on this split — and is
    never a verdict on the claim (`judged` False)."""
    rows = []
    judged = {m for m, ours in stand_in.items() if ours == m} if judged is None else judged
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
                         "inside": bool(100 * r["low"] - 1e-9 <= reported <= 100 * r["high"] + 1e-9),
                         "judged": paper_model in judged, "method": r.get("method", BOOTSTRAP)})
    return pd.DataFrame(rows, columns=["paper model", "ours", "metric", "paper %", "ours %", "low %", "high %", "inside",
                                       "judged", "method"])
