"""train/evaluate on generated images: the quick model trains and predicts, under TensorFlow and JAX,
and two CPU runs with the same seed give identical weights and metrics."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import project_env, run, tiny_params, write_dataset, zip_folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, dict]:
    """A scratch project with the tiny dataset acquired, segmented, split and cached at 32 px."""
    root = tmp_path_factory.mktemp("train")
    data = zip_folder(write_dataset(root / "src", 12), root / "tiny.zip")
    project = root / "p"
    project.mkdir()
    cfg = tiny_params(n_per_class=12, size=32, epochs=2)
    (project / "params.yaml").write_text(yaml.safe_dump(cfg))
    env = project_env(data)
    for cmd in (["acquire", "--dataset", "mehradaria"], ["segment", "--dataset", "mehradaria"],
                ["split", "--experiment", "idrees"]):
        run(["allrepro", *cmd], project, env)
    for part in ("train", "val", "test"):
        run(["allrepro", "cache", "--experiment", "idrees", "--size", "32", "--part", part], project, env)
    return project, env


def weights_digest(project: Path) -> str:
    import keras
    from allrepro.models import layers  # noqa: F401

    model = keras.saving.load_model(project / "models/idrees/quick_cnn/model.keras")
    return hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()


def test_cache_arrays_match_manifests(prepared):
    project, _ = prepared
    for part in ("train", "val", "test"):
        x = np.load(project / f"data/processed/idrees/cache/32/{part}.npy")
        assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3)
        assert len(x) == len(pd.read_csv(project / f"data/processed/idrees/split/{part}.csv"))


def test_quick_model_trains_under_jax_and_a_second_training_compiles_nothing_with_the_persistent_cache(
        prepared, tmp_path):
    """Under JAX, as the GPU runner runs it (JAX_COMPILATION_CACHE_DIR, one XLA program per step): the model trains
    and evaluates, its labels.json names the backend and versions; a second job of the same network loads every XLA
    executable of both phases and their validation from the cache, compiles none, and trains the same weights."""
    import jax  # noqa: F401  (a test extra: `make setup` installs it; a missing one must fail, not skip)
    from importlib import metadata

    project, env = prepared
    env = {**env, "KERAS_BACKEND": "jax", "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax-cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    phases = "models.quick_cnn.phases=[{epochs: 1, optimizer: adam, learning_rate: 0.001, trainable: head}, " \
             "{epochs: 1, optimizer: adam, learning_rate: 0.0005, trainable: all}]"
    cmd = ["allrepro", "train", "--experiment", "idrees", "--model", "quick_cnn", "--set", phases,
           "--set", "train.jit_compile=true"]  # one XLA program per step, as on a GPU
    counts, digests = [], []
    for _ in range(2):
        run(cmd, project, env)
        info = json.loads((project / "models/idrees/quick_cnn/labels.json").read_text())
        counts.append(info["compile"])
        digests.append(weights_digest(project))
    assert info["runtime"]["backend"] == "jax"
    assert info["runtime"]["versions"]["jax"] == metadata.version("jax")
    assert info["runtime"]["versions"]["keras"] == metadata.version("keras")
    assert counts[0]["xla_compiles"] > 0 and counts[0]["cache_hits"] == 0, counts
    assert counts[1]["xla_compiles"] == 0 and counts[1]["cache_hits"] == counts[0]["xla_compiles"], counts
    assert digests[0] == digests[1]
    run(["allrepro", "evaluate", "--experiment", "idrees", "--model", "quick_cnn", "--set", phases], project, env)
    metrics = json.loads((project / "reports/idrees/quick_cnn/metrics.json").read_text())
    assert metrics["n"] == 8 and 0 <= metrics["accuracy"] <= 1


def test_training_is_deterministic_across_processes_and_a_killed_run_resumes_to_the_same_weights(prepared):
    """Train once (two phases, with early stopping and LR-on-plateau counters in play). Then the same job
    is killed with SIGKILL after epoch 1 (phase 1), resumed and killed again after epoch 4 (phase 2), and resumed to
    the end: every epoch ran again, in other processes. The history and the weights are the same, bit for bit (so is
    everything evaluate computes from them: it reads nothing else of the training; the tiny project's run evaluates
    for real). That is CPU determinism across processes, and a resume that changes nothing."""
    project, env = prepared
    phases = ("models.quick_cnn.phases=[{epochs: 2, optimizer: adam, learning_rate: 0.001},"
              " {epochs: 3, optimizer: adam, learning_rate: 0.0005, early_stopping: 2, reduce_lr_patience: 1}]")
    cmd = ["allrepro", "train", "--experiment", "idrees", "--model", "quick_cnn", "--set", phases]
    out = project / "models/idrees/quick_cnn"
    outputs = ("model.keras", "history.csv", "labels.json")

    def history():
        return pd.read_csv(out / "history.csv").drop(columns=["train_seconds", "images_per_s"])

    run(cmd, project, env)
    uninterrupted, expected = weights_digest(project), history()
    assert expected["phase"].tolist()[:2] == [1, 1] and len(expected) >= 3 and "val_accuracy" in expected
    for name in outputs:
        (out / name).unlink()
    for kill_at in (1, 4):  # the second job resumes after epoch 1, then is killed in its turn
        killed = run(cmd, project, {**env, "ALLREPRO_TEST_KILL_AT_EPOCH": str(kill_at), "PYTHONUNBUFFERED": "1"},
                     check=False)  # unbuffered: what it printed before the kill is kept
        assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL once that epoch was checkpointed
        assert not any((out / n).exists() for n in outputs)
        log = killed.stdout + killed.stderr
        if kill_at == 4:
            assert "Epoch 2/" in log and "Epoch 1/" not in log, log[-3000:]  # resumed after epoch 1
    resumed = run(cmd, project, env)
    log = resumed.stdout + resumed.stderr
    assert "phase 1: already complete" in log
    assert "Epoch 5/" in log and "Epoch 4/" not in log
    pd.testing.assert_frame_equal(history(), expected)
    assert weights_digest(project) == uninterrupted, "killed after epochs 1 and 4"
    assert not (out / ".work").exists()


def test_run_eagerly_auto_only_for_a_handful_of_steps_on_a_cpu():
    """Tracing costs more than a few steps (the smoke profile's), never more than a real training job's."""
    from allrepro.runtime import EAGER_STEPS, run_eagerly

    cpu, gpu = {"gpus": 0, "jit_compile": False}, {"gpus": 1, "jit_compile": True}
    assert run_eagerly("auto", 2, cpu) and run_eagerly("auto", EAGER_STEPS, cpu)
    assert not run_eagerly("auto", EAGER_STEPS + 1, cpu) and not run_eagerly("auto", 20 * 72, cpu)  # quick profile
    assert not run_eagerly("auto", 2, gpu) and not run_eagerly(False, 2, cpu) and run_eagerly(True, 5000, cpu)
