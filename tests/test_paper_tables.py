"""Paper-shaped tables: reported values beside ours, differences in percentage points."""
from __future__ import annotations

import json

import pandas as pd

from allrepro.paper_tables import paper_table, patel_ensemble_table


def write_metrics(model, accuracy, f1=0.9) -> dict:
    """A model's metrics.json, as the report job's inputs name it."""
    path = f"{model}_metrics.json"
    with open(path, "w") as fh:
        json.dump({"accuracy": accuracy, "mcc": 0.9, "macro": {"precision": 0.9, "recall": 0.9, "f1": f1}}, fh)
    return {f"{model}_metrics": path}


def test_najjar_row_with_its_own_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    title, table = paper_table(write_metrics("najjar_mseenet", 0.95), ["najjar_mseenet"], "najjar")
    row = table.set_index("metric").loc["accuracy"]
    assert row["paper %"] == 98.77 and row["ours %"] == 95.0 and row["ours − paper"] == -3.77
    assert "stands in" not in title


def test_quick_model_stands_in_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    title, table = paper_table(write_metrics("quick_cnn", 0.96), ["quick_cnn"], "idrees")
    assert "quick_cnn stands in" in title
    acc = table[table["metric"] == "accuracy"]
    assert set(acc["ours from"]) == {"quick_cnn"} and len(acc) == 4


def test_patel_ensemble_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = pd.DataFrame({"part": ["test", "val"], "weights": ["[0.7, 0.3]", "[0.7, 0.3]"], "gamma": [0.7, 0.7],
                         "accuracy_all": [0.99, 0.5], "coverage": [0.98, 1.0], "macro_f1_all": [0.97, 0.5]})
    grid.to_csv("grid.csv", index=False)
    table = patel_ensemble_table({"ensemble_grid_csv": "grid.csv"}, "patel").set_index(["weights", "gamma"])
    row = table.loc[("[0.7, 0.3]", 0.7)]
    assert row["paper accuracy %"] == 99.96 and row["ours accuracy (all) %"] == 99.0 and row["Δ accuracy"] == -0.96
