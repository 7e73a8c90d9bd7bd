"""Where the quick model's training time goes, and what a faster one gives up: variants of the quick model,
each trained by the pipeline's own `train` on an experiment's cached arrays (run the pipeline's cache stage
first), measured side by side in one run, one process per variant (a backend or a thread setting is fixed
when a process starts).

    python benchmarks/quick_model.py --epochs 3 [VARIANT ...]   # speed: images/s of the steady epochs
    python benchmarks/quick_model.py --full before after        # whole training: seconds and test accuracy
    python benchmarks/quick_model.py --full --seeds 42,1,2,3,4 before after   # ... over seeds: mean, sd, range

Each variant is a change to BEFORE, the quick model as params.yaml had it until 2026-11-23; `after` is
params.yaml's quick_cnn now. The ratio column compares every row with the first one measured. Every input
size needs its cached arrays: `allrepro cache --experiment idrees --size 64 --part train` (and val, test).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEFORE = {"backbone": "small_cnn", "input_size": 64, "batch_size": 32,
          "head": {"pooling": "avg", "dense": [], "dropout": 0.2},
          "augment": {"flip": "horizontal_and_vertical", "rotation": 0.05},
          "phases": [{"epochs": 20, "optimizer": "adam", "learning_rate": 0.002, "lr_schedule": "cosine",
                      "trainable": "all"}]}
HALF = [16, 32, 64, 128]
FEED = "ALLREPRO_BENCH_FEED"  # "pydataset": the feed train used until 2026-11-23, on any backend


def epochs(n: int, **change) -> list[dict]:
    return [{**BEFORE["phases"][0], "epochs": n, **change}]


# name: (change to the model, change to params' train block, environment)
VARIANTS = {
    "before": ({}, {}, {FEED: "pydataset"}),  # the training rows as Keras' PyDataset, as train fed them before
    "tf_data": ({}, {}, {}),  # the same model and params, fed by tf.data (train's feed now)
    "no_op_determinism": ({}, {"deterministic": False}, {}),
    "xla": ({}, {"jit_compile": True}, {}),
    "jax": ({}, {}, {"KERAS_BACKEND": "jax"}),
    "flip_only": ({"augment": {"flip": "horizontal_and_vertical"}}, {}, {}),
    "batch_64": ({"batch_size": 64}, {}, {}),
    "half_width": ({"filters": HALF}, {}, {}),
    "10_epochs": ({"phases": epochs(10)}, {}, {}),
    "half_width_10_epochs": ({"filters": HALF, "phases": epochs(10)}, {}, {}),
    "48px_10_epochs": ({"input_size": 48, "phases": epochs(10)}, {}, {}),
    "48px_half_width_10_epochs": ({"input_size": 48, "filters": HALF, "phases": epochs(10)}, {}, {}),
    "32px_12_epochs": ({"input_size": 32, "phases": epochs(12)}, {}, {}),
    "48px_half_width": ({"input_size": 48, "filters": HALF}, {}, {}),
    "48px_half_width_14_epochs": ({"input_size": 48, "filters": HALF, "phases": epochs(14)}, {}, {}),
    "48px": ({"input_size": 48}, {}, {}),
    "48px_14_epochs": ({"input_size": 48, "phases": epochs(14)}, {}, {}),
    "separable": ({"separable": True}, {}, {}),
    "separable_14_epochs": ({"separable": True, "phases": epochs(14)}, {}, {}),
    "separable_48px": ({"separable": True, "input_size": 48}, {}, {}),
    "48px_half_width_26_epochs": ({"input_size": 48, "filters": HALF, "phases": epochs(26)}, {}, {}),
    "48px_half_width_lr_004": ({"input_size": 48, "filters": HALF, "phases": epochs(20, learning_rate=0.004)},
                               {}, {}),
    "48px_half_width_rotation_02": ({"input_size": 48, "filters": HALF,
                                     "augment": {"flip": "horizontal_and_vertical", "rotation": 0.2}}, {}, {}),
    "after": (None, {}, {}),  # params.yaml's quick_cnn as it is now
}


def spec_of(name: str) -> tuple[dict, dict, dict]:
    import yaml

    change, train, env = VARIANTS[name]
    if change is None:
        return yaml.safe_load((ROOT / "params.yaml").read_text())["models"]["quick_cnn"], train, env
    return {**copy.deepcopy(BEFORE), **change}, train, env


def one(name: str, exp: str, epochs: int | None, seed: int | None) -> dict:
    """Train one variant in this process, in a scratch folder that sees the project's data/ (read only)."""
    from allrepro import params as P

    spec, train_change, _ = spec_of(name)
    if epochs:
        spec["phases"] = [{**spec["phases"][0], "epochs": epochs}]
    cfg = P.apply_overrides(P.load(ROOT / "params.yaml"), ["profile=quick"])
    cfg["models"]["quick_cnn"] = spec
    cfg["train"].update(train_change)
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        os.symlink(ROOT / "data", "data")
        from allrepro import resume, train as train_module
        from allrepro.arrays import load_part
        from allrepro.train import train
        if os.environ.get(FEED) == "pydataset":
            train_module.epoch_batches = resume.EpochBatches
        info = train(cfg, exp, "quick_cnn", seed)
        import keras
        from allrepro import layout
        model = keras.saving.load_model(f"{layout.model_dir(exp, 'quick_cnn', seed)}/model.keras", compile=False)
        x, y = load_part(exp, "test", spec["input_size"])
        pred = np.argmax(model.predict(x, batch_size=64, verbose=0), axis=1)
    from sklearn.metrics import matthews_corrcoef
    return {"variant": name, "backend": info["runtime"]["backend"], "epochs": info["epochs"],
            "params": info["params_total"], "seconds": info["seconds"],
            "images_per_s": info.get("train_images_per_s"), "test_accuracy": float(np.mean(pred == y)),
            "test_mcc": float(matthews_corrcoef(y, pred)), "n_test": int(len(y))}


def run_one(name: str, exp: str, epochs: int | None, seed: int | None) -> dict | str:
    """One variant, one seed, in its own process: the result, or the last line of its error."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **spec_of(name)[2]}
    cmd = [sys.executable, __file__, "--one", name, "--experiment", exp]
    cmd += [*(["--epochs", str(epochs)] if epochs else []), *(["--seed", str(seed)] if seed is not None else [])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
    return json.loads(line[len("RESULT "):]) if line else (proc.stderr or proc.stdout).strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--experiment", default="idrees")
    ap.add_argument("--epochs", type=int, help="train this many epochs instead of the variant's own")
    ap.add_argument("--full", action="store_true", help="the variants' own epochs (the default without --epochs)")
    ap.add_argument("--seeds", help="comma-separated training seeds: each variant trained once per seed "
                                    "(default: train.seed of params.yaml)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(args.one, args.experiment, args.epochs, args.seed)), flush=True)
        return
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    epochs = None if args.full else args.epochs
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [None]
    print(f"experiment {args.experiment}, {os.cpu_count()} CPU cores, "
          f"{'each variant its own epochs' if epochs is None else f'{epochs} epochs each'}, "
          f"seeds {args.seeds or 'train.seed'}")
    print("| variant | backend | params | epochs | train s | images/s (steady) | vs first | test acc | "
          "range over seeds | MCC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    first = None
    for name in args.variants:
        runs = [run_one(name, args.experiment, epochs, seed) for seed in seeds]
        failed = [r for r in runs if isinstance(r, str)]
        if failed:
            print(f"| {name} | failed: {failed[0]} |", flush=True)
            continue
        speed = float(np.median([r["images_per_s"] for r in runs]))
        first = first or speed
        acc, mcc = np.array([r["test_accuracy"] for r in runs]), np.array([r["test_mcc"] for r in runs])
        spread = f" ± {acc.std(ddof=1):.4f}" if len(runs) > 1 else ""
        print(f"| {name} | {runs[0]['backend']} | {runs[0]['params']:,} | {runs[0]['epochs']} | "
              f"{np.mean([r['seconds'] for r in runs]):.0f} | {speed:.1f} | {speed / first:.2f} | "
              f"{acc.mean():.4f}{spread} | {acc.min():.4f}–{acc.max():.4f} | {mcc.mean():.4f} |", flush=True)


if __name__ == "__main__":
    main()
