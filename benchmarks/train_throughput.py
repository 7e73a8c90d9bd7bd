"""Training throughput per backbone (images/s) at the papers' input sizes, each model as params.yaml
defines it (head, augmentation, the last phase's trainable layers), measured side by side in one run.
The ratio column compares every model with ResNet-50 measured in the same run.

    python benchmarks/train_throughput.py [--batch 16] [--steps 4] [--mixed-precision on|off] [MODEL ...]

On a GPU run it twice, with --mixed-precision on and off; --jit on turns on XLA.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import yaml  # noqa: E402

DEFAULT = ["idrees_efficientnetb3", "idrees_vgg16", "idrees_densenet121", "patel_densenet201", "idrees_resnet50",
           "patel_mobilenetv2", "patel_alexnet", "najjar_mseenet", "pushpalatha_resnet50"]


def throughput(spec: dict, batch: int, steps: int, jit: bool) -> tuple[float, float]:
    """(images/s over `steps` timed steps, seconds of the untimed first step: tracing and compiling)."""
    import keras
    from allrepro.models.build import build_model
    from allrepro.models.trainable import set_trainable
    from allrepro.train import optimizer

    keras.utils.set_random_seed(0)
    model, backbone = build_model({**spec, "weights": None}, 4)
    phase = spec["phases"][-1]
    set_trainable(backbone, phase.get("trainable", "all"))
    model.compile(optimizer=optimizer(phase, steps), loss="sparse_categorical_crossentropy", jit_compile=jit)
    size = spec["input_size"]
    x = np.random.default_rng(0).integers(0, 256, (batch * steps, size, size, 3), dtype=np.uint8)
    y = np.arange(batch * steps) % 4
    start = time.perf_counter()
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return batch * steps / (time.perf_counter() - start), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--mixed-precision", choices=["on", "off"], default="off")
    ap.add_argument("--jit", choices=["on", "off"], default="off")
    ap.add_argument("--params", default=os.path.join(os.path.dirname(__file__), "..", "params.yaml"))
    args = ap.parse_args()

    import keras
    from allrepro import runtime

    keras.mixed_precision.set_global_policy("mixed_float16" if args.mixed_precision == "on" else "float32")
    models = yaml.safe_load(open(args.params))["models"]
    print(f"backend {keras.backend.backend()}, {runtime.gpu_count()} GPU, {os.cpu_count()} CPU cores, "
          f"batch {args.batch}, {args.steps} timed steps, mixed precision {args.mixed_precision}, XLA {args.jit}")
    print("| model | backbone | input px | images/s | vs ResNet-50 | first step s |")
    print("|---|---|---|---|---|---|")
    results = {}
    for name in args.models:
        results[name] = throughput(models[name], args.batch, args.steps, args.jit == "on")
    ref = next((results[n][0] for n in results if models[n]["backbone"] == "resnet50"), None)
    for name, (ips, first) in results.items():
        ratio = f"{ips / ref:.2f}" if ref else "-"
        print(f"| {name} | {models[name]['backbone']} | {models[name]['input_size']} | {ips:.1f} | {ratio} | "
              f"{first:.0f} |", flush=True)


if __name__ == "__main__":
    main()
