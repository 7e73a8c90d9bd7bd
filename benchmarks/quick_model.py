"""Where the quick model's training time goes, and what a faster one gives up: variants of the quick model,
each trained by the pipeline's own `train` on an experiment's cached arrays (run the pipeline's cache stage
first), measured side by side in one run, one process per variant (a backend or a thread setting is fixed
when a process starts).

    python benchmarks/quick_model.py --epochs 3 [VARIANT ...]   # speed: images/s of the steady epochs
    python benchmarks/quick_model.py --full before after        # whole training: seconds and test accuracy

Each variant is a change to BEFORE, the quick model as params.yaml had it until 2026-11-23; `after` is
params.yaml's quick_cnn now. The ratio column compares every row with the first one measured.
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

ROOT = Path(__file__).resolve().parents[1]
BEFORE = {"backbone": "small_cnn", "input_size": 64, "batch_size": 32,
          "head": {"pooling": "avg", "dense": [], "dropout": 0.2},
          "augment": {"flip": "horizontal_and_vertical", "rotation": 0.05},
          "phases": [{"epochs": 20, "optimizer": "adam", "learning_rate": 0.002, "lr_schedule": "cosine",
                      "trainable": "all"}]}
HALF = [16, 32, 64, 128]
FEED = "ALLREPRO_BENCH_FEED"  # "pydataset": the feed train used until 2026-11-23, on any backend


def epochs(n: int) -> list[dict]:
    return [{**BEFORE["phases"][0], "epochs": n}]


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
    "after": (None, {}, {}),  # params.yaml's quick_cnn as it is now
}


def spec_of(name: str) -> tuple[dict, dict, dict]:
    import yaml

    change, train, env = VARIANTS[name]
    if change is None:
        return yaml.safe_load((ROOT / "params.yaml").read_text())["models"]["quick_cnn"], train, env
    return {**copy.deepcopy(BEFORE), **change}, train, env


def one(name: str, exp: str, epochs: int | None) -> dict:
    """Train one variant in this process, in a scratch folder that sees the project's data/ (read only)."""
    import numpy as np
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
        from allrepro.train import load_part, train
        if os.environ.get(FEED) == "pydataset":
            train_module.epoch_batches = resume.EpochBatches
        info = train(cfg, exp, "quick_cnn")
        import keras
        model = keras.saving.load_model(f"models/{exp}/quick_cnn/model.keras", compile=False)
        x, y = load_part(exp, "test", spec["input_size"])
        pred = np.argmax(model.predict(x, batch_size=64, verbose=0), axis=1)
    from sklearn.metrics import matthews_corrcoef
    return {"variant": name, "backend": info["runtime"]["backend"], "epochs": info["epochs"],
            "params": info["params_total"], "seconds": info["seconds"],
            "images_per_s": info.get("train_images_per_s"), "test_accuracy": float(np.mean(pred == y)),
            "test_mcc": float(matthews_corrcoef(y, pred)), "n_test": int(len(y))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--experiment", default="idrees")
    ap.add_argument("--epochs", type=int, help="train this many epochs instead of the variant's own")
    ap.add_argument("--full", action="store_true", help="the variants' own epochs (the default without --epochs)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(args.one, args.experiment, args.epochs)), flush=True)
        return
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    epochs = None if args.full else args.epochs
    print(f"experiment {args.experiment}, {os.cpu_count()} CPU cores, "
          f"{'each variant its own epochs' if epochs is None else f'{epochs} epochs each'}")
    print("| variant | backend | params | epochs | train s | images/s (steady) | vs first | test acc | MCC |")
    print("|---|---|---|---|---|---|---|---|---|")
    first = None
    for name in args.variants:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **spec_of(name)[2]}
        cmd = [sys.executable, __file__, "--one", name, "--experiment", args.experiment]
        proc = subprocess.run([*cmd, *(["--epochs", str(epochs)] if epochs else [])], env=env,
                              capture_output=True, text=True)
        line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
        if line is None:
            print(f"| {name} | failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1]} |", flush=True)
            continue
        r = json.loads(line[len("RESULT "):])
        first = first or r
        ratio = r["images_per_s"] / first["images_per_s"] if r["images_per_s"] and first["images_per_s"] else float("nan")
        print(f"| {name} | {r['backend']} | {r['params']:,} | {r['epochs']} | {r['seconds']:.0f} | "
              f"{r['images_per_s']} | {ratio:.2f} | {r['test_accuracy']:.4f} | {r['test_mcc']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
