"""Data quality: every kind of bad file is found, named under `fail`, left out and listed under `skip`,
and the stages after acquire run on what is left."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from allrepro.audit.quality import BAD_KINDS, inspect_image
from conftest import make_project, project_env, run, tiny_params, write_dataset, zip_folder


def write_bad_files(root) -> dict[str, str]:
    """One file of each bad kind among the generated images; returns {kind: relative path}."""
    folder = root / "Original"
    good = cv2.imread(str(folder / "Early" / "Early-000.jpg"))
    bad = {}

    def put(kind, cls, name, writer):
        path = folder / cls / name
        writer(path)
        bad[kind] = f"Original/{cls}/{name}"

    put("unreadable", "Benign", "x-unreadable.jpg", lambda p: p.write_bytes(b"definitely not a jpeg"))
    data = cv2.imencode(".jpg", good)[1].tobytes()
    put("truncated", "Benign", "x-truncated.jpg", lambda p: p.write_bytes(data[: len(data) // 2]))
    put("grayscale", "Early", "x-gray.png", lambda p: cv2.imwrite(str(p), cv2.cvtColor(good, cv2.COLOR_BGR2GRAY)))
    put("alpha", "Early", "x-rgba.png", lambda p: cv2.imwrite(str(p), cv2.cvtColor(good, cv2.COLOR_BGR2BGRA)))
    put("cmyk", "Pre", "x-cmyk.jpg", lambda p: Image.fromarray(good[:, :, ::-1]).convert("CMYK").save(p))
    put("16-bit", "Pre", "x-16bit.png", lambda p: cv2.imwrite(str(p), good.astype(np.uint16) * 257))
    put("size", "Pro", "x-size.jpg", lambda p: cv2.imwrite(str(p), cv2.resize(good, (60, 40))))
    return bad


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    src = write_dataset(root / "src", 6, reference=None)
    bad = write_bad_files(src)
    assert sorted(bad) == sorted(BAD_KINDS)
    return root, src, bad


def test_each_kind_is_recognised(bad_dataset):
    _, src, bad = bad_dataset
    for kind, rel in bad.items():
        assert inspect_image(src / rel, [48, 48])[0] == kind, rel
    assert inspect_image(src / "Original/Pro/Pro-000.jpg", [48, 48])[0] == ""


def project_for(root, name, src, policy):
    cfg = tiny_params(n_per_class=6)
    cfg["data"]["on_bad_file"] = policy
    cfg["datasets"]["mehradaria"].update(image_size=[48, 48], reference_masks=None,
                                         expected_counts={"Benign": 8, "Early": 8, "Pre": 8, "Pro": 7})  # 6 + bad ones
    archive = zip_folder(src, root / f"{name}.zip")
    return make_project(root / name, cfg, archive), project_env(archive)


def test_fail_names_every_bad_file_and_leaves_nothing(bad_dataset):
    root, src, bad = bad_dataset
    project, env = project_for(root, "fail", src, "fail")
    out = run(["allrepro", "acquire", "--dataset", "mehradaria"], project, env, check=False)
    assert out.returncode == 2
    for kind, rel in bad.items():
        assert f"{rel}: {kind}" in out.stderr, (kind, out.stderr)
    assert not (project / "data/raw/mehradaria").exists() or not any((project / "data/raw/mehradaria").iterdir())


def test_skip_lists_them_and_the_run_goes_on(bad_dataset):
    root, src, bad = bad_dataset
    project, env = project_for(root, "skip", src, "skip")
    run(["allrepro", "acquire", "--dataset", "mehradaria"], project, env)
    listed = pd.read_csv(project / "data/raw/mehradaria/bad_files.csv")
    assert dict(zip(listed["kind"], listed["path"].str.split("dataset/").str[1])) == bad
    manifest = pd.read_csv(project / "data/raw/mehradaria/manifest.csv")
    assert len(manifest) == 24 and not set(manifest["path"]) & set(listed["path"])
    for stage, arg in (("segment", "--dataset mehradaria"), ("duplicates", "--dataset mehradaria"),
                       ("split", "--experiment idrees")):
        run(["allrepro", stage, *arg.split()], project, env)
    parts = [pd.read_csv(project / f"data/processed/idrees/split/{p}.csv") for p in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 24
