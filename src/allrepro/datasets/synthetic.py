"""Generated stand-ins for datasets that cannot be downloaded here, shaped exactly like the real layouts.

C-NMC 2019 needs a Kaggle account, so `make smoke` runs pushpalatha on a generated C-NMC layout:
`python -m allrepro.datasets.synthetic cnmc OUT.zip OVERRIDES.yaml` writes the zip and the params
overrides (class counts, image size) that make `datasets.cnmc` accept it. The tests use the same images.
"""
from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import yaml

# subjects per class and images per subject: every fold and both classes, several subjects each
CNMC_SUBJECTS = {"all": [("11", 12), ("12", 10), ("27", 11), ("3", 10), ("5", 9), ("8", 12)],
                 "hem": [("H10", 10), ("H2", 9), ("H31", 11), ("H7", 10)]}


def cell_image(label: int, index: int, size: int = 48) -> np.ndarray:
    """A synthetic smear field (BGR): pink background, violet nuclei whose size and count depend on the class."""
    rng = np.random.default_rng([label, index])
    image = np.empty((size, size, 3), np.uint8)
    image[:] = (200, 180, 235)  # pale pink (BGR)
    image = np.clip(image.astype(int) + rng.integers(-12, 12, image.shape), 0, 255).astype(np.uint8)
    radius = max(3, size // (9 - label))
    for _ in range(1 + label % 2):
        centre = tuple(int(c) for c in rng.integers(radius, size - radius, 2))
        cv2.circle(image, centre, radius, (160, 50, 90), -1)  # violet: OpenCV hue 131
    return image


def write_cnmc(root: Path, subjects: dict = CNMC_SUBJECTS, size: int = 40) -> Path:
    """The Kaggle C-NMC layout: C-NMC_Leukemia/training_data/fold_{0,1,2}/{all,hem}/UID_..._{all,hem}.bmp."""
    for label, cls in enumerate(("all", "hem")):
        for s, (subject, n) in enumerate(subjects[cls]):
            folder = Path(root) / "C-NMC_Leukemia" / "training_data" / f"fold_{s % 3}" / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                cv2.imwrite(str(folder / f"UID_{subject}_{i + 1}_{i % 3 + 1}_{cls}.bmp"), cell_image(label, s * 10 + i, size))
    return Path(root)


def cnmc_zip(out: Path, overrides: Path, size: int = 96) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cnmc(Path(tmp), size=size)
        with zipfile.ZipFile(out, "w") as zf:
            for path in sorted(root.rglob("*.bmp")):
                zf.write(path, path.relative_to(root).as_posix())
    counts = {c: sum(n for _, n in CNMC_SUBJECTS[c]) for c in CNMC_SUBJECTS}
    overrides.write_text(yaml.safe_dump({"datasets": {"cnmc": {"expected_counts": counts, "image_size": [size, size]}}}))
    print(f"{out}: generated C-NMC layout, {counts}; params overrides in {overrides}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "cnmc":
        raise SystemExit("usage: python -m allrepro.datasets.synthetic cnmc OUT.zip OVERRIDES.yaml")
    cnmc_zip(Path(sys.argv[2]), Path(sys.argv[3]))
