"""Controlled, seeded perturbations of a test image: what another stain batch, microscope lamp, camera or
compression would change, for the robustness evaluation (`evaluate.shift` in params.yaml).

Each perturbation is applied to the image as read (the file the split names: the segmented image in
experiments on segmented images), before it is resized to the model's input, so every model and the
colour-only baseline see the same shifted image. Kinds:

- `hed`: stain jitter in the haematoxylin–eosin–DAB space of Ruifrok & Johnston (scikit-image's rgb2hed /
  hed2rgb), each stain channel scaled by U(1 − σ, 1 + σ) and shifted by U(−σ, σ) (Tellez et al. 2018's HED
  augmentation), added to the image as the change it makes; `sigma` is the strength.
- `brightness_contrast`: a gain U(1 − contrast, 1 + contrast) about the image's mean, then an offset of
  U(−brightness, brightness) × 255.
- `jpeg`: re-encoded as JPEG at `quality` (OpenCV), as another program or scanner would save it.
- `blur`: a Gaussian blur of `sigma` pixels (a slightly defocused microscope).

Random draws come from a generator seeded with (seed, the image's row in the part, the perturbation's name):
the same params give the same shifted images, whatever the order they are made in.
"""
from __future__ import annotations

import zlib

import cv2
import numpy as np

KINDS = ("hed", "brightness_contrast", "jpeg", "blur")


def rng_for(seed: int, row: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(row), zlib.crc32(name.encode())])


def perturb(rgb: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 image (H, W, 3) under the perturbation `spec` ({kind: ..., its strength}); RGB uint8."""
    kind = spec["kind"]
    if kind == "hed":
        from skimage.color import hed2rgb, rgb2hed

        sigma = float(spec["sigma"])
        hed = rgb2hed(rgb)
        moved = hed2rgb(hed * rng.uniform(1 - sigma, 1 + sigma, 3) + rng.uniform(-sigma, sigma, 3))
        # added as a change to the image: scikit-image's round trip is not exact (it clips negative stain
        # amounts), so the image moves by the jitter alone and σ = 0 leaves it as it was
        return np.clip(np.rint(rgb + (moved - hed2rgb(hed)) * 255), 0, 255).astype(np.uint8)
    if kind == "brightness_contrast":
        gain = rng.uniform(1 - float(spec["contrast"]), 1 + float(spec["contrast"]))
        offset = rng.uniform(-float(spec["brightness"]), float(spec["brightness"])) * 255
        x = rgb.astype(np.float64)
        mean = x.mean()
        return np.clip(np.rint((x - mean) * gain + mean + offset), 0, 255).astype(np.uint8)
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(spec["quality"])])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    if kind == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), float(spec["sigma"]))
    raise ValueError(f"evaluate.shift.perturbations: unknown kind {kind!r} (one of {', '.join(KINDS)})")


def shifted(images: list[np.ndarray], name: str, spec: dict, seed: int) -> list[np.ndarray]:
    """Every image of a part (RGB uint8, as read) under one perturbation, each with its own seeded draw."""
    return [perturb(img, spec, rng_for(seed, i, name)) for i, img in enumerate(images)]
