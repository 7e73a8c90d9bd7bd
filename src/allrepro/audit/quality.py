"""Data quality: every image is opened once and classified as fine or as one kind of bad file.

Kinds: unreadable (no decoder takes it), truncated (the decoder stops before the end), grayscale,
alpha (RGBA), cmyk, 16-bit (any channel deeper than 8 bits), size (not the dataset's `image_size`).
The policy `data.on_bad_file` decides what happens: `fail` stops acquire, naming every bad file;
`skip` leaves them out of the manifest and lists them in data/raw/<dataset>/bad_files.csv.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

BAD_KINDS = ("unreadable", "truncated", "grayscale", "alpha", "cmyk", "16-bit", "size")


def inspect_image(path: str | Path, image_size: list[int] | None = None) -> tuple[str, str, np.ndarray | None]:
    """(kind, detail, decoded image): kind is "" for a good image, else one of BAD_KINDS."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must raise, not be padded with grey
    try:
        with Image.open(path) as im:
            mode = im.mode
            im.load()
    except (UnidentifiedImageError, SyntaxError) as exc:
        return "unreadable", f"{type(exc).__name__}: {exc}", None
    except OSError as exc:
        kind = "truncated" if "truncated" in str(exc).lower() or "broken" in str(exc).lower() else "unreadable"
        return kind, str(exc), None
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        return "unreadable", "OpenCV cannot decode it", None
    channels = 1 if image.ndim == 2 else image.shape[2]
    if image.dtype != np.uint8:
        return "16-bit", f"{image.dtype}, PIL mode {mode}", image
    if mode == "CMYK":
        return "cmyk", mode, image
    if channels in (2, 4) or mode in ("RGBA", "LA", "PA"):
        return "alpha", f"{channels} channels, PIL mode {mode}", image
    if channels == 1 or mode in ("L", "1"):
        return "grayscale", mode, image
    if image_size and [image.shape[1], image.shape[0]] != list(image_size):
        return "size", f"{image.shape[1]}x{image.shape[0]}, expected {image_size[0]}x{image_size[1]}", image
    return "", mode, image
