"""One training step of each given model with the GPU settings forced on (XLA, mixed precision), in this
process's Keras backend: `KERAS_BACKEND=jax python tests/one_step.py SIZE MODEL...` prints one JSON line per
model. Run as a script by tests/test_gpu_settings.py, once per backend (a backend is chosen at import)."""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from allrepro import params, runtime
from allrepro.models.build import build_model
from allrepro.models.trainable import set_trainable
from allrepro.train import optimizer


def one_step(spec: dict, size: int, n_classes: int = 4) -> dict:
    spec = {**spec, "input_size": size, "weights": None}
    model, backbone = build_model(spec, n_classes)
    phase = spec["phases"][-1]  # the last phase trains the most layers
    set_trainable(backbone, phase.get("trainable", "all"))
    model.compile(optimizer=optimizer(phase, 1), loss="sparse_categorical_crossentropy", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    y = np.arange(2) % n_classes
    start = time.perf_counter()
    loss = model.train_on_batch(x, y)
    return {"loss": float(np.ravel(loss)[0]), "seconds": round(time.perf_counter() - start, 1),
            "compute_dtype": model.layers[-1].compute_dtype, "policy": model.dtype_policy.name}


def main() -> None:
    size, names = int(sys.argv[1]), sys.argv[2:]
    cfg = params.load("params.yaml", ["profile=paper"])
    setup = runtime.configure({"seed": 0, "deterministic": False, "mixed_precision": True, "jit_compile": True})
    for name in names:
        print(json.dumps({"model": name, "backend": setup["backend"], "precision": setup["precision"],
                          **one_step(params.model_spec(cfg, name), size)}), flush=True)


if __name__ == "__main__":
    main()
