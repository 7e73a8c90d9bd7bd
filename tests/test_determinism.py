"""acquire -> segment -> split twice from scratch give byte-identical data outputs."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, project_env, run


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_data_stages(project: Path, data_zip: Path) -> dict[str, str]:
    project.mkdir()
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(cfg))
    env = project_env(data_zip)
    for cmd in (["acquire", "--dataset", "mehradaria"], ["segment", "--dataset", "mehradaria"],
                ["split", "--experiment", "idrees"], ["split", "--experiment", "patel"]):
        run(["allrepro", *cmd], project, env)
    return tree_digest(project / "data")


@pytest.mark.realdata
def test_data_stages_are_byte_identical(tmp_path, real_zip):
    first = run_data_stages(tmp_path / "a", real_zip)
    second = run_data_stages(tmp_path / "b", real_zip)
    assert len(first) > 3 * 3256  # raw images, segmented images and masks, manifests
    assert first == second
