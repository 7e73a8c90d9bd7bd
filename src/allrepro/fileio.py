"""Small file helpers every stage uses: atomic outputs, hashes, deterministic CSV and JSON."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a DataFrame comes from the caller: importing pandas here would cost every command 0.2 s
    import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    Works for files and folders. A failed or killed stage therefore never leaves anything that
    looks finished: at worst a `.name.tmp-PID.ext` sibling, removed here on any exception, and the one a
    `kill -9` leaves behind (its process gone) removed by the next run of the same stage.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the suffix: some writers (keras.saving) insist on it
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    _remove(tmp)
    remove_stale(path)
    try:
        yield tmp
        _remove(path)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def remove_stale(path: str | Path) -> list[Path]:
    """Remove the temporary siblings of `path` (`.name.tmp-PID...`) whose process no longer runs: what a
    killed job left. A live process's are kept (the engines' locks keep two jobs off one output)."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.tmp-(\d+)")
    removed = []
    for sibling in path.parent.glob(f".{path.stem}.tmp-*") if path.parent.is_dir() else ():
        match = pattern.match(sibling.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            _remove(sibling)
            removed.append(sibling)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """`dst` as a hard link to `src` (no second copy on disk: outputs are replaced, never written in place), or a
    copy where the file system cannot link."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_json(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_bytes(data: bytes, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
