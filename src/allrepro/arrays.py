"""A split part as arrays: the cached images (N, size, size, 3) and their labels, checked against each other."""
from __future__ import annotations

import numpy as np
import pandas as pd



def load_part(files: dict, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Part `part` of a job's inputs: files[f"{part}_npy"] (the cached images), files[f"{part}_csv"] (its rows)."""
    npy, csv = files[f"{part}_npy"], files[f"{part}_csv"]
    x = np.load(npy)
    y = pd.read_csv(csv)["label"].to_numpy()
    if len(x) != len(y):
        raise RuntimeError(f"{npy}: {len(x)} rows but {csv} has {len(y)}; rerun the cache stage")
    return x, y
