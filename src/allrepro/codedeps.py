"""The source files a stage depends on, derived from the code rather than listed by hand.

A stage's command is `allrepro <stage>`: the CLI module, the module that does the stage's work, and
everything of this package those import, directly or indirectly, at module level or inside a function,
plus package data and workflow files they name (the params schema, the papers' values, the report
notebook). Editing any of them reruns the stage under Snakemake and DVC alike; editing a module no
stage imports reruns nothing. The scan reads the source (ast), it imports nothing. What a file's text yields is
kept in the user's cache folder, keyed by the file's path and text (and this module's own text), so a `snakemake`
start does not parse the package again (0.3 of its 2 s); whether a named file exists is asked afresh each time.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PREFIX = "src/allrepro"  # how the package's files are named in the project (deps are paths from its root)
WORKFLOW = "workflow/"   # files of the workflow a module may read by name, e.g. the report notebook


def module_path(name: str) -> Path | None:
    """allrepro.x.y -> the package's x/y.py or x/y/__init__.py (None if not a module of the package)."""
    parts = name.split(".")
    if parts[0] != "allrepro":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["allrepro", *parts])


def source(path: Path) -> str:
    """A module's text, or a notebook's code cells (IPython magics and shell lines dropped)."""
    if path.suffix != ".ipynb":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def _scan(text: str, path: Path) -> tuple[list[str], list[str]]:
    """(every module name `path` imports, the short strings that may name a file) in its source."""
    tree = ast.parse(text, filename=str(path))
    inside = path.is_relative_to(PACKAGE)
    package = "" if not inside else (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0])
    modules, names = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            modules.append(base)
            modules += [f"{base}.{alias.name}" for alias in node.names]  # `from pkg import module`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if len(node.value) > 200 or "\n" in node.value:  # docstrings and messages
                continue
            if node.value.endswith((".yaml", ".json", ".ipynb")) or node.value.startswith(WORKFLOW):
                names.append(node.value)
    return modules, names


def _cache_file() -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    version = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]  # a changed scan starts a new file
    return Path(home) / "allrepro" / f"codedeps-{version}.json"


@functools.lru_cache(maxsize=None)
def _scans() -> dict:
    """The cached scans, {sha256 of path and text: [modules, names]}; an unreadable cache is an empty one."""
    try:
        scans = json.loads(_cache_file().read_text())
        return scans if isinstance(scans, dict) else {}
    except (OSError, ValueError):
        return {}


_new: dict = {}


def _save() -> None:
    """Add this process's new scans to the cache file (whole-file replace: a reader never sees half of it; two
    writers at once lose at most one's entries, which are scanned again later). Never fails a run."""
    if not _new:
        return
    try:
        path = _cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        scans = _scans()
        scans.update(_new)
        _new.clear()
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
            json.dump(scans, tmp)
        os.replace(tmp.name, path)
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def references(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(modules of this package that `path` imports, files it names) as found in its source."""
    text = source(path)
    key = hashlib.sha256(f"{path}\0{text}".encode()).hexdigest()
    scanned = _scans().get(key) or _new.get(key)  # (JSON gives lists: the same values)
    if scanned is None:
        scanned = _new[key] = _scan(text, path)
    modules, names = scanned
    files = []
    for name in names:
        if name.endswith((".yaml", ".json", ".ipynb")) and (PACKAGE / name).is_file():
            files.append(f"{PREFIX}/{name}")
        elif name.startswith(WORKFLOW) and Path(name).is_file():
            files.append(name)
    return tuple(m for m in modules if module_path(m)), tuple(files)


def closure(modules: list[str]) -> list[str]:
    """Project-relative paths of `modules`, every module of the package they reach, the `__init__.py` of
    each package on the way (importing a module runs them) and the data files any of them names."""
    seen: dict[Path, None] = {}
    files: dict[str, None] = {}
    todo = [m for m in modules]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # the packages above it first
            path = module_path(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen[path] = None
            imported, named = references(path)
            todo += imported
            files.update(dict.fromkeys(named))
            for notebook in (Path(f) for f in named if f.endswith(".ipynb") and Path(f).is_file()):
                todo += references(notebook.resolve())[0]  # a notebook a module runs: its imports too
    _save()
    paths = [f"{PREFIX}/{p.relative_to(PACKAGE).as_posix()}" for p in seen]
    return sorted(set(paths) | set(files))
