"""Backend-neutral runtime set-up: seeds, op determinism, accelerator detection, precision, XLA,
and the facts a training job records about where it ran (device name, peak accelerator memory)."""
from __future__ import annotations

import os


def backend() -> str:
    import keras  # here, not at the top: stages that only read this module's helpers skip Keras' 5 s import

    return keras.backend.backend()


def accelerators() -> list[dict]:
    """The visible GPUs: [{'name': ..., 'compute_capability': (major, minor)}], [] on a CPU."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf
        out = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            out.append({"name": details.get("device_name", gpu.name),
                        "compute_capability": tuple(details.get("compute_capability") or (0, 0))})
        return out
    if name == "jax":
        import jax
        return [{"name": d.device_kind,
                 "compute_capability": tuple(int(v) for v in str(getattr(d, "compute_capability", "0.0")).split("."))}
                for d in jax.devices() if d.platform == "gpu"]
    if name == "torch":
        import torch
        return [{"name": torch.cuda.get_device_name(i), "compute_capability": torch.cuda.get_device_capability(i)}
                for i in range(torch.cuda.device_count())]
    return []


def gpu_count() -> int:
    return len(accelerators())


def device_name() -> str:
    gpus = accelerators()
    if gpus:
        return gpus[0]["name"] + (f" x{len(gpus)}" if len(gpus) > 1 else "")
    import platform
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def precision_policy(setting, gpus: list[dict]) -> str:
    """train.mixed_precision -> a Keras dtype policy.

    auto: mixed on a GPU, float32 on a CPU. Mixed means bfloat16 where the hardware computes in it
    (compute capability 8.0 and up: A100, H100; and CPUs, where XLA emulates it), float16 on older GPUs
    (V100, T4), whose tensor cores have no bfloat16. bfloat16 needs no loss scaling."""
    if setting in ("auto", None):
        setting = bool(gpus)
    if setting is False:
        return "float32"
    if setting in ("bfloat16", "float16"):
        return f"mixed_{setting}"
    old_gpu = gpus and min(g["compute_capability"] for g in gpus) < (8, 0)
    return "mixed_float16" if old_gpu else "mixed_bfloat16"


def _deterministic(name: str) -> None:
    if name == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
    elif name == "jax":
        # XLA's deterministic GPU kernels (scatter, reductions, convolution algorithms); read when the
        # backend starts, so this must run before anything asks JAX for its devices.
        flag = "--xla_gpu_deterministic_ops=true"
        if flag not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()


KEY_PACKAGES = ("allrepro", "keras", "tensorflow", "jax", "jaxlib", "numpy", "scikit-learn", "opencv-python-headless")


def versions() -> dict:
    """The installed versions of the packages a trained model depends on (requirements.lock pins them;
    this records what actually ran). Absent packages are left out."""
    from importlib import metadata

    out = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def limit_threads() -> int | None:
    """Hold TensorFlow to the threads Snakemake gave the job (ALLREPRO_WORKERS; unset: every core), before any
    op runs. The thread count changes the float sums, so it is recorded with the model (README: what is
    identical). JAX is not limited here: XLA's CPU thread pool is fixed when JAX starts."""
    threads = int(os.environ.get("ALLREPRO_WORKERS", 0)) or None
    if threads and backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return threads or os.cpu_count()


def configure(train_cfg: dict) -> dict:
    """Seed everything, make ops deterministic on request, pick precision and XLA. Returns the choices."""
    seed = train_cfg["seed"]
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    threads = limit_threads()
    import keras

    keras.utils.set_random_seed(seed)
    deterministic = train_cfg.get("deterministic", True)
    if deterministic:
        _deterministic(backend())
    gpus = accelerators()
    jit = train_cfg.get("jit_compile")
    jit = bool(gpus) if jit in ("auto", None) else bool(jit)
    policy = precision_policy(train_cfg.get("mixed_precision"), gpus)
    keras.mixed_precision.set_global_policy(policy)
    return {"backend": backend(), "gpus": len(gpus), "device": device_name(), "precision": policy,
            "mixed_precision": policy != "float32", "jit_compile": jit, "deterministic": bool(deterministic),
            "seed": seed, "threads": threads, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "versions": versions()}


# Graph mode traces the train and test functions once per compile (each phase): minutes for a 200-layer network on
# a CPU, about as long as 30-60 of its steps. A job of fewer steps than this runs faster eagerly (the smoke profile:
# one step per phase; DenseNet-201 at 224 px, 1 step of 32 images: 281 s traced, 127 s eagerly, benchmarks/eager.py).
EAGER_STEPS = 32


def run_eagerly(choice, total_steps: int, setup: dict) -> bool:
    """train.run_eagerly: auto = eagerly on a CPU without XLA when the whole job is at most EAGER_STEPS steps."""
    if choice in ("auto", None):
        return not setup["gpus"] and not setup["jit_compile"] and total_steps <= EAGER_STEPS
    return bool(choice)


EAGER_PREDICT_STEPS = 4


def eager_predict(batches: int) -> bool:
    """Predict eagerly on a CPU when a job has at most EAGER_PREDICT_STEPS batches to predict (each part's shapes
    traced once would cost more than the steps: a smoke run's 32 test images, the tiny test project's parts)."""
    return gpu_count() == 0 and batches <= EAGER_PREDICT_STEPS


def compile_counter() -> dict:
    """Counts, from now on, the XLA compilations JAX makes in this process and those it loads from its persistent
    cache (JAX_COMPILATION_CACHE_DIR), with the seconds both took: recorded with a trained model, so a GPU run's
    compile time per model is measured, not inferred. Empty under other backends."""
    counts: dict = {}
    if backend() != "jax":
        return counts
    from jax import monitoring

    counts.update(xla_compiles=0, cache_hits=0, compile_s=0.0)

    def on_event(name, **_):
        if name == "/jax/compilation_cache/cache_hits":
            counts["cache_hits"] += 1
            counts["xla_compiles"] -= 1  # its backend-compile event below was a load

    def on_duration(name, secs, **_):
        if name == "/jax/core/compile/backend_compile_duration":
            counts["xla_compiles"] += 1
            counts["compile_s"] = round(counts["compile_s"] + secs, 2)

    monitoring.register_event_listener(on_event)
    monitoring.register_event_duration_secs_listener(on_duration)
    return counts


def peak_memory_mib() -> float | None:
    """Peak accelerator memory this process has used so far (MiB); None on a CPU."""
    name = backend()
    try:
        if name == "jax":
            import jax
            gpu = [d for d in jax.local_devices() if d.platform == "gpu"]
            stats = gpu[0].memory_stats() if gpu else None
            return round(stats["peak_bytes_in_use"] / 2**20, 1) if stats else None
        if name == "tensorflow":
            import tensorflow as tf
            if not tf.config.list_physical_devices("GPU"):
                return None
            return round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
        if name == "torch":
            import torch
            return round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None
    except (KeyError, RuntimeError, ValueError):
        return None
    return None


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
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=keras.distribution.list_devices("gpu")))
    return contextlib.nullcontext()
