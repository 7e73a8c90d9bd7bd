"""How many XLA compilations a training job and its evaluation make under JAX, and how many a second run finds in
JAX's persistent compilation cache (what the GPU runner turns on with JAX_COMPILATION_CACHE_DIR).

Each model of params.yaml given is trained by the train stage's own function (allrepro.train.train: every phase,
its validation, the checkpoints) on generated arrays at a small input size, one epoch per phase, then predicts the
validation and test parts as the evaluate stage does (allrepro.evaluate.timed_predict). Two processes per model,
one after the other, share one cache folder: `cold` (empty cache) and `warm` (what `cold` left). Printed per model
and per window (building the model; each fit() call, a phase; then predict): XLA compiles (cache misses), cache
hits, and the seconds of the backend compile events (an XLA compile, or a load from the cache). On a CPU the compiles are short, but their number is what a GPU pays for (there EfficientNet-B3's took
221 of its 431 s, reports/benchmarks.md).

    python benchmarks/compile_counts.py                           # quick_cnn and idrees_resnet50 at 64 px
    python benchmarks/compile_counts.py --models idrees_efficientnetb3 --size 96
    python benchmarks/compile_counts.py --shared --models idrees_resnet50 patel_resnet50 pushpalatha_resnet50
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(model: str, size: int, rows: int, folder: Path) -> dict:
    """Runs in its own process (KERAS_BACKEND=jax and the cache folder set before JAX starts)."""
    import jax
    import keras
    import numpy as np
    import pandas as pd

    from allrepro import evaluate, train
    from allrepro import params as P

    events: list[tuple[str, str, float]] = []
    window = ["build"]
    jax.monitoring.register_event_listener(lambda name, **kw: events.append((window[0], name, 0.0)))
    jax.monitoring.register_event_duration_secs_listener(lambda name, secs, **kw: events.append((window[0], name, secs)))
    fit = keras.Model.fit

    def marked_fit(self, *args, **kwargs):  # each fit() call is one training phase
        window[0] = f"phase {sum(1 for w in {e[0] for e in events} if w.startswith('phase')) + 1}"
        return fit(self, *args, **kwargs)

    keras.Model.fit = marked_fit
    cfg = P.load(str(ROOT / "params.yaml"), ["profile=paper"])
    spec = cfg["models"][model]
    spec["input_size"] = size
    spec["weights"] = None
    for phase in spec["phases"]:
        phase["epochs"] = 1
    cfg["train"]["jit_compile"] = True  # as on a GPU
    cfg["train"]["run_eagerly"] = False
    classes = P.classes(cfg, "idrees")
    rng = np.random.default_rng(0)
    files = {}
    for part, n in (("train", rows), ("val", rows // 2), ("test", rows // 2)):
        x = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
        np.save(folder / f"{part}.npy", x)
        pd.DataFrame({"label": np.arange(n) % len(classes)}).to_csv(folder / f"{part}.csv", index=False)
        files[f"{part}_npy"], files[f"{part}_csv"] = str(folder / f"{part}.npy"), str(folder / f"{part}.csv")
    outputs = {"model": str(folder / "m" / "model.keras"), "history": str(folder / "m" / "history.csv"),
               "labels": str(folder / "m" / "labels.json")}
    train.train(cfg, files, outputs, "idrees", model)
    window[0] = "predict"
    loaded = keras.saving.load_model(outputs["model"])
    for part in ("val", "test"):
        evaluate.timed_predict(loaded, np.load(files[f"{part}_npy"]))
    out: dict = {}
    for where, name, secs in events:
        row = out.setdefault(where, {"compiles": 0, "cache_hits": 0, "compile_s": 0.0})
        if name == "/jax/core/compile/backend_compile_duration":  # an XLA compile, or a load from the cache
            row["compile_s"] = round(row["compile_s"] + secs, 2)
        elif name == "/jax/compilation_cache/cache_misses":  # compiled by XLA (then written to the cache)
            row["compiles"] += 1
        elif name == "/jax/compilation_cache/cache_hits":  # loaded, not compiled
            row["cache_hits"] += 1
    return out


def measure(model: str, size: int, rows: int, cache: Path, runs=("cold", "warm")) -> dict:
    """cold, then warm, each in a fresh process sharing `cache`."""
    got = {}
    for run in runs:
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": "",
                   "JAX_COMPILATION_CACHE_DIR": str(cache),
                   # the GPU runner's settings: every executable is cached, however quick to compile
                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
            proc = subprocess.run([sys.executable, __file__, "--child", model, "--size", str(size), "--rows", str(rows),
                                   "--scratch", scratch], env=env, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode:
                raise SystemExit(f"{model} {run}: failed\n{proc.stderr[-3000:]}")
            got[run] = json.loads(proc.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["quick_cnn", "idrees_resnet50"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rows", type=int, default=72, help="training rows (72 at batch 32: a last batch of 8)")
    ap.add_argument("--shared", action="store_true",
                    help="one cache for every model, each run once: what a job finds that earlier jobs of the run left")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.rows, Path(args.scratch))))
        return
    if args.shared:
        print("| model (in run order, one cache) | window | XLA compiles | cache hits | compile s |\n|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as cache:
            for model in args.models:
                for where, r in measure(model, args.size, args.rows, Path(cache), ("run",))["run"].items():
                    print(f"| {model} | {where} | {r['compiles']} | {r['cache_hits']} | {r['compile_s']} |", flush=True)
        return
    print("| model | window | cold: XLA compiles | cold: compile s | warm: XLA compiles | warm: cache hits | warm: compile s |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        with tempfile.TemporaryDirectory() as cache:
            got = measure(model, args.size, args.rows, Path(cache))
        for where in got["cold"]:
            c, w = got["cold"][where], got["warm"].get(where, {"compiles": 0, "cache_hits": 0, "compile_s": 0})
            print(f"| {model} | {where} | {c['compiles']} | {c['compile_s']} | {w['compiles']} | {w['cache_hits']} | "
                  f"{w['compile_s']} |", flush=True)


if __name__ == "__main__":
    main()
