"""A split part as arrays: the cached images (N, size, size, 3) and their labels, checked against each other."""
from __future__ import annotations

import numpy as np
import pandas as pd

from allrepro import layout


def load_part(exp: str, part: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(layout.cache_npy(exp, size, part))
    y = pd.read_csv(layout.split_csv(exp, part))["label"].to_numpy()
    if len(x) != len(y):
        raise RuntimeError(f"{layout.cache_npy(exp, size, part)}: {len(x)} rows but "
                           f"{layout.split_csv(exp, part)} has {len(y)}; rerun the cache stage")
    return x, y
