"""The spread over training seeds (audit/spread.py) on generated intervals; the repeats themselves run in the
tiny DAG (tests/test_dag.py::test_repeats_run_once_per_seed_under_both_tools)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allrepro.audit.spread import paper_placement, seed_table, verdicts


def intervals(values: dict[str, float], width: float = 0.04) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "metric": metric, "value": v, "low": v - width / 2, "high": v + width / 2}
                         for m, v in values.items() for metric in ("accuracy", "macro.f1", "mcc")])


def test_the_seed_table_gives_mean_sd_range_and_interval_width():
    table = seed_table({42: intervals({"a": 0.90}), 1: intervals({"a": 0.94}), 2: intervals({"a": 0.92})}, ["a"])
    acc = table[table["metric"] == "accuracy"].iloc[0]
    assert acc["seeds"] == 3 and acc["mean"] == pytest.approx(0.92) and acc["std"] == pytest.approx(0.02)
    assert (acc["min"], acc["max"], acc["interval width"]) == pytest.approx((0.90, 0.94, 0.04))
    assert acc["values"] == "42:0.9000 1:0.9400 2:0.9200"
    assert np.isnan(seed_table({42: intervals({"a": 0.9})}, ["a"])["std"].iloc[0])  # one seed: no spread


def test_a_paper_number_is_placed_against_the_seeds_range_and_their_intervals():
    def check(ours, low, high, inside, judged=True):
        return pd.DataFrame([{"paper model": "P", "ours": "a", "metric": "accuracy", "paper %": 95.0,
                              "ours %": ours, "low %": low, "high %": high, "inside": inside, "judged": judged}])

    placed = paper_placement({42: check(93.0, 91.0, 95.5, True), 1: check(94.0, 92.0, 96.0, True),
                              2: check(92.0, 90.0, 94.0, False)})
    assert placed == [{"paper model": "P", "ours": "a", "metric": "accuracy", "paper %": 95.0, "judged": True,
                       "seeds": 3, "ours min %": 92.0, "ours max %": 94.0, "inside seed range": False,
                       "intervals containing it": 2}]
    table = seed_table({42: intervals({"a": 0.93}), 1: intervals({"a": 0.94}), 2: intervals({"a": 0.92})}, ["a"])
    choices = [{"weights": [0.5, 0.5], "gamma": 0.7}, {"weights": [0.6, 0.4], "gamma": 0.7},
               {"weights": [0.5, 0.5], "gamma": 0.7}]
    said = " ".join(verdicts(table, placed, choices, 3))
    assert "above the range the same network reaches over 3 seeds (92.00–94.00%)" in said
    assert "inside 2 of the 3 seeds' intervals" in said
    assert "moves: 2 different choices" in said
    assert "less than the test sample moves one run" in said  # half-range 1 point, bootstrap half-width 2
    assert "not measured" in verdicts(table, placed, choices, 1)[0]
    stand_in = paper_placement({42: check(93.0, 91.0, 95.5, True, judged=False), 1: check(94.0, 92.0, 96.0, True, False)})
    said = " ".join(verdicts(table, stand_in, [], 2))
    assert "is not judged" in said and "inside" not in said and "outside" not in said
