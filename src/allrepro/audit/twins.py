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
        out[part].update(subject_leakage(split["train"], split[part]))
    return out


def _subjects(part: pd.DataFrame) -> pd.Series:
    """The manifest's `group` column as text, "" where there is none (a column read back all empty is float NaN)."""
    if "group" not in part:
        return pd.Series("", index=part.index, dtype=object)
    return part["group"].astype("string").fillna("").astype(object)


def subject_leakage(train: pd.DataFrame, part: pd.DataFrame) -> dict:
    """Images of a held-out part whose subject (the manifest's `group`: a C-NMC patient) also has images in the
    training part — per class, with their share — and how many of the part's subjects those are. A dataset
    without subject ids (empty groups) gets `subjects: None`: nothing can be said."""
    groups = _subjects(part)
    if not (groups != "").any():
        return {"subjects": None}
    seen = set(_subjects(train)) - {""}
    shared = groups.isin(seen) & (groups != "")
    unique = part.drop_duplicates("id") if "id" in part else part
    keep = shared.loc[unique.index]
    return {"subjects": int(groups[groups != ""].nunique()), "subjects_in_train": int(groups[shared].nunique()),
            "with_subject_in_train": int(keep.sum()), "subject_share": round(float(keep.mean()), 4),
            **{f"with_subject_in_train: {c}": int(v) for c, v in keep.groupby(unique["class"]).sum().sort_index().items()}}
