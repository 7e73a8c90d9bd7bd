"""How much a number moves when only the training seed changes.

Every model (and the ensemble) of an experiment is trained once per seed: train.seed (the primary run, at
the paths it has always had) and each seed of `repeats:` (under .../seeds/<seed>/). This stage gathers their
test metrics and bootstrap intervals and holds the papers' numbers against both: is a reported number inside
the range the seeds reach, and inside how many of the seeds' intervals? The bootstrap interval says how much
the number moves over the test images for one trained network; the seeds say how much it moves over
trainings of the same network. An auditor needs both.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from allrepro.fileio import write_csv, write_json
from allrepro.params import ensemble_members, models_for, repeats

HEADLINE = {"accuracy": "accuracy", "macro.f1": "macro-F1", "mcc": "MCC"}
ENSEMBLE = "ensemble"


def runs(cfg: dict) -> list[tuple[int, str]]:
    """(seed, tag) of every training run: the tag names its files in the job's inputs ("primary": train.seed's run,
    "seed<N>": a repeat's)."""
    return [(cfg["train"]["seed"], "primary"), *((s, f"seed{s}") for s in repeats(cfg))]


def seed_table(intervals: dict[int, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """One row per (model, metric): the value of every seed, their mean, standard deviation (n-1), min and max,
    and the mean width of the seeds' bootstrap intervals beside them."""
    rows = []
    for name in names:
        for metric, label in HEADLINE.items():
            hits = {seed: t[(t["model"] == name) & (t["metric"] == metric)] for seed, t in intervals.items()}
            hits = {seed: h.iloc[0] for seed, h in hits.items() if len(h)}
            if not hits:
                continue
            values = np.array([h["value"] for h in hits.values()], dtype=float)
            widths = np.array([h["high"] - h["low"] for h in hits.values()], dtype=float)
            rows.append({"model": name, "metric": label, "seeds": len(values), "mean": values.mean(),
                         "std": values.std(ddof=1) if len(values) > 1 else np.nan,
                         "min": values.min(), "max": values.max(), "interval width": widths.mean(),
                         "values": " ".join(f"{seed}:{v:.4f}" for seed, v in zip(hits, values))})
    return pd.DataFrame(rows, columns=["model", "metric", "seeds", "mean", "std", "min", "max", "interval width",
                                       "values"]).round(4)


def paper_placement(checks: dict[int, pd.DataFrame]) -> list[dict]:
    """Each number a paper reports, against the seeds' range of ours and the seeds' intervals."""
    out = []
    frames = [c.assign(seed=seed) for seed, c in checks.items() if len(c)]
    if not frames:
        return out
    table = pd.concat(frames, ignore_index=True)
    if "judged" not in table:
        table["judged"] = table["paper model"] == table["ours"]
    for (paper_model, ours, metric), rows in table.groupby(["paper model", "ours", "metric"], sort=False):
        reported = float(rows["paper %"].iloc[0])
        low, high = float(rows["ours %"].min()), float(rows["ours %"].max())
        out.append({"paper model": paper_model, "ours": ours, "metric": metric, "paper %": reported,
                    "judged": bool(rows["judged"].astype(bool).all()),
                    "seeds": int(len(rows)), "ours min %": low, "ours max %": high,
                    "inside seed range": bool(low - 1e-9 <= reported <= high + 1e-9),
                    "intervals containing it": int(rows["inside"].astype(bool).sum())})
    return out


def ensemble_choices(cfg: dict, inputs: dict, exp: str) -> list[dict]:
    """The ensemble's weights and γ as chosen in every seed's run (does the choice itself move?)."""
    if not ensemble_members(cfg, exp):
        return []
    out = []
    for seed, tag in runs(cfg):
        m = json.loads(Path(inputs[f"{tag}_ensemble"]).read_text())
        out.append({"seed": seed, "weights": m["weights"], "gamma": m["gamma"], "selected_on": m["selected_on"],
                    "accuracy_all": m.get("accuracy_all"), "coverage": m.get("coverage")})
    return out


def verdicts(table: pd.DataFrame, placement: list[dict], choices: list[dict], n: int) -> list[str]:
    if n < 2:
        return ["One training seed only: how much a number moves with the seed is not measured here (list more "
                "seeds under `repeats:` in params.yaml)."]
    out = []
    for r in table[table["metric"] == "accuracy"].to_dict("records"):
        half = r["interval width"] / 2  # one run's bootstrap half-width, averaged over the seeds
        spread = (r["max"] - r["min"]) / 2
        compare = ("more than" if spread > half else "less than") + " the test sample moves one run"
        out.append(f"{r['model']}: accuracy {100 * r['mean']:.2f}% on average over {r['seeds']} seeds (sd "
                   f"{100 * r['std']:.2f} points, range {100 * r['min']:.2f}–{100 * r['max']:.2f}%); the seed moves "
                   f"it {compare} (half-range {100 * spread:.2f} vs a bootstrap half-width of {100 * half:.2f} "
                   f"points).")
    for p in placement:
        span = f"{p['ours min %']:.2f}–{p['ours max %']:.2f}%"
        if not p["judged"]:  # a stand-in or a cut profile: what it gets, never a verdict on the claim
            out.append(f"The paper's {p['metric']} of {p['paper %']:.2f}% ({p['paper model']}) is not judged: our "
                       f"{p['ours']} (not the paper's network under its protocol) ranges over {span} across "
                       f"{p['seeds']} seeds, for orientation only.")
            continue
        where = ("inside" if p["inside seed range"] else "above" if p["paper %"] > p["ours max %"] else "below")
        out.append(f"The paper's {p['metric']} of {p['paper %']:.2f}% ({p['paper model']}) is {where} the range "
                   f"the same network reaches over {p['seeds']} seeds ({span}) and inside "
                   f"{p['intervals containing it']} of the {p['seeds']} seeds' intervals.")
    if choices:
        picks = pd.Series([f"weights {c['weights']} γ {c['gamma']}" for c in choices]).value_counts()
        moved = "stays the same" if len(picks) == 1 else f"moves: {len(picks)} different choices"
        out.append(f"The ensemble's chosen configuration {moved} over {n} seeds ("
                   + "; ".join(f"{k}: {v}" for k, v in picks.items()) + ").")
    return out


def stage(cfg: dict, inputs: dict, outputs: dict, exp: str) -> dict:
    seeds = runs(cfg)
    names = [*models_for(cfg, exp), *([ENSEMBLE] if ensemble_members(cfg, exp) else [])]
    intervals = {seed: pd.read_csv(inputs[f"{tag}_intervals"]) for seed, tag in seeds}
    checks = {seed: pd.read_csv(inputs[f"{tag}_paper_check"]) for seed, tag in seeds}
    table = seed_table(intervals, names)
    placement = paper_placement(checks)
    choices = ensemble_choices(cfg, inputs, exp)
    summary = {"experiment": exp, "seeds": [s for s, _ in seeds],
               "accuracy": {r["model"]: {k: None if pd.isna(r[k]) else float(r[k]) for k in ("mean", "std", "min", "max")}
                            for r in table[table["metric"] == "accuracy"].to_dict("records")},
               "paper": placement, "ensemble_choices": choices,
               "verdicts": verdicts(table, placement, choices, len(seeds))}
    write_csv(table, outputs["spread_csv"])
    write_json(summary, outputs["spread_json"])
    print(f"spread {exp}: " + " ".join(summary["verdicts"]))
    return summary
