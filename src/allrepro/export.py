"""export: one self-describing bundle per experiment (bundles/<experiment>/), what `allrepro predict` and
`allrepro serve` load.

    bundle.json        what a prediction needs and what a reader should know: classes, each model's file
                       and input size, the preprocessing exactly as trained (original or HSV-segmented
                       images, the HSV bounds, the resize), the decision rule (the ensemble's weights and
                       gamma, or the member chosen on validation), test metrics with their intervals, the
                       audit's verdicts, the paper's number, hashes of the params and data it came from,
                       versions
    models/<m>.keras   the trained models, copied (what predict and serve load, with allrepro)
    models/<m>.plain.keras  the same network as plain Keras (models/portable.py): loads without allrepro
    README.md          a Hugging Face-style model card (YAML front matter, usage, citation)
    model_card.md/.html, metadata.json   the model card (model_card.py)

Everything is read from the stages' outputs (nothing is recomputed) and the folder is written under a
temporary name, then renamed.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from allrepro import model_card, runtime
from allrepro.layout import PARTS
from allrepro.fileio import atomic_path, link_or_copy, sha256_file, write_json
from allrepro.params import classes as class_names
from allrepro.papers import paper_values
from allrepro.params import dataset_of, ensemble_members, model_spec, models_for, paper_of

FORMAT = "allrepro-bundle/1"
HEADLINE = ("accuracy", "macro.f1", "mcc")  # the metrics a bundle carries with their intervals


def stage(cfg: dict, inputs: dict, outputs: dict, exp: str) -> dict:
    """`allrepro export --experiment E`."""
    spec = describe(cfg, inputs, exp)
    with atomic_path(outputs["bundle"]) as tmp:
        (tmp / "models").mkdir(parents=True)
        for member in spec["members"]:
            link_or_copy(inputs[f"{member['name']}_model"], tmp / member["file"])
        write_portable(spec, inputs, tmp)
        write_json(spec, tmp / "bundle.json")
        model_card.write(spec, tmp)
    print(f"export {exp}: {len(spec['members'])} model(s), decision {spec['decision']['rule']} "
          f"-> {outputs['bundle']}")
    return spec


def write_portable(spec: dict, inputs: dict, folder: Path) -> None:
    """Each member again as plain Keras (no allrepro layers), for use without allrepro."""
    import keras

    from allrepro import models  # noqa: F401  (registers the layers the trained files name)
    from allrepro.models.portable import portable

    for member in spec["members"]:
        trained = keras.saving.load_model(inputs[f"{member['name']}_model"], compile=False)
        portable(trained).save(folder / member["plain_file"])


def describe(cfg: dict, inputs: dict, exp: str) -> dict:
    ds, classes = dataset_of(cfg, exp), class_names(cfg, exp)
    intervals = pd.read_csv(inputs["audit_intervals_csv"])
    members = [_member(inputs, m, intervals) for m in models_for(cfg, exp)]
    decision = _decision(cfg, inputs, exp, members)
    audit = json.loads(Path(inputs["audit_audit_json"]).read_text())
    segmented = cfg["experiments"][exp]["images"] == "segmented"
    return {
        "format": FORMAT,
        "experiment": exp,
        "dataset": ds,
        "paper": paper_of(cfg, exp),
        "profile": cfg["profile"],
        "classes": classes,
        "preprocessing": {
            "decode": "OpenCV imread, 8-bit, 3 channels (BGR), then RGB",
            "images": "segmented" if segmented else "original",
            "segment": cfg["segment"] if segmented else None,  # HSV bounds and clean-up, as in training
            "resize": {"library": "opencv", "interpolation": cfg["cache"].get("interpolation", "area"),
                       "to": "each model's input_size, square"},
            "input": "uint8 RGB 0-255 (each model rescales and normalises inside itself)",
        },
        "members": members,
        "decision": decision,
        "input_domain": input_domain(inputs, segmented),  # what predict and serve warn outside of
        "test": _test(inputs, decision, intervals),
        "audit": {"verdicts": audit["verdicts"], "leakage": audit["leakage"], "best_baseline": audit["best_baseline"],
                  "paper_numbers": audit["paper_numbers"], "paper_numbers_inside": audit["paper_numbers_inside"]},
        "paper_check": _paper_check(inputs),
        # temperature (T) and conformal threshold (qhat: a class is in the set when 1 - p <= qhat), per model
        "calibration": {m: r for m, r in audit.get("calibration", {}).items() if m in models_for(cfg, exp) or m == "ensemble"},
        # accuracy under each stain/colour/JPEG/blur shift of the test part, and the Grad-CAM share inside the cell
        "robustness": audit.get("robustness"),
        "provenance": {"params_sha256": _params_hash(cfg, exp),
                       "data": {Path(p).name if "split" not in p else f"split/{Path(p).name}": sha256_file(p)
                                for p in [inputs["raw"], *(inputs[f"{part}_csv"] for part in PARTS)]}},
        "versions": runtime.versions(),
        "citation": {"paper": paper_values().get(paper_of(cfg, exp), {}).get("citation"),
                     "dataset": model_card.DATASET_CITATIONS.get(ds)},
    }


def _member(inputs: dict, name: str, intervals: pd.DataFrame) -> dict:
    info = json.loads(Path(inputs[f"{name}_labels"]).read_text())
    metrics = json.loads(Path(inputs[f"{name}_metrics"]).read_text())
    val = pd.read_csv(inputs[f"{name}_val"])
    return {"name": name, "file": f"models/{name}.keras", "plain_file": f"models/{name}.plain.keras",
            "backbone": info["backbone"],
            "input_size": info["input_size"], "params_total": info["params_total"],
            "sha256": sha256_file(inputs[f"{name}_model"]),
            "trained": {k: info.get(k) for k in ("epochs", "seconds", "train_rows")} | {"runtime": info.get("runtime")},
            "val_accuracy": float((val["pred"] == val["true"]).mean()) if len(val) else None,
            "test_accuracy": metrics["accuracy"],
            "test": _intervals(intervals, name)}


def input_domain(inputs: dict, segmented: bool) -> dict:
    """What the models saw in training: the 1st–99th percentile of the training images' width, height and aspect
    (width / height), and for segmented images the fraction of the image the HSV mask keeps — `allrepro predict`
    and the page warn about an image far outside it (predict.domain_warnings)."""
    ids = pd.read_csv(inputs["train_csv"], keep_default_na=False)["id"].drop_duplicates()
    raw = pd.read_csv(inputs["raw"], keep_default_na=False).set_index("path").loc[ids]

    def spread(values: pd.Series) -> list[float]:
        return [round(float(values.quantile(0.01)), 4), round(float(values.quantile(0.99)), 4)]

    out = {"images": int(len(raw)), "width": spread(raw["width"]), "height": spread(raw["height"]),
           "aspect": spread(raw["width"] / raw["height"]), "foreground": None}
    if segmented:
        seg = pd.read_csv(inputs["segmented"], keep_default_na=False).set_index("source")
        out["foreground"] = spread(seg.loc[ids, "foreground"])
    return out


def _decision(cfg: dict, inputs: dict, exp: str, members: list[dict]) -> dict:
    """The ensemble's rule when the experiment has one; otherwise the member with the best validation
    accuracy (test accuracy when there is no validation part, said so)."""
    if ensemble_members(cfg, exp):
        m = json.loads(Path(inputs["ensemble"]).read_text())
        names = [x["name"] for x in members]
        return {"rule": "ensemble", "members": m["members"], "weights": m["weights"], "gamma": m["gamma"],
                "fallback": m["fallback"], "best_member": m["best_member"], "selected_on": m["selected_on"],
                "member_index": [names.index(n) for n in m["members"]]}
    on_val = all(x["val_accuracy"] is not None for x in members)
    key = "val_accuracy" if on_val else "test_accuracy"
    best = max(members, key=lambda x: x[key])  # first of equals: params order
    return {"rule": "best_member", "model": best["name"],
            "selected_on": "validation accuracy" if on_val else "test accuracy (no validation part: optimistic)"}


def _intervals(intervals: pd.DataFrame, model: str) -> dict:
    rows = intervals[(intervals["model"] == model) & intervals["metric"].isin(HEADLINE)]
    return {r.metric: {"value": r.value, "low": r.low, "high": r.high, "n": int(r.n), "level": r.level}
            for r in rows.itertuples()}


def _test(inputs: dict, decision: dict, intervals: pd.DataFrame) -> dict:
    if decision["rule"] == "ensemble":
        m = json.loads(Path(inputs["ensemble"]).read_text())
        return {"model": "ensemble", "coverage": m["coverage"], **_intervals(intervals, "ensemble")}
    return {"model": decision["model"], **_intervals(intervals, decision["model"])}


def _paper_check(inputs: dict) -> list[dict]:
    """The paper's accuracy beside ours (with our interval), one row per paper model checked."""
    checks = pd.read_csv(inputs["audit_paper_check_csv"])
    return checks[checks["metric"] == "accuracy"].to_dict(orient="records")


def _params_hash(cfg: dict, exp: str) -> str:
    """sha256 of the params the bundle depends on (the experiment, its models, segment, cache, train)."""
    keys = {"experiment": cfg["experiments"][exp], "segment": cfg["segment"], "cache": cfg["cache"],
            "train": cfg["train"], "models": {m: model_spec(cfg, m) for m in models_for(cfg, exp)}}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()
