"""An image as a model reads it: decoded, resized to size x size, RGB uint8 (the cache stage and `predict`)."""
from __future__ import annotations

import cv2
import numpy as np


INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                 "nearest": cv2.INTER_NEAREST}


def load_rgb(path: str, size: int, interpolation: str = "area") -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"{path}: unreadable image")
    return prepare(bgr, size, interpolation)


def prepare(bgr: np.ndarray, size: int, interpolation: str = "area") -> np.ndarray:
    """A decoded BGR image as a model reads it: resized to size x size, RGB uint8. `allrepro predict`
    calls this too, so new images are prepared exactly as the training and test images were."""
    if bgr.shape[:2] != (size, size):
        bgr = cv2.resize(bgr, (size, size), interpolation=INTERPOLATION[interpolation])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
