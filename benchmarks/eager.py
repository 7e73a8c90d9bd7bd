"""Traced (graph) against eager training for a job of a handful of steps — the smoke profile's: every phase of a
paper network, one step of 32 generated images at its input size, then a prediction — measured side by side in
one run, one process per mode (TensorFlow keeps a traced function for the life of a process). It is why
`train.run_eagerly: auto` trains eagerly on a CPU when a whole job is at most runtime.EAGER_STEPS steps.

    python benchmarks/eager.py [MODEL ...]     # default: idrees_efficientnetb3 patel_densenet201

Prints seconds per mode (build, fit, predict) and the ratio graph / eager of the whole job.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(name: str, eager: bool) -> dict:
    """In this process: build the model, fit each phase for one step (and a validation pass), predict."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import yaml

    from allrepro.models.build import build_model
    from allrepro.models.trainable import set_trainable

    spec = {**yaml.safe_load((ROOT / "params.yaml").read_text())["models"][name], "weights": None}
    size = spec["input_size"]
    x = np.random.default_rng(0).integers(0, 255, (32, size, size, 3), dtype=np.uint8)
    y = np.arange(32) % 4
    start = time.perf_counter()
    model, backbone = build_model(spec, 4)
    built = time.perf_counter()
    for phase in spec["phases"]:
        set_trainable(backbone, phase.get("trainable", "all"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=eager)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, validation_data=(x[:8], y[:8]))
    fitted = time.perf_counter()
    model.predict(x, batch_size=64, verbose=0)
    done = time.perf_counter()
    return {"build": built - start, "fit": fitted - built, "predict": done - fitted, "total": done - start,
            "phases": len(spec["phases"])}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(one(argv[1], argv[2] == "eager")))
        return
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    avx512 = "avx512f" in Path("/proc/cpuinfo").read_text()
    print(f"{os.cpu_count()} cores, {cpu}, AVX-512: {'yes' if avx512 else 'no'}")
    for name in argv or ["idrees_efficientnetb3", "patel_densenet201"]:
        rows = {}
        for mode in ("graph", "eager"):
            out = subprocess.run([sys.executable, __file__, "--one", name, mode], capture_output=True, text=True,
                                 check=True).stdout
            rows[mode] = json.loads(out.strip().splitlines()[-1])
            r = rows[mode]
            print(f"{name:24s} {mode}: build {r['build']:6.1f} s  fit ({r['phases']} phase(s)) {r['fit']:6.1f} s  "
                  f"predict {r['predict']:5.1f} s  total {r['total']:6.1f} s")
        print(f"{name:24s} graph / eager: {rows['graph']['total'] / rows['eager']['total']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
