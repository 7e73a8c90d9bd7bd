"""The workflow on a real Slurm (cluster/slurm.sh: one node, accounting, one advertised GPU): Snakemake
through profiles/slurm with every job an sbatch, a job killed by Slurm, `dvc repro` as a batch job, a DVC
experiment queue; and, without Slurm, one GPU per concurrently running training job on a workstation.
The Slurm tests are marked `cluster` (`make test-cluster`: minutes of scheduling on two cores, so not in
`make test`); skipped with the reason "no Slurm here" where no Slurm answers; CI starts one and runs them."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import make_project, project_env, run, tiny_params, write_dataset, zip_folder

# the profile as users run it, with the plugin's status polling made quick for a one-node test cluster
SLURM = ["snakemake", "--workflow-profile", "profiles/slurm", "--config", "experiment=all",
         "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2",
         "--set-resources", "train:mem_mb=3000", "train:slurm_partition=gpu", "--default-resources", "mem_mb=1500",
         "slurm_partition=cpu", "runtime=10"]


def slurm_up() -> bool:
    if not shutil.which("sbatch"):
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if not slurm_up():
        if os.environ.get("CI"):
            pytest.fail("no Slurm in CI: .ci/run starts one (bash cluster/slurm.sh start)")
        pytest.skip("no Slurm here (bash cluster/slurm.sh install && bash cluster/slurm.sh start)")


@pytest.fixture(scope="module")
def cluster_project(tmp_path_factory, slurm):
    root = tmp_path_factory.mktemp("slurm")
    data = zip_folder(write_dataset(root / "src", 10), root / "tiny.zip")
    cfg = tiny_params()
    del cfg["experiments"]["idrees"]  # patel: oversampling, two models, the ensemble
    cfg["experiment"] = "patel"
    return make_project(root / "project", cfg, data), project_env(data)


def sacct(since: str) -> list[dict]:
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", since, "-o",
                          "JobID,JobName,Comment,Partition,State,Elapsed,ReqMem,AllocTRES"],
                         capture_output=True, text=True, check=True).stdout
    keys = ["id", "name", "comment", "partition", "state", "elapsed", "mem", "tres"]
    return [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line]


@pytest.mark.cluster
def test_every_snakemake_job_is_one_slurm_job_with_its_resources(cluster_project):
    project, env = cluster_project
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    out = run(SLURM, project, env, timeout=1500)
    text = out.stdout + out.stderr
    run_id = next(line.split()[-1] for line in text.splitlines() if "SLURM run ID" in line)
    jobs = [j for j in sacct(since) if j["name"] == run_id]
    print("\n".join("|".join(j.values()) for j in jobs))  # the sacct table, kept in the test log
    scheduled = re.findall(r"^rule (\w+):", text, flags=re.M)  # `all` is a local rule: no Slurm job
    assert len(jobs) == len(scheduled) and all(j["state"] == "COMPLETED" for j in jobs), (jobs, scheduled)
    by_rule = {}
    for j in jobs:
        by_rule.setdefault(j["comment"].removeprefix("rule_").split("_wildcards")[0], []).append(j)  # rule_<name>_wildcards_...
    assert all("gres/gpu=1" in j["tres"] and j["partition"] == "gpu" and j["mem"] == "3000M" for j in by_rule["train"])
    assert not any("gres/gpu" in j["tres"] for rule, js in by_rule.items() if rule != "train" for j in js)
    assert (project / "bundles/patel/bundle.json").is_file()


def set_epochs(project: Path, epochs: int) -> None:
    cfg = yaml.safe_load((project / "params.yaml").read_text())
    cfg["models"]["quick_cnn"]["phases"][0]["epochs"] = epochs  # one training job only
    (project / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.mark.cluster
def test_a_job_killed_by_slurm_leaves_no_output_and_reruns(cluster_project):
    """Training that cannot finish within its 1-minute Slurm time limit: Slurm kills it (TIMEOUT), Snakemake
    fails and leaves none of its outputs; with the work made feasible again, the next run makes them.
    (Killed with `scancel` instead, sacct says "CANCELLED by <uid>", which plugin 2.8.0 does not take for a
    failure: Snakemake then waits for ever. A time limit is what kills jobs on a cluster.)"""
    project, env = cluster_project
    models = [project / "models/patel/quick_cnn/model.keras"]
    set_epochs(project, 5000)  # minutes of training on 2 cores: far over the limit
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    failed = run([*SLURM, "--set-resources", "train:runtime=1", "--until", "train"], project, env, check=False,
                 timeout=1500)
    assert failed.returncode != 0, failed.stdout[-3000:]
    states = [j["state"] for j in sacct(since) if j["comment"].startswith("rule_train")]
    assert "TIMEOUT" in states, states
    assert not any(m.exists() for m in models)  # Snakemake removed the outputs before the job; none was made
    assert not list(project.glob("models/patel/*/.model.tmp-*"))  # nothing half-written either
    set_epochs(project, 1)
    out = run([*SLURM, "--until", "train"], project, env, timeout=1500)
    assert all(m.is_file() for m in models) and "rule train" in out.stdout + out.stderr


@pytest.mark.cluster
def test_dvc_repro_as_a_batch_job(cluster_project):
    project, env = cluster_project
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    run(["sbatch", "--wait", "--job-name", "dvc-repro", "--mem", "6000", "--cpus-per-task", "2", "--time", "30",
         "--output", "dvc-repro.log", "--wrap", "dvc repro"], project, env, timeout=1900)
    assert "up to date" in run(["dvc", "status"], project, env).stdout
    assert (project / "dvc.lock").is_file() and (project / "reports/patel/report.html").is_file()
    assert [j["state"] for j in sacct(since) if j["name"] == "dvc-repro"] == ["COMPLETED"]


@pytest.mark.cluster
def test_dvc_experiment_queue_on_slurm(cluster_project):
    """A seed sweep queued with `dvc exp run --queue`, run inside one batch job by `dvc queue start -j 2`
    (workers in the job; `dvc queue wait`... until the queue is empty), then listed by `dvc exp show`."""
    project, env = cluster_project
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-qm", "base"], project, env)
    for seed in (1, 2):
        run(["dvc", "exp", "run", "--queue", "-S", f"train.seed={seed}", "--name", f"seed{seed}",
             "evaluate_patel_quick_cnn"], project, env)  # one model's training and evaluation per experiment
    script = ("dvc queue start -j 2 && while dvc queue status | grep -qE 'Queued|Running'; do sleep 5; done; "
              "dvc queue status")
    run(["sbatch", "--wait", "--job-name", "dvc-queue", "--mem", "8000", "--cpus-per-task", "2", "--time", "60",
         "--output", "dvc-queue.log", "--wrap", script], project, env, timeout=3700)
    table = json.loads(run(["dvc", "exp", "show", "--json"], project, env).stdout)
    names = json.dumps(table)
    assert '"seed1"' in names and '"seed2"' in names
    print(run(["dvc", "exp", "show", "--no-pager", "--md", "--only-changed"], project, env).stdout)


def test_two_training_jobs_at_once_get_different_gpus(tmp_path):
    """A workstation with two GPUs (CUDA_VISIBLE_DEVICES=0,1 here: the framework finds no device, the
    assignment is what is checked): `--resources gpu=2` runs patel's two trainings at once, each on its own."""
    data = zip_folder(write_dataset(tmp_path / "src", 10), tmp_path / "tiny.zip")
    cfg = tiny_params()
    del cfg["experiments"]["idrees"]
    cfg["experiment"] = "patel"
    project = make_project(tmp_path / "project", cfg, data)
    env = {**project_env(data), "CUDA_VISIBLE_DEVICES": "0,1"}
    run(["snakemake", "--cores", "2", "--resources", "gpu=2", "--set-threads", "train=1", "--config",
         "experiment=patel", "--until", "train"], project, env)
    devices, spans = [], []
    for model in ("quick_cnn", "quick_cnn_b"):
        info = json.loads((project / f"models/patel/{model}/labels.json").read_text())
        devices.append(info["runtime"]["cuda_visible_devices"])
    for meta in (project / ".snakemake/metadata").iterdir():
        record = json.loads(meta.read_text())
        if record.get("rule") == "train":
            spans.append((record["starttime"], record["endtime"]))
    assert sorted(devices) == ["0", "1"], devices
    starts, ends = zip(*spans)
    assert max(starts) < min(ends), spans  # the two trainings ran at the same time
