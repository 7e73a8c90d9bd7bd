"""Folder-per-class layouts: `<root>/<subset>/<class>/<image>` (the Kaggle ALL dataset's `Original/`)."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import cv2
import pandas as pd
from tqdm import tqdm

from allrepro.fileio import sha256_file

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


class DatasetError(RuntimeError):
    """The raw data does not have the layout or content the params promise."""


def count_members(names: list[str], subset: str) -> dict[str, int]:
    """Images per class folder under `subset/` in a list of relative paths (zip members or files).

    The subset may sit one folder down (some downloads wrap everything in a top folder)."""
    counts: dict[str, int] = {}
    for name in names:
        path = PurePosixPath(name)
        parts = path.parts
        if len(parts) in (3, 4) and parts[-3] == subset and path.suffix.lower() in IMAGE_SUFFIXES:
            counts[parts[-2]] = counts.get(parts[-2], 0) + 1
    return counts


def check_layout(counts: dict[str, int], classes: list[str], expected: dict[str, int], where: str,
                 subset: str) -> None:
    """Fail, naming the folder, when a class is missing or its image count is not the expected one."""
    missing = [c for c in classes if counts.get(c, 0) == 0]
    if missing:
        raise DatasetError(f"{where}: missing class folder(s) {', '.join(f'{subset}/{c}' for c in missing)} "
                           f"(found: {', '.join(sorted(counts)) or 'none'})")
    wrong = [f"{subset}/{c}: {counts[c]} images, expected {expected[c]}" for c in classes if counts[c] != expected[c]]
    if wrong:
        raise DatasetError(f"{where}: unexpected image counts: " + "; ".join(wrong))


def find_subset(root: Path, subset: str) -> Path:
    for candidate in [root / subset, *sorted(root.glob(f"*/{subset}"))]:
        if candidate.is_dir():
            return candidate
    raise DatasetError(f"{root}: no '{subset}/' folder in the dataset")


def build_manifest(root: Path, subset: str, classes: list[str], rel_to: Path, final_root: Path) -> pd.DataFrame:
    """Read every image once (so an unreadable file fails here, named) and record its facts.

    `root` is where the files are now (a temporary folder); paths are written as they will be once
    it is renamed to `final_root`, relative to `rel_to` (the project root)."""
    base = find_subset(root, subset)
    rows = []
    files = [(c, f) for c in classes for f in sorted((base / c).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    for cls, file in tqdm(files, desc="manifest", unit="img", mininterval=2):
        image = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DatasetError(f"{file.relative_to(root)}: unreadable image (not a decodable {file.suffix} file)")
        final = final_root / file.relative_to(root)
        rows.append({"path": final.relative_to(rel_to).as_posix(), "class": cls, "sha256": sha256_file(file),
                     "width": image.shape[1], "height": image.shape[0]})
    return pd.DataFrame(rows, columns=["path", "class", "sha256", "width", "height"])
