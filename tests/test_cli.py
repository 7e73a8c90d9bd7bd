"""The `allrepro` command as a person meets it on a terminal: quiet unless asked (-v), clear when it fails."""
from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT

ABSL = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d)", re.M)


def allrepro(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    return subprocess.run(["allrepro", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_tensorflows_start_up_noise_is_hidden_unless_asked_for():
    """`allrepro models` starts TensorFlow and builds a network: its answer and nothing of TensorFlow's C++
    start-up lines (CUDA probing, oneDNN) on standard error; with -v they are there."""
    quiet = allrepro("models", "quick_cnn")
    assert quiet.returncode == 0 and "quick_cnn" in quiet.stdout
    assert not ABSL.search(quiet.stderr) and "cuInit" not in quiet.stderr, quiet.stderr[-2000:]
    loud = allrepro("-v", "models", "quick_cnn")
    assert loud.returncode == 0 and loud.stdout == quiet.stdout
    assert ABSL.search(loud.stderr), loud.stderr[-2000:]  # TensorFlow always says something at start-up


def test_an_error_is_one_line_naming_the_file_and_the_exit_status_says_so():
    out = allrepro("predict", "--bundle", "bundles/no-such-bundle", "x.png")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "bundles/no-such-bundle" in out.stderr and "Traceback" not in out.stderr


def test_the_backend_is_read_as_keras_reads_it_and_jax_is_refused_only_under_tensorflow(tmp_path, monkeypatch):
    """cli.keras_backend without importing Keras: KERAS_BACKEND first, then $KERAS_HOME/keras.json, else
    TensorFlow. Only under TensorFlow does the command refuse JAX (which TensorFlow's import would load for nothing)."""
    import json
    import sys

    from allrepro import cli

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert cli.keras_backend() == "tensorflow"  # no keras.json
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    assert cli.keras_backend() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert cli.keras_backend() == "tensorflow"  # the variable wins over the file, as in Keras
    (tmp_path / "keras.json").write_text("{not json")
    monkeypatch.delenv("KERAS_BACKEND")
    assert cli.keras_backend() == "tensorflow"  # Keras ignores a keras.json it cannot parse
    code = "import sys; from allrepro import cli; cli._no_jax_under_tensorflow(); print(sys.modules.get('jax', 'absent'))"
    for backend, refused in (("tensorflow", "None"), ("jax", "absent")):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": backend},
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == refused, (backend, out.stdout)
