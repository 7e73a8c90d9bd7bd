"""acquire: every source kind, and every failure with a message naming the cause, leaving nothing behind."""
from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allrepro.acquire import AcquireError, acquire
from allrepro.pipeline import outputs
from allrepro.fileio import sha256_file
from conftest import CLASSES, ROOT, write_dataset, zip_folder

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


def cfg_for(n: int = 4) -> dict:
    """The mehradaria dataset block, expecting n images per class."""
    data = copy.deepcopy(BASE["datasets"]["mehradaria"])
    data["expected_counts"] = {c: n for c in CLASSES}
    data["image_size"] = [48, 48]  # write_dataset's default
    return data


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_nothing_left(project: Path):
    raw = project / "data" / "raw"
    left = sorted(p.name for p in raw.rglob("*") if not p.is_dir()) if raw.exists() else []
    assert left == [], f"left behind: {left}"


def test_zip_source_writes_manifest(project):
    archive = zip_folder(write_dataset(project / "src", 4), project / "d.zip")
    acquire(cfg_for(), f"file:{archive}", "mehradaria", outputs("acquire", ds="mehradaria"))
    manifest = pd.read_csv(project / "data/raw/mehradaria/manifest.csv")
    assert list(manifest.columns) == ["path", "class", "group", "sha256", "width", "height"]
    assert manifest["class"].value_counts().to_dict() == {c: 4 for c in CLASSES}
    first = manifest.iloc[0]
    assert sha256_file(project / first["path"]) == first["sha256"] and first["width"] == 48


def test_folder_source(project):
    acquire(cfg_for(), f"file:{write_dataset(project / 'src', 4)}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert len(pd.read_csv(project / "data/raw/mehradaria/manifest.csv")) == 16


def test_checksum_mismatch(project):
    archive = zip_folder(write_dataset(project / "src", 4), project / "d.zip")
    cfg = cfg_for()
    cfg["sha256"] = "0" * 64
    with pytest.raises(AcquireError, match="sha256 mismatch"):
        acquire(cfg, f"file:{archive}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_missing_class_folder(project):
    src = write_dataset(project / "src", 4)
    for f in (src / "Original" / "Pre").iterdir():
        f.unlink()
    (src / "Original" / "Pre").rmdir()
    with pytest.raises(AcquireError, match="missing class folder.*Pre"):
        acquire(cfg_for(), f"file:{zip_folder(src, project / 'd.zip')}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_wrong_count(project):
    archive = zip_folder(write_dataset(project / "src", 3), project / "d.zip")
    with pytest.raises(AcquireError, match="Benign: 3 images, expected 4"):
        acquire(cfg_for(), f"file:{archive}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_unreadable_image_is_named(project):
    src = write_dataset(project / "src", 4)
    (src / "Original" / "Early" / "Early-002.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(AcquireError, match="Early-002.jpg: unreadable"):
        acquire(cfg_for(), f"file:{zip_folder(src, project / 'd.zip')}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_not_a_zip_and_missing_path(project):
    (project / "d.zip").write_bytes(b"PK garbage")
    with pytest.raises(AcquireError, match="not a valid zip"):
        acquire(cfg_for(), f"file:{project / 'd.zip'}", "mehradaria", outputs("acquire", ds="mehradaria"))
    with pytest.raises(AcquireError, match="does not exist"):
        acquire(cfg_for(), f"file:{project / 'nope.zip'}", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def no_kaggle_credentials(project, monkeypatch):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(project))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(project / ".config"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(project / "kh-cache"))


def test_kaggle_without_credentials_downloads_anonymously(project, monkeypatch):
    """No credentials is no reason to stop: public datasets download anonymously. Offline here, so the
    anonymous attempt is what fails (a closed local proxy port), not a credentials check."""
    no_kaggle_credentials(project, monkeypatch)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(AcquireError, match="kaggle:mehradaria/leukemia: download failed") as err:
        acquire(cfg_for(), "kaggle:mehradaria/leukemia", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert "credentials" not in str(err.value)
    assert "ALLREPRO_DATA_SOURCE" in str(err.value) and "=file:" in str(err.value)  # the offline way, named
    assert_nothing_left(project)


@pytest.mark.parametrize("status", [401, 403])
def test_kaggle_refusal_says_how_to_give_credentials(project, monkeypatch, status):
    """Kaggle cannot be reached from here: its refusal is the requests.HTTPError kagglehub raises, with a
    real response object of that status."""
    import kagglehub
    import requests

    no_kaggle_credentials(project, monkeypatch)
    response = requests.Response()
    response.status_code = status

    def refuse(handle, **_):
        raise requests.HTTPError(f"{status} Client Error", response=response)

    monkeypatch.setattr(kagglehub, "dataset_download", refuse)
    with pytest.raises(AcquireError, match=f"refused the download without credentials \\(HTTP {status}\\): "
                                           "set KAGGLE_USERNAME and KAGGLE_KEY"):
        acquire(cfg_for(), "kaggle:mehradaria/leukemia", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_kaggle_without_network(project, monkeypatch):
    monkeypatch.setenv("HOME", str(project))
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(project / "kh-cache"))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a closed local port: fails at once, offline or not
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(AcquireError, match="kaggle:mehradaria/leukemia: download failed"):
        acquire(cfg_for(), "kaggle:mehradaria/leukemia", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_https_without_network(project):
    cfg = cfg_for()
    cfg["sha256"] = "0" * 64
    with pytest.raises(AcquireError, match="download failed"):
        acquire(cfg, "https://127.0.0.1:9/leukemia.zip", "mehradaria", outputs("acquire", ds="mehradaria"))
    assert_nothing_left(project)


def test_cli_reads_source_from_environment(project):
    archive = zip_folder(write_dataset(project / "src", 4), project / "d.zip")
    cfg = copy.deepcopy(BASE)
    cfg["datasets"]["mehradaria"] = cfg_for()
    (project / "params.yaml").write_text(yaml.safe_dump(cfg))
    from allrepro.cli import main
    os.environ["ALLREPRO_DATA_SOURCE"] = f"file:{archive}"
    try:
        assert main(["acquire", "--dataset", "mehradaria"]) == 0
    finally:
        del os.environ["ALLREPRO_DATA_SOURCE"]
    assert (project / "data/raw/mehradaria/manifest.csv").is_file()


@pytest.mark.realdata
def test_real_dataset_layout(real_zip):
    assert sha256_file(real_zip) == "38525f917295ffd297cedcd6698c380cfbb1bd419b4cbf785b38910a7b63a57a"
    from collections import Counter

    from allrepro.datasets import select
    data = BASE["datasets"]["mehradaria"]
    with zipfile.ZipFile(real_zip) as zf:
        assert Counter(c for _, c, _ in select(zf.namelist(), data)) == data["expected_counts"]
