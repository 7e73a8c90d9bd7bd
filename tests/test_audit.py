"""The audit's pieces on generated images and hand-made predictions; the real-data counts when ../shared is there."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, matthews_corrcoef

from allrepro.audit.duplicates import find_duplicates, summarise
from allrepro.audit.twins import leakage
from allrepro.audit.segmentation import agreement_table, overlap, per_class, reference_path
from allrepro.audit.shortcuts import MASK_BASELINE, foreground_by_class, mask_baseline, run_baselines
from allrepro.audit.uncertainty import bootstrap, confusions, mcnemar, metrics_from_confusions, paper_check
from allrepro.split import assign_parts, split_groups
from conftest import CLASSES, ROOT, cell_image, project_env, run, write_dataset

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def twins(tmp_path):
    """Six distinct images, an exact copy of a.png (other name) and a re-encoded, slightly brighter copy of b.png."""
    paths = {}
    for i, name in enumerate("abcdef"):
        paths[name] = tmp_path / f"{name}.png"
        cv2.imwrite(str(paths[name]), cv2.resize(cell_image(i % 4, 100 + i, 48), (96, 96)))
    paths["a_copy"] = tmp_path / "a_copy.png"
    paths["a_copy"].write_bytes(paths["a"].read_bytes())
    b = cv2.imread(str(paths["b"]))
    paths["b_near"] = tmp_path / "b_near.jpg"
    cv2.imwrite(str(paths["b_near"]), cv2.convertScaleAbs(b, alpha=1.0, beta=4), [cv2.IMWRITE_JPEG_QUALITY, 90])
    manifest = pd.DataFrame({"path": [str(p) for p in paths.values()], "class": "Early"})
    return paths, manifest


def test_exact_and_near_duplicates_are_clustered(twins):
    paths, manifest = twins
    table = find_duplicates(manifest, max_distance=4).set_index("path")
    cluster = lambda k, name: table.loc[str(paths[name]), f"{k}_cluster"]  # noqa: E731
    assert cluster("exact", "a") == cluster("exact", "a_copy") and cluster("near", "a") == cluster("near", "a_copy")
    assert cluster("exact", "b") != cluster("exact", "b_near") and cluster("near", "b") == cluster("near", "b_near")
    others = {cluster("near", n) for n in "cdef"}
    assert len(others) == 4 and not others & {cluster("near", "a"), cluster("near", "b")}
    summary = summarise(table.reset_index(), ["Early"])
    assert summary["exact"] == {"clusters": 1, "images": 2, "images_per_class": {"Early": 2}, "mixed_label_clusters": 0}
    assert summary["near"]["clusters"] == 2 and summary["near"]["images"] == 4


def test_leakage_counts_test_images_with_a_training_twin(twins):
    paths, manifest = twins
    table = find_duplicates(manifest, max_distance=4)
    frame = lambda names: pd.DataFrame({"id": [str(paths[n]) for n in names]})  # noqa: E731
    split = {"train": frame(["a", "b", "c"]), "val": frame([]), "test": frame(["a_copy", "b_near", "d"])}
    assert leakage(split, table) == {"test": {"images": 3, "with_exact_twin_in_train": 1, "with_near_twin_in_train": 2,
                                              "subjects": None}}  # no subject ids: nothing said about patients


def cnmc_table() -> pd.DataFrame:
    """The generated C-NMC layout's images (python -m allrepro.datasets.synthetic cnmc): subject ids as groups."""
    from allrepro.datasets.synthetic import CNMC_SUBJECTS

    rows = [{"id": f"UID_{s}_{i}_{cls}.bmp", "class": cls, "group": s}
            for cls, subjects in CNMC_SUBJECTS.items() for s, n in subjects for i in range(n)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("experiment", ["pushpalatha", "pushpalatha_grouped"])
def test_subject_leakage_of_the_image_split_and_none_in_the_grouped_one(experiment):
    """pushpalatha's image-level split puts most subjects in both training and test; pushpalatha_grouped (the
    shipped experiment) keeps each subject in one part and both classes in every part."""
    from allrepro.audit.twins import subject_leakage

    spec = yaml.safe_load((ROOT / "params.yaml").read_text())["experiments"][experiment]["split"]
    table = cnmc_table()
    by_group = spec["group_by"] == "group"
    parts = assign_parts(table, ["all", "hem"], spec["ratios"], spec["rounding"], spec["seed"], by_group=by_group)
    split = {p: table[parts == p] for p in ("train", "val", "test")}
    test = subject_leakage(split["train"], split["test"])
    if by_group:
        assert test["with_subject_in_train"] == 0 and test["subject_share"] == 0.0
        assert all(set(split[p]["class"]) == {"all", "hem"} for p in split)
        assert not set(split["train"]["group"]) & (set(split["val"]["group"]) | set(split["test"]["group"]))
    else:
        assert test["subjects_in_train"] == test["subjects"] >= 8  # 10 subjects: nearly all in both parts
        assert test["with_subject_in_train"] == len(split["test"]) and test["subject_share"] == 1.0
        assert test["with_subject_in_train: all"] + test["with_subject_in_train: hem"] == len(split["test"])


def test_group_near_duplicates_keeps_each_cluster_in_one_part():
    n = 60
    table = pd.DataFrame({"class": ["x"] * n, "group": [""] * n})
    near = np.arange(n) // 3  # clusters of three
    groups = split_groups(table["group"], near, by_subject=False)
    parts = assign_parts(table.assign(group=groups), ["x"], {"train": 0.7, "test": 0.3}, "round", 1, by_group=True)
    assert all(parts[near == c].nunique() == 1 for c in range(n // 3))
    assert (parts == "test").sum() == 18
    # with subjects as well, a cluster that links two subjects merges them
    subjects = pd.Series(["s1"] * 3 + ["s2"] * 3)
    merged = split_groups(subjects, np.array([0, 1, 2, 2, 3, 4]), by_subject=True)
    assert merged.nunique() == 1


def test_bulk_metrics_match_sklearn_and_abstentions_count_as_errors():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 400)
    pred = np.where(rng.random(400) < 0.7, y, rng.integers(-1, 4, 400))  # -1: the ensemble abstained
    got = metrics_from_confusions(confusions(y, pred, 4, np.arange(400)[None, :]), CLASSES)
    as_class = np.where(pred < 0, 4, pred)
    assert got["accuracy"][0] == pytest.approx((pred == y).mean())
    assert got["mcc"][0] == pytest.approx(matthews_corrcoef(y, as_class))
    assert got["macro.f1"][0] == pytest.approx(f1_score(y, as_class, labels=range(4), average="macro"))


def frame(y, pred):
    return pd.DataFrame({"true": [CLASSES[i] for i in y], "pred": [CLASSES[i] if i >= 0 else "none" for i in pred]})


def test_bootstrap_intervals_are_seeded_and_hold_the_point_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    preds = {"good": frame(y, np.where(rng.random(300) < 0.95, y, (y + 1) % 4)),
             "poor": frame(y, np.where(rng.random(300) < 0.6, y, (y + 1) % 4))}
    a = bootstrap(preds, CLASSES, 500, 7, 0.95)
    assert a.equals(bootstrap(preds, CLASSES, 500, 7, 0.95))
    assert ((a["low"] <= a["value"] + 1e-12) & (a["value"] <= a["high"] + 1e-12)).all()
    acc = a[a["metric"] == "accuracy"].set_index("model")
    assert acc.loc["poor", "high"] < acc.loc["good", "low"]  # well separated models do not overlap
    width = acc.loc["good", "high"] - acc.loc["good", "low"]
    assert 0.02 < width < 0.08  # about 4 x sqrt(0.95 x 0.05 / 300) = 0.05
    check = paper_check(a, {"paper_net": {"accuracy": 100 * acc.loc["good", "value"], "mcc": 1.0}},
                        {"paper_net": "good"})
    assert check.set_index("metric")["inside"].to_dict() == {"accuracy": True, "mcc": False}


def test_a_perfect_class_on_30_images_gets_a_lower_bound_below_100_percent():
    """The percentile bootstrap collapses to [100, 100] on a class that is never wrong; the exact interval of
    30 of 30 does not (Clopper–Pearson: 0.025^(1/30) = 88.4%), so a paper's 99% is not called "outside"."""
    y = np.repeat(np.arange(4), 30)
    pred = y.copy()
    pred[30:33] = 2  # three Early images called Pre; Benign stays perfect
    table = bootstrap({"m": frame(y, pred)}, CLASSES, 500, 0, 0.95).set_index("metric")
    benign = table.loc["per_class.Benign.recall"]
    assert benign["value"] == 1.0 and benign["high"] == 1.0 and benign["trials"] == 30
    assert benign["low"] == pytest.approx(0.025 ** (1 / 30)) and benign["method"] == "Clopper-Pearson"
    assert table.loc["per_class.Pre.precision", "trials"] == 33  # its denominator: images called Pre
    assert table.loc["mcc", "method"] == "bootstrap percentile"
    check = paper_check(table.reset_index(), {"net": {"per_class.Benign.recall": 99.0}}, {"net": "m"})
    assert check["inside"].all()


def test_mcnemar_counts_discordant_images():
    y = np.zeros(20, int)
    a = y.copy()
    b = y.copy()
    b[:8] = 1   # b wrong on 8 that a gets right
    a[8:9] = 1  # a wrong on 1 that b gets right
    table = mcnemar({"a": frame(y, a), "b": frame(y, b)}, CLASSES).iloc[0]
    assert (table["A right, B wrong"], table["A wrong, B right"]) == (8, 1)
    assert table["p value"] == pytest.approx(2 * sum(__import__("math").comb(9, k) for k in (0, 1)) / 2 ** 9)


def test_colour_baseline_finds_a_colour_shortcut(tmp_path):
    """Classes that differ only in background tint: the colour-only baseline is perfect."""
    rows = []
    for k, tint in enumerate([(200, 180, 235), (235, 180, 200)]):
        for i in range(30):
            image = cell_image(0, i, 32)
            image[np.all(image != (160, 50, 90), axis=2)] = tint
            path = tmp_path / f"{k}-{i}.png"
            cv2.imwrite(str(path), image)
            rows.append({"path": str(path), "class": CLASSES[k]})
    table = pd.DataFrame(rows)
    train, test = table.iloc[::2], table.iloc[1::2]
    out = run_baselines(train, test, CLASSES[:2], histogram_bins=8, neighbors=1, seed=0)
    for name, preds in out.items():
        assert (preds["pred"] == preds["true"]).mean() == 1.0, name
        assert list(preds.columns) == ["path", "true", "pred", "p_Benign", "p_Early"]


def test_mask_baseline_reads_the_class_from_the_foreground_fraction():
    """Pro's masks nearly empty, the other classes' overlapping: the mask's size alone finds Pro and no more
    than chance among the rest; a test image without a fraction is named."""
    rng = np.random.default_rng(0)
    rows, foreground = [], {}
    for cls in CLASSES:
        for i in range(40):
            image_id = f"raw/{cls}/{i}.jpg"
            foreground[image_id] = rng.uniform(0.0, 0.05) if cls == "Pro" else rng.uniform(0.1, 0.3)
            rows.append({"id": image_id, "path": f"seg/{cls}/{i}.png", "class": cls})
    table = pd.DataFrame(rows)
    train, test = table.iloc[::2], table.iloc[1::2]
    preds = mask_baseline(train, test, CLASSES, foreground, seed=0)[MASK_BASELINE]
    right = preds["pred"] == preds["true"]
    assert right[preds["true"] == "Pro"].all()
    assert right[preds["true"] != "Pro"].mean() < 0.6  # three classes with the same fractions: near a third
    assert foreground_by_class(train, foreground)["Pro"] < 0.05 < foreground_by_class(train, foreground)["Pre"]
    with pytest.raises(KeyError, match="raw/Pro/1.jpg"):
        mask_baseline(train, test, CLASSES, {k: v for k, v in foreground.items() if k != "raw/Pro/1.jpg"}, seed=0)


def test_segmentation_agreement_on_generated_references(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_dataset(tmp_path / "d", 3)
    raw = pd.DataFrame([{"path": f"d/Original/{c}/{c}-{i:03d}.jpg", "class": c} for c in CLASSES for i in range(3)])
    assert reference_path("x/Original/Pro/a.jpg", "Original", "Segmented") == "x/Segmented/Pro/a.jpg"
    data = {"subset": "Original", "reference_masks": "Segmented"}
    table = agreement_table(raw, data, BASE["segment"], 30)
    assert table["dice"].min() > 0.8  # our HSV bounds find the generated violet nuclei
    off = {**BASE["segment"], "hsv_lower": [0, 0, 0], "hsv_upper": [20, 255, 255]}  # red hues: nothing
    assert agreement_table(raw, data, off, 30)["dice"].max() < 0.05
    summary = per_class(table)
    assert list(summary.index) == CLASSES + ["all"] and summary.loc["all", "images"] == 12
    assert overlap(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == (1.0, 1.0)
    assert overlap(np.eye(2, dtype=bool), np.ones((2, 2), bool)) == (pytest.approx(2 * 2 / 6), 0.5)


@pytest.mark.realdata
@pytest.mark.xdist_group("real")  # on one worker: the real data acquired and segmented once (real_project)
def test_real_dataset_duplicates_and_idrees_leakage(real_project, real_zip):
    env = project_env(real_zip)
    run(["allrepro", "duplicates", "--dataset", "mehradaria"], real_project, env)
    summary = pd.read_json(real_project / "data/interim/mehradaria/audit/duplicates.json", typ="series")
    assert summary["exact"]["clusters"] == 40 and summary["near"]["clusters"] == 91
    for grouped, leaked in ((False, True), (True, False)):
        set_ = ["--set", f"experiments.idrees.split.group_near_duplicates={str(grouped).lower()}"]
        run(["allrepro", "split", "--experiment", "idrees", *set_], real_project, env)
        table = pd.read_csv(real_project / "data/interim/mehradaria/audit/duplicates.csv")
        split = {p: pd.read_csv(real_project / f"data/processed/idrees/split/{p}.csv") for p in ("train", "val", "test")}
        leaks = leakage(split, table)
        assert (leaks["test"]["with_near_twin_in_train"] > 0) == leaked, (grouped, leaks)


def test_fit_hsv_reads_training_images_only_and_improves_bad_bounds(tmp_path):
    """Start from bounds that miss the generated nuclei; the fitted ones agree with the references,
    and only training rows were read (a test row points at a file that does not exist)."""
    write_dataset(tmp_path / "data/raw/mehradaria/dataset", 4)
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg["segment"].update(hsv_lower=[0, 0, 0], hsv_upper=[20, 255, 255])
    cfg["audit"]["fit_hsv"] = {"images_per_class": 3, "hue_step": 10, "saturation_step": 50}
    split = tmp_path / "data/processed/idrees/split"
    split.mkdir(parents=True)
    rows = [{"id": f"data/raw/mehradaria/dataset/Original/{c}/{c}-{i:03d}.jpg", "class": c} for c in CLASSES for i in range(4)]
    pd.DataFrame(rows).to_csv(split / "train.csv", index=False)
    pd.DataFrame([{"id": "data/raw/mehradaria/dataset/Original/Pro/missing.jpg", "class": "Pro"}]).to_csv(
        split / "test.csv", index=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg))
    run(["allrepro", "fit-hsv", "--experiment", "idrees", "--out", "fitted.yaml"], tmp_path, project_env(tmp_path))
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())["segment"]
    assert set(fitted) == set(cfg["segment"]) and fitted["hsv_lower"][0] <= 131 <= fitted["hsv_upper"][0]
    header = (tmp_path / "fitted.yaml").read_text().splitlines()[1]
    default, best = (float(x) for x in re.findall(r"mean Dice ([\d.]+) with the bounds of params.yaml, ([\d.]+)", header)[0])
    assert default < 0.1 < 0.8 < best
