"""HSV colour-interval segmentation of one image (OpenCV): BGR -> HSV -> inRange(lower, upper) -> opening/closing
-> drop small components. The segment stage, the segmentation audit and `allrepro predict` all call it."""
from __future__ import annotations

import cv2
import numpy as np


def hsv_mask(bgr: np.ndarray, params: dict) -> np.ndarray:
    """uint8 mask (0 or 255) of the pixels inside the HSV interval, cleaned morphologically."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    mask = cv2.inRange(hsv, np.array(params["hsv_lower"], np.uint8), np.array(params["hsv_upper"], np.uint8))
    if params["open_kernel"] > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params["open_kernel"],) * 2)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    if params["close_kernel"] > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params["close_kernel"],) * 2)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    if params["min_area"] > 0:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        keep = np.zeros(n, bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= params["min_area"]
        mask = np.where(keep[labels], 255, 0).astype(np.uint8)
    return mask


def segment_image(bgr: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    mask = hsv_mask(bgr, params)
    return cv2.bitwise_and(bgr, bgr, mask=mask), mask
