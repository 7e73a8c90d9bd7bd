"""ensemble: patel's weighted-threshold ensemble (eq. 8) over the members' class probabilities.

    combined = sum_i w_i * p_i;  prediction = argmax(combined) if max(combined) >= gamma
                                 else "no confident prediction" (or the best member's prediction)

The weight x threshold grid is scored on the validation part (the honest choice) and on the test part
(the choice the paper made, labelled as such). Corrected images: for each member, the test images it
got wrong that the ensemble got right.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from allrepro.combine import ABSTAIN, choose, combine, grid, read_predictions, score
from allrepro.fileio import atomic_path, write_csv, write_json
from allrepro.metrics import classification_metrics
from allrepro.params import ParamsError, ensemble_members
from allrepro.params import classes as class_names

def corrected_images(paths: pd.Series, y: np.ndarray, members: dict[str, np.ndarray], pred: np.ndarray,
                     classes: list[str]) -> pd.DataFrame:
    """Per member and class: images the member got wrong and the ensemble right, as
    false negative -> true positive (true class c, member said another class) and
    false positive -> true negative (member said c, the truth is another class)."""
    rows = []
    for name, proba in members.items():
        member = proba.argmax(axis=1)
        fixed = (member != y) & (pred == y)
        for i in np.flatnonzero(fixed):
            rows.append({"member": name, "path": paths.iloc[i], "kind": "FN->TP", "class": classes[y[i]],
                         "true": classes[y[i]], "member_pred": classes[member[i]], "ensemble_pred": classes[pred[i]]})
            rows.append({"member": name, "path": paths.iloc[i], "kind": "FP->TN", "class": classes[member[i]],
                         "true": classes[y[i]], "member_pred": classes[member[i]], "ensemble_pred": classes[pred[i]]})
    return pd.DataFrame(rows, columns=["member", "path", "kind", "class", "true", "member_pred", "ensemble_pred"])


def link_folders(table: pd.DataFrame, dest: Path) -> None:
    """corrected/<member>/<kind>/<class>/<image>: relative symlinks to the test images."""
    with atomic_path(dest) as tmp:
        tmp.mkdir(parents=True)
        for r in table.itertuples():
            folder = tmp / r.member / r.kind.replace("->", "_to_") / r._4
            folder.mkdir(parents=True, exist_ok=True)
            target = Path(os.path.relpath(Path(r.path).resolve(), (dest / folder.relative_to(tmp)).resolve()))
            (folder / Path(r.path).name).symlink_to(target)


def stage(cfg: dict, inputs: dict, outputs: dict, exp: str, seed: int | None = None) -> dict:
    """`allrepro ensemble --experiment E [--seed S]`: the experiment's members under the active profile."""
    members = ensemble_members(cfg, exp)
    if not members:
        raise ParamsError(f"experiments.{exp}: no 'ensemble' block")
    return ensemble(cfg, inputs, outputs, exp, members)


def ensemble(cfg: dict, inputs: dict, outputs: dict, exp: str, members_names: list[str]) -> dict:
    """inputs[f"{member}_{part}"]: each member's predictions of the validation and test parts."""
    spec, classes = cfg["experiments"][exp]["ensemble"], class_names(cfg, exp)
    parts = {}
    for part in ("val", "test"):
        frames = {m: read_predictions(inputs[f"{m}_{part}"], classes)
                  for m in members_names}
        parts[part] = (next(iter(frames.values()))[0]["path"], next(iter(frames.values()))[1],
                       {m: f[2] for m, f in frames.items()})
    # the best member on validation (test when there is no validation part) is the fallback
    select = "val" if len(parts["val"][1]) else None
    ref = parts[select or "test"]
    best = int(np.argmax([(p.argmax(axis=1) == ref[1]).mean() for p in ref[2].values()]))

    tables = {part: grid(parts[part][2], parts[part][1], classes, spec, best) for part in parts if len(parts[part][1])}
    key = spec.get("select_metric", "accuracy_all")
    chosen = {}
    if select:
        chosen["validation"] = choose(tables["val"], key)
    chosen["test (paper's choice: selected on the test set, optimistic)"] = choose(tables["test"], key)

    paths, y, members = parts["test"]
    honest = chosen.get("validation", chosen[list(chosen)[-1]])
    weights, gamma = json.loads(honest["weights"]), float(honest["gamma"])
    pred, combined = combine(list(members.values()), weights, gamma, spec.get("fallback", "abstain"), best)
    test_row = tables["test"][(tables["test"]["weights"] == honest["weights"]) & (tables["test"]["gamma"] == gamma)]

    grid_all = pd.concat([t.assign(part=p) for p, t in tables.items()], ignore_index=True)
    write_csv(grid_all, outputs["grid_csv"])
    preds = pd.DataFrame({"path": paths, "true": [classes[i] for i in y],
                          "pred": [classes[i] if i >= 0 else "none" for i in pred]})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = np.round(combined[:, i], 6)
    write_csv(preds, outputs["predictions_csv"])
    corrected = corrected_images(paths, y, members, pred, classes)
    write_csv(corrected, outputs["corrected_csv"])
    link_folders(corrected, Path(outputs["corrected"]))
    covered = pred != ABSTAIN
    metrics = {"experiment": exp, "members": members_names, "weights": weights, "gamma": gamma,
               "selected_on": "validation" if select else "test (no validation part)",
               "best_member": members_names[best], "fallback": spec.get("fallback", "abstain"),
               **{k: v for k, v in score(y, pred, classes).items()},
               "covered_metrics": classification_metrics(y[covered], combined[covered], classes) if covered.any()
               else None,
               "choices": {name: {"weights": json.loads(r["weights"]), "gamma": float(r["gamma"]),
                                  key: float(r[key]), "coverage": float(r["coverage"])} for name, r in chosen.items()},
               "test_row_of_validation_choice": test_row.iloc[0].to_dict() if len(test_row) else None,
               "corrected_counts": corrected.groupby(["member", "kind", "class"]).size().rename("n").reset_index()
               .to_dict(orient="records")}
    from allrepro.plots import plot_confusion, plot_roc
    if covered.any():
        cm = np.array(metrics["covered_metrics"]["confusion_matrix"])
    else:
        cm = np.zeros((len(classes), len(classes)), int)
    plot_confusion(cm, classes, f"{exp} / ensemble (covered images)", outputs["confusion_png"])
    plot_roc(y, combined, classes, f"{exp} / ensemble", outputs["roc_png"])
    write_json(metrics, outputs["metrics_json"])
    # the models' headline keys (an abstention counts as wrong), and the share of images it answers
    write_json({"accuracy": round(metrics["accuracy_all"], 4), "macro_f1": round(metrics["macro_f1_all"], 4),
                "coverage": round(metrics["coverage"], 4), "n": metrics["n"]}, outputs["headline_json"])
    print(f"ensemble {exp}: weights {weights}, gamma {gamma} (chosen on {metrics['selected_on']}): "
          f"coverage {metrics['coverage']:.3f}, accuracy (all) {metrics['accuracy_all']:.4f}, "
          f"{len(corrected) // 2} corrected member errors")
    return metrics
