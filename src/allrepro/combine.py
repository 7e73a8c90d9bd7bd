"""patel's eq. 8, the weighted-threshold rule that joins members' class probabilities: shared by the ensemble
stage, the audit (per seed) and `allrepro predict`.

    combined = sum_i w_i * p_i;  prediction = argmax(combined) if max(combined) >= gamma
                                 else "no confident prediction" (or the best member's prediction)
"""
from __future__ import annotations

import numpy as np
import pandas as pd


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
