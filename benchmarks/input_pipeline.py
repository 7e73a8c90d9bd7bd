"""Input pipeline: allrepro's cached uint8 arrays + Keras augmentation layers, against the papers'
ImageDataGenerator path (decode JPEGs from class folders every epoch), on the same images, the same
augmentation (idrees Table 3, EfficientNet-B3 row) and the same batch size. Prints images/s of each
and the ratio, measured side by side in one run.

    python benchmarks/input_pipeline.py [--images 512] [--epochs 3] [--size 224]

Uses the real images under data/raw/dataset when the pipeline has acquired them, else generated ones.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
AUG = {"flip": "horizontal_and_vertical", "rotation": 8 / 360, "shift": 0.08, "shear": 0.08, "zoom": 0.08,
       "brightness": 0.05}


def image_folder(n: int, dest: Path) -> tuple[Path, str]:
    """n images in class folders: real ones when acquired, else generated smear-like fields."""
    manifest = ROOT / "data/raw/manifest.csv"
    if manifest.is_file():
        rows = pd.read_csv(manifest).groupby("class").head(n // 4 + 1).head(n)
        for _, r in rows.iterrows():
            (dest / r["class"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / r["path"], dest / r["class"] / Path(r["path"]).name)
        return dest, f"{len(rows)} real images from data/raw"
    from conftest import cell_image
    for i in range(n):
        (dest / f"c{i % 4}").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dest / f"c{i % 4}" / f"{i:04d}.jpg"), cell_image(i % 4, i, 224))
    return dest, f"{n} generated 224x224 JPEGs"


def compiled(fn):
    """The backend's graph compiler, as model.fit uses it (augmentation layers live in the model)."""
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        return tf.function(fn, reduce_retracing=True)
    if keras.backend.backend() == "jax":
        import jax
        return jax.jit(fn)
    return fn


def ours(folder: Path, size: int, batch: int, epochs: int) -> tuple[float, float]:
    """Returns (images/s over the epochs, seconds to build the cache once)."""
    import keras
    from allrepro.images import load_rgb
    from allrepro.models.build import augmentation

    paths = sorted(str(p) for p in folder.rglob("*.jpg"))
    start = time.perf_counter()
    cache = np.stack([load_rgb(p, size) for p in paths])  # the cache stage: decode + resize once
    build = time.perf_counter() - start
    layers = keras.Sequential([keras.layers.Rescaling(1.0), *augmentation(AUG)])
    augment = compiled(lambda x: layers(x, training=True))  # as inside model.fit's compiled train step
    rng = np.random.default_rng(0)
    augment(cache[:batch])  # build and trace outside the timing
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        order = rng.permutation(len(cache))
        for i in range(0, len(order), batch):
            out = augment(cache[np.sort(order[i:i + batch])])
            seen += int(out.shape[0])
    return seen / (time.perf_counter() - start), build


def baseline(folder: Path, size: int, batch: int, epochs: int) -> float:
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(rotation_range=8, width_shift_range=0.08, height_shift_range=0.08, shear_range=0.08,
                             zoom_range=0.08, horizontal_flip=True, vertical_flip=True, brightness_range=(0.95, 1.05),
                             fill_mode="nearest")
    flow = gen.flow_from_directory(str(folder), target_size=(size, size), batch_size=batch, seed=0)
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for i in range(len(flow)):
            seen += len(flow[i][0])
        flow.on_epoch_end()
    return seen / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, what = image_folder(args.images, Path(tmp))
        base = baseline(folder, args.size, args.batch, args.epochs)
        fast, build = ours(folder, args.size, args.batch, args.epochs)
    import keras
    per_epoch_build = build / 30  # the cache is built once; a paper protocol runs 30-40 epochs on it
    amortised = args.images / (args.images / fast + per_epoch_build)
    print(f"input pipeline, {what}, {args.size}px, batch {args.batch}, {args.epochs} epochs, "
          f"Keras backend {keras.backend.backend()}, {os.cpu_count()} CPU cores")
    print(f"  ImageDataGenerator (decode every epoch): {base:8.1f} images/s")
    print(f"  allrepro cache + augmentation layers:    {fast:8.1f} images/s   ratio {fast / base:.2f}x")
    print(f"  same, cache build ({build:.1f} s once) amortised over 30 epochs: {amortised:8.1f} images/s   "
          f"ratio {amortised / base:.2f}x")


if __name__ == "__main__":
    main()
