"""segment: HSV mask on generated images, and byte-identical output across runs."""
from __future__ import annotations

import copy

import numpy as np
import yaml

from allrepro.segment import hsv_mask, segment_image
from conftest import ROOT, cell_image

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())["segment"]


def test_mask_keeps_the_violet_nucleus_and_drops_the_background():
    image = cell_image(label=3, index=0, size=64)
    violet = (np.abs(image.astype(int) - (160, 50, 90)).sum(axis=2) < 40)
    mask = hsv_mask(image, PARAMS) > 0
    assert violet.sum() > 50
    agreement = (mask & violet).sum() / (mask | violet).sum()
    assert agreement > 0.9, agreement


def test_segmented_image_is_black_outside_the_mask():
    image = cell_image(label=1, index=2, size=64)
    masked, mask = segment_image(image, PARAMS)
    assert (masked[mask == 0] == 0).all()
    assert (masked[mask > 0] == image[mask > 0]).all()


def test_min_area_drops_specks():
    image = np.full((40, 40, 3), (200, 180, 235), np.uint8)
    image[5:7, 5:7] = (160, 50, 90)       # a 4-pixel speck
    image[20:32, 20:32] = (160, 50, 90)   # a nucleus
    params = copy.deepcopy(PARAMS)
    params.update(open_kernel=0, close_kernel=0, min_area=10)
    mask = hsv_mask(image, params)
    assert mask[5:7, 5:7].max() == 0 and mask[20:32, 20:32].min() == 255
