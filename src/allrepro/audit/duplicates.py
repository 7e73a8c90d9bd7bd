"""Exact and near-duplicate images, and the twins a split puts on both sides of the train/test line.

Exact duplicates share the sha256 of their decoded pixels (so a re-saved copy with other metadata
still counts); near-duplicates are within `audit.near_duplicate_distance` bits of each other's 64-bit
perceptual hash (imagehash.phash). Clusters are the connected components of the "near" relation, so
a chain of small differences ends in one cluster, which is what a leakage-free split must keep together.
"""
from __future__ import annotations

import hashlib

import cv2
import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from allrepro.audit.twins import clusters
from allrepro.fileio import write_csv, write_json

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def image_hashes(path: str) -> tuple[str, int]:
    """(sha256 of the decoded BGR pixels, 64-bit pHash as an unsigned int)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    pixels = hashlib.sha256(np.ascontiguousarray(bgr).tobytes() + str(bgr.shape).encode()).hexdigest()
    phash = imagehash.phash(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return pixels, int(str(phash), 16)


def near_pairs(hashes: np.ndarray, max_distance: int, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose hashes differ in at most max_distance bits, in blocks to bound memory."""
    as_bytes = hashes.astype(">u8").view(np.uint8).reshape(-1, 8)
    rows, cols = [], []
    for start in range(0, len(hashes), block):
        chunk = as_bytes[start:start + block]
        distance = POPCOUNT[chunk[:, None, :] ^ as_bytes[None, :, :]].sum(axis=2, dtype=np.uint16)
        i, j = np.nonzero(distance <= max_distance)
        i = i + start
        keep = i < j
        rows.append(i[keep])
        cols.append(j[keep])
    return np.concatenate(rows), np.concatenate(cols)


def find_duplicates(manifest: pd.DataFrame, max_distance: int) -> pd.DataFrame:
    """One row per image: its hashes, its exact and near cluster ids and their sizes."""
    table = manifest[["path", "class"]].sort_values("path", kind="stable").reset_index(drop=True)
    pixels, phash = zip(*(image_hashes(p) for p in table["path"]))
    table["pixel_sha256"] = pixels
    table["phash"] = [f"{h:016x}" for h in phash]
    table["exact_cluster"] = pd.factorize(table["pixel_sha256"])[0]
    rows, cols = near_pairs(np.array(phash, dtype=np.uint64), max_distance)
    # exact twins are near twins too, whatever the hash says
    same = table.groupby("exact_cluster").indices
    extra = [(g[0], k) for g in same.values() for k in g[1:]]
    if extra:
        rows = np.concatenate([rows, [a for a, _ in extra]])
        cols = np.concatenate([cols, [b for _, b in extra]])
    table["near_cluster"] = clusters(len(table), rows, cols)
    for kind in ("exact", "near"):
        table[f"{kind}_size"] = table.groupby(f"{kind}_cluster")["path"].transform("size")
    return table


def summarise(table: pd.DataFrame, classes: list[str]) -> dict:
    """Counts an auditor asks for first: clusters with more than one image, the images in them, per class,
    and clusters whose members carry different labels (a twin with two diagnoses)."""
    out = {"images": int(len(table))}
    for kind in ("exact", "near"):
        multi = table[table[f"{kind}_size"] > 1]
        labels = multi.groupby(f"{kind}_cluster")["class"].nunique()
        out[kind] = {"clusters": int(multi[f"{kind}_cluster"].nunique()), "images": int(len(multi)),
                     "images_per_class": {c: int((multi["class"] == c).sum()) for c in classes},
                     "mixed_label_clusters": int((labels > 1).sum())}
    return out


def duplicates(cfg: dict, inputs: dict, outputs: dict, dataset: str) -> dict:
    manifest = pd.read_csv(inputs["manifest"], keep_default_na=False)
    table = find_duplicates(manifest, cfg["audit"]["near_duplicate_distance"])
    summary = summarise(table, cfg["datasets"][dataset]["classes"])
    summary["near_duplicate_distance"] = cfg["audit"]["near_duplicate_distance"]
    write_csv(table, outputs["table"])
    write_json(summary, outputs["summary"])
    print(f"duplicates {dataset}: {summary['exact']['clusters']} exact clusters ({summary['exact']['images']} images), "
          f"{summary['near']['clusters']} near-duplicate clusters ({summary['near']['images']} images) "
          f"at distance <= {summary['near_duplicate_distance']}")
    return summary


