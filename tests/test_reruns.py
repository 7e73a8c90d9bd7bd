"""The rerun matrix: each edit a user makes (a parameter, a source file) and the exact stages it reruns, under both
engines, on a copy of the tiny project after its whole run (conftest.tiny_b). Snakemake: the jobs `snakemake -n` schedules
because of the edit itself ("direct") and everything it schedules; DVC: the stages `dvc status` reports changed. The
direct sets of the two engines must be equal, and equal to the table below."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import SNAKEMAKE, run
from test_dag import set_param

pytestmark = [pytest.mark.dag, pytest.mark.xdist_group("tiny-b")]  # a copy of the tiny project, after its run


@pytest.fixture(scope="module")
def tiny(tiny_b):
    """This module's tiny project: the copy the group "tiny-b" shares (conftest.tiny_b), not tests/test_dag.py's."""
    return tiny_b


EVERY = {"acquire", "segment", "duplicates", "agreement", "split", "cache", "train", "evaluate", "ensemble", "audit",
         "spread", "report", "export", "scorecard"}
AFTER_TRAIN = {"train", "evaluate", "ensemble", "audit", "spread", "report", "export", "scorecard"}

# edit -> (what it reruns directly, everything Snakemake then reruns)
MATRIX = {
    "profiles.smoke.title (a profile not in use)": (set(), set()),
    "profiles.paper.weights (a profile not in use)": (set(), set()),
    "profiles.quick.title (the active profile's)": ({"report"}, {"report"}),
    "train.seed": ({"train", "audit", "spread", "export"}, AFTER_TRAIN),
    "models.quick_cnn.phases (epochs)": ({"train", "export"}, AFTER_TRAIN),
    "evaluate.average": ({"evaluate"}, AFTER_TRAIN - {"train"}),
    "audit.bootstrap": ({"audit"}, {"audit", "spread", "report", "export", "scorecard"}),
    "report.title": ({"report"}, {"report"}),
    "src/allrepro/train.py": ({"train"}, AFTER_TRAIN),
    "src/allrepro/models/small_cnn.py": ({"train"}, AFTER_TRAIN),
    "src/allrepro/ensemble.py": ({"ensemble"}, {"ensemble", "audit", "spread", "report", "export", "scorecard"}),
    "src/allrepro/audit/stage.py": ({"audit"}, {"audit", "spread", "report", "export", "scorecard"}),
    "src/allrepro/audit/uncertainty.py": ({"audit", "report"}, {"audit", "spread", "report", "export", "scorecard"}),
    "src/allrepro/params.py": (EVERY, EVERY),
    "src/allrepro/cache.py": ({"cache"}, EVERY - {"acquire", "segment", "duplicates", "agreement", "split"}),
    "src/allrepro/paper_tables.py (read by the report's notebook)": ({"report"}, {"report"}),
    "src/allrepro/datasets/synthetic.py (no stage imports it)": (set(), set()),
}


def apply(project: Path, edit: str):
    """Make the edit; return the function that undoes it."""
    if edit.startswith("src/"):
        file = project / edit.split(" ")[0]
        original = file.read_text()
        file.write_text(original + "\n# edited by a test\n")
        return lambda: file.write_text(original)
    original = (project / "params.yaml").read_text()
    key = edit.split(" ")[0]
    cfg = yaml.safe_load(original)
    node = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    value = {"title": "edited by a test", "weights": "somewhere/else.weights.h5", "seed": 7,
             "average": ["macro"], "bootstrap": {"resamples": 150, "seed": 42, "level": 0.95}}.get(key.split(".")[-1])
    if key == "models.quick_cnn.phases":
        value = [{**node[0], "epochs": node[0]["epochs"] + 1}]
    set_param(project, key, value)
    return lambda: (project / "params.yaml").write_text(original)


def dvc_status(project: Path) -> dict:
    """What `dvc status --json` prints, from the same call in this process (DVC's own API: one start-up of DVC
    less per row, the same answer)."""
    from dvc.repo import Repo

    with Repo(str(project)) as repo:  # named from this process's folder: "<path>/dvc.yaml:<stage>" -> "<stage>"
        return {name.rpartition(":")[2]: changes for name, changes in repo.status().items()}


def engines(project: Path, env: dict) -> tuple[set, set, set]:
    # the two engines only read the project: asked side by side, on the two cores
    with ThreadPoolExecutor(2) as pool:
        asked = pool.submit(run, ["snakemake", "-n", *SNAKEMAKE[1:]], project, env)
        status = dvc_status(project)
        dry = asked.result()
    jobs = re.findall(r"^(?:local)?rule (\w+):.*?^\s+reason: ([^\n]*)", dry.stdout + dry.stderr, flags=re.M | re.S)
    direct = {r for r, reason in jobs if not reason.startswith("Input files updated by another job")} - {"all"}
    scheduled = {r for r, _ in jobs} - {"all"}
    dvc = {name.split("_")[0] for name, changes in status.items() if changes}
    return direct, scheduled, dvc


def test_each_edit_reruns_exactly_its_stages_under_both_engines(tiny):
    project, env = tiny
    run(["dvc", "repro"], project, env)  # both engines up to date, on the same files
    run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)
    assert engines(project, env) == (set(), set(), set())
    table, failures = [], []
    for edit, (direct, scheduled) in MATRIX.items():
        undo = apply(project, edit)
        try:
            got = engines(project, env)
        finally:
            undo()
        table.append(f"| {edit} | {', '.join(sorted(got[0])) or '—'} | {', '.join(sorted(got[1])) or '—'} | "
                     f"{', '.join(sorted(got[2])) or '—'} |")
        # Snakemake names one reason per job: a stage whose own input changed but which also follows a rerun job says
        # "input files updated by another job", so its direct set may be smaller; DVC's is exact
        if not (got[2] == direct and got[1] == scheduled and got[0] <= direct):
            failures.append(f"{edit}: expected DVC {sorted(direct)}, Snakemake {sorted(scheduled)}; got {got}")
    print("| edit | Snakemake: direct | Snakemake: scheduled | DVC: changed |\n|---|---|---|---|\n" + "\n".join(table))
    run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)  # the restored files' new mtimes
    assert not failures, "\n".join(failures)
