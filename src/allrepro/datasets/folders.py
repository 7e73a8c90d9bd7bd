"""Dataset adapters: which files of a raw layout are images, their class, and their group (subject).

Every adapter maps the list of relative paths of a download (zip members or files of a folder) to
(path, class, group) triples, so a layout is checked before anything is extracted or copied.

- `folders`: any folder-per-class dataset, `<subset>/<class>/<image>` (the Kaggle ALL dataset's
  `Original/`); `subset` may be empty (`<class>/<image>` at the top, or one folder down).
- `cnmc`: C-NMC 2019 (`kaggle:andrewmvd/leukemia-classification`),
  `C-NMC_Leukemia/training_data/fold_{0,1,2}/{all,hem}/*.bmp`; the subject id parsed from names like
  `UID_11_10_1_all.bmp` (subject 11) and `UID_H10_100_1_hem.bmp` (subject H10) becomes the group.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath

import pandas as pd
from tqdm import tqdm

from allrepro.fileio import sha256_file

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
CNMC_NAME = re.compile(r"^UID_(H?\d+)_\d+_\d+_(all|hem)\.bmp$", re.IGNORECASE)
CNMC_PATH = re.compile(r"(^|/)training_data/fold_\d+/(all|hem)/[^/]+$")


class DatasetError(RuntimeError):
    """The raw data does not have the layout or content the params promise."""


def folder_per_class(names: list[str], data: dict) -> list[tuple[str, str, str]]:
    subset = data.get("subset") or ""
    out = []
    for name in names:
        path = PurePosixPath(name)
        parts = path.parts
        if path.suffix.lower() not in IMAGE_SUFFIXES or len(parts) < 2:
            continue
        parent = parts[:-2]
        inside = (parent[-1:] == (subset,) and len(parent) <= 2) if subset else len(parent) <= 1
        if inside and parts[-2] in data["classes"]:
            out.append((name, parts[-2], ""))
    return out


def cnmc(names: list[str], data: dict) -> list[tuple[str, str, str]]:
    out = []
    for name in names:
        match = CNMC_PATH.search(name)
        if not match or PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        parsed = CNMC_NAME.match(PurePosixPath(name).name)
        if not parsed:
            raise DatasetError(f"{name}: not a C-NMC file name (UID_<subject>_<image>_<cell>_<all|hem>.bmp)")
        out.append((name, match.group(2), parsed.group(1)))
    return out


ADAPTERS = {"folders": folder_per_class, "cnmc": cnmc}


def select(names: list[str], data: dict) -> list[tuple[str, str, str]]:
    return sorted(ADAPTERS[data["adapter"]](names, data))


def check_layout(selected: list[tuple[str, str, str]], data: dict, where: str) -> None:
    """Fail, naming the folder, when a class is missing or its image count is not the expected one."""
    counts = Counter(cls for _, cls, _ in selected)
    missing = [c for c in data["classes"] if counts.get(c, 0) == 0]
    if missing:
        raise DatasetError(f"{where}: missing class folder(s) {', '.join(missing)} "
                           f"(adapter {data['adapter']}{', subset ' + data['subset'] if data.get('subset') else ''}; "
                           f"found: {', '.join(sorted(counts)) or 'none'})")
    expected = data["expected_counts"]
    wrong = [f"{c}: {counts[c]} images, expected {expected[c]}" for c in data["classes"] if counts[c] != expected[c]]
    if wrong:
        raise DatasetError(f"{where}: unexpected image counts: " + "; ".join(wrong))


def build_manifest(root: Path, data: dict, rel_to: Path, final_root: Path,
                   on_bad_file: str = "fail") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every image once, record its facts, and sort out the bad files (allrepro.audit.quality).

    `root` is where the files are now (a temporary folder); paths are written as they will be once
    it is renamed to `final_root`, relative to `rel_to` (the project root). Returns (manifest, bad
    files); with on_bad_file "fail" any bad file raises, naming every one of them."""
    from allrepro.audit.quality import inspect_image

    names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    rows, bad = [], []
    for name, cls, group in tqdm(select(names, data), desc="manifest", unit="img", mininterval=2):
        final = (final_root / name).relative_to(rel_to).as_posix()
        kind, detail, image = inspect_image(root / name, data.get("image_size"))
        if kind:
            bad.append({"path": final, "class": cls, "kind": kind, "detail": detail})
            continue
        rows.append({"path": final, "class": cls, "group": group,
                     "sha256": sha256_file(root / name), "width": image.shape[1], "height": image.shape[0]})
    bad = pd.DataFrame(bad, columns=["path", "class", "kind", "detail"])
    if len(bad) and on_bad_file == "fail":
        listing = "; ".join(f"{Path(p).relative_to(final_root.relative_to(rel_to)).as_posix()}: {k} ({d})"
                            for p, k, d in bad[["path", "kind", "detail"]].itertuples(index=False))
        raise DatasetError(f"{len(bad)} bad image file(s) (data.on_bad_file: fail; set it to skip to go on "
                           f"without them): {listing}")
    return pd.DataFrame(rows, columns=["path", "class", "group", "sha256", "width", "height"]), bad
