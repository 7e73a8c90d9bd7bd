"""The scorecard (reports/index.html): one verdict per headline claim, right whichever side wins, stand-ins never
judged, the ensemble's headline setting only, and a page that escapes what it shows."""
from __future__ import annotations

import json

import pandas as pd

from allrepro import scorecard

COLUMNS = ["paper model", "ours", "metric", "paper %", "ours %", "low %", "high %", "inside", "judged", "method"]


def _experiment(tmp_path, exp, rows, leakage=None, seeds=None):
    checks = pd.DataFrame(rows, columns=COLUMNS)
    checks.to_csv(tmp_path / f"{exp}_check.csv", index=False)
    audit = {"leakage": {"test": leakage or {"images": 100, "subjects": None, "with_exact_twin_in_train": 0,
                                             "with_near_twin_in_train": 0}},
             "best_baseline": {"name": "colour <b>1-NN</b>", "accuracy": 0.9},
             "best_model": {"name": "m", "accuracy": 0.97},
             "calibration": {"m": {"ece": 0.05}, "ensemble": {"ece": 0.02}}}
    (tmp_path / f"{exp}_audit.json").write_text(json.dumps(audit))
    (tmp_path / f"{exp}_spread.json").write_text(json.dumps({"paper": seeds or []}))
    return {f"{exp}_audit": str(tmp_path / f"{exp}_audit.json"), f"{exp}_paper_check": str(tmp_path / f"{exp}_check.csv"),
            f"{exp}_spread": str(tmp_path / f"{exp}_spread.json")}


def _cfg(selected, profile="paper"):
    return {"experiment": ",".join(selected), "profile": profile,
            "experiments": {"idrees": {}, "patel": {}, "idrees_grouped": {"paper": "idrees"}}}


def _run(tmp_path, cfg, inputs):
    outputs = {"html": str(tmp_path / "reports/index.html"), "table": str(tmp_path / "reports/scorecard.csv")}
    table = scorecard.stage(cfg, inputs, outputs)
    return table, (tmp_path / "reports/index.html").read_text()


def test_verdicts_read_right_whichever_side_wins_and_name_the_leakage(tmp_path):
    rows = [["net_a", "net_a", "accuracy", 98.0, 97.5, 96.0, 98.6, True, True, "Clopper-Pearson"],
            ["net_b", "net_b", "accuracy", 99.5, 95.0, 93.0, 96.5, False, True, "Clopper-Pearson"],
            ["net_c", "net_c", "accuracy", 90.0, 96.0, 94.0, 97.5, False, True, "Clopper-Pearson"],
            ["net_c", "net_c", "per_class.x.recall", 90.0, 96.0, 94.0, 97.5, False, True, "Clopper-Pearson"]]
    leak = {"images": 100, "subjects": 9, "with_exact_twin_in_train": 1, "with_near_twin_in_train": 3,
            "with_subject_in_train": 80, "subject_share": 0.8}
    seeds = [{"paper model": "net_a", "metric": "accuracy", "ours min %": 96.9, "ours max %": 98.1, "seeds": 5}]
    table, page = _run(tmp_path, _cfg(["idrees"]), _experiment(tmp_path, "idrees", rows, leak, seeds))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    assert list(table["metric"]) == ["accuracy"] * 3  # per-class rows are details, not headline claims
    assert verdicts["net_a"].startswith("Consistent") and "over 5 training seeds 96.90–98.10%" in verdicts["net_a"]
    assert verdicts["net_b"].startswith("Not reproduced: the paper's 99.50% lies above our interval")
    assert verdicts["net_c"].startswith("Exceeded: ours")
    assert all("3 of 100 test images have a near twin" in v and "80% of test images share a subject" in v
               for v in verdicts.values())
    # escaped, self-contained; the experiments not selected are listed, not silently dropped
    assert "colour &lt;b&gt;1-NN&lt;/b&gt;" in page and "<script" not in page and "http" not in page.split("<body>")[1]
    assert "idrees_grouped</b>: not run in this selection" in page and "patel</b>: not run" in page


def test_an_experiment_with_no_checked_number_is_said_so_not_left_out(tmp_path):
    inputs = {**_experiment(tmp_path, "idrees", [["net_a", "net_a", "accuracy", 98.0, 97.5, 96.0, 98.6, True, True,
                                                  "Clopper-Pearson"]]), **_experiment(tmp_path, "patel", [])}
    table, page = _run(tmp_path, _cfg(["idrees", "patel"]), inputs)
    assert list(table["experiment"]) == ["idrees"]
    section = page[page.index("<h3>patel"):]
    assert "No headline number of the paper is checked in this experiment" in section.split("</section>")[0]
    assert (tmp_path / "reports/scorecard.csv").read_text() == pd.read_csv(tmp_path / "reports/scorecard.csv").to_csv(
        index=False, lineterminator="\n")


def test_a_stand_in_or_a_cut_run_is_never_a_verdict(tmp_path):
    rows = [["net_a", "quick_cnn", "accuracy", 98.0, 97.5, 96.0, 98.6, True, False, "Clopper-Pearson"],
            ["net_b", "net_b", "accuracy", 98.0, 50.0, 10.0, 90.0, False, False, "Clopper-Pearson"]]
    table, page = _run(tmp_path, _cfg(["idrees"], "smoke"), _experiment(tmp_path, "idrees", rows))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    assert verdicts["net_a"].startswith("Not judged: this run trained quick_cnn, a stand-in for net_a (smoke profile)")
    assert verdicts["net_b"].startswith("Not judged: the smoke profile cuts the data or epochs; the same network")
    assert not table["judged"].any() and "0 of 2 claims judged" in page and "(stand-in)" in page


def test_of_the_ensemble_settings_only_the_papers_headline_is_a_claim(tmp_path):
    rows = [["patel_resnet50", "patel_resnet50", "accuracy", 99.21, 99.0, 98.3, 99.5, True, True, "Clopper-Pearson"],
            ["ensemble [0.5, 0.5] γ 0.7", "ensemble [0.5, 0.5] γ 0.7", "accuracy", 99.74, 99.3, 98.7, 99.7, False, True, "CP"],
            ["ensemble [0.7, 0.3] γ 0.7", "ensemble [0.7, 0.3] γ 0.7", "accuracy", 99.96, 99.4, 98.8, 99.8, False, True, "CP"],
            ["ensemble [0.7, 0.3] γ 0.7", "ensemble [0.7, 0.3] γ 0.7", "macro.f1", 99.89, 99.4, 98.8, 99.8, False, True, "bs"]]
    table, _ = _run(tmp_path, _cfg(["patel"]), _experiment(tmp_path, "patel", rows))
    assert list(table["claim"]) == ["patel_resnet50", "ensemble [0.7, 0.3] γ 0.7"]
