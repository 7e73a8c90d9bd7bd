"""Load, override and validate params.yaml.

Both entry points go through here: Snakemake validates its config with `validate()` when the
Snakefile is parsed, and every `allrepro <stage>` command calls `load()` before doing any work,
so a bad key stops `snakemake` and `dvc repro` alike before a single job runs.
"""
from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

DATA_SOURCE_ENV = "ALLREPRO_DATA_SOURCE"


class UserError(Exception):
    """Bad input a user can fix (params, a data source): `allrepro` prints the message, no traceback."""


class ParamsError(UserError, ValueError):
    """A params file that must not be run; the message names the file and the key."""


# libyaml's parser where PyYAML was built with it (its wheels are): the same safe loading, about 8x faster, and every
# stage process and every Snakefile parse reads params.yaml and the schema
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str):
    """yaml.safe_load, in C where available."""
    return yaml.load(text, Loader=_LOADER)


def schema() -> dict:
    return read_yaml(resources.files("allrepro").joinpath("schemas/params.schema.yaml").read_text())


def load(path: str | Path = "params.yaml", overrides: list[str] | None = None) -> dict:
    """Read a params file, apply `key.path=value` overrides, validate, return the dict (the overrides it applied
    under `_overrides`, for the report to show)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        cfg = read_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    cfg = apply_overrides(cfg, list(overrides or []))
    validate(cfg, origin=str(path))
    return {**resolve_profile(cfg), "_overrides": list(overrides or [])}


def resolve_profile(cfg: dict) -> dict:
    """The active profile's cuts applied: `epochs` for every phase of every model, `split` keys merged
    into every experiment's split, `title` added to the report's. The smoke profile is the paper
    profile with only the amount of work cut this way."""
    prof = cfg["profiles"][cfg["profile"]]
    if not any(prof.get(k) for k in ("epochs", "split", "title")):
        return cfg
    cfg = copy.deepcopy(cfg)
    for model in cfg["models"].values():
        for phase in model["phases"]:
            phase["epochs"] = prof.get("epochs") or phase["epochs"]
    for exp in cfg["experiments"].values():
        exp["split"].update(prof.get("split") or {})
    if prof.get("title"):
        cfg["report"]["title"] = f"{cfg['report'].get('title', 'allrepro report')} — {prof['title']}"
    return cfg


def work_cut(cfg: dict) -> bool:
    """The active profile cuts the work (its epochs or its split parts): its numbers are no test of a paper's."""
    prof = cfg["profiles"][cfg["profile"]]
    return prof.get("epochs") is not None or bool(prof.get("split"))


def robustness_on(cfg: dict) -> bool:
    """The active profile measures robustness (shifted test parts, Grad-CAM over the test part): every profile
    but one that says `robustness: false` (smoke: it proves the networks run; a 1-epoch model's robustness is
    no finding, and each shifted pass of VGG16 costs a CPU a minute)."""
    return cfg["profiles"][cfg["profile"]].get("robustness") is not False


def profile_kind(cfg: dict) -> str:
    """The profile whose per-experiment choices apply (ensemble members): `like:`, else the profile itself."""
    return cfg["profiles"][cfg["profile"]].get("like") or cfg["profile"]


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """`a.b=1` sets cfg['a']['b'] = 1; the value is parsed as YAML (so `null`, `[1,2]` work)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamsError(f"override {item!r}: expected KEY=VALUE")
        node = cfg
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParamsError(f"override {item!r}: {part!r} is not a mapping")
        node[leaf] = yaml.safe_load(value)
    return cfg


def from_snakemake(config: dict) -> dict:
    """Snakemake reads a list given on its command line (`--config 'repeats=[1,2]'`) with YAML's BaseLoader, so
    every item is a string: the seeds are made numbers again before validation (the stage commands then get
    numbers too)."""
    seeds = config.get("repeats")
    if isinstance(seeds, list):
        config["repeats"] = [int(s) if isinstance(s, str) and s.strip().isdigit() else s for s in seeds]
    return config


def validate(cfg: dict, origin: str = "params.yaml") -> None:
    """Schema first (types, unknown keys), then the rules a schema cannot say."""
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        lines = [f"{origin}: key '{_key(e)}': {e.message}" for e in errors]
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(lines))
    problems = list(_semantic_problems(cfg))
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(f"{origin}: {p}" for p in problems))


def _key(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        # the offending key is only in the message; name it in the path too
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        path = ".".join(filter(None, [path, ",".join(extra)]))
    return path or "<top>"


def _semantic_problems(cfg: dict):
    from allrepro.backbones import BACKBONES

    for name, data in cfg["datasets"].items():
        if set(data["expected_counts"]) != set(data["classes"]):
            yield f"key 'datasets.{name}.expected_counts': its classes must be exactly datasets.{name}.classes"
        if data["source"].startswith("https://") and not data.get("sha256"):
            yield f"key 'datasets.{name}.sha256': required for an https:// source"
    seg = cfg["segment"]
    if any(lo > hi for lo, hi in zip(seg["hsv_lower"], seg["hsv_upper"])):
        yield "key 'segment.hsv_lower': every bound must be <= segment.hsv_upper"
    for name, model in cfg["models"].items():
        if model["backbone"] not in BACKBONES:
            yield (f"key 'models.{name}.backbone': unknown backbone {model['backbone']!r} "
                   f"(known: {', '.join(sorted(BACKBONES))})")
    if cfg["profile"] not in cfg["profiles"]:
        yield f"key 'profile': unknown profile {cfg['profile']!r} (known: {', '.join(cfg['profiles'])})"
        return
    like = cfg["profiles"][cfg["profile"]].get("like")
    if like and like not in cfg["profiles"]:
        yield f"key 'profiles.{cfg['profile']}.like': unknown profile {like!r}"
    for name in str(cfg["experiment"]).split(","):
        if name not in [*cfg["experiments"], "all"]:
            yield f"key 'experiment': unknown experiment {name!r} (known: {', '.join(cfg['experiments'])}, all)"
    for name, exp in cfg["experiments"].items():
        if exp["dataset"] not in cfg["datasets"]:
            yield f"key 'experiments.{name}.dataset': unknown dataset {exp['dataset']!r}"
        ratios = exp["split"]["ratios"]
        if abs(sum(ratios.values()) - 1.0) > 1e-9:
            yield f"key 'experiments.{name}.split.ratios': ratios sum to {sum(ratios.values()):g}, not 1"
        for key in ("models", "quick_models"):
            for model in exp.get(key) or []:
                if model not in cfg["models"]:
                    yield f"key 'experiments.{name}.{key}': unknown model {model!r}"
        if exp.get("ensemble"):
            for profile, members in exp["ensemble"]["members"].items():
                trained = exp.get("quick_models") if profile == "quick" and exp.get("quick_models") else (
                    cfg["profiles"][profile].get("models") or exp["models"])
                if not set(members) <= set(trained):
                    yield (f"key 'experiments.{name}.ensemble.members.{profile}': members must be models the "
                           f"experiment trains in that profile ({', '.join(trained)})")
            if any(abs(sum(w) - 1) > 1e-9 or len(w) != len(m) for w in exp["ensemble"]["weights"]
                   for m in exp["ensemble"]["members"].values()):
                yield f"key 'experiments.{name}.ensemble.weights': each weight set needs one weight per member, summing to 1"
    if cfg["train"]["seed"] in (cfg.get("repeats") or []):
        yield f"key 'repeats': {cfg['train']['seed']} is train.seed already (the primary run); repeats are other seeds"
    for name, prof in cfg["profiles"].items():
        for model in prof.get("models") or []:
            if model not in cfg["models"]:
                yield f"key 'profiles.{name}.models': unknown model {model!r}"


# ---- resolved views used by the stages -------------------------------------------------------

def data_source(cfg: dict, dataset: str) -> str:
    """The dataset's source: its environment variable (`env:`, default ALLREPRO_DATA_SOURCE_<NAME>) wins."""
    data = cfg["datasets"][dataset]
    return os.environ.get(data.get("env") or f"{DATA_SOURCE_ENV}_{dataset.upper()}") or data["source"]


def dataset_of(cfg: dict, exp: str) -> str:
    return cfg["experiments"][exp]["dataset"]


def classes(cfg: dict, exp: str) -> list[str]:
    return list(cfg["datasets"][dataset_of(cfg, exp)]["classes"])


def paper_of(cfg: dict, exp: str) -> str:
    """Whose reported numbers an experiment is compared with (paper_values.yaml): `paper:`, else its name."""
    return cfg["experiments"][exp].get("paper") or exp


def segmented(cfg: dict, exp: str) -> bool:
    """The experiment's networks see the HSV-segmented images (the rest see the originals)."""
    return cfg["experiments"][exp]["images"] == "segmented"


def repeats(cfg: dict) -> list[int]:
    """The training seeds repeated beside train.seed (the primary run)."""
    return list(cfg.get("repeats") or [])


def seeds(cfg: dict) -> list[int]:
    """Every training seed: the primary run's first."""
    return [cfg["train"]["seed"], *repeats(cfg)]


def experiment(cfg: dict, name: str | None = None) -> dict:
    return cfg["experiments"][name or cfg["experiment"]]


def selected_experiments(cfg: dict) -> list[str]:
    """`experiment: idrees` runs one experiment block, `idrees,patel` those (in params order), `all` every one."""
    names = str(cfg["experiment"]).split(",")
    return [e for e in cfg["experiments"] if "all" in names or e in names]


def models_for(cfg: dict, name: str | None = None) -> list[str]:
    """The models an experiment trains under the active profile: the experiment's own `quick_models`
    in the quick profile, else the profile's list, else the experiment's `models`."""
    exp = experiment(cfg, name)
    if cfg["profile"] == "quick" and exp.get("quick_models"):
        return list(exp["quick_models"])
    profile_models = cfg["profiles"][cfg["profile"]].get("models")
    return list(profile_models) if profile_models else list(exp["models"])


def ensemble_members(cfg: dict, name: str | None = None) -> list[str]:
    """The ensemble's members under the active profile ([] when the experiment has no ensemble)."""
    spec = experiment(cfg, name).get("ensemble")
    if not spec:
        return []
    kind = profile_kind(cfg)
    if kind not in spec["members"]:
        raise ParamsError(f"key 'experiments.{name or cfg['experiment']}.ensemble.members': no members for "
                          f"profile {kind!r} (set profiles.{cfg['profile']}.like to one of {', '.join(spec['members'])})")
    return list(spec["members"][kind])


# What a trained model depends on besides its own block and the global `train:`/profile settings.
TRAINING_INPUTS = ("dataset", "images", "split", "oversample", "class_weights")


def trained_in(cfg: dict, exp: str, model: str) -> str:
    """The experiment whose job trains `model` for `exp`: the first experiment (in params order) that
    trains it on identical inputs. Experiments that differ only in their ensemble, tables or report
    share one trained model instead of training it twice."""
    inputs = {k: cfg["experiments"][exp].get(k) for k in TRAINING_INPUTS}
    for other, spec in cfg["experiments"].items():
        if model in models_for(cfg, other) and {k: spec.get(k) for k in TRAINING_INPUTS} == inputs:
            return other
    return exp


def model_spec(cfg: dict, name: str) -> dict:
    """A model's block with the global training settings it inherits filled in."""
    spec = copy.deepcopy(cfg["models"][name])
    spec.setdefault("weights", cfg["profiles"][cfg["profile"]].get("weights"))
    spec.setdefault("head", {})
    spec.setdefault("augment", {})
    return spec
