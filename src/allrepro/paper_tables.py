"""Each paper's table, shaped as the paper prints it, with our number and the difference beside each value.

In the quick profile the paper's models are not trained; the quick model stands in for every row (and the
table says so), so the plumbing and the comparison are exercised on a laptop.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from allrepro.papers import paper_values


def metric(metrics: dict, path: str) -> float | None:
    node = metrics
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return None if node is None else 100.0 * float(node)


def paper_table(files: dict, models: list[str], paper: str) -> tuple[str, pd.DataFrame] | None:
    """(title and note, a table of paper value, ours and the difference per model and metric).
    `paper`: whose numbers (an experiment's `paper:`); files[f"{model}_metrics"]: each model's metrics.json."""
    spec = paper_values().get(paper, {}).get("table")
    if not spec:
        return None
    trained = [m for m in spec["rows"] if m in models]  # the paper's networks this experiment trains
    rows = []
    for paper_model, values in spec["rows"].items():
        if trained and paper_model not in trained:
            continue  # e.g. patel_val trains only the ensemble's two members: no stand-in for the others
        ours_model = paper_model if paper_model in models else models[0]
        path = Path(files[f"{ours_model}_metrics"])
        ours = json.loads(path.read_text()) if path.is_file() else {}
        for key, reported in values.items():
            value = metric(ours, key)
            rows.append({"paper model": paper_model, "ours from": ours_model, "metric": key, "paper %": reported,
                         "ours %": None if value is None else round(value, 2),
                         "ours − paper": None if value is None else round(value - reported, 2)})
    stand_in = (f" Quick profile: {models[0]} stands in for the paper's models." if not trained else
                "" if len(trained) == len(spec["rows"]) else
                f" This experiment trains {', '.join(trained)} only: the paper's other rows are in its own experiment.")
    return f"{spec['title']}. {spec.get('note', '')}{stand_in}", pd.DataFrame(rows)


def patel_ensemble_table(files: dict, paper: str) -> pd.DataFrame | None:
    """patel's ensemble 'Overall' rows per weights and gamma beside ours on the test part
    (files["ensemble_grid_csv"]: the ensemble's grid, when the experiment has one)."""
    reported = paper_values().get(paper, {}).get("ensemble_overall")
    if not reported or "ensemble_grid_csv" not in files:
        return None
    df = pd.read_csv(files["ensemble_grid_csv"])
    df = df[df["part"] == "test"]
    rows = []
    for key, (p, se, sp, f1, acc) in reported.items():
        weights, gamma = key.rsplit(" ", 1)
        ours = df[(df["weights"].str.replace(" ", "") == weights.replace(" ", "")) & (df["gamma"] == float(gamma))]
        row = {"weights": weights, "gamma": float(gamma), "paper accuracy %": acc, "paper F1 %": f1}
        if len(ours):
            o = ours.iloc[0]
            row.update({"ours accuracy (all) %": round(100 * o["accuracy_all"], 2),
                        "ours coverage %": round(100 * o["coverage"], 2),
                        "ours macro F1 (all) %": round(100 * o["macro_f1_all"], 2),
                        "Δ accuracy": round(100 * o["accuracy_all"] - acc, 2)})
        rows.append(row)
    return pd.DataFrame(rows)


def parameter_table(files: dict, models: list[str]) -> pd.DataFrame:
    """Our counts (recorded by training, files[f"{model}_labels"]) beside idrees Table 4 where the paper has the model."""
    paper = paper_values()["idrees"]["table4"]
    rows = []
    for m in models:
        info = json.loads(Path(files[f"{m}_labels"]).read_text())
        row = {"model": m, "backbone": info["backbone"], "total": info["params_total"]}
        for i, t in enumerate(info.get("params_trainable", []), start=1):
            row[f"trainable phase {i}"] = t
        if m in paper:
            ref = paper[m]
            row.update({"paper total": ref["total"], "paper phase 1": ref["phase1"], "paper phase 2": ref["phase2"],
                        "Δ total": row["total"] - ref["total"],
                        "Δ phase 1": row.get("trainable phase 1", 0) - ref["phase1"],
                        "Δ phase 2": row.get("trainable phase 2", row.get("trainable phase 1", 0)) - ref["phase2"]})
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
