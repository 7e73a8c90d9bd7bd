"""segment: HSV colour-interval segmentation of every image (OpenCV).

BGR -> HSV -> inRange(lower, upper) -> opening/closing -> drop small components -> the image with a
black background, and the mask. PNG output, so the bytes depend only on the input and the params.
"""
from __future__ import annotations

import os
from multiprocessing import Pool
from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm

from allrepro.fileio import atomic_path, sha256_file, write_csv
from allrepro.hsv import segment_image


def _one(job: tuple[str, str, str, dict]) -> dict:
    src, image_out, mask_out, params = job
    bgr = cv2.imread(src, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"{src}: unreadable image")
    masked, mask = segment_image(bgr, params)
    for path, array in ((image_out, masked), (mask_out, mask)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(path, array):
            raise RuntimeError(f"{path}: could not write")
    return {"foreground": round(float((mask > 0).mean()), 6)}


def segment(cfg: dict, inputs: dict, outputs: dict, dataset: str, workers: int | None = None) -> None:
    params = cfg["segment"]
    manifest, out_dir, out_manifest = inputs["manifest"], outputs["images"], outputs["manifest"]
    raw = pd.read_csv(manifest)
    # Snakemake passes its thread count in ALLREPRO_WORKERS (the stage record's env)
    workers = max(1, workers or int(os.environ.get("ALLREPRO_WORKERS", 0)) or os.cpu_count() or 1)
    with atomic_path(out_dir) as tmp:
        rel = [Path(p).relative_to(inputs["dataset"]) for p in raw["path"]]
        names = [r.with_suffix(".png") for r in rel]
        jobs = [(p, str(tmp / "images" / n), str(tmp / "masks" / n), params) for p, n in zip(raw["path"], names)]
        with Pool(workers) as pool:
            stats = list(tqdm(pool.imap(_one, jobs, chunksize=16), total=len(jobs), desc="segment",
                              unit="img", mininterval=2))
        out = pd.DataFrame({
            "path": [f"{out_dir}/images/{n.as_posix()}" for n in names],
            "mask": [f"{out_dir}/masks/{n.as_posix()}" for n in names],
            "source": raw["path"],
            "class": raw["class"],
            "sha256": [sha256_file(j[1]) for j in jobs],
            "foreground": [s["foreground"] for s in stats],
        })
    write_csv(out, out_manifest)
    print(f"segment {dataset}: {len(out)} images with {workers} workers -> {out_dir}; "
          f"median foreground {out['foreground'].median():.3f}")
