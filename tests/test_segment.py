"""segment: HSV mask on generated images, and byte-identical output across runs."""
from __future__ import annotations

import copy

import numpy as np
import yaml

from allrepro.hsv import hsv_mask, segment_image
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


def test_a_segment_killed_with_sigkill_leaves_no_temporary_folder_after_the_next_run(tmp_path):
    """`kill -9` during segment leaves `.segmented.tmp-<pid>` (nothing can clean up after SIGKILL); the next
    run of the stage removes it and finishes."""
    import os
    import signal
    import subprocess
    import time

    from conftest import project_env, run, tiny_params, write_dataset, zip_folder

    data = zip_folder(write_dataset(tmp_path / "src", 120, size=160), tmp_path / "data.zip")
    cfg = tiny_params(120)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**project_env(data), "ALLREPRO_WORKERS": "1"}
    run(["allrepro", "acquire", "--dataset", "mehradaria"], tmp_path, env)
    interim = tmp_path / "data/interim/mehradaria"
    proc = subprocess.Popen(["allrepro", "segment", "--dataset", "mehradaria"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(interim.glob(".segmented.tmp-*/images/**/*.png")) and time.monotonic() < deadline:
        assert proc.poll() is None, "segment finished before it could be killed: give it more images"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the job and its pool workers, as a scheduler's kill does
    proc.wait()
    left = list(interim.glob(".segmented.tmp-*"))
    assert left and not (interim / "segmented").exists()  # what the kill leaves: a temporary folder only
    run(["allrepro", "segment", "--dataset", "mehradaria"], tmp_path, env)
    assert not list(interim.glob(".*tmp*")), list(interim.iterdir())
    assert len(list((interim / "segmented/images").rglob("*.png"))) == 480
