"""split: per-class stratified split into manifests, then random oversampling of the training rows.

Counts per class: every held-out part gets rounding(n * ratio) images (ceil, round or floor, from
params) and training gets the rest. With ceil this reproduces idrees Table 2 exactly; with round, the
patel 65/35 split. Oversampling (imbalanced-learn's RandomOverSampler) repeats manifest rows of the
training part only; no image is copied. A `cap_per_class` (the smoke profile's) then keeps a seeded pick
of at most that many images per class in each part, before oversampling.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from allrepro import layout
from allrepro.fileio import write_csv
from allrepro.params import dataset_of

ROUNDING = {"ceil": math.ceil, "floor": math.floor, "round": lambda x: int(math.floor(x + 0.5))}
COLUMNS = ["id", "path", "class", "label", "group", "copy"]


def part_sizes(n: int, ratios: dict[str, float], rounding: str) -> dict[str, int]:
    """Images of one class per part, in the fixed order train, val, test (never the order of the keys in a
    YAML file, so the same ratios always cut the same images); training takes what the held-out parts leave."""
    held = {p: ROUNDING[rounding](n * ratios[p] - 1e-9 if rounding == "ceil" else n * ratios[p])
            for p in layout.PARTS if p != "train" and p in ratios}
    return {"train": n - sum(held.values()), **held}


def assign_parts(table: pd.DataFrame, classes: list[str], ratios: dict, rounding: str, seed: int,
                 by_group: bool = False) -> pd.Series:
    """A part name per row: each class is shuffled with its own seeded generator, then cut.

    by_group: groups (C-NMC subjects) are shuffled instead of rows and dealt whole, so no subject spans two
    parts: first one group to each part that has a quota (the smallest quota first), so every part holds every
    class that has enough groups, then each next group to the part furthest from its quota; counts then only
    approximate the ratios.
    Groups are formed within a class: a near-duplicate cluster whose images carry two labels (none in the
    Kaggle ALL dataset) can still span parts, and the audit's leakage count shows it."""
    part = pd.Series("", index=table.index, dtype=object)
    for k, cls in enumerate(classes):
        rows = table.index[table["class"] == cls].to_numpy()
        rng = np.random.default_rng([seed, k])
        quotas = part_sizes(len(rows), ratios, rounding)
        if not by_group:
            rows = rows[rng.permutation(len(rows))]
            start = 0
            for name, size in quotas.items():
                part[rows[start:start + size]] = name
                start += size
            continue
        groups = table.loc[rows].groupby("group", sort=True).groups
        left = dict(quotas)
        empty = sorted((p for p, q in quotas.items() if q > 0), key=lambda p: (quotas[p], layout.PARTS.index(p)))
        for g in rng.permutation(sorted(groups)):
            members = groups[g]
            # a part still without a group of this class takes it; then the part furthest from its quota
            name = empty.pop(0) if empty else max(left, key=lambda p: left[p])
            part[members] = name
            left[name] -= len(members)
    return part


def split_groups(subjects: pd.Series, near_cluster: np.ndarray, by_subject: bool) -> pd.Series:
    """Groups that keep every near-duplicate cluster in one part (group_near_duplicates), and every subject
    too when the split is also grouped by subject: the connected components of both relations."""
    from allrepro.audit.twins import clusters

    keys = [near_cluster] + ([pd.factorize(subjects)[0]] if by_subject else [])
    rows, cols = [], []
    for key in keys:  # link every member of a group to the group's first member
        first = pd.Series(np.arange(len(key))).groupby(key).transform("first").to_numpy()
        rows.append(first)
        cols.append(np.arange(len(key)))
    component = clusters(len(near_cluster), np.concatenate(rows), np.concatenate(cols))
    return pd.Series([f"g{c}" for c in component], index=subjects.index)


def oversample(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Random oversampling to the majority class count; `copy` counts the repeats of a row."""
    from imblearn.over_sampling import RandomOverSampler  # here: it imports scikit-learn and SciPy (1.1 s)

    sampler = RandomOverSampler(random_state=seed)
    index, _ = sampler.fit_resample(np.arange(len(train)).reshape(-1, 1), train["class"].to_numpy())
    out = train.iloc[index.ravel()].copy()
    out["copy"] = out.groupby("id").cumcount()
    return out.sort_values(["label", "id", "copy"], kind="stable").reset_index(drop=True)


def cap_per_class(rows: pd.DataFrame, cap: int | None, seed: int, part: str) -> pd.DataFrame:
    """At most `cap` rows of each class, a seeded pick within the part (so the parts stay disjoint)."""
    if not cap:
        return rows
    keep = []
    for label, group in rows.groupby("label", sort=True):
        rng = np.random.default_rng([seed, int(label), layout.PARTS.index(part), 7])
        keep.append(group.iloc[np.sort(rng.permutation(len(group))[:cap])])
    return pd.concat(keep) if keep else rows


def split(cfg: dict, inputs: dict, outputs: dict, exp: str) -> dict[str, pd.DataFrame]:
    spec, dataset = cfg["experiments"][exp], dataset_of(cfg, exp)
    classes = cfg["datasets"][dataset]["classes"]
    raw = pd.read_csv(inputs["raw"], keep_default_na=False)
    raw = raw.sort_values("path", kind="stable").reset_index(drop=True)
    table = pd.DataFrame({"id": raw["path"], "class": raw["class"], "group": raw["group"]})
    table["label"] = table["class"].map({c: i for i, c in enumerate(classes)})
    if spec["images"] == "segmented":
        seg = pd.read_csv(inputs["segmented"]).set_index("source")
        table["path"] = seg.loc[raw["path"], "path"].to_numpy()
    else:
        table["path"] = raw["path"]
    table["copy"] = 0
    by_subject = spec["split"].get("group_by", "none") == "group"
    by_twins = bool(spec["split"].get("group_near_duplicates"))
    groups = table["group"] if by_subject else pd.Series("", index=table.index)
    if by_twins:
        dups = pd.read_csv(inputs["duplicates"], keep_default_na=False).set_index("path")
        groups = split_groups(groups, dups.loc[table["id"], "near_cluster"].to_numpy(), by_subject)
    table["part"] = assign_parts(table.assign(group=groups), classes, spec["split"]["ratios"],
                                 spec["split"]["rounding"], spec["split"]["seed"], by_group=by_subject or by_twins)
    out = {}
    for part in layout.PARTS:
        rows = table[table["part"] == part][COLUMNS].sort_values(["label", "id"], kind="stable")
        rows = cap_per_class(rows, spec["split"].get("cap_per_class"), spec["split"]["seed"], part)
        if part == "train" and spec.get("oversample"):
            rows = oversample(rows.reset_index(drop=True), spec["split"]["seed"])
        out[part] = rows.reset_index(drop=True)
        write_csv(out[part], outputs[part])
    summary = ", ".join(f"{p} {len(df)} = {'/'.join(str(n) for n in df['class'].value_counts().reindex(classes, fill_value=0))}"
                        for p, df in out.items())
    print(f"split {exp}: {summary} ({'/'.join(classes)})")
    return out
