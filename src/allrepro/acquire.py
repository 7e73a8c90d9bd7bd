"""acquire: fetch the dataset from Kaggle, an https zip or a local file/folder, check it, write the manifest.

Everything is checked before the folder is renamed into place, so a failure (no credentials, no
network, wrong checksum, missing class, unreadable image) leaves neither a half-extracted folder
nor a manifest behind.
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from allrepro.datasets import DatasetError, build_manifest, check_layout, select
from allrepro.fileio import atomic_path, sha256_file, write_csv
from allrepro.params import UserError


class AcquireError(UserError, RuntimeError):
    """The source could not be fetched or is not the dataset we expect."""


def stage(cfg: dict, inputs: dict, outputs: dict, dataset: str) -> None:
    """`allrepro acquire --dataset NAME`: the dataset's block, its source (params or environment), its policy."""
    from allrepro.params import data_source

    acquire(cfg["datasets"][dataset], data_source(cfg, dataset), dataset, outputs,
            on_bad_file=cfg["data"]["on_bad_file"])


def acquire(data: dict, source: str, dataset: str, outputs: dict, project_root: str = ".",
            on_bad_file: str = "fail") -> None:
    """Fetch one dataset (a block of `datasets:` in params.yaml) into outputs["dataset"] (the images),
    outputs["manifest"] and outputs["bad_files"]."""
    out_dir, manifest = outputs["dataset"], outputs["manifest"]
    kind, _, ref = source.partition(":")
    if kind not in ("kaggle", "https", "file"):
        raise AcquireError(f"data source {source!r}: expected kaggle:<owner>/<dataset>, https://... or file:<path>")
    out_dir, root = Path(out_dir), Path(project_root).resolve()
    with atomic_path(out_dir) as tmp:
        if kind == "kaggle":
            _copy_folder(_kaggle_download(ref, data.get("env") or f"ALLREPRO_DATA_SOURCE_{dataset.upper()}"), tmp, data)
        elif kind == "https":
            zpath = tmp.with_name(tmp.name + ".zip")
            try:
                _download(source, zpath)
                _extract_zip(zpath, tmp, data, expected_sha=data.get("sha256"))
            finally:
                zpath.unlink(missing_ok=True)
        else:
            path = Path(ref)
            if path.is_dir():
                _copy_folder(path, tmp, data)
            elif path.is_file():
                _extract_zip(path, tmp, data, expected_sha=data.get("sha256"))
            else:
                raise AcquireError(f"data source {source!r}: {path} does not exist")
        try:
            df, bad = build_manifest(tmp, data, root, (root / out_dir), on_bad_file)
        except DatasetError as exc:
            raise AcquireError(str(exc)) from exc
    write_csv(bad, outputs["bad_files"])
    write_csv(df, manifest)
    skipped = f"; {len(bad)} bad file(s) skipped, listed in {outputs['bad_files']}" if len(bad) else ""
    print(f"acquire {dataset}: {len(df)} images in {len(data['classes'])} classes -> {manifest}{skipped}")


def _check(names: list[str], data: dict, where: str) -> None:
    try:
        check_layout(select(names, data), data, where)
    except DatasetError as exc:
        raise AcquireError(str(exc)) from exc


def _extract_zip(path: Path, dest: Path, data: dict, expected_sha: str | None) -> None:
    if expected_sha:
        actual = sha256_file(path)
        if actual != expected_sha:
            raise AcquireError(f"{path}: sha256 mismatch: expected {expected_sha}, got {actual}")
    try:
        with zipfile.ZipFile(path) as zf:
            _check(zf.namelist(), data, str(path))  # before extracting anything
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise AcquireError(f"{path}: not a valid zip file ({exc})") from exc


def _copy_folder(src: Path, dest: Path, data: dict) -> None:
    names = [p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()]
    _check(names, data, str(src))
    shutil.copytree(src, dest)


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as fh:
            shutil.copyfileobj(resp, fh)
    except (urllib.error.URLError, OSError) as exc:
        raise AcquireError(f"{url}: download failed (no network or server unreachable): {exc}") from exc


def kaggle_credentials_present() -> bool:
    """The places the Kaggle API and kagglehub read credentials from."""
    if os.environ.get("KAGGLE_API_TOKEN") or (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")):
        return True
    config_dirs = [os.environ.get("KAGGLE_CONFIG_DIR"), os.path.expanduser("~/.kaggle"),
                   os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "kaggle")]
    return any(d and (Path(d) / "kaggle.json").is_file() for d in config_dirs)


CREDENTIALS_HELP = ("set KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json in ~/.kaggle/ (Kaggle > Settings > "
                    "API > Create New Token); or use a local copy with ALLREPRO_DATA_SOURCE=file:<archive.zip>")


def _kaggle_download(handle: str, env: str = "ALLREPRO_DATA_SOURCE") -> Path:
    """kagglehub downloads public datasets without an account; credentials are needed only when Kaggle
    refuses (401/403: a private dataset, or rules to accept), and the error then says how to give them."""
    import kagglehub

    try:
        return Path(kagglehub.dataset_download(handle))
    except Exception as exc:  # kagglehub raises requests/HTTP errors of several kinds
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            who = "with the credentials found" if kaggle_credentials_present() else "without credentials"
            raise AcquireError(f"kaggle:{handle}: Kaggle refused the download {who} (HTTP {status}): "
                               f"{CREDENTIALS_HELP}") from exc
        raise AcquireError(f"kaggle:{handle}: download failed (no network, or Kaggle unreachable): "
                           f"{type(exc).__name__}: {exc}. With a local copy of the archive, set {env}=file:<path to "
                           f"the zip or folder> (or the dataset's `source:` in params.yaml)") from exc