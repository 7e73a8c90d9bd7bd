"""split: the rounding rules, the papers' split counts on the real data, oversampling by repeated rows."""
from __future__ import annotations

import pandas as pd
import pytest

from allrepro.split import part_sizes
from conftest import CLASSES, run

IDREES = {"train": [352, 689, 673, 562], "val": [76, 148, 145, 121], "test": [76, 148, 145, 121]}
PATEL_TEST = [176, 345, 337, 281]


def test_part_sizes_rules():
    assert part_sizes(963, {"train": 0.7, "val": 0.15, "test": 0.15}, "ceil") == {"train": 673, "val": 145, "test": 145}
    assert part_sizes(985, {"train": 0.65, "test": 0.35}, "round") == {"train": 640, "test": 345}
    assert part_sizes(10, {"train": 0.8, "val": 0.1, "test": 0.1}, "floor") == {"train": 8, "val": 1, "test": 1}


def counts(df: pd.DataFrame) -> list[int]:
    return df["class"].value_counts().reindex(CLASSES, fill_value=0).tolist()


@pytest.mark.realdata
@pytest.mark.xdist_group("real")  # on one worker: the real data acquired and segmented once (real_project)
def test_idrees_table2_and_patel_counts_on_real_data(real_project):
    run(["allrepro", "split", "--experiment", "idrees"], real_project)
    run(["allrepro", "split", "--experiment", "patel"], real_project)
    parts = {p: pd.read_csv(real_project / f"data/processed/idrees/split/{p}.csv") for p in IDREES}
    for part, expected in IDREES.items():
        assert counts(parts[part]) == expected, part
    assert sum(len(df) for df in parts.values()) == 3256
    assert not set(parts["train"]["id"]) & set(parts["test"]["id"]) and not set(parts["val"]["id"]) & set(parts["test"]["id"])
    assert parts["train"]["path"].str.startswith("data/interim/mehradaria/segmented/images/").all()  # idrees trains on segmented

    train = pd.read_csv(real_project / "data/processed/patel/split/train.csv")
    test = pd.read_csv(real_project / "data/processed/patel/split/test.csv")
    assert counts(test) == PATEL_TEST and len(test) == 1139
    unique = train[train["copy"] == 0]
    assert len(unique) == 2117 and unique["id"].is_unique
    assert len(train) == 2560 and counts(train) == [640] * 4
    assert set(train["id"]) == set(unique["id"])  # oversampling only repeats training rows
    assert len(pd.read_csv(real_project / "data/processed/patel/split/val.csv")) == 0

    # patel_val: the same 1139 test images as patel, a 10% validation part taken from patel's training part
    run(["allrepro", "split", "--experiment", "patel_val"], real_project)
    val_test = pd.read_csv(real_project / "data/processed/patel_val/split/test.csv")
    val_val = pd.read_csv(real_project / "data/processed/patel_val/split/val.csv")
    assert sorted(val_test["id"]) == sorted(test["id"])
    assert counts(val_val) == [50, 99, 96, 80] and set(val_val["id"]) <= set(unique["id"])
