"""Every command of the README's ```bash blocks, run as written on a copy of the tiny project after its run (conftest.tiny_b):
the cheap ones for real (DVC's metrics, plots, diffs, push and pull, `allrepro dvc-yaml`, predict, serve until it
answers, the benchmarks' options), the long ones as the tool's own dry run (`snakemake -n`, `dvc repro --dry`,
`dvc exp run --queue`, `make -n`), which still checks that the tool accepts the command line and builds its DAG."""
from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

from conftest import ROOT, cell_image, run

pytestmark = [pytest.mark.dag, pytest.mark.xdist_group("tiny-b")]  # a copy of the tiny project, after its run


@pytest.fixture(scope="module")
def tiny(tiny_b):
    """This module's tiny project: the copy the group "tiny-b" shares (conftest.tiny_b), not tests/test_dag.py's."""
    return tiny_b


def readme_commands() -> list[str]:
    """Each command line of the README's bash blocks: comments dropped, `a && b` and `a; b` split."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if not line or line.startswith("#"):
                continue
            commands += [part.strip() for part in re.split(r"\s*(?:&&|;)\s+", line) if part.strip()]
    return commands


def split_env(command: str) -> tuple[dict, list[str]]:
    words = shlex.split(command)
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_answers(words: list[str], cwd: Path, env: dict) -> None:
    """Start `allrepro serve` as written (on a free port), wait for /healthz, stop it."""
    port = free_port()
    proc = subprocess.Popen([*words, "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError(f"{' '.join(words)} exited: {proc.stdout.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{' '.join(words)}: no answer on /healthz in 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_readme_commands_run_as_written(tiny):
    project, env = tiny
    commands = readme_commands()
    assert len(commands) >= 25, commands
    # what the commands name as a user's own files
    (project / "my-overrides.yaml").write_text("report:\n  title: from my-overrides.yaml\n")
    (project / "more").mkdir(exist_ok=True)
    for i, path in enumerate(("some.jpg", "more/a.png", "more/b.jpg")):
        cv2.imwrite(str(project / path), cell_image(i % 4, i, 64))
    params = (project / "params.yaml").read_text()
    # the workspace as `make run` leaves it: every output recorded in dvc.lock (the runs of the tests before this one
    # used --config values, which Snakemake does not record); the README's own `git commit` makes the baseline
    run(["dvc", "commit", "--force", "--quiet"], project, env)
    assert run(["git", "rev-parse", "--verify", "HEAD"], project, env, check=False).returncode, "a commit already"
    ran, dry = [], []
    try:
        for command in commands:
            extra, words = split_env(command)
            run_env = {**env, **extra}
            tool = words[0]
            if tool == "make":  # the Makefile is the repository's: its recipe, printed, not run
                run(["make", "-n", *words[1:]], ROOT, run_env)
                dry.append(command)
            elif tool == "snakemake":
                run([*words, "-n"], project, run_env)
                dry.append(command)
            elif words[:2] == ["dvc", "repro"]:
                run([*words, "--dry"], project, run_env)
                dry.append(command)
            elif words[:3] == ["dvc", "exp", "run"]:  # queued, not run: DVC checks the -S values and the stages
                run([*words[:3], "--queue", *words[3:]], project, run_env)
                queued = run(["dvc", "queue", "status"], project, run_env).stdout
                assert "Queued" in queued, queued
                run(["dvc", "queue", "remove", "--all"], project, run_env)
                dry.append(command)
            elif words[:2] == ["allrepro", "serve"]:
                serve_answers(words, project, run_env)
                ran.append(command)
            elif tool == "python" and words[1].startswith("benchmarks/"):  # minutes of load: its options checked
                usage = run(["python", str(ROOT / words[1]), "--help"], ROOT, run_env).stdout
                assert all(flag in usage for flag in words[2:] if flag.startswith("--")), (command, usage)
                dry.append(command)
            elif tool in ("dvc", "allrepro", "git"):
                run(words, project, run_env)
                ran.append(command)
            else:
                pytest.fail(f"README command with no rule here: {command}")
    finally:
        (project / "params.yaml").write_text(params)  # `dvc exp run -S` may have set a value
        shutil.rmtree(project / "more", ignore_errors=True)
    assert (project / "predictions.csv").is_file()  # `allrepro predict ... --out predictions.csv`
    print(f"{len(commands)} README commands: {len(ran)} run, {len(dry)} as dry runs")
