"""The pipeline's stages as data: inputs, outputs, command and params of every job.

The Snakemake rules (workflow/rules/*.smk) call these functions for their input:, output:, params:
and shell:, and `allrepro dvc-yaml` renders the same jobs into dvc.yaml, so the two entry points run
the same commands on the same files by construction; tests/test_dag_sync.py checks it against the
DAG Snakemake really builds.
"""
from __future__ import annotations

import functools

from allrepro import codedeps, layout
from allrepro.params import dataset_of, ensemble_members, model_spec, models_for, trained_in

STAGES = ("acquire", "segment", "duplicates", "agreement", "split", "cache", "train", "evaluate", "ensemble", "audit",
          "report")
# The module that does each stage's work; its code dependencies are derived from it (codedeps.py).
ENTRY = {"acquire": "allrepro.acquire", "segment": "allrepro.segment", "duplicates": "allrepro.audit.duplicates",
         "agreement": "allrepro.audit.segmentation", "split": "allrepro.split", "cache": "allrepro.cache",
         "train": "allrepro.train", "evaluate": "allrepro.evaluate", "ensemble": "allrepro.ensemble",
         "audit": "allrepro.audit.stage", "report": "allrepro.report"}
CLI = "allrepro.cli"  # every stage's command; it imports params at module level, the stage's module lazily


@functools.lru_cache(maxsize=None)
def code(stage: str) -> tuple[str, ...]:
    """Every file of the package a stage's command runs or reads: a change to one reruns the stage."""
    cli = codedeps.module_path(CLI).relative_to(codedeps.PACKAGE).as_posix()
    return tuple(sorted({f"{codedeps.PREFIX}/{cli}", *codedeps.closure([ENTRY[stage], "allrepro.params"])}))


def param_keys(stage: str, exp: str = "", model: str = "", ds: str = "", **_) -> list[str]:
    """The params.yaml keys a stage reads: a change to one of them, and only those, reruns it."""
    return {
        "acquire": [f"datasets.{ds}", "data.on_bad_file"],
        "segment": ["segment"],
        "duplicates": ["audit.near_duplicate_distance"],
        "agreement": ["segment", "audit.reference_threshold", f"datasets.{ds}.reference_masks", f"datasets.{ds}.subset"],
        "audit": ["audit.bootstrap", "audit.baselines", "audit.close_to_cnn", "profile", "profiles",
                  f"experiments.{exp}.paper"],
        "split": [f"experiments.{exp}.dataset", f"experiments.{exp}.images", f"experiments.{exp}.split",
                  f"experiments.{exp}.oversample", "profile", "profiles"],  # a profile may cap the parts
        "cache": ["cache"],
        "train": ["train", f"models.{model}", f"experiments.{exp}.class_weights", "profile", "profiles"],
        "evaluate": ["evaluate"],
        "ensemble": [f"experiments.{exp}.ensemble", "profile"],
        "report": ["report", f"experiments.{exp}.paper"],
    }[stage]


def has_reference(cfg: dict, ds: str) -> bool:
    """The dataset ships its own segmented images (the audit's segmentation agreement needs them)."""
    return bool(cfg["datasets"][ds].get("reference_masks"))


def param_values(cfg: dict, keys: list[str]) -> dict:
    out = {}
    for key in keys:
        node = cfg
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = node
    return out


def outputs(stage: str, exp: str = "{exp}", model: str = "{model}", size="{size}", part="{part}",
            ds: str = "{ds}") -> dict:
    if stage == "acquire":
        return {"dataset": layout.raw_dir(ds), "manifest": layout.raw_manifest(ds), "bad_files": layout.raw_bad_files(ds)}
    if stage == "segment":
        return {"images": layout.seg_dir(ds), "manifest": layout.seg_manifest(ds)}
    if stage == "duplicates":
        return {"table": layout.audit_file(ds, "duplicates.csv"), "summary": layout.audit_file(ds, "duplicates.json")}
    if stage == "agreement":
        return {"images": layout.audit_file(ds, "segmentation_images.csv"),
                "summary": layout.audit_file(ds, "segmentation.csv")}
    if stage == "audit":
        return {f.replace(".", "_"): layout.exp_audit_file(exp, f) for f in layout.AUDIT_FILES}
    if stage == "split":
        return {p: layout.split_csv(exp, p) for p in layout.PARTS}
    if stage == "cache":
        return {"array": layout.cache_npy(exp, size, part)}
    if stage == "train":
        return {f.split(".")[0]: layout.model_file(exp, model, f) for f in layout.MODEL_FILES}
    if stage == "evaluate":
        return {f.replace(".", "_"): layout.eval_file(exp, model, f) for f in layout.EVAL_FILES}
    if stage == "ensemble":
        return {**{f.replace(".", "_"): layout.ensemble_file(exp, f) for f in layout.ENSEMBLE_FILES},
                "corrected": layout.ensemble_file(exp, "corrected")}
    if stage == "report":
        return {"notebook": layout.report_notebook(exp), "html": layout.report_html(exp)}
    raise KeyError(stage)


def inputs(cfg: dict, stage: str, exp: str = "", model: str = "", size="", part="", ds: str = "") -> dict:
    deps = {f"code{i}": path for i, path in enumerate(code(stage))}
    segmented = bool(exp) and cfg["experiments"][exp]["images"] == "segmented"
    ds = ds or (dataset_of(cfg, exp) if exp else "")
    if stage in ("segment", "duplicates", "agreement"):
        deps.update(manifest=layout.raw_manifest(ds), dataset=layout.raw_dir(ds))
    elif stage == "split":
        deps.update(raw=layout.raw_manifest(ds))
        if segmented:
            deps.update(segmented=layout.seg_manifest(ds))
        if cfg["experiments"][exp]["split"].get("group_near_duplicates"):
            deps.update(duplicates=layout.audit_file(ds, "duplicates.csv"))
    elif stage == "audit":
        deps.update({f"{p}_csv": layout.split_csv(exp, p) for p in layout.PARTS},
                    images=layout.seg_dir(ds) if segmented else layout.raw_dir(ds),
                    duplicates=layout.audit_file(ds, "duplicates.csv"),
                    **{f"{m}_test": layout.eval_file(exp, m, "predictions_test.csv") for m in models_for(cfg, exp)})
        if ensemble_members(cfg, exp):
            deps.update(ensemble=layout.ensemble_file(exp, "predictions.csv"),
                        ensemble_metrics=layout.ensemble_file(exp, "metrics.json"))
    elif stage == "cache":
        deps.update(manifest=layout.split_csv(exp, part),
                    images=layout.seg_dir(ds) if segmented else layout.raw_dir(ds))
    elif stage == "train":
        size = model_spec(cfg, model)["input_size"]
        for p in ("train", "val"):
            deps.update({f"{p}_csv": layout.split_csv(exp, p), f"{p}_npy": layout.cache_npy(exp, size, p)})
    elif stage == "evaluate":
        size = model_spec(cfg, model)["input_size"]
        owner = trained_in(cfg, exp, model)
        deps.update(model=layout.model_file(owner, model, "model.keras"),
                    labels=layout.model_file(owner, model, "labels.json"),
                    **{f"{p}_{k}": path for p in ("val", "test")
                       for k, path in (("csv", layout.split_csv(exp, p)), ("npy", layout.cache_npy(exp, size, p)))})
    elif stage == "ensemble":
        for m in ensemble_members(cfg, exp):
            deps.update({f"{m}_{p}": layout.eval_file(exp, m, f"predictions_{p}.csv") for p in ("val", "test")})
    elif stage == "report":
        if ensemble_members(cfg, exp):
            deps.update({f"ensemble_{f.replace('.', '_')}": layout.ensemble_file(exp, f)
                         for f in ("metrics.json", "grid.csv", "confusion.png", "roc.png")})
        deps.update(raw=layout.raw_manifest(ds), bad_files=layout.raw_bad_files(ds),
                    duplicates=layout.audit_file(ds, "duplicates.json"),
                    **{f"{p}_csv": layout.split_csv(exp, p) for p in layout.PARTS},
                    **{f"audit_{f.replace('.', '_')}": layout.exp_audit_file(exp, f) for f in layout.AUDIT_FILES})
        if has_reference(cfg, ds):
            deps.update(agreement=layout.audit_file(ds, "segmentation.csv"))
        if segmented:
            deps.update(seg=layout.seg_manifest(ds))
        for m in models_for(cfg, exp):
            owner = trained_in(cfg, exp, m)
            deps.update({f"{m}_history": layout.model_file(owner, m, "history.csv"),
                         f"{m}_labels": layout.model_file(owner, m, "labels.json"),
                         f"{m}_metrics": layout.eval_file(exp, m, "metrics.json"),
                         f"{m}_confusion": layout.eval_file(exp, m, "confusion.png"),
                         f"{m}_roc": layout.eval_file(exp, m, "roc.png")})
    return deps


def command(stage: str, exp: str = "{exp}", model: str = "{model}", size="{size}", part="{part}",
            ds: str = "{ds}") -> str:
    """The one command a job runs, identical under Snakemake and DVC."""
    args = {**{st: f" --dataset {ds}" for st in ("acquire", "segment", "duplicates", "agreement")},
            **{st: f" --experiment {exp}" for st in ("split", "ensemble", "audit", "report")},
            "cache": f" --experiment {exp} --size {size} --part {part}",
            "train": f" --experiment {exp} --model {model}", "evaluate": f" --experiment {exp} --model {model}"}
    return f"allrepro {stage} --params params.yaml" + args.get(stage, "")


def jobs(cfg: dict, experiments: list[str] | None = None) -> list[dict]:
    """Every job of the DAG for the chosen experiments, in run order, with concrete paths. A model is
    trained once, in the job of the experiment `trained_in` names, and evaluated by every experiment."""
    experiments = experiments or list(cfg["experiments"])
    trained = {e: [] for e in cfg["experiments"]}  # experiment -> the models its train jobs make
    for exp in experiments:
        for m in models_for(cfg, exp):
            trained[trained_in(cfg, exp, m)].append(m)
    helpers = [e for e in cfg["experiments"] if trained[e] and e not in experiments]  # train for others only
    everything = helpers + experiments
    datasets = list(dict.fromkeys(dataset_of(cfg, e) for e in everything))
    out = [_job(cfg, "acquire", {"ds": ds}) for ds in datasets]
    out += [_job(cfg, "segment", {"ds": ds}) for ds in datasets
            if any(dataset_of(cfg, e) == ds and cfg["experiments"][e]["images"] == "segmented" for e in everything)]
    out += [_job(cfg, "duplicates", {"ds": ds}) for ds in datasets]
    out += [_job(cfg, "agreement", {"ds": ds}) for ds in datasets if has_reference(cfg, ds)]
    for exp in everything:
        models = models_for(cfg, exp) if exp in experiments else []
        own = list(dict.fromkeys(trained[exp]))
        parts = {}  # input size -> the cached parts its jobs read: training reads train+val, evaluation val+test
        for m, needs in [(m, ("train", "val")) for m in own] + [(m, ("val", "test")) for m in models]:
            parts.setdefault(model_spec(cfg, m)["input_size"], set()).update(needs)
        out.append(_job(cfg, "split", {"exp": exp}))
        out += [_job(cfg, "cache", {"exp": exp, "size": s, "part": p})
                for s in sorted(parts) for p in layout.PARTS if p in parts[s]]
        out += [_job(cfg, "train", {"exp": exp, "model": m}) for m in own]
        out += [_job(cfg, "evaluate", {"exp": exp, "model": m}) for m in models]
        if models and ensemble_members(cfg, exp):
            out.append(_job(cfg, "ensemble", {"exp": exp}))
        if models:
            out += [_job(cfg, "audit", {"exp": exp}), _job(cfg, "report", {"exp": exp})]
    return out


def _job(cfg: dict, stage: str, wc: dict) -> dict:
    name = "_".join([stage, *(str(v) for v in wc.values())])
    return {"name": name, "stage": stage, "wildcards": wc, "cmd": command(stage, **wc),
            "deps": list(dict.fromkeys(inputs(cfg, stage, **wc).values())),
            "outs": list(outputs(stage, **wc).values()),
            # DVC refuses a params key that is not in params.yaml: optional keys are listed only when set
            "params": [k for k in param_keys(stage, **wc) if _present(cfg, k)]}


def _present(cfg: dict, key: str) -> bool:
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
