"""The model card of a bundle: model_card.md for people, model_card.html (the same text, rendered) for
the web page, and metadata.json for programs (in the spirit of MONAI bundles' metadata: the network's
input and output formats, intended use, data source, versions)."""
from __future__ import annotations

import json
from pathlib import Path

from allrepro.fileio import write_bytes, write_json

INTENDED_USE = ("Research and teaching: reproducing and auditing published results on blood-smear images. "
                "Not a medical device and not for diagnosis: no clinical validation, no patient-level data.")
KNOWN_FLAWS = [
    "The images come without patient identifiers, so the split is by image, not by patient: cells of one "
    "patient can sit in training and test alike, which flatters every test number.",
    "The dataset holds exact and near-duplicate images; the audit counts those that reach across the split "
    "(below).",
    "Colour statistics alone classify much of this dataset (the colour baselines of the audit): a high "
    "accuracy is weak evidence that a network learned cell morphology.",
]


def warnings(spec: dict) -> list[str]:
    """What a user must see beside a prediction: what it is for, the known flaws, the audit's verdicts on this run."""
    return [INTENDED_USE] + KNOWN_FLAWS + spec["audit"]["verdicts"]


def _pct(m: dict | None) -> str:
    if not m:
        return "n/a"
    return f"{100 * m['value']:.2f}% [{100 * m['low']:.2f}, {100 * m['high']:.2f}]"


def markdown(spec: dict) -> str:
    test, dec = spec["test"], spec["decision"]
    level = next((v["level"] for v in test.values() if isinstance(v, dict) and "level" in v), 0.95)
    lines = [f"# Model card: {spec['experiment']} ({spec['paper']} protocol, profile {spec['profile']})", "",
             "## Intended use", "", INTENDED_USE, "",
             "## Model", ""]
    for m in spec["members"]:
        lines.append(f"- `{m['name']}`: {m['backbone']}, {m['input_size']} px input, {m['params_total']:,} parameters, "
                     f"trained {m['trained']['epochs']} epochs on {m['trained']['train_rows']} rows")
    if dec["rule"] == "ensemble":
        lines += ["", f"Decision: weighted-threshold ensemble of {', '.join(dec['members'])}, weights {dec['weights']}, "
                      f"gamma {dec['gamma']} (chosen on {dec['selected_on']}); below gamma: "
                      + ("no confident prediction." if dec["fallback"] == "abstain" else f"the best member ({dec['best_member']}).")]
    else:
        lines += ["", f"Decision: `{dec['model']}`, the member with the best {dec['selected_on']}."]
    pre = spec["preprocessing"]
    seg = pre["segment"]
    lines += ["", "## Input", "",
              f"Classes: {', '.join(spec['classes'])}. Images: {pre['images']}"
              + (f" (HSV {seg['hsv_lower']}-{seg['hsv_upper']}, background black)" if seg else "")
              + f"; resized with OpenCV ({pre['resize']['interpolation']}) to each model's input size.", "",
              "## Training data and its known flaws", "",
              f"Dataset `{spec['dataset']}`. Split files and their sha256 are in bundle.json (provenance).", ""]
    lines += [f"- {flaw}" for flaw in KNOWN_FLAWS]
    leak = spec["audit"]["leakage"].get("test", {})
    lines += [f"- In this split, {leak.get('with_exact_twin_in_train', 0)} of {leak.get('images', 0)} test images have "
              f"an exact twin and {leak.get('with_near_twin_in_train', 0)} a near twin in training.",
              ("- The dataset has no subject (patient) ids: whether test images share a patient with training is "
               "unknown." if leak.get("subjects") is None else
               f"- {leak['with_subject_in_train']} of {leak['images']} test images ({100 * leak['subject_share']:.1f}%) "
               f"come from a subject who also has images in training ({leak['subjects_in_train']} of "
               f"{leak['subjects']} test subjects)."),
              f"- Best colour-only baseline: {spec['audit']['best_baseline']['name']}, "
              f"{100 * spec['audit']['best_baseline']['accuracy']:.1f}% test accuracy.", "",
              f"## Test metrics ({test['model']}, {100 * level:.0f}% intervals over the test images: Clopper–Pearson "
              "for accuracy, bootstrap for the others)", "",
              "| metric | value [interval] |", "|---|---|"]
    lines += [f"| {k} | {_pct(test.get(k))} |" for k in ("accuracy", "macro.f1", "mcc")]
    if "coverage" in test:
        lines.append(f"| coverage (confident predictions) | {100 * test['coverage']:.1f}% |")
    cal = spec.get("calibration", {}).get(test["model"])
    if cal:
        lines += ["", f"Calibration on test: ECE {cal['ece']:.3f} ({cal['bins']} equal-width confidence bins), Brier "
                  f"{cal['brier']:.3f}" + ("; no validation part to fit temperature scaling or conformal sets on."
                                           if cal["temperature"] is None else
                                           f"; temperature scaling (T = {cal['temperature']}, fitted on validation) "
                                           f"gives ECE {cal['ece_scaled']:.3f}; conformal sets at "
                                           f"{cal['conformal']['confidence']:.0%} cover "
                                           f"{100 * cal['conformal']['coverage']:.1f}% of test images with "
                                           f"{cal['conformal']['mean_set_size']:.2f} classes on average.")]
    lines += _robustness_lines(spec.get("robustness"))
    if spec["paper_check"]:
        lines += ["", "## The paper's number beside ours", "",
                  "A verdict only where the paper's own network ran under its protocol; a stand-in's number shows what "
                  "another network gets on this split.", "",
                  "| paper model | ours | paper % | ours % [interval] | paper's value |", "|---|---|---|---|---|"]
        lines += [f"| {r['paper model']} | {r['ours']} | {r['paper %']} | {r['ours %']} [{r['low %']}, {r['high %']}] | "
                  + (("inside" if r["inside"] else "outside") if r.get("judged", True) else "not judged (stand-in)")
                  + " |" for r in spec["paper_check"]]
    lines += ["", "## Audit verdicts", ""] + [f"- {v}" for v in spec["audit"]["verdicts"]]
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in spec["versions"].items() if v), ""]
    return "\n".join(lines)


def _robustness_lines(rob: dict | None) -> list[str]:
    """The model's test accuracy under each shift, and where it looks (Grad-CAM mass inside the cell)."""
    members = [m for m in (rob or {}).get("accuracy", {}) if m != rob.get("colour_baseline")] if rob else []
    if not members:
        return []
    shifts = rob.get("order") or list(rob["accuracy"][members[0]])
    lines = ["", "## Under stain, colour, JPEG and blur shift (test part; accuracy, change in points)", "",
             "| model | " + " | ".join(shifts) + " |", "|---" * (len(shifts) + 1) + "|"]
    for m in [*members, rob["colour_baseline"]]:
        acc = rob["accuracy"].get(m, {})
        lines.append(f"| {m} | " + " | ".join(
            f"{100 * acc[s]['accuracy']:.1f}%" + ("" if s == "clean" else f" ({-acc[s]['drop points']:+.1f})")
            if s in acc else "—" for s in shifts) + " |")
    lines += ["", "## Where the model looks (share of Grad-CAM mass inside the cell's mask, test part)", "",
              "| model | class | inside the cell [interval] | mask covers | × an even map |", "|---|---|---|---|---|"]
    for m in members:
        for cls, r in rob["attention"].get(m, {}).items():
            inside = "—" if r["share inside"] is None else \
                f"{100 * r['share inside']:.1f}% [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"
            lift = "—" if r.get("lift") is None else f"{r['lift']:.2f}"
            lines.append(f"| {m} | {cls} | {inside} | {100 * r['mask covers']:.1f}% | {lift} |")
    return lines


DATASET_CITATIONS = {  # by the dataset's key in params.yaml
    "mehradaria": "Aria M., Ghaderzadeh M., Bashash D., Abolghasemi H., Asadi F., Hosseini A. Acute Lymphoblastic "
                  "Leukemia (ALL) image dataset. Kaggle, 2021. doi:10.34740/KAGGLE/DSV/2175623; and Ghaderzadeh M. et "
                  "al., Int. J. Intell. Syst. 37(8):5113-5133, 2022.",
    "cnmc": "Gupta A., Gupta R. ALL Challenge dataset of ISBI 2019 (C-NMC 2019). The Cancer Imaging Archive, 2019. "
            "doi:10.7937/tcia.2019.dc64i46r.",
}
DATASET_IDS = {"mehradaria": "mehradaria/leukemia", "cnmc": "andrewmvd/leukemia-classification"}  # Kaggle handles
LICENSE = "mit"  # the code's and these weights' licence (pyproject.toml); the images keep the dataset's own terms


def hf_readme(spec: dict) -> str:
    """README.md in the Hugging Face model-card format: YAML front matter (licence, tags, datasets, metrics and a
    model-index with the test results), then use, how to load it with plain Keras, limits, and citations."""
    import yaml

    test = spec["test"]
    results = [{"type": key, "name": f"test {name}", "value": round(100 * test[m]["value"], 2)}
               for m, key, name in (("accuracy", "accuracy", "accuracy"), ("macro.f1", "f1", "macro F1"),
                                    ("mcc", "matthews_correlation", "MCC × 100")) if m in test]
    front = {"license": LICENSE, "library_name": "keras", "pipeline_tag": "image-classification",
             "tags": ["image-classification", "keras", "medical-imaging", "blood-smear", "leukemia",
                      "acute-lymphoblastic-leukemia", "reproducibility", "allrepro", spec["paper"]],
             "datasets": [DATASET_IDS.get(spec["dataset"], spec["dataset"])],
             "metrics": ["accuracy", "f1", "matthews_correlation"],
             "model-index": [{"name": f"allrepro-{spec['experiment']}", "results": [{
                 "task": {"type": "image-classification", "name": "Image classification"},
                 "dataset": {"name": spec["dataset"], "type": DATASET_IDS.get(spec["dataset"], spec["dataset"]),
                             "split": f"test part of the {spec['experiment']} split ({test['model']})"},
                 "metrics": results}]}]}
    first = spec["members"][0]
    size = first["input_size"]
    seg = spec["preprocessing"]["images"] == "segmented"
    cite = spec.get("citation") or {}
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(), "---", "",
             f"# allrepro {spec['experiment']}: {spec['paper']}'s protocol, profile {spec['profile']}", "",
             f"{len(spec['classes'])}-class classification of peripheral blood smear images "
             f"({', '.join(spec['classes'])}), trained by [allrepro](../../README.md) to reproduce and audit "
             f"{spec['paper']}'s published numbers. The full card with the audit is `model_card.md`; every number "
             "and file hash is in `bundle.json`.", "",
             "## Intended use", "", INTENDED_USE, "",
             "## How to use", "",
             "With allrepro: `allrepro predict --bundle . IMAGE...` (the decision rule, segmentation and warnings "
             "included) or `allrepro serve --bundle .`. Without it, each network loads with plain Keras 3 from "
             "`models/<name>.plain.keras` (uint8 RGB in, class probabilities out"
             + ("; the images must first be HSV-segmented as `bundle.json` describes" if seg else "") + "):", "",
             "```python", "import cv2, keras, numpy as np", "",
             f"model = keras.saving.load_model('{first['plain_file']}')",
             "rgb = cv2.cvtColor(cv2.imread('smear.jpg', cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)",
             f"x = cv2.resize(rgb, ({size}, {size}), interpolation=cv2.INTER_AREA)[None]  # uint8, 1x{size}x{size}x3",
             "probabilities = model.predict(x)[0]",
             f"print(dict(zip({spec['classes']!r}, probabilities.round(3))))", "```", "",
             "## Results (test part)", "",
             "| metric | value [95% interval] |", "|---|---|"]
    lines += [f"| {k} | {_pct(test.get(k))} |" for k in ("accuracy", "macro.f1", "mcc")]
    lines += ["", "## Limitations", ""] + [f"- {f}" for f in KNOWN_FLAWS] + [f"- {v}" for v in spec["audit"]["verdicts"]]
    lines += ["", "## Citation", "", "The paper whose protocol this follows:", "",
              f"> {cite.get('paper') or spec['paper']}", "", "The data:", "",
              f"> {cite.get('dataset') or spec['dataset']}", ""]
    return "\n".join(lines)


def html(spec: dict, body_md: str) -> str:
    import mistune

    body = mistune.html(body_md)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Model card: {spec['experiment']}</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}</style>"
            f"</head><body>{body}</body></html>\n")


def metadata(spec: dict) -> dict:
    sizes = sorted({m["input_size"] for m in spec["members"]})
    return {
        "schema": "allrepro model card metadata 1 (after MONAI bundle metadata.json)",
        "name": f"allrepro {spec['experiment']}",
        "task": f"{len(spec['classes'])}-class classification of peripheral blood smear images (ALL)",
        "intended_use": INTENDED_USE,
        "data_source": spec["dataset"],
        "data_type": "RGB microscopy image",
        "paper": spec["paper"],
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "RGB", "num_channels": 3, "dtype": "uint8",
                                 "value_range": [0, 255], "spatial_shape": [[s, s] for s in sizes],
                                 "preprocessing": spec["preprocessing"]}},
            "outputs": {"pred": {"type": "probabilities", "num_channels": len(spec["classes"]),
                                 "channel_def": dict(enumerate(spec["classes"])),
                                 "abstains": spec["decision"]["rule"] == "ensemble"
                                 and spec["decision"]["fallback"] == "abstain"}},
        },
        "test_metrics": spec["test"],
        "known_flaws": KNOWN_FLAWS,
        "audit_verdicts": spec["audit"]["verdicts"],
        "versions": spec["versions"],
    }


def write(spec: dict, folder: Path) -> None:
    text = markdown(spec)
    write_bytes(text.encode(), folder / "model_card.md")
    write_bytes(html(spec, text).encode(), folder / "model_card.html")
    write_json(json.loads(json.dumps(metadata(spec), default=str)), folder / "metadata.json")
    write_bytes(hf_readme(spec).encode(), folder / "README.md")
