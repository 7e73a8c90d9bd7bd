"""Which files a stage job really opens, for the test that holds every stage record to what its code does.

With ALLREPRO_TRACE set to a folder, `allrepro <stage>` records (through Python's audit hooks: `open`, `os.replace`,
`os.rename`, `os.listdir`, `os.scandir`) every project file it reads and every output it moves into place, and writes
them to <folder>/<job>.json when it exits. Files under a hidden name (`.x.tmp-PID`, a training's `.work/`), the code,
params.yaml and anything outside the project are left out. Libraries that read in C (OpenCV's imread) are not seen:
the trace is a lower bound of what a job reads, an exact list of what it writes through Python."""
from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path

ENV = "ALLREPRO_TRACE"
SKIP = ("src/", "params.yaml", "logs/", ".snakemake/", ".dvc/", "workflow/")


def start(job: str) -> None:
    folder = os.environ.get(ENV)
    if not folder:
        return
    root = os.getcwd()
    reads, writes = set(), set()

    def project_path(path) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        rel = os.path.relpath(os.path.abspath(os.fsdecode(path)), root)
        parts = Path(rel).parts
        if rel.startswith("..") or rel.startswith(SKIP) or any(p.startswith(".") for p in parts) or rel == ".":
            return None
        return Path(rel).as_posix()

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            rel = project_path(path)
            if rel is None:
                return
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            (writes if writing else reads).add(rel)
        elif event in ("os.rename", "os.replace"):
            rel = project_path(args[1])
            if rel is not None:
                writes.add(rel)
        elif event in ("os.listdir", "os.scandir"):
            rel = project_path(args[0] if args else ".")
            if rel is not None:
                reads.add(rel)

    def dump() -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{job}.json").write_text(json.dumps({"reads": sorted(reads - writes),
                                                              "writes": sorted(writes)}, indent=1))

    sys.addaudithook(hook)
    atexit.register(dump)
