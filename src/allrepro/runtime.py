"""Backend-neutral runtime set-up: seeds, op determinism, accelerator detection, mixed precision."""
from __future__ import annotations

import os

import keras


def backend() -> str:
    return keras.backend.backend()


def gpu_count() -> int:
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf
        return len(tf.config.list_physical_devices("GPU"))
    if name == "jax":
        import jax
        return sum(d.platform == "gpu" for d in jax.devices())
    if name == "torch":
        import torch
        return torch.cuda.device_count()
    return 0


def configure(train_cfg: dict) -> dict:
    """Seed everything, make ops deterministic on request, pick precision and XLA. Returns the choices."""
    seed = train_cfg["seed"]
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    if train_cfg.get("deterministic", True) and backend() == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
    gpus = gpu_count()

    def choose(value):
        return gpus > 0 if value in ("auto", None) else bool(value)

    mixed, jit = choose(train_cfg.get("mixed_precision")), choose(train_cfg.get("jit_compile"))
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    return {"backend": backend(), "gpus": gpus, "mixed_precision": mixed, "jit_compile": jit, "seed": seed}


def distribution(setup: dict):
    """Data-parallel training over every visible GPU when there are several; a no-op context otherwise.

    TensorFlow: MirroredStrategy (model building, compile and fit inside its scope).
    JAX: keras.distribution.DataParallel, set globally for the process."""
    import contextlib

    if setup["gpus"] < 2:
        return contextlib.nullcontext()
    if setup["backend"] == "tensorflow":
        import tensorflow as tf
        return tf.distribute.MirroredStrategy().scope()
    if setup["backend"] == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=keras.distribution.list_devices("gpu")))
    return contextlib.nullcontext()
