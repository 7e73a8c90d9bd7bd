"""`allrepro audit --experiment X`: the audit facts of one experiment, and a plain verdict per headline number.

Reads the experiment's split, the dataset's duplicate clusters and every test prediction (models,
ensemble); trains the colour-only baselines (and, on segmented images, the mask-fraction baseline); writes
reports/<exp>/audit/:
  leakage.json          val/test images with an exact or near twin in training, or whose subject is in training
  baselines.csv         test predictions of the shortcut baselines (path, true, pred, p_*; column model)
  intervals.csv         interval of every metric for every model, the ensemble and the baselines (Clopper–Pearson
                        for proportions, percentile bootstrap for the rest)
  mcnemar.csv           exact McNemar test for every pair of them
  paper_check.csv       every number the paper reports beside our interval, inside or not, judged or a stand-in's
  calibration.csv       ECE, Brier, temperature scaling and conformal sets per model (and the ensemble's ECE)
  reliability.png       the reliability diagram of every model on the test part
  robustness.csv        accuracy [exact interval] of every model and the colour-only baseline under each stain,
                        colour, JPEG and blur shift of the test part, and the drop from clean
  attention_by_class.csv  the share of each model's Grad-CAM mass inside the cell's mask, per class [bootstrap interval]
  audit.json            the summary the report's verdicts are written from
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from allrepro.layout import PARTS
from allrepro.audit.twins import leakage
from allrepro.audit.shortcuts import MASK_BASELINE, foreground_by_class, mask_baseline, run_baselines
from allrepro.audit.uncertainty import bootstrap, mcnemar, paper_check
from allrepro.fileio import write_csv, write_json
from allrepro.papers import paper_values
from allrepro.params import classes as class_names
from allrepro.params import (dataset_of, ensemble_members, models_for, paper_of, profile_kind, robustness_on,
                             segmented, work_cut)

ENSEMBLE = "ensemble"


def test_predictions(cfg: dict, inputs: dict, exp: str) -> dict[str, pd.DataFrame]:
    preds = {m: pd.read_csv(inputs[f"{m}_test"], keep_default_na=False) for m in models_for(cfg, exp)}
    if ensemble_members(cfg, exp):
        preds[ENSEMBLE] = pd.read_csv(inputs["ensemble"], keep_default_na=False)
    return preds


def ensemble_configurations(cfg: dict, inputs: dict, exp: str, paper: str, classes: list[str]) -> tuple[dict, dict]:
    """Our test predictions for every weights x gamma configuration the paper reports ('Overall' rows), so
    each of its numbers (99.96% included) can be held against an interval of the same configuration."""
    from allrepro.combine import combine, read_predictions

    reported = paper_values().get(paper, {}).get("ensemble_overall")
    members = ensemble_members(cfg, exp)
    if not reported or not members:
        return {}, {}
    spec = cfg["experiments"][exp]["ensemble"]
    best = members.index(json.loads(Path(inputs["ensemble_metrics"]).read_text())["best_member"])
    frames = [read_predictions(inputs[f"{m}_test"], classes) for m in members]
    preds, rows = {}, {}
    for key, (precision, sensitivity, specificity, f1, accuracy) in reported.items():
        weights, gamma = key.rsplit(" ", 1)
        pred, _ = combine([f[2] for f in frames], json.loads(weights), float(gamma), spec.get("fallback", "abstain"), best)
        name = f"ensemble {weights} γ {gamma}"
        preds[name] = pd.DataFrame({"true": frames[0][0]["true"], "pred": [classes[i] if i >= 0 else "none" for i in pred]})
        rows[name] = {"macro.precision": precision, "macro.recall": sensitivity, "macro.specificity": specificity,
                      "macro.f1": f1, "accuracy": accuracy}
    return preds, rows


def calibrate(cfg: dict, inputs: dict, outputs: dict, exp: str, classes: list[str],
              preds: dict[str, pd.DataFrame]) -> dict:
    """Each model's (and the ensemble's) calibration on the test part, temperature scaling and conformal sets
    fitted on the validation part (allrepro.audit.calibration): calibration.csv, reliability.png, and the dict
    for audit.json."""
    from allrepro.audit import calibration as cal
    from allrepro.plots import plot_reliability

    spec, index = cfg["audit"]["calibration"], {c: i for i, c in enumerate(classes)}

    def arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame[[f"p_{c}" for c in classes]].to_numpy(float), frame["true"].map(index).to_numpy(int)

    out, curves = {}, {}
    for model, frame in preds.items():
        proba, y = arrays(frame)
        val = pd.read_csv(inputs[f"{model}_val"], keep_default_na=False) if f"{model}_val" in inputs else None
        pv, yv = arrays(val) if val is not None and len(val) else (None, None)
        out[model] = cal.summary(pv, yv, proba, y, spec["bins"], spec["confidence"])
        curves[model] = cal.reliability(proba, y, spec["bins"])
    members = ensemble_members(cfg, exp)
    if members and ENSEMBLE in out and all((out[m]["temperature"] is not None) for m in members):
        out[ENSEMBLE]["scaled_choice"] = scaled_ensemble(cfg, inputs, exp, classes, members,
                                                         {m: out[m]["temperature"] for m in members})
    rows = [{"model": m, **{k: v for k, v in r.items() if k not in ("conformal", "scaled_choice")},
             **{f"conformal {k}": v for k, v in (r["conformal"] or {}).items()}} for m, r in out.items()]
    write_csv(pd.DataFrame(rows).round(4), outputs["calibration_csv"])
    plot_reliability(curves, spec["bins"], f"{exp}: reliability on the test part", outputs["reliability_png"])
    return out


def scaled_ensemble(cfg: dict, inputs: dict, exp: str, classes: list[str], members: list[str],
                    temperatures: dict[str, float]) -> dict:
    """The ensemble's weights × γ chosen on validation again, with each member's probabilities temperature-scaled
    (T fitted on validation): the choice, and its test coverage and accuracy, beside the unscaled ensemble's."""
    from allrepro.audit.calibration import scale
    from allrepro.combine import choose, combine, grid, read_predictions

    spec, key = cfg["experiments"][exp]["ensemble"], cfg["experiments"][exp]["ensemble"].get("select_metric", "accuracy_all")
    before = json.loads(Path(inputs["ensemble_metrics"]).read_text())
    best = members.index(before["best_member"])
    parts = {}
    for part in ("val", "test"):
        frames = {m: read_predictions(inputs[f"{m}_{part}"], classes) for m in members}
        parts[part] = (next(iter(frames.values()))[1], {m: scale(f[2], temperatures[m]) for m, f in frames.items()})
    row = choose(grid(parts["val"][1], parts["val"][0], classes, spec, best), key)
    weights, gamma = json.loads(row["weights"]), float(row["gamma"])
    pred, _ = combine(list(parts["test"][1].values()), weights, gamma, spec.get("fallback", "abstain"), best)
    y = parts["test"][0]
    return {"temperatures": temperatures,
            "unscaled": {"weights": before["weights"], "gamma": before["gamma"], "coverage": round(before["coverage"], 4),
                         "accuracy_all": round(before["accuracy_all"], 4)},
            "scaled": {"weights": weights, "gamma": gamma, "coverage": round(float((pred >= 0).mean()), 4),
                       "accuracy_all": round(float((pred == y).mean()), 4)}}


def _calibration_verdict(summary: dict) -> str | None:
    cal = {m: r for m, r in summary.get("calibration", {}).items() if m != ENSEMBLE}
    if not cal:
        return None
    worst = max(cal, key=lambda m: cal[m]["ece"])
    r = cal[worst]
    said = (f"Calibration: the least calibrated model, {worst}, has a test ECE of {r['ece']:.3f} ({r['bins']} "
            f"equal-width bins; Brier {r['brier']:.3f})")
    if r["temperature"] is None:
        return said + "; with no validation part nothing is fitted to correct it, and patel-style thresholds on these "                       "probabilities are uncalibrated."
    c = r["conformal"]
    choice = summary["calibration"].get(ENSEMBLE, {}).get("scaled_choice")
    if choice:
        u, t = choice["unscaled"], choice["scaled"]
        said_ens = (f" With every member temperature-scaled, the ensemble's choice on validation moves from weights "
                    f"{u['weights']} γ {u['gamma']} (test coverage {100 * u['coverage']:.1f}%, accuracy "
                    f"{100 * u['accuracy_all']:.1f}%) to weights {t['weights']} γ {t['gamma']} (coverage "
                    f"{100 * t['coverage']:.1f}%, accuracy {100 * t['accuracy_all']:.1f}%): γ is a threshold on "
                    "probabilities, so it means something only once they are calibrated.")
    else:
        said_ens = ""
    return (said + f"; temperature scaling fitted on validation (T = {r['temperature']}) gives {r['ece_scaled']:.3f}. "
            f"Conformal sets at {c['confidence']:.0%} cover {100 * c['coverage']:.1f}% of the test images with "
            f"{c['mean_set_size']:.2f} classes on average ({100 * c['single_class_share']:.1f}% a single class): an "
            "abstention with a coverage guarantee, where a threshold γ has none." + said_ens)


def robustness(cfg: dict, inputs: dict, outputs: dict, exp: str, classes: list[str], split: dict,
               preds: dict[str, pd.DataFrame], base: dict[str, pd.DataFrame], fitted: dict, colour: str) -> dict:
    """Accuracy under each shift of the test part (the models' from evaluate, the best colour baseline's here, on
    the same seeded shifted images) and the Grad-CAM share inside the cell: robustness.csv, attention_by_class.csv, and the
    dict for audit.json."""
    import cv2

    from allrepro.audit import robustness as rob
    from allrepro.audit.shortcuts import rgb_features
    from allrepro.shifts import shifted

    spec, level = cfg["evaluate"].get("shift") or {}, cfg["audit"]["bootstrap"]["level"]
    perturbations = spec.get("perturbations") or {}
    models = models_for(cfg, exp)
    shift_frames = {m: pd.read_csv(inputs[f"{m}_shift"], keep_default_na=False) for m in models}
    test = split["test"]
    rgb = [cv2.cvtColor(cv2.imread(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for p in test["path"]]
    bins = cfg["audit"]["baselines"].get("histogram_bins", 8)
    frames = []
    for name, pert in perturbations.items():
        x = np.stack([rgb_features(img, bins) for img in shifted(rgb, name, pert, spec["seed"])])
        proba = np.zeros((len(test), len(classes)))
        proba[:, fitted[colour].classes_] = fitted[colour].predict_proba(x)
        frames.append(pd.DataFrame({"shift": name, "path": test["path"].to_numpy(), "true": test["class"].to_numpy(),
                                    "pred": [classes[i] for i in proba.argmax(axis=1)]}))
    shift_frames[colour] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["shift", "path"])
    table = rob.shift_table(shift_frames, {**{m: preds[m] for m in models}, colour: base[colour]},
                            {n: p["kind"] for n, p in perturbations.items()}, level)
    write_csv(table, outputs["robustness_csv"])

    looks = {m: pd.read_csv(inputs[f"{m}_attention"], keep_default_na=False, na_values=[""]) for m in models}
    boot, spec_rob = cfg["audit"]["bootstrap"], cfg["audit"]["robustness"]
    attention = rob.attention_table(looks, boot["resamples"], boot["seed"], level)
    write_csv(attention, outputs["attention_by_class_csv"])
    return {"colour_baseline": colour, "colour_drop_limit": spec_rob["colour_drop"],
            "shifts": {n: p for n, p in perturbations.items()}, "order": ["clean", *perturbations],
            "accuracy": {m: {r["shift"]: {k: r[k] for k in ("accuracy", "low", "high", "drop points")}
                             for _, r in g.iterrows()} for m, g in table.groupby("model", sort=False)},
            "worst_colour_shift": {m: rob.colour_dependence(table, m) for m in [*models, colour]},
            "attention": {m: {r["class"]: {k: (None if pd.isna(r[k]) else r[k]) for k in
                                           ("images", "measured", "share inside", "low", "high", "mask covers",
                                            "lift", "map")}
                              for _, r in g.iterrows()} for m, g in attention.groupby("model", sort=False)},
            "lowest_attention": rob.lowest(looks, spec_rob["lowest"])}


ATTENTION_LIFT = 1.5  # Grad-CAM mass on the cell at least 1.5x the cell's share of the image: the model weighs the cell


def _points(drop: float) -> str:
    return f"{drop:.1f} points lost" if drop >= 0 else f"{-drop:.1f} points gained"


def _robustness_verdicts(summary: dict) -> list[str]:
    rob = summary.get("robustness")
    if not rob:
        return []
    out, limit, colour = [], rob["colour_drop_limit"], rob["colour_baseline"]
    base = rob["worst_colour_shift"].get(colour)
    for model, worst in rob["worst_colour_shift"].items():
        if model == colour or worst is None:
            continue
        shift, drop = worst
        acc = rob["accuracy"][model]
        said = (f"Stain and colour shift: {model} goes from {100 * acc['clean']['accuracy']:.1f}% to "
                f"{100 * acc[shift]['accuracy']:.1f}% [{100 * acc[shift]['low']:.1f}, {100 * acc[shift]['high']:.1f}] "
                f"under {shift}, its worst colour shift ({_points(drop)})")
        if base:
            said += f"; the colour-only baseline, under {base[0]}: {_points(base[1])}"
        out.append(said + (f" — more than {limit} points: its accuracy depends on colour, so a lab with another stain "
                           "batch or lamp should expect less." if drop > limit else
                           f" — within {limit} points: its accuracy does not hinge on the exact colour."))
    for model, by_class in rob["attention"].items():
        every = by_class.get("all")
        if not every or every["share inside"] is None:
            continue
        unmeasured, lift = every["images"] - every["measured"], every["lift"]
        said = (f"Where {model} looks: {100 * every['share inside']:.1f}% [{100 * every['low']:.1f}, "
                f"{100 * every['high']:.1f}] of its Grad-CAM mass (a {every['map']} map, upsampled) lies inside the "
                f"cell's mask, which covers {100 * every['mask covers']:.1f}% of the image ({lift:.2f}× an even map)")
        said += (f"; {unmeasured} test images have an empty mask and are not measured" if unmeasured else "")
        if every["share inside"] >= 0.5:
            out.append(said + ": most of what drives its answer is on the cell.")
        elif lift >= ATTENTION_LIFT:
            out.append(said + ": it weighs the cell above its area, but most of what drives its answer lies outside it.")
        else:
            out.append(said + ": no more on the cell than an evenly spread map — it looks mostly at the background.")
    return out


def _against(row) -> str:
    """Where the paper's value lies against our interval, in words that read right on either side."""
    if row["inside"]:
        return "inside our interval"
    side, gap = ("above", row["paper %"] - row["high %"]) if row["paper %"] > row["high %"] else ("below", row["low %"] - row["paper %"])
    return f"{side} our interval by {gap:.2f} points"


def verdicts(cfg: dict, exp: str, summary: dict, intervals: pd.DataFrame, checks: pd.DataFrame) -> list[str]:
    """One plain sentence per headline (accuracy) number of the paper — a verdict only where the paper's own
    network ran under its protocol, otherwise what a stand-in gets on this split —, then the general warnings."""
    out = []
    test = summary["leakage"].get("test", {})
    twins = test.get("with_near_twin_in_train", 0)
    accuracy = checks[checks["metric"] == "accuracy"]
    configs = accuracy[accuracy["paper model"].str.startswith("ensemble ")]
    level = f"{summary['level']:.0%}"
    for _, row in accuracy.drop(configs.index).iterrows():
        ours = f"{row['ours %']}% [{row['low %']}, {row['high %']}]"
        if row["judged"]:
            out.append(f"{row['paper model']}: the paper reports {row['paper %']}% accuracy; the same network trained "
                       f"here under the paper's protocol gives {ours} on {summary['test_images']} test images — the "
                       f"reported value lies {_against(row)} ({level}, {row['method']}).")
        else:
            what = (f"{row['ours']}, a stand-in, not {row['paper model']}" if row["ours"] != row["paper model"] else
                    f"{row['ours']} with the work cut (profile {cfg['profile']})")
            out.append(f"{row['paper model']}: the paper's {row['paper %']}% accuracy is not judged here — this run "
                       f"trained {what}. For orientation only: {row['ours']} gets {ours} on this split. Run the paper "
                       "profile to judge the claim.")
    if len(configs):
        top = configs.loc[configs["paper %"].idxmax()]
        if configs["judged"].all():
            out.append(f"Ensemble: {int(configs['inside'].sum())} of the paper's {len(configs)} weights × γ accuracies lie "
                       f"inside our intervals for the same configurations; its headline {top['paper %']}% "
                       f"({top['paper model']}) lies {_against(top)} ({top['ours %']}% [{top['low %']}, {top['high %']}]) "
                       "— a configuration the paper chose on its test set.")
        else:
            out.append(f"Ensemble: the paper's {len(configs)} weights × γ accuracies (headline {top['paper %']}%) are not "
                       f"judged here — this run's members are not the paper's networks under its protocol. For "
                       f"orientation only: the same configurations of ours give {configs['ours %'].min()}–"
                       f"{configs['ours %'].max()}%.")
    if twins:
        out.append(f"{twins} of {test['images']} test images ({100 * twins / test['images']:.1f}%) have a near-duplicate "
                   "in the training part: the split leaks, and test accuracy is optimistic by up to that share.")
    else:
        out.append("No test image has a near-duplicate in the training part.")
    if test.get("subjects") is None:
        out.append("The dataset carries no subject (patient) ids: whether test images share a patient with training "
                   "cannot be checked.")
    elif test["with_subject_in_train"]:
        out.append(f"{test['with_subject_in_train']} of {test['images']} test images ({100 * test['subject_share']:.1f}%) "
                   f"come from {test['subjects_in_train']} of the test part's {test['subjects']} subjects who also have "
                   "images in training: the split is by image, not by patient, so the test measures recognising a "
                   "patient's other cells as much as the disease (image-level splits of C-NMC inflate AUROC by about "
                   "0.04 over subject-disjoint ones, Albzour 2026). A subject-disjoint split "
                   "(`split.group_by: group`) answers the clinical question.")
    else:
        out.append(f"No test image shares a subject with training ({test['subjects']} test subjects, all unseen): "
                   "the split is subject-disjoint.")
    best_cnn, best_base = summary["best_model"], summary["best_baseline"]
    gap = best_cnn["accuracy"] - best_base["accuracy"]
    colour = f"A classifier that sees only colour statistics ({best_base['name']}) reaches {100 * best_base['accuracy']:.1f}%"
    best = f"the best model ({best_cnn['name']}, {100 * best_cnn['accuracy']:.1f}%)"
    if gap < 0:
        out.append(f"{colour}, {100 * -gap:.1f} points above {best}: on this split colour alone classifies better than "
                   "the networks, so their accuracy is no evidence of morphological learning.")
    elif gap <= cfg["audit"]["close_to_cnn"]:
        out.append(f"{colour}, {100 * gap:.1f} points below {best}: most of the accuracy is available without seeing a "
                   "cell's shape, so a high accuracy on this split is weak evidence of morphological learning.")
    else:
        out.append(f"The colour-only baseline ({best_base['name']}) reaches {100 * best_base['accuracy']:.1f}%, "
                   f"{100 * gap:.1f} points below {best}: colour alone does not explain the models' accuracy.")
    mask = summary.get("mask_baseline")
    if mask:
        share = ", ".join(f"{c} {100 * f:.1f}%" for c, f in mask["foreground_by_class"].items())
        chance = max(summary["test_class_shares"].values())
        out.append(f"A classifier that sees only the HSV mask's foreground fraction — one number per image — reaches "
                   f"{100 * mask['accuracy']:.1f}% [{100 * mask['low']:.1f}, {100 * mask['high']:.1f}] (the largest "
                   f"class alone: {100 * chance:.1f}%). A network trained on the segmented images can read that much "
                   f"of the class from how much of the image the mask keeps, not from a cell (mean foreground in "
                   f"training: {share}).")
    return out


def audit(cfg: dict, inputs: dict, outputs: dict, exp: str, seed: int | None = None) -> dict:
    """The audit of one training run: the primary one, or the repeat trained with `seed`."""
    classes, dataset = class_names(cfg, exp), dataset_of(cfg, exp)
    split = {p: pd.read_csv(inputs[f"{p}_csv"], keep_default_na=False) for p in PARTS}
    dups = pd.read_csv(inputs["duplicates"], keep_default_na=False)
    leaks = leakage(split, dups)

    base_cfg = cfg["audit"]["baselines"]
    fitted = {}
    base = run_baselines(split["train"], split["test"], classes, base_cfg.get("histogram_bins", 8),
                         base_cfg.get("neighbors", 1), cfg["audit"]["bootstrap"]["seed"], fitted)
    if segmented(cfg, exp):  # the network sees the mask: how much does its size alone tell?
        seg = pd.read_csv(inputs["segmented"], keep_default_na=False)
        foreground = dict(zip(seg["source"], seg["foreground"]))
        base.update(mask_baseline(split["train"], split["test"], classes, foreground, cfg["audit"]["bootstrap"]["seed"]))
    write_csv(pd.concat([f.assign(model=m) for m, f in base.items()], ignore_index=True),
              outputs["baselines_csv"])

    preds = test_predictions(cfg, inputs, exp)
    everything = {**preds, **base}
    boot = cfg["audit"]["bootstrap"]
    intervals = bootstrap(everything, classes, boot["resamples"], boot["seed"], boot["level"])
    write_csv(intervals, outputs["intervals_csv"])
    write_csv(mcnemar(everything, classes), outputs["mcnemar_csv"])

    models = models_for(cfg, exp)
    rows = paper_values().get(paper_of(cfg, exp), {}).get("table", {}).get("rows", {})
    full = not work_cut(cfg)  # the paper's protocol, not a profile that cuts epochs or images
    checks = paper_check(intervals, rows, {m: m if m in models else models[0] for m in rows},
                         judged={m for m in rows if m in models and full})
    configs, config_rows = ensemble_configurations(cfg, inputs, exp, paper_of(cfg, exp), classes)
    if configs:  # the paper's ensemble rows, each against the same configuration of our members
        config_intervals = bootstrap(configs, classes, boot["resamples"], boot["seed"], boot["level"])
        papers_members = full and profile_kind(cfg) == "paper"
        checks = pd.concat([checks, paper_check(config_intervals, config_rows, {c: c for c in configs},
                                                judged=set(configs) if papers_members else set())], ignore_index=True)
    write_csv(checks, outputs["paper_check_csv"])

    calibration = calibrate(cfg, inputs, outputs, exp, classes, preds)

    acc = intervals[intervals["metric"] == "accuracy"].set_index("model")["value"]
    best_model = max(preds, key=lambda m: acc[m])
    best_base = max((m for m in base if m != MASK_BASELINE), key=lambda m: acc[m])
    summary = {"experiment": exp, "seed": cfg["train"]["seed"] if seed is None else seed, "dataset": dataset,
               "test_images": int(len(split["test"])),
               "level": boot["level"], "leakage": leaks,
               "best_model": {"name": best_model, "accuracy": float(acc[best_model])},
               "best_baseline": {"name": best_base, "accuracy": float(acc[best_base])},
               "test_class_shares": {c: round(float(v), 4) for c, v in
                                     split["test"]["class"].value_counts(normalize=True).sort_index().items()},
               "paper_numbers": int(len(checks)), "paper_numbers_inside": int(checks["inside"].sum()) if len(checks) else 0}
    summary["calibration"] = calibration
    if robustness_on(cfg):
        summary["robustness"] = robustness(cfg, inputs, outputs, exp, classes, split, preds, base, fitted, best_base)
    else:  # the profile measures no robustness (smoke): empty tables, and the verdicts say so
        write_csv(pd.DataFrame(columns=["model", "shift", "accuracy"]), outputs["robustness_csv"])
        write_csv(pd.DataFrame(columns=["model", "class", "share inside"]), outputs["attention_by_class_csv"])
        summary["verdicts_note"] = f"Robustness and Grad-CAM are not measured under profile {cfg['profile']}."
    if MASK_BASELINE in base:
        row = intervals[(intervals["model"] == MASK_BASELINE) & (intervals["metric"] == "accuracy")].iloc[0]
        summary["mask_baseline"] = {"name": MASK_BASELINE, "accuracy": float(row["value"]), "low": float(row["low"]),
                                    "high": float(row["high"]),
                                    "foreground_by_class": foreground_by_class(split["train"], foreground)}
    summary["verdicts"] = verdicts(cfg, exp, summary, intervals, checks)
    summary["verdicts"] += [v for v in [_calibration_verdict(summary)] if v] + _robustness_verdicts(summary)
    summary["verdicts"] += [summary.pop("verdicts_note")] if "verdicts_note" in summary else []
    write_json(leaks, outputs["leakage_json"])
    write_json(summary, outputs["audit_json"])
    print(f"audit {exp}{'' if seed is None else f' (seed {seed})'}: " + " ".join(summary["verdicts"]))
    return summary
