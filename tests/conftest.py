"""Shared fixtures: generated images and datasets, a tiny copy of the project, the real dataset when present."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from allrepro.datasets.synthetic import cell_image  # noqa: F401  (re-exported for the tests)
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REAL_ZIP = ROOT.parent / "shared" / "datasets" / "mehradaria-leukemia" / "archive.zip"
REAL_SHA256 = "38525f917295ffd297cedcd6698c380cfbb1bd419b4cbf785b38910a7b63a57a"
CLASSES = ["Benign", "Early", "Pre", "Pro"]
BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{BIN}:{os.environ['PATH']}"  # the venv's allrepro, snakemake and dvc, however pytest was started
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def reference_image(label: int, index: int, size: int = 48) -> np.ndarray:
    """The dataset's own "Segmented" version of cell_image: the nuclei on black."""
    image = cell_image(label, index, size)
    image[~np.all(image == (160, 50, 90), axis=2)] = 0
    return image


def write_dataset(root: Path, n_per_class: int = 10, size: int = 48, subset: str = "Original",
                  classes=CLASSES, ext: str = ".jpg", reference: str | None = "Segmented") -> Path:
    """A folder-per-class dataset in the Kaggle ALL layout, with its `Segmented/` twin (PNG-quality
    masks would be too kind: the reference is written in the same format as the images)."""
    for label, cls in enumerate(classes):
        for folder_name, make in ((subset, cell_image), (reference, reference_image)):
            if folder_name is None:
                continue
            folder = root / folder_name / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                cv2.imwrite(str(folder / f"{cls}-{i:03d}{ext}"), make(label, i, size))
    return root


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return out


def tiny_params(n_per_class: int = 10, size: int = 32, epochs: int = 1) -> dict:
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg["datasets"]["mehradaria"]["expected_counts"] = {c: n_per_class for c in CLASSES}
    cfg["datasets"]["mehradaria"]["image_size"] = None  # generated images are smaller than the real 224 px
    cfg["audit"]["bootstrap"]["resamples"] = 200
    for name in ("quick_cnn", "quick_cnn_b"):
        cfg["models"][name]["input_size"] = size
        cfg["models"][name]["batch_size"] = 8
        cfg["models"][name]["phases"][0]["epochs"] = epochs
    for exp in ("idrees_grouped", "patel_val", "najjar", "pushpalatha", "pushpalatha_grouped"):  # idrees (3 parts, segmented), patel (oversampling, ensemble) cover every stage
        del cfg["experiments"][exp]
    # under the paper profile: each paper's longest and shortest training (the scheduling test ranks them)
    cfg["experiments"]["idrees"]["models"] = ["idrees_efficientnetb3", "idrees_resnet50"]
    cfg["experiments"]["patel"]["models"] = ["patel_densenet201", "patel_resnet50"]  # its paper ensemble's members
    # what no remaining experiment names goes too: DVC parses params.yaml once per stage and command (466 -> 291 lines)
    used = {m for e in cfg["experiments"].values() for m in e["models"]} | {"quick_cnn", "quick_cnn_b"}
    cfg["models"] = {name: spec for name, spec in cfg["models"].items() if name in used}
    cfg["datasets"] = {name: spec for name, spec in cfg["datasets"].items()
                       if name in {e["dataset"] for e in cfg["experiments"].values()}}
    cfg["report"]["n_segmentation_examples"] = 2
    cfg["experiment"] = "all"  # dvc.yaml follows the selection: every experiment of the tiny project
    return cfg



@pytest.fixture(autouse=True)
def _xdist_group_is_kept(request):
    """Tests that share the tiny project are one xdist_group, run on one worker in file order. xdist keeps a
    group together by tagging the test's id, which it cannot do under pytest 9.2 (pytest-dev/pytest-xdist#1386):
    the tests would then be spread over workers and fail for reasons that have nothing to do with them."""
    if getattr(request.config.option, "loadgroup", False) and request.node.get_closest_marker("xdist_group") \
            and "@" not in request.node.nodeid:
        pytest.fail("pytest-xdist did not keep this test in its xdist_group (pytest-dev/pytest-xdist#1386): "
                    "install the pytest of requirements.lock")

# The order xdist hands work out in (`make test`: --dist loadgroup --no-loadscope-reorder): the longest first, so that
# neither worker is left with a long test at the end. The tiny project's chain (tests/test_dag.py) starts at once, on
# one worker, with the whole run it needs; the other worker trains and tests networks meanwhile, then takes the second
# chain (group "tiny-b", on a copy of that run, which is built by then: it never waits), then the rest. Seconds per
# module on a 2-core machine (AVX-512), measured with --durations; a new module with no figure runs last.
SCHEDULE = {"tiny": 10_000, "test_train.py": 120, "tiny-b": 100, "test_backbones.py": 60, "test_datasets.py": 40,
            "real": 38, "test_slurm.py": 20, "test_audit.py": 17, "test_cli.py": 15,
            "test_split.py": 15, "test_quality.py": 11, "test_params.py": 10}


def pytest_collection_modifyitems(items):
    def seconds(item):
        group = item.get_closest_marker("xdist_group")
        return SCHEDULE.get(group.args[0] if group else item.path.name, 0)

    items.sort(key=lambda item: -seconds(item))  # stable: file order within a module and a group


@pytest.fixture
def tiny_zip(tmp_path) -> Path:
    return zip_folder(write_dataset(tmp_path / "tiny"), tmp_path / "tiny.zip")


def make_project(dest: Path, cfg: dict, data_zip: Path) -> Path:
    """A copy of the project's pipeline definition (not its data) with its own params, git and DVC."""
    dest.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "profiles", "src", "envs", ".gitignore", ".dvcignore"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = project_env(data_zip)
    run(["allrepro", "dvc-yaml"], dest, env)
    run(["git", "init", "-q"], dest, env)
    run(["dvc", "init", "-q"], dest, env)
    shutil.copy(ROOT / ".dvc/config", dest / ".dvc/config")  # the project's own DVC settings and default remote
    run(["dvc", "config", "core.analytics", "false"], dest, env)
    if (ROOT / ".dvc/plots.html").is_file():  # `make setup` wrote it: the command below finds it up to date (1 s less)
        shutil.copy(ROOT / ".dvc/plots.html", dest / ".dvc/plots.html")
    run(["allrepro", "dvc-plots"], dest, env)  # what `make setup` does: `dvc plots show` offline
    return dest


def project_env(data_zip: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLREPRO_")}
    env.update(PATH=f"{BIN}:{env['PATH']}", ALLREPRO_DATA_SOURCE=f"file:{data_zip}", DVC_NO_ANALYTICS="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    return env


def run(cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True, timeout: int = 900,
        input: str | None = None):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def real_zip() -> Path:
    """The real dataset from ../shared; skipped (with the reason) only outside CI when it is absent."""
    if not REAL_ZIP.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{REAL_ZIP} is missing in CI")
        pytest.skip(f"real dataset not present at {REAL_ZIP}")
    return REAL_ZIP


@pytest.fixture(scope="session")
def real_project(tmp_path_factory, real_zip) -> Path:
    """acquire + segment on the real dataset once per session, in a scratch project folder."""
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())
    project = tmp_path_factory.mktemp("real")
    (project / "params.yaml").write_text(yaml.safe_dump(cfg))
    env = project_env(real_zip)
    run(["allrepro", "acquire", "--dataset", "mehradaria"], project, env)
    run(["allrepro", "segment", "--dataset", "mehradaria"], project, env)
    return project


SNAKEMAKE = ["snakemake", "--cores", "2", "--resources", "gpu=1", "--config", "experiment=all"]


@pytest.fixture(scope="session")
def tiny_built(tmp_path_factory):
    """A tiny copy of the project on generated images (idrees: segmented, 3 parts; patel: oversampling and
    the ensemble) after one whole Snakemake run, its jobs
    traced (ALLREPRO_TRACE). Built once for the whole session: the first xdist worker to ask builds it under a lock
    in the workers' shared temporary folder, the other waits and finds it. No test changes it: `tiny` and `tiny_b`
    are copies, so their two groups of tests run side by side, one on each worker."""
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    root = shared / "tiny-built"
    with open(shared / "tiny-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, however the build ends
        if (root / "failed").exists():
            pytest.fail("the whole tiny DAG failed on the other worker:\n" + (root / "failed").read_text()[-6000:])
        if not (root / "done").exists():
            shutil.rmtree(root, ignore_errors=True)
            data = zip_folder(write_dataset(root / "src", 10), root / "tiny.zip")
            cfg = tiny_params()
            cfg["experiments"]["idrees"]["split"]["group_near_duplicates"] = True  # split depends on duplicates
            project = make_project(root / "project", cfg, data)
            out = run(SNAKEMAKE, project, {**project_env(data), "ALLREPRO_TRACE": str(root / "trace")}, check=False)
            (root / "run.log").write_text(out.stdout + out.stderr)
            (root / ("done" if out.returncode == 0 else "failed")).write_text(out.stdout + out.stderr)
        if (root / "failed").exists():
            pytest.fail("the whole tiny DAG failed:\n" + (root / "failed").read_text()[-6000:])
    return root, project_env(root / "tiny.zip")


def copy_of(built: tuple, dest: Path) -> tuple[Path, dict]:
    """A copy of the built project (file times kept: both engines see it up to date) and of its run's traces and
    log, in its own folder (its relative DVC remote is its own)."""
    root, env = built
    shutil.copytree(root / "project", dest / "project", symlinks=True)
    shutil.copytree(root / "trace", dest / "trace")
    shutil.copy2(root / "run.log", dest / "run.log")
    return dest / "project", env


@pytest.fixture(scope="session")
def tiny(tiny_built, tmp_path_factory):
    """The tiny project after its whole run, for tests/test_dag.py (one xdist group, in file order)."""
    return copy_of(tiny_built, tmp_path_factory.mktemp("dag"))


@pytest.fixture(scope="session")
def tiny_b(tiny_built, tmp_path_factory):
    """Another copy, for the pages, the README commands, the rerun matrix and the web page (the group "tiny-b",
    on the other worker)."""
    return copy_of(tiny_built, tmp_path_factory.mktemp("dagb"))


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are missing in CI (.ci/run installs them)")
        pytest.skip("no browser here: apt-get install chromium chromium-driver")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1500"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()
