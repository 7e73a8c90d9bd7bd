"""Segmentation agreement: our HSV masks against the masks implied by the dataset's own segmented images.

The Kaggle ALL dataset ships `Segmented/` beside `Original/`, same names; a reference pixel is
foreground when its brightest channel exceeds `audit.reference_threshold` (JPEG noise keeps "black"
from being exactly 0). Dice = 2|A∩B| / (|A| + |B|), IoU = |A∩B| / |A∪B|, per image, averaged per class;
an image where both masks are empty agrees perfectly (1.0) and is counted separately.
`fit_hsv` searches the HSV bounds that maximise the mean Dice on training images only.
"""
from __future__ import annotations

import itertools
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pandas as pd

from allrepro.fileio import write_csv
from allrepro.params import ParamsError
from allrepro.hsv import hsv_mask


def reference_path(raw_path: str, subset: str, reference: str) -> str:
    parts = list(PurePosixPath(raw_path).parts)
    parts[len(parts) - 1 - parts[::-1].index(subset)] = reference  # the last `subset` folder on the path
    return str(PurePosixPath(*parts))


def reference_mask(path: str, threshold: int) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: reference segmented image missing or unreadable")
    return image.max(axis=2) > threshold


def overlap(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    inter, a, b = np.logical_and(ours, ref).sum(), ours.sum(), ref.sum()
    if a + b == 0:
        return 1.0, 1.0
    return float(2 * inter / (a + b)), float(inter / (a + b - inter))


def agreement_table(raw: pd.DataFrame, data: dict, segment_params: dict, threshold: int) -> pd.DataFrame:
    """One row per image: foreground shares of both masks, Dice and IoU."""
    rows = []
    for path, cls in zip(raw["path"], raw["class"]):
        ours = hsv_mask(cv2.imread(path, cv2.IMREAD_COLOR), segment_params) > 0
        ref = reference_mask(reference_path(path, data["subset"], data["reference_masks"]), threshold)
        dice, iou = overlap(ours, ref)
        rows.append({"path": path, "class": cls, "ours_foreground": round(float(ours.mean()), 5),
                     "reference_foreground": round(float(ref.mean()), 5), "dice": round(dice, 5), "iou": round(iou, 5),
                     "both_empty": bool(not ours.any() and not ref.any())})
    return pd.DataFrame(rows)


def per_class(table: pd.DataFrame) -> pd.DataFrame:
    out = table.groupby("class").agg(images=("path", "size"), dice=("dice", "mean"), iou=("iou", "mean"),
                                     ours_foreground=("ours_foreground", "mean"),
                                     reference_foreground=("reference_foreground", "mean"),
                                     both_empty=("both_empty", "sum"))
    out.loc["all"] = [len(table), table["dice"].mean(), table["iou"].mean(), table["ours_foreground"].mean(),
                      table["reference_foreground"].mean(), table["both_empty"].sum()]
    return out.round(4)


def agreement(cfg: dict, inputs: dict, outputs: dict, dataset: str) -> pd.DataFrame:
    if not cfg["datasets"][dataset].get("reference_masks"):
        raise ParamsError(f"datasets.{dataset}.reference_masks: not set (no segmented images to compare with)")
    data = cfg["datasets"][dataset]
    raw = pd.read_csv(inputs["manifest"], keep_default_na=False)
    table = agreement_table(raw, data, cfg["segment"], cfg["audit"]["reference_threshold"])
    summary = per_class(table)
    write_csv(table, outputs["images"])
    write_csv(summary.reset_index(), outputs["summary"])
    print(f"agreement {dataset}: mean Dice {summary.loc['all', 'dice']:.3f}, IoU {summary.loc['all', 'iou']:.3f} "
          f"(our HSV masks vs {data['reference_masks']}/)")
    return summary


def fit_hsv(cfg: dict, exp: str, train_csv: str, images_per_class: int | None = None) -> dict:
    """Grid search of hue (lower, upper) and saturation (lower) bounds on a seeded sample of the
    experiment's training images; value stays 0-255 and the morphology stays as in params."""
    spec = cfg["experiments"][exp]
    data, fit = cfg["datasets"][spec["dataset"]], cfg["audit"].get("fit_hsv", {})
    n = images_per_class or fit.get("images_per_class", 40)
    train = pd.read_csv(train_csv, keep_default_na=False).drop_duplicates("id")
    sample = pd.concat([g.sample(min(n, len(g)), random_state=spec["split"]["seed"]) for _, g in train.groupby("class")])
    threshold = cfg["audit"]["reference_threshold"]
    images = [(cv2.imread(p, cv2.IMREAD_COLOR),
               reference_mask(reference_path(p, data["subset"], data["reference_masks"]), threshold))
              for p in sample["id"]]
    h, s = fit.get("hue_step", 5), fit.get("saturation_step", 25)
    best = None
    for lo_h, hi_h, lo_s in itertools.product(range(90, 140, h), range(125, 180, h), range(0, 200, s)):
        if hi_h <= lo_h:
            continue
        params = {**cfg["segment"], "hsv_lower": [lo_h, lo_s, 0], "hsv_upper": [hi_h, 255, 255]}
        dice = float(np.mean([overlap(hsv_mask(bgr, params) > 0, ref)[0] for bgr, ref in images]))
        if best is None or dice > best[0]:
            best = (dice, params)
    default = float(np.mean([overlap(hsv_mask(bgr, cfg["segment"]) > 0, ref)[0] for bgr, ref in images]))
    return {"experiment": exp, "images": len(images), "default": {"hsv_lower": cfg["segment"]["hsv_lower"],
            "hsv_upper": cfg["segment"]["hsv_upper"], "dice": round(default, 4)},
            "fitted": {"hsv_lower": best[1]["hsv_lower"], "hsv_upper": best[1]["hsv_upper"], "dice": round(best[0], 4)},
            "segment": best[1]}


def write_fitted(result: dict, out: str | Path) -> None:
    import yaml

    header = (f"# allrepro fit-hsv on {result['images']} training images of experiment {result['experiment']}:\n"
              f"# mean Dice {result['default']['dice']} with the bounds of params.yaml, {result['fitted']['dice']} "
              f"with these. Use: snakemake --configfile {Path(out).name}  (or copy the block into params.yaml)\n")
    from allrepro.fileio import atomic_path
    with atomic_path(Path(out)) as tmp:
        Path(tmp).write_text(header + yaml.safe_dump({"segment": result["segment"]}, sort_keys=False))
