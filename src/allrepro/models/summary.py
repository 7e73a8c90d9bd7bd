"""Parameter counts: `allrepro models` (built from params) and the report's table (read from training)."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from allrepro import layout
from allrepro.params import trained_in


def paper_values() -> dict:
    return yaml.safe_load(resources.files("allrepro").joinpath("paper_values.yaml").read_text())


def parameter_counts(spec: dict, n_classes: int) -> dict:
    """Total parameters, and trainable ones per phase (built without pretrained weights)."""
    from allrepro.models.build import build_model
    from allrepro.train import count_trainable, set_trainable

    model, backbone = build_model({**spec, "weights": None}, n_classes)
    trainable = []
    for phase in spec["phases"]:
        set_trainable(backbone, phase.get("trainable", "all"))
        trainable.append(count_trainable(model))
    return {"total": model.count_params(), "trainable": trainable}


def print_models(cfg: dict, names: list[str] | None = None) -> None:
    from allrepro.params import model_spec

    n = len(next(iter(cfg["datasets"].values()))["classes"])  # the head's size barely matters here
    print(f"{'model':<28} {'backbone':<16} {'input':>5} {'total':>12}  trainable per phase")
    for name in names or cfg["models"]:
        spec = model_spec(cfg, name)
        counts = parameter_counts(spec, n)
        phases = " / ".join(f"{v:,}" for v in counts["trainable"])
        print(f"{name:<28} {spec['backbone']:<16} {spec['input_size']:>5} {counts['total']:>12,}  {phases}", flush=True)


def parameter_table(cfg: dict, exp: str, models: list[str]) -> pd.DataFrame:
    """Our counts (recorded by training) beside idrees Table 4 where the paper has the model."""
    paper = paper_values()["idrees"]["table4"]
    rows = []
    for m in models:
        info = json.loads(Path(layout.model_file(trained_in(cfg, exp, m), m, "labels.json")).read_text())
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
