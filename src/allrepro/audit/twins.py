"""Twins across a split: the connected components of a "duplicate of" relation (what a leakage-free split keeps
in one part), and how many validation and test images have a twin in the training part."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def clusters(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A cluster id per item: connected components of the pair graph, numbered by first member."""
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(len(first), int)
    renumber[np.argsort(first)] = np.arange(len(first))
    return renumber[labels]


def leakage(split: dict[str, pd.DataFrame], table: pd.DataFrame, source_of: dict[str, str] | None = None) -> dict:
    """For the val and test parts: how many images have an exact or near twin in the training part.
    `source_of` maps a split path (a segmented image) to the raw image the duplicates were computed on."""
    index = table.set_index("path")
    def cluster_ids(part, kind):
        paths = split[part]["id"] if "id" in split[part] else split[part]["path"]
        return index.loc[[source_of.get(p, p) if source_of else p for p in paths], f"{kind}_cluster"].to_numpy()
    out = {}
    for part in ("val", "test"):
        if not len(split[part]):
            continue
        out[part] = {"images": int(len(split[part]))}
        for kind in ("exact", "near"):
            twins = np.isin(cluster_ids(part, kind), cluster_ids("train", kind))
            out[part][f"with_{kind}_twin_in_train"] = int(twins.sum())
    return out
