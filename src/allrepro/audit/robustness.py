"""Robustness and attention: does a model's accuracy survive a change of stain, lamp, compression or focus, and
does it look at the cell?

- Shift table: each model's (and the colour-only baseline's) accuracy on the test part under each perturbation of
  `evaluate.shift` (allrepro.shifts), with its exact (Clopper–Pearson) interval and the drop from the clean
  test part in points. A network that learned a cell's shape loses little under a stain shift; one that learned the
  stain loses much — and so does a classifier that sees only colour.
- Attention: each test image's share of Grad-CAM mass inside the cell's HSV mask (evaluate's attention.csv),
  per model and true class: the mean with a percentile-bootstrap interval over images, beside the share of the
  image the mask covers (what an evenly spread map would give), and their ratio (`lift`: 1 is no preference for
  the cell). The map has the resolution of the backbone's last feature map (`map`), upsampled. Images whose mask is empty (most Pro images of
  the ALL dataset) have no share and are counted apart.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from allrepro.audit.uncertainty import exact_interval

COLOUR_KINDS = ("hed", "brightness_contrast")  # the shifts that change colour (stain, lamp), not shape or detail


def shift_table(shifted: dict[str, pd.DataFrame], clean: dict[str, pd.DataFrame], kinds: dict[str, str],
                level: float) -> pd.DataFrame:
    """One row per model and shift (the clean test part first): n, correct, accuracy [low, high], drop (points)."""
    rows = []
    for model, frame in shifted.items():
        base = clean[model]
        clean_acc = float((base["pred"] == base["true"]).mean()) if len(base) else float("nan")
        parts = [("clean", base)] + [(s, f) for s, f in frame.groupby("shift", sort=False)] if len(frame) else [("clean", base)]
        for shift, f in parts:
            n, k = len(f), int((f["pred"] == f["true"]).sum())
            low, high = exact_interval(k, n, level)
            acc = k / n if n else float("nan")
            rows.append({"model": model, "shift": shift, "kind": kinds.get(shift, "none"), "n": n, "correct": k,
                         "accuracy": round(acc, 4), "low": round(low, 4), "high": round(high, 4),
                         "drop points": round(100 * (clean_acc - acc), 2)})
    return pd.DataFrame(rows, columns=["model", "shift", "kind", "n", "correct", "accuracy", "low", "high", "drop points"])


def colour_dependence(table: pd.DataFrame, model: str) -> tuple[str, float] | None:
    """The colour shift (stain, brightness/contrast) that costs `model` the most accuracy, and the drop in points."""
    rows = table[(table["model"] == model) & table["kind"].isin(COLOUR_KINDS)]
    if not len(rows):
        return None
    worst = rows.loc[rows["drop points"].idxmax()]
    return str(worst["shift"]), float(worst["drop points"])


def attention_table(frames: dict[str, pd.DataFrame], resamples: int, seed: int, level: float) -> pd.DataFrame:
    """Per model and true class (and `all`): images, images with a non-empty mask, the mean share of Grad-CAM mass
    inside the mask with its percentile-bootstrap interval, and the mean share of the image the mask covers."""
    rows, rng = [], np.random.default_rng(seed)
    for model, frame in frames.items():
        if not len(frame):
            continue
        for cls, part in [("all", frame), *frame.groupby("true", sort=True)]:
            share = part["share_inside"].astype(float).dropna().to_numpy()
            covers = float(part["mask_share"].astype(float).mean())
            row = {"model": model, "class": cls, "images": len(part), "measured": len(share),
                   "share inside": np.nan, "low": np.nan, "high": np.nan, "mask covers": round(covers, 4),
                   "lift": np.nan, "map": str(part["map"].iloc[0]) if "map" in part else ""}
            if len(share):
                means = share[rng.integers(0, len(share), (resamples, len(share)))].mean(axis=1)
                tail = (1 - level) / 2
                row.update({"share inside": round(float(share.mean()), 4),
                            "low": round(float(np.quantile(means, tail)), 4),
                            "high": round(float(np.quantile(means, 1 - tail)), 4),
                            "lift": round(float(share.mean()) / covers, 2) if covers > 0 else np.nan})
            rows.append(row)
    return pd.DataFrame(rows, columns=["model", "class", "images", "measured", "share inside", "low", "high",
                                       "mask covers", "lift", "map"])


def lowest(frames: dict[str, pd.DataFrame], count: int) -> dict[str, list[dict]]:
    """Each model's `count` test images with the smallest share of Grad-CAM mass inside the cell."""
    out = {}
    for model, frame in frames.items():
        measured = frame.dropna(subset=["share_inside"]).sort_values(["share_inside", "path"], kind="stable")
        out[model] = [{"path": r["path"], "true": r["true"], "share_inside": float(r["share_inside"])}
                      for _, r in measured.head(count).iterrows()]
    return out
