"""What a TensorFlow job pays before its work starts: `import keras` in a fresh process, as every `allrepro train`,
`evaluate`, `export` and `predict` does, with JAX importable (what TensorFlow's own import then loads: TFLite's
optional `from jax import jit`) and with JAX refused the way the `allrepro` command refuses it under the
TensorFlow backend (cli._no_jax_under_tensorflow). The two are run alternately, side by side in one run, so that
whatever else the machine does weighs on both.

    python benchmarks/startup.py [ROUNDS]     # default: 5 rounds of each

Prints the median wall and CPU seconds of each and the ratio with / without JAX.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {"jax importable": "import keras",
         "jax refused": "import sys; sys.modules['jax'] = None; import keras"}


def once(code: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stderr=subprocess.DEVNULL,  # TensorFlow's start-up lines
                   env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    once(CASES["jax importable"])  # the files into the page cache, for both
    runs: dict[str, list] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, code in CASES.items():
            runs[name].append(once(code))
    med = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in runs.items()}
    for name, (wall, cpu) in med.items():
        print(f"{name:15s} import keras: {wall:5.2f} s wall, {cpu:5.2f} s CPU (median of {rounds})")
    (w1, c1), (w2, c2) = med["jax importable"], med["jax refused"]
    print(f"ratio importable / refused: {w1 / w2:.2f} wall, {c1 / c2:.2f} CPU; {w1 - w2:.2f} s saved per job")


if __name__ == "__main__":
    main()
