"""Where every stage reads and writes. The Snakemake rules, the dvc.yaml generator and the stage
commands all take their paths from here, so the two entry points cannot disagree about a file."""
from __future__ import annotations



def raw_dir(ds: str) -> str:
    return f"data/raw/{ds}/dataset"


def raw_manifest(ds: str) -> str:
    return f"data/raw/{ds}/manifest.csv"


def raw_bad_files(ds: str) -> str:
    return f"data/raw/{ds}/bad_files.csv"


def seg_dir(ds: str) -> str:
    return f"data/interim/{ds}/segmented"


def seg_manifest(ds: str) -> str:
    return f"data/interim/{ds}/segmented.csv"

# Every experiment has all three parts, so every path is known before the DAG runs; a protocol without
# a validation set (patel's 65/35) gets an empty val.csv.
PARTS = ("train", "val", "test")


def split_csv(exp: str, part: str) -> str:
    return f"data/processed/{exp}/split/{part}.csv"


def cache_npy(exp: str, size: int | str, part: str) -> str:
    return f"data/processed/{exp}/cache/{size}/{part}.npy"


def _seeded(path: str, seed: int | str | None) -> str:
    """A repeat's outputs (training seed `seed`, params key `repeats`) sit beside the primary run's, under
    seeds/<seed>/; the primary run (train.seed) keeps the paths it has always had."""
    return path if seed is None else f"{path}/seeds/{seed}"


def model_dir(exp: str, model: str, seed: int | str | None = None) -> str:
    return _seeded(f"models/{exp}/{model}", seed)


MODEL_FILES = ("model.keras", "history.csv", "labels.json")
EVAL_FILES = ("predictions_test.csv", "predictions_val.csv", "metrics.json", "headline.json", "confusion.csv",
              "confusion.png", "roc.png", "inference.json", "predictions_shift.csv", "attention.csv")
AUDIT_FILES = ("leakage.json", "baselines.csv", "intervals.csv", "mcnemar.csv", "paper_check.csv", "calibration.csv",
               "reliability.png", "robustness.csv", "attention_by_class.csv", "audit.json")
ENSEMBLE_FILES = ("grid.csv", "predictions.csv", "corrected.csv", "metrics.json", "headline.json", "confusion.png",
                  "roc.png")


def model_file(exp: str, model: str, name: str, seed: int | str | None = None) -> str:
    return f"{model_dir(exp, model, seed)}/{name}"


def eval_file(exp: str, model: str, name: str, seed: int | str | None = None) -> str:
    return f"{_seeded(f'reports/{exp}/{model}', seed)}/{name}"


def ensemble_file(exp: str, name: str, seed: int | str | None = None) -> str:
    return f"{_seeded(f'reports/{exp}/ensemble', seed)}/{name}"


SPREAD_FILES = ("spread.csv", "spread.json")


def spread_file(exp: str, name: str) -> str:
    """Every model's metrics over the training seeds (the primary run and its repeats)."""
    return f"reports/{exp}/{name}"


def report_html(exp: str) -> str:
    return f"reports/{exp}/report.html"


def report_notebook(exp: str) -> str:
    return f"reports/{exp}/report.ipynb"


def audit_file(ds: str, name: str) -> str:
    """Dataset-level audit facts (duplicates, segmentation agreement)."""
    return f"data/interim/{ds}/audit/{name}"  # under data/: split reads the duplicate clusters


def exp_audit_file(exp: str, name: str, seed: int | str | None = None) -> str:
    """An experiment's audit (leakage, shortcut baselines, intervals, McNemar)."""
    return f"{_seeded(f'reports/{exp}/audit', seed)}/{name}"


def scorecard_file(name: str) -> str:
    """The page across the papers (index.html) and its table (scorecard.csv)."""
    return f"reports/{name}"


def bundle_dir(exp: str) -> str:
    """The exported bundle of an experiment: what `allrepro predict` and `allrepro serve` load."""
    return f"bundles/{exp}"
