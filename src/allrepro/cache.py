"""cache: decode and resize each split's images once into a uint8 array (N, size, size, 3), RGB.

Every model of that input size reads this array instead of decoding JPEGs every epoch. Rows follow
the split manifest, oversampled repeats included, so labels come straight from the CSV.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap
from tqdm import tqdm

from allrepro import layout
from allrepro.fileio import atomic_path

INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                 "nearest": cv2.INTER_NEAREST}


def load_rgb(path: str, size: int, interpolation: str = "area") -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"{path}: unreadable image")
    return prepare(bgr, size, interpolation)


def prepare(bgr: np.ndarray, size: int, interpolation: str = "area") -> np.ndarray:
    """A decoded BGR image as a model reads it: resized to size x size, RGB uint8. `allrepro predict`
    calls this too, so new images are prepared exactly as the training and test images were."""
    if bgr.shape[:2] != (size, size):
        bgr = cv2.resize(bgr, (size, size), interpolation=INTERPOLATION[interpolation])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def stage(cfg: dict, exp: str, size: int, part: str) -> None:
    """`allrepro cache --experiment E --size S --part P`: one split part at one input size."""
    build_cache(layout.split_csv(exp, part), layout.cache_npy(exp, size, part), int(size),
                cfg["cache"].get("interpolation", "area"))


def build_cache(split_csv: str, out: str, size: int, interpolation: str = "area") -> None:
    paths = pd.read_csv(split_csv)["path"]
    unique = {p: None for p in paths}  # oversampled rows repeat a path: decode it once
    with atomic_path(out) as tmp:
        array = open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        for p in tqdm(unique, desc=f"cache {size}px", unit="img", mininterval=2):
            unique[p] = load_rgb(p, size, interpolation)
        for i, p in enumerate(paths):
            array[i] = unique[p]
        array.flush()
        del array
    print(f"cache: {len(paths)} rows ({len(unique)} images) at {size}px -> {out}")
