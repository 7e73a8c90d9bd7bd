"""Dataset adapters: the C-NMC 2019 layout (subjects as groups, a split grouped by subject) and any
folder-per-class dataset of jpg/png/bmp/tif images."""
from __future__ import annotations

import copy

import cv2

from allrepro.datasets import synthetic
import pandas as pd
import pytest
import yaml

from allrepro.acquire import AcquireError, acquire
from allrepro.pipeline import outputs
from allrepro.datasets import select
from conftest import ROOT, cell_image, project_env, run, zip_folder

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())
# (subject, images) per class: 4 ALL subjects and 3 normal (hem) ones, spread over the three folds
SUBJECTS = {"all": [("11", 6), ("12", 4), ("27", 5), ("3", 5)], "hem": [("H10", 4), ("H2", 3), ("H31", 3)]}


def write_cnmc(root):
    return synthetic.write_cnmc(root, SUBJECTS, size=40)


def cnmc_data() -> dict:
    data = copy.deepcopy(BASE["datasets"]["cnmc"])
    data["expected_counts"] = {c: sum(n for _, n in SUBJECTS[c]) for c in SUBJECTS}
    data["image_size"] = [40, 40]
    return data


def test_cnmc_names_become_subject_groups():
    names = ["C-NMC_Leukemia/training_data/fold_0/all/UID_11_10_1_all.bmp",
             "C-NMC_Leukemia/training_data/fold_2/hem/UID_H10_100_1_hem.bmp",
             "C-NMC_Leukemia/validation_data/C-NMC_test_prelim_phase_data/1.bmp"]
    assert select(names, cnmc_data()) == [(names[0], "all", "11"), (names[1], "hem", "H10")]


def test_cnmc_bad_name_is_named():
    with pytest.raises(Exception, match="UID_x.bmp: not a C-NMC file name"):
        select(["C-NMC_Leukemia/training_data/fold_0/all/UID_x.bmp"], cnmc_data())


def test_cnmc_acquire_and_split_grouped_by_subject(tmp_path):
    archive = zip_folder(write_cnmc(tmp_path / "src"), tmp_path / "cnmc.zip")
    cfg = copy.deepcopy(BASE)
    cfg["datasets"]["cnmc"] = cnmc_data()
    cfg["experiments"]["pushpalatha"]["split"]["group_by"] = "group"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg))
    env = {**project_env(archive), "ALLREPRO_DATA_SOURCE_CNMC": f"file:{archive}"}
    run(["allrepro", "acquire", "--dataset", "cnmc"], tmp_path, env)
    manifest = pd.read_csv(tmp_path / "data/raw/cnmc/manifest.csv", keep_default_na=False)
    assert manifest.groupby("group").size().to_dict() == {s: n for c in SUBJECTS.values() for s, n in c}
    run(["allrepro", "split", "--experiment", "pushpalatha"], tmp_path, env)
    parts = {p: pd.read_csv(tmp_path / f"data/processed/pushpalatha/split/{p}.csv", keep_default_na=False,
                            dtype={"group": str}) for p in ("train", "val", "test")}
    seen = {}
    for part, df in parts.items():
        for subject in df["group"].unique():
            assert seen.setdefault(subject, part) == part, f"subject {subject} in {seen[subject]} and {part}"
    assert sum(len(df) for df in parts.values()) == 30 and len(parts["train"]) > len(parts["test"])


def test_generic_folder_per_class_with_mixed_formats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for k, (cls, ext) in enumerate([("a", ".png"), ("b", ".bmp"), ("c", ".tif")]):
        (tmp_path / "src" / cls).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "src" / cls / f"{i}{ext}"), cell_image(k, i, 32))
    (tmp_path / "src" / "README.txt").write_text("not an image")
    data = {"adapter": "folders", "subset": "", "classes": ["a", "b", "c"], "expected_counts": {"a": 3, "b": 3, "c": 3},
            "source": "file:src", "sha256": None}
    acquire(data, f"file:{tmp_path / 'src'}", "generic", outputs("acquire", ds="generic"))
    manifest = pd.read_csv("data/raw/generic/manifest.csv")
    assert manifest["class"].value_counts().to_dict() == {"a": 3, "b": 3, "c": 3}
    data["expected_counts"]["c"] = 4
    with pytest.raises(AcquireError, match="c: 3 images, expected 4"):
        acquire(data, f"file:{tmp_path / 'src'}", "generic2", outputs("acquire", ds="generic2"))


@pytest.mark.dag
def test_pushpalatha_runs_end_to_end_on_a_generated_cnmc_layout(tmp_path):
    from conftest import make_project, tiny_params

    archive = zip_folder(write_cnmc(tmp_path / "src"), tmp_path / "cnmc.zip")
    cfg = tiny_params()
    cfg["datasets"]["cnmc"] = cnmc_data()
    cfg["experiments"] = {"pushpalatha": BASE["experiments"]["pushpalatha"]}
    cfg["models"].update({m: BASE["models"][m] for m in BASE["experiments"]["pushpalatha"]["models"]})
    cfg["experiment"] = "pushpalatha"
    project = make_project(tmp_path / "p", cfg, archive)
    env = {**project_env(archive), "ALLREPRO_DATA_SOURCE_CNMC": f"file:{archive}"}
    # up to the report: the bundle (export) and the scorecard after it are the same code as the tiny project's
    run(["snakemake", "reports/pushpalatha/report.html", "--cores", "2", "--resources", "gpu=1"], project, env)
    metrics = pd.read_json(project / "reports/pushpalatha/quick_cnn/metrics.json", typ="series")
    assert metrics["n"] == len(pd.read_csv(project / "data/processed/pushpalatha/split/test.csv"))
    report = (project / "reports/pushpalatha/report.html").read_text()
    assert "pushpalatha Table I" in report and "quick_cnn stands in" in report
