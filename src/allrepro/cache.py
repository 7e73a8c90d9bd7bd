"""cache: decode and resize each split's images once into a uint8 array (N, size, size, 3), RGB.

Every model of that input size reads this array instead of decoding JPEGs every epoch. Rows follow
the split manifest, oversampled repeats included, so labels come straight from the CSV.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap
from tqdm import tqdm

from allrepro.fileio import atomic_path
from allrepro.images import load_rgb

def stage(cfg: dict, inputs: dict, outputs: dict, exp: str, size: int, part: str) -> None:
    """`allrepro cache --experiment E --size S --part P`: one split part at one input size."""
    build_cache(inputs["manifest"], outputs["array"], int(size),
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
