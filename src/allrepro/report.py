"""report: the tables and figures of an experiment's report, and the papermill run that renders it.

The notebook (workflow/notebooks/report.ipynb) only calls the functions here, so everything it shows
is testable without Jupyter.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from allrepro.layout import PARTS
from allrepro.fileio import atomic_path
from allrepro.params import classes as class_names
from allrepro.params import dataset_of, models_for, trained_in

TEMPLATE = "workflow/notebooks/report.ipynb"


# The report's look: tables that fit the page or wrap, scroll when they cannot; no notebook prompts (report.stage).
STYLE = """<style>
.jp-OutputArea-output table, .output_html table { display: block; max-width: 100%; overflow-x: auto; border-collapse: collapse }
.jp-OutputArea-output td, .jp-OutputArea-output th { white-space: normal; max-width: 28em; overflow-wrap: normal }
.jp-RenderedHTMLCommon { max-width: 80em }
.summary-verdicts li { margin: .3em 0 }
</style>"""


def show(df: pd.DataFrame, digits: int = 4):
    """A table as a reader wants it: headers without snake_case, no 0..n index, whole numbers without `.0`,
    missing values as —, booleans as yes/no, p values below 1e-4 as `< 0.0001`."""
    out = df.copy().infer_objects()
    out.columns = [str(c).replace("_", " ") for c in out.columns]
    if isinstance(out.index, pd.RangeIndex):
        out = out.reset_index(drop=True)
    formats = {}
    for col in out.columns:
        values = out[col]
        if values.dtype == bool or set(values.dropna().map(type)) <= {bool} and len(values.dropna()):
            out[col] = values.map(lambda v: "—" if v is None or v != v else ("yes" if v else "no"))
        elif pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            if len(whole) and (whole == whole.round()).all() and whole.abs().max() < 1e15:
                formats[col] = lambda v: "—" if v != v else f"{int(v):,}"
            elif col.startswith("p value"):
                formats[col] = lambda v: "—" if v != v else ("< 0.0001" if v < 1e-4 else f"{v:.4f}")
            else:
                formats[col] = lambda v, d=digits: "—" if v != v else f"{v:.{d}f}".rstrip("0").rstrip(".")
    styler = out.style.format(formats, na_rep="—")
    if isinstance(df.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    return styler


def summary(cfg: dict, exp: str, models: list[str], files: dict) -> str:
    """The report's first section, as Markdown: what ran, the headline numbers with their intervals, the verdicts."""
    from allrepro.params import paper_of

    audit = audit_summary(files)
    info = {m: json.loads(Path(files[f"{m}_labels"]).read_text()) for m in models}
    ran = ", ".join(f"`{m}` ({info[m]['backbone']}, {info[m]['input_size']} px, {info[m].get('epochs')} epochs)"
                    for m in models)
    lines = [f"**What ran.** Profile `{cfg['profile']}`: {ran}; tested on {audit['test_images']} images of the "
             f"{exp} split. The paper compared with: **{paper_of(cfg, exp)}**.", "",
             "**Headline numbers** (test part; 95% intervals: Clopper–Pearson for accuracy, percentile bootstrap for "
             "macro-F1 and MCC).", "", headline_markdown(files), "",
             "**Verdicts**", ""]
    verdicts = audit["verdicts"] + seed_spread(files)[3]
    lines += [f"- {v}" for v in verdicts]
    return "\n".join(lines)


def headline_markdown(files: dict) -> str:
    """Accuracy, macro-F1 and MCC in % with intervals: one row per model, the ensemble and the baselines."""
    from allrepro.audit.uncertainty import HEADLINE

    intervals = _intervals(files)
    intervals = intervals[intervals["metric"].isin(HEADLINE)]
    cells = {(r.model, r.metric): f"{100 * r.value:.2f} [{100 * r.low:.2f}, {100 * r.high:.2f}]"
             for r in intervals.itertuples()}
    names = {"accuracy": "accuracy %", "macro.f1": "macro-F1 %", "mcc": "MCC × 100"}
    rows = ["| model | " + " | ".join(names.get(m, m) for m in HEADLINE) + " |", "|---" * (len(HEADLINE) + 1) + "|"]
    for model in dict.fromkeys(intervals["model"]):
        rows.append(f"| {model} | " + " | ".join(cells.get((model, m), "—") for m in HEADLINE) + " |")
    return "\n".join(rows)


def paper_shape(files: dict) -> pd.DataFrame | None:
    """The paper's table in its own shape — a row per network (per class where the paper prints classes, per
    ensemble setting for patel), a column per metric — each cell `paper / ours [interval]`, in %. None when the
    paper reports nothing for this experiment."""
    check = pd.read_csv(files["audit_paper_check_csv"], keep_default_na=False)
    if not len(check):
        return None
    rows: dict = {}
    for r in check.to_dict("records"):
        parts = str(r["metric"]).split(".")
        if parts[0] == "per_class":
            where, metric = parts[1], parts[2]
        else:
            where, metric = ("macro" if parts[0] == "macro" else "all"), parts[-1]
        label = r["paper model"] if r["ours"] == r["paper model"] else f"{r['paper model']} (ours: {r['ours']}, stand-in)"
        if not _truth(r["judged"]) and r["ours"] == r["paper model"]:
            label = f"{r['paper model']} (work cut: not judged)"
        cell = f"{float(r['paper %']):.2f} / {float(r['ours %']):.2f} [{float(r['low %']):.2f}, {float(r['high %']):.2f}]"
        rows.setdefault((label, where), {})[metric] = cell
    # each network's classes first, then its macro average, then its overall numbers (as the papers print them)
    networks = list(dict.fromkeys(k[0] for k in rows))
    keys = sorted(rows, key=lambda k: (networks.index(k[0]), {"macro": 1, "all": 2}.get(k[1], 0)))
    table = pd.DataFrame.from_dict({k: rows[k] for k in keys}, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["paper's network", "class"])
    order = [c for c in ("precision", "recall", "specificity", "f1", "accuracy", "mcc") if c in table.columns]
    return table[order + [c for c in table.columns if c not in order]].fillna("—")


def _truth(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


def segmentation_caption(cfg: dict, exp: str, files: dict) -> str:
    """What the examples show, and why a class's mask can be (almost) black: the mean share of the image each
    class's mask keeps."""
    seg = pd.read_csv(files["seg"])
    kept = seg.groupby("class", sort=False)["foreground"].mean()
    low = [f"{c} {100 * v:.1f}%" for c, v in kept.items() if v < 0.06]
    text = ("Original image, the HSV mask (bounds from `segment:` in params.yaml; white: kept) and the masked image "
            "the networks see. Mean share of the image the mask keeps, per class: "
            + ", ".join(f"{c} {100 * v:.1f}%" for c, v in kept.items()) + ".")
    if low:
        text += (f" Almost black masks ({', '.join(low)}) are the method's result, not a rendering fault: those cells' "
                 "colours fall mostly outside the HSV bounds, so the network sees little of them — the audit's "
                 "mask-fraction baseline reads the class from this alone.")
    return text


def dataset_table(cfg: dict, exp: str, files: dict) -> pd.DataFrame:
    data = cfg["datasets"][dataset_of(cfg, exp)]
    raw = pd.read_csv(files["raw"])
    counts = raw["class"].value_counts().reindex(data["classes"], fill_value=0)
    table = pd.DataFrame({"images": counts, "share %": (100 * counts / counts.sum()).round(1),
                          "expected": pd.Series(data["expected_counts"])})
    table.loc["total"] = [counts.sum(), 100.0, sum(data["expected_counts"].values())]
    return table


def split_table(cfg: dict, exp: str, files: dict) -> pd.DataFrame:
    """Rows per part and class; for an oversampled training part, unique images are shown too."""
    classes, rows = class_names(cfg, exp), {}
    for part in PARTS:
        df = pd.read_csv(files[f"{part}_csv"])
        rows[part] = df["class"].value_counts().reindex(classes, fill_value=0)
        if (df["copy"] > 0).any():
            rows[f"{part} (unique images)"] = df[df["copy"] == 0]["class"].value_counts().reindex(classes, fill_value=0)
    table = pd.DataFrame(rows).T
    table.insert(0, "total", table.sum(axis=1))
    return table


def metrics_table(files: dict, models: list[str]) -> pd.DataFrame:
    """The models' test metrics, then the audit's shortcut baselines (colour; mask fraction) as rows beside
    them, each with its bootstrap interval for accuracy."""
    rows = {}
    for m in models:
        met = json.loads(Path(files[f"{m}_metrics"]).read_text())
        rows[m] = {"n test": met["n"], "accuracy": met["accuracy"], "MCC": met["mcc"],
                   **{f"macro {k}": met["macro"][k] for k in ("precision", "recall", "specificity", "f1", "roc_auc")}}
    intervals = _intervals(files)
    for m in intervals["model"].unique():
        if m in rows or m == "ensemble":
            continue
        own = intervals[intervals["model"] == m].set_index("metric")["value"]
        rows[f"{m} (baseline)"] = {"n test": int(intervals["n"].iloc[0]), "accuracy": own["accuracy"], "MCC": own["mcc"],
                                   **{f"macro {k}": own[f"macro.{k}"] for k in ("precision", "recall", "specificity", "f1")}}
    table = pd.DataFrame(rows).T
    acc = intervals[intervals["metric"] == "accuracy"].set_index("model")
    table["accuracy 95% CI"] = [_interval(acc, m.removesuffix(" (baseline)")) for m in table.index]
    return table.round(4)


def _intervals(files: dict) -> pd.DataFrame:
    return pd.read_csv(files["audit_intervals_csv"])


def _interval(table: pd.DataFrame, model: str) -> str:
    if model not in table.index:
        return ""
    return f"[{table.loc[model, 'low']:.4f}, {table.loc[model, 'high']:.4f}]"


def headline_intervals(files: dict) -> pd.DataFrame:
    """accuracy, macro-F1 and MCC with their bootstrap intervals: models, ensemble, baselines."""
    from allrepro.audit.uncertainty import HEADLINE

    intervals = _intervals(files)
    intervals = intervals[intervals["metric"].isin(HEADLINE)]
    cells = {(r.model, r.metric): f"{r.value:.4f} [{r.low:.4f}, {r.high:.4f}]" for r in intervals.itertuples()}
    models = list(dict.fromkeys(intervals["model"]))
    names = {"accuracy": "accuracy", "macro.f1": "macro-F1", "mcc": "MCC"}
    return pd.DataFrame({names.get(metric, metric): [cells[(m, metric)] for m in models] for metric in HEADLINE},
                        index=models)


def data_quality_table(files: dict) -> pd.DataFrame:
    """Bad files found by acquire, per kind (and whether they stopped the run or were skipped)."""
    from allrepro.audit.quality import BAD_KINDS

    bad = pd.read_csv(files["bad_files"], keep_default_na=False)
    counts = bad["kind"].value_counts()
    return pd.DataFrame({"files": [int(counts.get(k, 0)) for k in BAD_KINDS]}, index=list(BAD_KINDS))


def duplicates_table(files: dict) -> pd.DataFrame:
    dup = json.loads(Path(files["duplicates"]).read_text())
    rows = {}
    for kind in ("exact", "near"):
        d = dup[kind]
        rows[f"{kind} duplicates" + (f" (pHash distance ≤ {dup['near_duplicate_distance']})" if kind == "near" else "")] = {
            "clusters": d["clusters"], "images in them": d["images"], "clusters with two labels": d["mixed_label_clusters"],
            **{f"images: {c}": n for c, n in d["images_per_class"].items()}}
    return pd.DataFrame(rows).T


def calibration_table(files: dict) -> pd.DataFrame:
    """Per model (and the ensemble): test ECE and Brier, before and after temperature scaling (fitted on validation),
    and the conformal sets' coverage and mean size on test."""
    table = pd.read_csv(files["audit_calibration_csv"]).set_index("model")
    names = {"ece": "ECE", "brier": "Brier", "temperature": "T (validation)", "ece_scaled": "ECE after T",
             "brier_scaled": "Brier after T", "conformal confidence": "conformal level",
             "conformal coverage": "set coverage (test)", "conformal mean_set_size": "mean set size",
             "conformal single_class_share": "single-class sets"}
    return table[[c for c in names if c in table]].rename(columns=names)


def scaled_choice_table(files: dict) -> pd.DataFrame | None:
    """The ensemble's weights × γ chosen on validation with and without temperature-scaled members, and the test
    coverage and accuracy of each; None without an ensemble (or a validation part to fit T on)."""
    choice = audit_summary(files).get("calibration", {}).get("ensemble", {}).get("scaled_choice")
    if not choice:
        return None
    return pd.DataFrame({name: {"weights": str(r["weights"]), "γ": r["gamma"], "test coverage": r["coverage"],
                                "test accuracy (abstention wrong)": r["accuracy_all"]}
                         for name, r in (("as trained", choice["unscaled"]),
                                         ("temperature-scaled members", choice["scaled"]))}).T


def robustness_table(files: dict) -> pd.DataFrame:
    """Accuracy [exact interval] per model (and the best colour-only baseline) under each shift, the drop from the
    clean test part in points beneath: models as rows, shifts as columns."""
    table = pd.read_csv(files["audit_robustness_csv"])
    if not len(table):
        return table
    table["cell"] = [f"{100 * a:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" + ("" if s == "clean" else f" ({-d:+.1f})")
                     for a, lo, hi, d, s in zip(table["accuracy"], table["low"], table["high"], table["drop points"],
                                                table["shift"])]
    out = table.pivot(index="model", columns="shift", values="cell")
    return out[list(dict.fromkeys(table["shift"]))].loc[list(dict.fromkeys(table["model"]))].rename_axis(None, axis=1)


def attention_table(files: dict) -> pd.DataFrame:
    """The share of Grad-CAM mass inside the cell's mask per model and class, with the mask's share of the image."""
    table = pd.read_csv(files["audit_attention_by_class_csv"])
    if not len(table):
        return table
    table["inside the cell [interval]"] = [("—" if pd.isna(v) else f"{100 * v:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]")
                                           for v, lo, hi in zip(table["share inside"], table["low"], table["high"])]
    table["mask covers"] = [f"{100 * v:.1f}%" for v in table["mask covers"]]
    table = table.rename(columns={"lift": "× an even map", "map": "Grad-CAM map"})
    return table.set_index(["model", "class"])[["images", "measured", "inside the cell [interval]", "mask covers",
                                               "× an even map", "Grad-CAM map"]]


def leakage_table(files: dict) -> pd.DataFrame:
    return pd.DataFrame(json.loads(Path(files["audit_leakage_json"]).read_text())).T


def agreement_table(files: dict) -> pd.DataFrame | None:
    """The dataset's segmentation agreement; None when it ships no reference masks (the job reads none)."""
    return pd.read_csv(files["agreement"]).set_index("class") if "agreement" in files else None


def audit_summary(files: dict) -> dict:
    return json.loads(Path(files["audit_audit_json"]).read_text())


def seed_spread(files: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """Over the training seeds: each model's metrics (mean, sd, min, max, one run's interval width), the papers'
    numbers against the seeds' range and intervals, the ensemble's choice per seed, and the verdicts."""
    summary = json.loads(Path(files["spread_spread_json"]).read_text())
    return (pd.read_csv(files["spread_spread_csv"]), pd.DataFrame(summary["paper"]),
            pd.DataFrame(summary["ensemble_choices"]), summary["verdicts"])


def per_class_table(files: dict, model: str) -> pd.DataFrame:
    met = json.loads(Path(files[f"{model}_metrics"]).read_text())
    return pd.DataFrame(met["per_class"]).T.round(4)


def training_info(cfg: dict, exp: str, models: list[str], files: dict) -> pd.DataFrame:
    """One row per model: what was trained, for how long, how fast (steady images/s, the epoch that compiled),
    peak accelerator memory, and where (backend, device, precision, package versions)."""
    rows = {}
    for m in models:
        info = json.loads(Path(files[f"{m}_labels"]).read_text())
        run = info.get("runtime", {})
        rows[m] = {**{k: info.get(k) for k in ("backbone", "input_size", "weights", "train_rows", "epochs",
                                               "params_total", "seconds", "train_images_per_s",
                                               "first_epoch_seconds", "peak_memory_mib")},
                   "backend": run.get("backend"), "device": run.get("device"),
                   "precision": run.get("precision"), "XLA": run.get("jit_compile"), "eager": run.get("run_eagerly"),
                   "trained in": trained_in(cfg, exp, m)}
    return pd.DataFrame(rows).T


def versions_line(files: dict, models: list[str]) -> str:
    """The package versions each model was trained with, one line per distinct set."""
    seen: dict = {}
    for m in models:
        run = json.loads(Path(files[f"{m}_labels"]).read_text()).get("runtime", {})
        text = ", ".join(f"{k} {v}" for k, v in run.get("versions", {}).items() if k != "allrepro")
        seen.setdefault(text, []).append(m)
    return "  \n".join(f"Trained with {text or 'unrecorded versions'} ({', '.join(ms)})." for text, ms in seen.items())


def plot_histories(files: dict, models: list[str]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for m in models:
        h = pd.read_csv(files[f"{m}_history"])
        for ax, metric in zip(axes, ("accuracy", "loss")):
            ax.plot(h["epoch"], h[metric], label=f"{m} train")
            if f"val_{metric}" in h:
                ax.plot(h["epoch"], h[f"val_{metric}"], "--", label=f"{m} validation")
            ax.set(xlabel="epoch", ylabel=metric)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_segmentation_examples(cfg: dict, exp: str, n: int, files: dict):
    """Original, mask and segmented image for the first images of each class (deterministic pick);
    None when the experiment trains on the original images."""
    import cv2
    import matplotlib.pyplot as plt

    if cfg["experiments"][exp]["images"] != "segmented":
        return None
    seg = pd.read_csv(files["seg"])
    picks = seg.groupby("class", sort=False).head(max(1, n // len(class_names(cfg, exp)))).head(max(n, 1))
    fig, axes = plt.subplots(len(picks), 3, figsize=(7, 2.4 * len(picks)), squeeze=False)
    for row, (_, r) in zip(axes, picks.iterrows()):
        for ax, path, title in zip(row, (r["source"], r["mask"], r["path"]), ("original", "HSV mask", "segmented")):
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            ax.imshow(image[..., ::-1])
            ax.set_title(f"{r['class']}: {title}", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def stage(cfg: dict, inputs: dict, outputs: dict, exp: str) -> None:
    """`allrepro report --experiment E`: the notebook runs on this very configuration and the job's input files
    (both passed as JSON)."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    parameters = {"experiment": exp, "cfg_json": json.dumps(cfg), "files_json": json.dumps(inputs),
                  "models": models_for(cfg, exp), "title": cfg["report"].get("title", "allrepro report"),
                  "n_examples": cfg["report"].get("n_segmentation_examples", 4)}
    with atomic_path(outputs["notebook"]) as nb_tmp:
        papermill.execute_notebook(TEMPLATE, str(nb_tmp), parameters=parameters, kernel_name="python3",
                                   cwd=".", progress_bar=False,
                                   request_save_on_cell_execute=False)  # written once: a temporary file anyway
        exporter = HTMLExporter(exclude_input=True, exclude_output_prompt=True, exclude_input_prompt=True)
        body, _ = exporter.from_notebook_node(nbformat.read(nb_tmp, as_version=4))
        with atomic_path(outputs["html"]) as html_tmp:
            html_tmp.write_text(body)
    print(f"report {exp}: {outputs['html']}")


def ensemble_summary(files: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """(the chosen configurations, the weight x gamma grid, the corrected-image counts) or None (no ensemble)."""
    if "ensemble_metrics_json" not in files:
        return None
    met = json.loads(Path(files["ensemble_metrics_json"]).read_text())
    chosen = pd.DataFrame(met["choices"]).T
    grid = pd.read_csv(files["ensemble_grid_csv"])
    keep = ["part", "weights", "gamma", "coverage", "accuracy_all", "accuracy_covered", "macro_f1_all", "mcc_covered"]
    counts = pd.DataFrame(met["corrected_counts"])
    if len(counts):
        counts = counts.pivot_table(index=["member", "kind"], columns="class", values="n", fill_value=0)
    return chosen, grid[keep].round(4), counts
