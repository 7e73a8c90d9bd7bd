"""The pipeline's stages as data: one record per stage (command arguments, inputs, outputs, params keys,
log, resources), and the jobs of the DAG built from them.

The CLI's stage subcommands, the Snakemake rules (workflow/rules/stages.smk: one rule per record) and
`allrepro dvc-yaml` all read these records, so the two entry points run the same commands on the same
files by construction; tests/test_dag.py checks it against the DAG Snakemake really builds.
"""
from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass, field
from typing import Callable

from allrepro import codedeps, layout
from allrepro.backbones import BACKBONES
from allrepro.gpuslots import gpus_visible
from allrepro.params import (dataset_of, ensemble_members, model_spec, models_for, repeats, segmented,
                             selected_experiments, trained_in)

@dataclass(frozen=True)
class Stage:
    """One stage, described once. `allrepro <name>` (cli.py), the Snakemake rules (workflow/rules/stages.smk)
    and dvc.yaml (dvcyaml.py) are all made from these records: adding a stage or an output is a change here
    (and the function that does the work)."""

    name: str
    help: str
    run: str                     # "module:function", called as function(cfg, inputs, outputs, *wildcard values[, seed=])
    wildcards: tuple[str, ...]   # the job's coordinates, in the function's argument order
    outputs: Callable[..., dict]           # (**wildcards) -> {key: path}
    inputs: Callable[..., dict]            # (cfg, **wildcards) -> {key: path}; code dependencies are added
    params: Callable[..., list]            # (cfg, **wildcards) -> the params.yaml keys it reads (ACTIVE: the profile's)
    directories: tuple[str, ...] = ()      # output keys that are folders
    threads: str = "1"                     # "all": every core (Snakemake lowers it to --cores); or a params key (threads())
    gpu: int = 0                           # Snakemake resource: jobs sharing the accelerator
    figures: dict = field(default_factory=dict)  # output key -> caption (workflow/report/): `snakemake --report`
    repeated: bool = False                 # also run once per seed of `repeats:` (one more coordinate: seed)
    fanout: Callable[..., list] = lambda cfg, plan: []  # (cfg, plan()) -> the jobs' wildcards, in DAG order
    priority: Callable[..., int] = lambda cfg, **wc: 0  # (cfg, **wildcards) -> Snakemake's priority: higher starts first

    @property
    def module(self) -> str:
        return self.run.partition(":")[0]

    def coordinates(self, seeded: bool = False) -> tuple[str, ...]:
        """The job's wildcards; a repeat's (seeded) add its training seed."""
        return (*self.wildcards, "seed") if seeded else self.wildcards

    def log(self, **wc) -> str:
        where = "/".join(str(wc[w]) for w in self.coordinates("seed" in wc))
        return f"logs/{self.name}/{where}.log" if where else f"logs/{self.name}.log"


# A params key under the active profile: `profiles.@.epochs` is `profiles.<profile>.epochs` (DVC: the key itself;
# Snakemake: its value under this name, so switching to a profile with the same value reruns nothing). Editing a
# profile that is not in use reruns nothing.
ACTIVE = "profiles.@"

CLI_ARGS = {"ds": "--dataset", "exp": "--experiment", "model": "--model", "size": "--size", "part": "--part",
            "seed": "--seed"}
PATTERNS = {w: "{" + w + "}" for w in CLI_ARGS}  # Snakemake wildcards


def _images(cfg: dict, exp: str) -> str:
    ds = dataset_of(cfg, exp)
    return layout.seg_dir(ds) if segmented(cfg, exp) else layout.raw_dir(ds)


def _raw(cfg: dict, ds: str) -> dict:
    return {"manifest": layout.raw_manifest(ds), "dataset": layout.raw_dir(ds)}


def _split_inputs(cfg: dict, exp: str) -> dict:
    ds = dataset_of(cfg, exp)
    deps = {"raw": layout.raw_manifest(ds)}
    if segmented(cfg, exp):
        deps["segmented"] = layout.seg_manifest(ds)
    if cfg["experiments"][exp]["split"].get("group_near_duplicates"):
        deps["duplicates"] = layout.audit_file(ds, "duplicates.csv")
    return deps


def _parts(exp: str, size, parts: tuple[str, ...]) -> dict:
    return {f"{p}_{k}": path for p in parts
            for k, path in (("csv", layout.split_csv(exp, p)), ("npy", layout.cache_npy(exp, size, p)))}


def _evaluate_inputs(cfg: dict, exp: str, model: str, seed=None) -> dict:
    owner = trained_in(cfg, exp, model)
    deps = {"model": layout.model_file(owner, model, "model.keras", seed),
            "labels": layout.model_file(owner, model, "labels.json", seed),
            **_parts(exp, model_spec(cfg, model)["input_size"], ("val", "test")),
            "images": _images(cfg, exp)}  # the test images as read: shifted, and segmented for Grad-CAM's cell mask
    if segmented(cfg, exp):
        deps["segmented"] = layout.seg_manifest(dataset_of(cfg, exp))
    return deps


def _audit_inputs(cfg: dict, exp: str, seed=None) -> dict:
    deps = {**{f"{p}_csv": layout.split_csv(exp, p) for p in layout.PARTS}, "images": _images(cfg, exp),
            "duplicates": layout.audit_file(dataset_of(cfg, exp), "duplicates.csv"),
            **{f"{m}_{p}": layout.eval_file(exp, m, f"predictions_{p}.csv", seed) for m in models_for(cfg, exp)
               for p in ("val", "test")},  # validation: what temperature scaling and conformal sets are fitted on
            **{f"{m}_{k}": layout.eval_file(exp, m, f, seed) for m in models_for(cfg, exp)
               for k, f in (("shift", "predictions_shift.csv"), ("attention", "attention.csv"))}}
    if segmented(cfg, exp):  # the mask-fraction baseline reads each image's foreground
        deps["segmented"] = layout.seg_manifest(dataset_of(cfg, exp))
    if ensemble_members(cfg, exp):
        deps.update(ensemble=layout.ensemble_file(exp, "predictions.csv", seed),
                    ensemble_metrics=layout.ensemble_file(exp, "metrics.json", seed))
    return deps


def _spread_inputs(cfg: dict, exp: str) -> dict:
    """Every seed's metrics, ensemble choice and audit (the primary run's seed is None: today's paths)."""
    deps = {}
    for seed in [None, *repeats(cfg)]:
        tag = "primary" if seed is None else f"seed{seed}"
        deps.update({f"{tag}_{m}": layout.eval_file(exp, m, "metrics.json", seed) for m in models_for(cfg, exp)})
        if ensemble_members(cfg, exp):
            deps[f"{tag}_ensemble"] = layout.ensemble_file(exp, "metrics.json", seed)
        deps.update({f"{tag}_{f.split('.')[0]}": layout.exp_audit_file(exp, f, seed)
                     for f in ("intervals.csv", "paper_check.csv")})
    return deps


def _report_inputs(cfg: dict, exp: str) -> dict:
    ds = dataset_of(cfg, exp)
    deps = {}
    if ensemble_members(cfg, exp):
        deps.update({f"ensemble_{f.replace('.', '_')}": layout.ensemble_file(exp, f)
                     for f in ("metrics.json", "grid.csv", "confusion.png", "roc.png")})
    deps.update({f"spread_{f.replace('.', '_')}": layout.spread_file(exp, f) for f in layout.SPREAD_FILES})
    deps.update(raw=layout.raw_manifest(ds), bad_files=layout.raw_bad_files(ds),
                duplicates=layout.audit_file(ds, "duplicates.json"),
                **{f"{p}_csv": layout.split_csv(exp, p) for p in layout.PARTS},
                **{f"audit_{f.replace('.', '_')}": layout.exp_audit_file(exp, f) for f in layout.AUDIT_FILES})
    if has_reference(cfg, ds):
        deps.update(agreement=layout.audit_file(ds, "segmentation.csv"))
    if segmented(cfg, exp):
        deps.update(seg=layout.seg_manifest(ds))
    for m in models_for(cfg, exp):
        owner = trained_in(cfg, exp, m)
        deps.update({f"{m}_history": layout.model_file(owner, m, "history.csv"),
                     f"{m}_labels": layout.model_file(owner, m, "labels.json"),
                     f"{m}_metrics": layout.eval_file(exp, m, "metrics.json"),
                     f"{m}_confusion": layout.eval_file(exp, m, "confusion.png"),
                     f"{m}_roc": layout.eval_file(exp, m, "roc.png")})
    return deps


def _export_inputs(cfg: dict, exp: str) -> dict:
    deps = {"raw": layout.raw_manifest(dataset_of(cfg, exp)), **{f"{p}_csv": layout.split_csv(exp, p) for p in layout.PARTS},
            **{f"audit_{f.replace('.', '_')}": layout.exp_audit_file(exp, f)
               for f in ("intervals.csv", "audit.json", "paper_check.csv")}}
    if ensemble_members(cfg, exp):
        deps["ensemble"] = layout.ensemble_file(exp, "metrics.json")
    if segmented(cfg, exp):  # the training images' mask fractions: the bundle's input domain
        deps["segmented"] = layout.seg_manifest(dataset_of(cfg, exp))
    for m in models_for(cfg, exp):
        owner = trained_in(cfg, exp, m)
        deps.update({f"{m}_model": layout.model_file(owner, m, "model.keras"),
                     f"{m}_labels": layout.model_file(owner, m, "labels.json"),
                     f"{m}_metrics": layout.eval_file(exp, m, "metrics.json"),
                     f"{m}_val": layout.eval_file(exp, m, "predictions_val.csv")})
    return deps


def _scorecard_inputs(cfg: dict) -> dict:
    return {f"{exp}_{key}": path for exp in selected_experiments(cfg)
            for key, path in (("audit", layout.exp_audit_file(exp, "audit.json")),
                              ("paper_check", layout.exp_audit_file(exp, "paper_check.csv")),
                              ("spread", layout.spread_file(exp, "spread.json")))}


STAGES: dict[str, Stage] = {st.name: st for st in [
    Stage("acquire", "fetch the dataset (kaggle:, https://, file:) and write data/raw/<dataset>/manifest.csv",
          "allrepro.acquire:stage", ("ds",),
          outputs=lambda ds: {"dataset": layout.raw_dir(ds), "manifest": layout.raw_manifest(ds),
                              "bad_files": layout.raw_bad_files(ds)},
          inputs=lambda cfg, ds: {}, params=lambda cfg, ds: [f"datasets.{ds}", "data.on_bad_file"],
          directories=("dataset",), fanout=lambda cfg, p: [{"ds": d} for d in p["datasets"]]),
    Stage("segment", "HSV segmentation of every image", "allrepro.segment:segment", ("ds",),
          outputs=lambda ds: {"images": layout.seg_dir(ds), "manifest": layout.seg_manifest(ds)},
          inputs=_raw, params=lambda cfg, ds: ["segment"], directories=("images",), threads="all",
          fanout=lambda cfg, p: [{"ds": d} for d in p["datasets"] if d in p["segmented"]]),
    Stage("duplicates", "exact and near-duplicate clusters of a dataset (data/interim/<dataset>/audit/)",
          "allrepro.audit.duplicates:duplicates", ("ds",),
          outputs=lambda ds: {"table": layout.audit_file(ds, "duplicates.csv"),
                              "summary": layout.audit_file(ds, "duplicates.json")},
          inputs=_raw, params=lambda cfg, ds: ["audit.near_duplicate_distance"],
          fanout=lambda cfg, p: [{"ds": d} for d in p["datasets"]]),
    Stage("agreement", "Dice/IoU of our HSV masks against the dataset's own segmented images",
          "allrepro.audit.segmentation:agreement", ("ds",),
          outputs=lambda ds: {"images": layout.audit_file(ds, "segmentation_images.csv"),
                              "summary": layout.audit_file(ds, "segmentation.csv")},
          inputs=_raw, params=lambda cfg, ds: ["segment", "audit.reference_threshold", f"datasets.{ds}.reference_masks",
                                          f"datasets.{ds}.subset"],
          fanout=lambda cfg, p: [{"ds": d} for d in p["datasets"] if has_reference(cfg, d)]),
    Stage("split", "stratified split and oversampling of one experiment", "allrepro.split:split", ("exp",),
          outputs=lambda exp: {p: layout.split_csv(exp, p) for p in layout.PARTS},
          inputs=_split_inputs,
          params=lambda cfg, exp: [f"experiments.{exp}.dataset", f"experiments.{exp}.images", f"experiments.{exp}.split",
                                   f"experiments.{exp}.oversample", f"datasets.{dataset_of(cfg, exp)}.classes",
                                   f"{ACTIVE}.split"],  # a profile may cap the parts
          fanout=lambda cfg, p: [{"exp": e} for e in p["built"]]),
    Stage("cache", "decode and resize one split part into a uint8 array", "allrepro.cache:stage",
          ("exp", "size", "part"),
          outputs=lambda exp, size, part: {"array": layout.cache_npy(exp, size, part)},
          inputs=lambda cfg, exp, size, part: {"manifest": layout.split_csv(exp, part), "images": _images(cfg, exp)},
          params=lambda cfg, exp, size, part: ["cache"],
          fanout=lambda cfg, p: [{"exp": e, "size": size, "part": part} for e in p["built"] for size, part in p["parts"][e]]),
    Stage("train", "train one model of one experiment", "allrepro.train:train", ("exp", "model"),
          outputs=lambda exp, model, seed=None: {f.split(".")[0]: layout.model_file(exp, model, f, seed)
                                                 for f in layout.MODEL_FILES},
          inputs=lambda cfg, exp, model, seed=None: _parts(exp, model_spec(cfg, model)["input_size"], ("train", "val")),
          params=lambda cfg, exp, model: ["train", f"models.{model}", f"experiments.{exp}.class_weights",
                                          f"datasets.{dataset_of(cfg, exp)}.classes", f"{ACTIVE}.epochs",
                                          f"{ACTIVE}.weights"],
          threads="train.threads", gpu=1, repeated=True, priority=lambda cfg, exp, model, **_: expected_gpu_seconds(cfg, model),
          fanout=lambda cfg, p: [{"exp": e, "model": m, **at} for at in p["seeds"] for e in p["built"] for m in p["own"][e]]),
    Stage("evaluate", "predict the validation and test parts and write metrics", "allrepro.evaluate:evaluate",
          ("exp", "model"),
          outputs=lambda exp, model, seed=None: {f.replace(".", "_"): layout.eval_file(exp, model, f, seed)
                                                 for f in layout.EVAL_FILES},
          inputs=_evaluate_inputs, params=lambda cfg, exp, model: ["evaluate", f"datasets.{dataset_of(cfg, exp)}.classes", "cache.interpolation",
                                             f"{ACTIVE}.robustness",
                                             *([] if segmented(cfg, exp) else ["segment"])],
          figures={"confusion_png": "confusion.rst", "roc_png": "roc.rst"}, repeated=True,
          fanout=lambda cfg, p: [{"exp": e, "model": m, **at} for at in p["seeds"] for e in p["selected"]
                                 for m in models_for(cfg, e)]),
    Stage("ensemble", "weighted-threshold ensemble of an experiment's members (patel eq. 8)",
          "allrepro.ensemble:stage", ("exp",),
          outputs=lambda exp, seed=None: {**{f.replace(".", "_"): layout.ensemble_file(exp, f, seed)
                                             for f in layout.ENSEMBLE_FILES},
                                          "corrected": layout.ensemble_file(exp, "corrected", seed)},
          inputs=lambda cfg, exp, seed=None: {f"{m}_{p}": layout.eval_file(exp, m, f"predictions_{p}.csv", seed)
                                              for m in ensemble_members(cfg, exp) for p in ("val", "test")},
          params=lambda cfg, exp: [f"experiments.{exp}.ensemble", f"datasets.{dataset_of(cfg, exp)}.classes", "profile", f"{ACTIVE}.like"], directories=("corrected",),
          figures={"confusion_png": "ensemble_confusion.rst", "roc_png": "ensemble_roc.rst"}, repeated=True,
          fanout=lambda cfg, p: [{"exp": e, **at} for at in p["seeds"] for e in p["selected"] if ensemble_members(cfg, e)]),
    Stage("audit", "leakage (twins, subjects), shortcut baselines (colour, mask size), intervals, McNemar, calibration "
          "and conformal sets, and the papers' numbers", "allrepro.audit.stage:audit", ("exp",),
          outputs=lambda exp, seed=None: {f.replace(".", "_"): layout.exp_audit_file(exp, f, seed)
                                          for f in layout.AUDIT_FILES},
          inputs=_audit_inputs,
          params=lambda cfg, exp: ["audit.bootstrap", "audit.baselines", "audit.close_to_cnn", "audit.calibration", "audit.robustness",
                                   "evaluate.shift", f"{ACTIVE}.robustness", "train.seed",
                                   f"experiments.{exp}.paper", f"experiments.{exp}.ensemble",
                                   f"datasets.{dataset_of(cfg, exp)}.classes", "profile", f"{ACTIVE}.like",
                                   f"{ACTIVE}.epochs", f"{ACTIVE}.split"],  # a profile that cuts work judges no claim
          repeated=True, fanout=lambda cfg, p: [{"exp": e, **at} for at in p["seeds"] for e in p["selected"]]),
    Stage("spread", "every model's metrics over the training seeds (train.seed and `repeats:`) against the papers'",
          "allrepro.audit.spread:stage", ("exp",),
          outputs=lambda exp: {f.replace(".", "_"): layout.spread_file(exp, f) for f in layout.SPREAD_FILES},
          inputs=_spread_inputs, params=lambda cfg, exp: ["train.seed", "repeats", f"experiments.{exp}.paper"],
          fanout=lambda cfg, p: [{"exp": e} for e in p["selected"]]),
    Stage("report", "render one experiment's HTML report (papermill)", "allrepro.report:stage", ("exp",),
          outputs=lambda exp: {"notebook": layout.report_notebook(exp), "html": layout.report_html(exp)},
          inputs=_report_inputs, params=lambda cfg, exp: ["report", f"experiments.{exp}.paper", f"{ACTIVE}.title"],
          figures={"html": "report.rst"}, fanout=lambda cfg, p: [{"exp": e} for e in p["selected"]]),
    Stage("export", "bundle an experiment's models (or ensemble) with its model card for predict and serve",
          "allrepro.export:stage", ("exp",),
          outputs=lambda exp: {"bundle": layout.bundle_dir(exp)}, inputs=_export_inputs,
          params=lambda cfg, exp: [f"experiments.{exp}", f"datasets.{dataset_of(cfg, exp)}.classes", "segment", "cache",
                                   "train", *(f"models.{m}" for m in models_for(cfg, exp)), "profile", f"{ACTIVE}.epochs",
                                   f"{ACTIVE}.weights", f"{ACTIVE}.like"],
          directories=("bundle",), fanout=lambda cfg, p: [{"exp": e} for e in p["selected"]]),
    Stage("scorecard", "one page across the papers: each headline claim beside ours, with its verdict "
          "(reports/index.html)", "allrepro.scorecard:stage", (),
          outputs=lambda: {"html": layout.scorecard_file("index.html"), "table": layout.scorecard_file("scorecard.csv")},
          inputs=_scorecard_inputs,
          params=lambda cfg: ["experiment", "profile", *(f"experiments.{e}.paper" for e in selected_experiments(cfg))],
          figures={"html": "scorecard.rst"}, fanout=lambda cfg, p: [{}] if p["selected"] else []),
]}
CLI = "allrepro.cli"  # every stage's command; it imports params at module level, the stage's module lazily


@functools.lru_cache(maxsize=None)
def code(stage: str) -> tuple[str, ...]:
    """Every file of the package a stage's command runs or reads: a change to one reruns the stage."""
    cli = codedeps.module_path(CLI).relative_to(codedeps.PACKAGE).as_posix()
    return tuple(sorted({f"{codedeps.PREFIX}/{cli}", *codedeps.closure([STAGES[stage].module, "allrepro.params"])}))


def expected_gpu_seconds(cfg: dict, model: str) -> int:
    """A training job's expected time on a GPU: its epochs (the active profile's) times its backbone's seconds per
    epoch measured on an H100 (backbones.Backbone.gpu_epoch_s). Snakemake starts the longest jobs first with it (the
    train rule's priority), so the run's critical path begins at once instead of behind short jobs."""
    spec = model_spec(cfg, model)
    return round(sum(p["epochs"] for p in spec["phases"]) * BACKBONES[spec["backbone"]].gpu_epoch_s)


def priority(cfg: dict, stage: str, **wc) -> int:
    """Snakemake's priority of a stage's job (the rule's `priority:`); 0 unless its record says otherwise."""
    return int(STAGES[stage].priority(cfg, **wc))


def threads(cfg: dict, stage: str, cores: int) -> int:
    """A job's CPU threads. Training (`train.threads`): "auto" is every core on a machine without a GPU (there
    training is the bottleneck) and 4 beside a GPU (it feeds the GPU from in-memory arrays; the other cores run
    the CPU stages of other jobs meanwhile); a number is that number. The job's process is held to it
    (ALLREPRO_WORKERS: runtime.limit_threads)."""
    spec = STAGES[stage].threads
    if spec in ("all", "1"):
        return cores if spec == "all" else 1
    value = param_values(cfg, [spec])[spec]
    if value in (None, "auto"):
        return cores if not gpus_visible() else min(4, cores)
    return max(1, min(int(value), cores))


def param_keys(cfg: dict, stage: str, active: bool = True, **wc) -> list[str]:
    """The params.yaml keys a stage reads: a change to one of them, and only those, reruns it. `active`: the active
    profile's name in place of `@` (the key as it is in params.yaml)."""
    st = STAGES[stage]
    keys = st.params(cfg, **{w: wc[w] for w in st.wildcards})
    return [k.replace("@", cfg["profile"], 1) if active and k.startswith(ACTIVE) else k for k in keys]


def has_reference(cfg: dict, ds: str) -> bool:
    """The dataset ships its own segmented images (the audit's segmentation agreement needs them)."""
    return bool(cfg["datasets"][ds].get("reference_masks"))


def param_values(cfg: dict, keys: list[str]) -> dict:
    out = {}
    for key in keys:
        node = cfg
        for part in key.replace("@", cfg["profile"], 1).split(".") if key.startswith(ACTIVE) else key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = node
    return out


def rules() -> list[tuple[str, bool]]:
    """(stage, seeded) of every Snakemake rule: one per stage, and a second one for the repeats' seeds."""
    return [(name, seeded) for name, st in STAGES.items() for seeded in ((False, True) if st.repeated else (False,))]


def rule_name(stage: str, seeded: bool = False) -> str:
    return f"{stage}_seed" if seeded else stage


def patterns(stage: str, seeded: bool = False) -> dict:
    """The Snakemake wildcard patterns of a rule: {exp}, {model}, ... ({seed} for a repeat's)."""
    return {w: PATTERNS[w] for w in STAGES[stage].coordinates(seeded)}


def outputs(stage: str, seeded: bool = False, **wc) -> dict:
    """A stage's outputs (a repeat's when seeded or a seed is given); wildcards not given stay Snakemake
    patterns ({exp}, ...)."""
    st = STAGES[stage]
    return st.outputs(**{w: wc.get(w, PATTERNS[w]) for w in st.coordinates(seeded or "seed" in wc)})


def inputs(cfg: dict, stage: str, **wc) -> dict:
    st = STAGES[stage]
    return {**{f"code{i}": path for i, path in enumerate(code(stage))},
            **st.inputs(cfg, **{w: wc[w] for w in st.coordinates("seed" in wc)})}


def job_files(cfg: dict, stage: str, wc: dict) -> tuple[dict, dict]:
    """(inputs, outputs) of one job, by the names its record gives them (code files apart): what the stage's
    function receives; it computes no path of its own."""
    st = STAGES[stage]
    seeded = wc.get("seed") is not None
    given = {w: wc[w] for w in st.coordinates(seeded)}
    return st.inputs(cfg, **given), outputs(stage, **given)


def command(stage: str, seeded: bool = False, overrides: list[str] = (), **wc) -> str:
    """The one command a job runs, identical under Snakemake and DVC (wildcards not given: patterns). `overrides`:
    the job's `--set KEY=VALUE` (Snakemake's --config values that differ from params.yaml), in the command, so the
    log and a rerun show them."""
    st = STAGES[stage]
    args = "".join(f" {CLI_ARGS[w]} {wc.get(w, PATTERNS[w])}" for w in st.coordinates(seeded or "seed" in wc))
    sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
    return f"allrepro {stage} --params params.yaml{args}{sets}"


def overrides_for(cfg: dict, stage: str, overrides: list[str], **wc) -> list[str]:
    """The overrides a job reads: those of its params keys (or below or above them), and `profile`, which every
    stage of an experiment resolves its models and paths with (a dataset's stages do not: `make smoke` after
    `make run` reruns no acquire or segment). A repeat's job (`--seed`) gets only `repeats=[its seed]`: adding a
    seed changes no other seed's command."""
    keys = param_keys(cfg, stage, **wc)
    per_experiment = "exp" in STAGES[stage].wildcards  # a dataset's stages read no profile: switching one reruns none

    def reads(key: str) -> bool:
        return (key == "profile" and per_experiment) or any(key == k or key.startswith(k + ".") or k.startswith(key + ".")
                                                            for k in keys)

    out = [o for o in overrides if reads(o.partition("=")[0])]
    if "seed" in wc and any(o.startswith("repeats=") for o in overrides):
        out = [o for o in out if not o.startswith("repeats=")] + [f"repeats=[{wc['seed']}]"]
    return out


def plan(cfg: dict, experiments: list[str] | None = None) -> dict:
    """What the records' fan-outs iterate over, for the chosen experiments: their datasets (and those segmented),
    the experiments whose data stages run (`built`: the chosen ones and those that train a model for them — a
    model is trained once, in the experiment `trained_in` names, and evaluated by every experiment that uses it),
    each one's own training jobs, the cached parts each input size needs (training reads train+val, evaluation
    val+test), and the seeds (the primary run, then each repeat)."""
    selected = experiments or list(cfg["experiments"])
    own = {e: [] for e in cfg["experiments"]}
    for exp in selected:
        for m in models_for(cfg, exp):
            own[trained_in(cfg, exp, m)].append(m)
    built = [e for e in cfg["experiments"] if own[e] and e not in selected] + selected
    parts = {}
    for exp in built:
        needs = {}
        for m, p in [(m, ("train", "val")) for m in own[exp]] + [(m, ("val", "test")) for m in
                                                                   (models_for(cfg, exp) if exp in selected else [])]:
            needs.setdefault(model_spec(cfg, m)["input_size"], set()).update(p)
        parts[exp] = [(size, part) for size in sorted(needs) for part in layout.PARTS if part in needs[size]]
    datasets = list(dict.fromkeys(dataset_of(cfg, e) for e in built))
    return {"datasets": datasets, "segmented": {dataset_of(cfg, e) for e in built if segmented(cfg, e)},
            "built": built, "selected": selected, "own": {e: list(dict.fromkeys(ms)) for e, ms in own.items()},
            "parts": parts, "seeds": [{}, *({"seed": s} for s in repeats(cfg))]}


def jobs(cfg: dict, experiments: list[str] | None = None) -> list[dict]:
    """Every job of the DAG for the chosen experiments, stage by stage, with concrete paths: each record's fan-out."""
    p = plan(cfg, experiments)
    return [_job(cfg, name, wc) for name, st in STAGES.items() for wc in st.fanout(cfg, p)]


def show(cfg: dict, stage: str, wc: dict) -> str:
    """`allrepro <stage> ... --show`: the job's command, the files it reads (its code apart) and writes, the params
    keys it reads with their values, as YAML."""
    import yaml

    job = _job(cfg, stage, wc)
    code_files = set(code(stage))
    sets = overrides_for(cfg, stage, cfg.get("_overrides", []), **wc)
    return yaml.safe_dump({"job": job["name"], "command": command(stage, overrides=sets, **wc),
                           "reads": [d for d in job["deps"] if d not in code_files],
                           "code": sorted(code_files),
                           "params": param_values(cfg, param_keys(cfg, stage, **wc)),
                           "writes": job["outs"]}, sort_keys=False, width=120, allow_unicode=True)


def job_name(stage: str, wc: dict) -> str:
    """A job's name, as dvc.yaml has it: acquire_mehradaria, train_patel_quick_cnn_seed7, ..."""
    return "_".join([stage, *(f"seed{v}" if w == "seed" else str(v) for w, v in wc.items())])


def _job(cfg: dict, stage: str, wc: dict) -> dict:
    return {"name": job_name(stage, wc), "stage": stage, "wildcards": wc, "cmd": command(stage, **wc),
            "deps": list(dict.fromkeys(inputs(cfg, stage, **wc).values())),
            "outs": list(outputs(stage, **wc).values()),
            # DVC refuses a params key that is not in params.yaml: optional keys are listed only when set
            "params": [k for k in param_keys(cfg, stage, **wc) if _present(cfg, k)]}


def _present(cfg: dict, key: str) -> bool:
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
