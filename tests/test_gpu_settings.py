"""The GPU settings (XLA on, mixed precision) compile and train every network shape of params.yaml, under
TensorFlow and under JAX, on the CPU: one step each. A layer without an XLA kernel (TensorFlow's image
warp was one) fails here, not on a user's GPU."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

SIZE = 128  # the networks' layers are those of their paper input size; a smaller image keeps CPU steps short


def covering_models() -> list[str]:
    """Models of params.yaml such that every backbone, every head and every augmentation appears at least
    once (compiling all combinations would repeat the same backbones for an hour)."""
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    seen, chosen = set(), []
    for name, spec in models.items():
        keys = {("backbone", spec["backbone"]), ("head", json.dumps(spec.get("head"), sort_keys=True)),
                ("augment", json.dumps(spec.get("augment"), sort_keys=True))}
        if keys - seen:
            chosen.append(name)
            seen |= keys
    return chosen


@pytest.mark.xla
def test_every_network_shape_trains_one_step_with_xla_and_mixed_precision():
    models = covering_models()
    procs = {backend: subprocess.Popen([sys.executable, "tests/one_step.py", str(SIZE), *models], cwd=ROOT,
                                       env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""},
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for backend in ("tensorflow", "jax")}  # in parallel: XLA compiles on one core each
    for backend, proc in procs.items():
        out, err = proc.communicate(timeout=1700)
        assert proc.returncode == 0, f"{backend}:\n{err[-4000:]}"
        rows = {r["model"]: r for r in map(json.loads, out.splitlines())}
        assert sorted(rows) == sorted(models), backend
        for name, row in rows.items():
            assert row["backend"] == backend and row["policy"] == "mixed_bfloat16", row
            assert math.isfinite(row["loss"]), row
