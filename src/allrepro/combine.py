"""patel's eq. 8, the weighted-threshold rule that joins members' class probabilities: shared by the ensemble
stage, the audit (per seed) and `allrepro predict`.

    combined = sum_i w_i * p_i;  prediction = argmax(combined) if max(combined) >= gamma
                                 else "no confident prediction" (or the best member's prediction)
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import matthews_corrcoef, precision_recall_fscore_support


ABSTAIN = -1


def combine(probas: list[np.ndarray], weights: list[float], gamma: float, fallback: str = "abstain",
            best: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class per image, ABSTAIN where not confident; the combined probabilities)."""
    if len(probas) != len(weights):
        raise ValueError(f"{len(probas)} members but {len(weights)} weights")
    combined = sum(w * p for w, p in zip(weights, probas))
    pred = combined.argmax(axis=1)
    unsure = combined.max(axis=1) < gamma
    if fallback == "best":
        pred = np.where(unsure, probas[best].argmax(axis=1), pred)
    else:
        pred = np.where(unsure, ABSTAIN, pred)
    return pred, combined


def read_predictions(path: str, classes: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    df = pd.read_csv(path)
    y = df["true"].map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=int)
    return df, y, df[[f"p_{c}" for c in classes]].to_numpy(dtype=float)


def score(y: np.ndarray, pred: np.ndarray, classes: list[str]) -> dict:
    """Coverage; metrics on all images (an abstention counts as wrong) and on the covered ones;
    per class: precision, sensitivity, specificity, F1 and one-vs-rest accuracy (patel Table 3)."""
    k, n = len(classes), len(y)
    covered = pred != ABSTAIN
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, labels=range(k), zero_division=0)
    out = {"n": int(n), "coverage": float(covered.mean()) if n else 0.0,
           "accuracy_all": float((pred == y).mean()) if n else 0.0,
           "accuracy_covered": float((pred[covered] == y[covered]).mean()) if covered.any() else 0.0,
           "macro_f1_all": float(f1.mean()),
           "mcc_covered": float(matthews_corrcoef(y[covered], pred[covered])) if covered.sum() > 1 else 0.0}
    for i, c in enumerate(classes):
        tp = np.sum((pred == i) & (y == i))
        tn = np.sum((pred != i) & (y != i) & covered)  # an abstention is no true negative
        negatives = np.sum(y != i)
        out[c] = {"precision": float(precision[i]), "sensitivity": float(recall[i]), "f1": float(f1[i]),
                  "specificity": float(tn / negatives) if negatives else 0.0,
                  "accuracy": float((tp + tn) / n) if n else 0.0}
    return out


def grid(members: dict[str, np.ndarray], y: np.ndarray, classes: list[str], cfg: dict, best: int) -> pd.DataFrame:
    rows = []
    for weights in cfg["weights"]:
        for gamma in cfg["thresholds"]:
            pred, _ = combine(list(members.values()), weights, gamma, cfg.get("fallback", "abstain"), best)
            s = score(y, pred, classes)
            row = {"weights": json.dumps(weights), "gamma": gamma,
                   **{k: v for k, v in s.items() if not isinstance(v, dict)}}
            for c in classes:
                row.update({f"{c} {m}": v for m, v in s[c].items()})
            rows.append(row)
    return pd.DataFrame(rows)


def choose(table: pd.DataFrame, key: str) -> pd.Series:
    """The grid row with the best `key`, ties broken by coverage, then by grid order."""
    return table.sort_values([key, "coverage"], ascending=False, kind="stable").iloc[0]
