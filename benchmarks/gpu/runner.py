"""Run the allrepro DAG on a borrowed GPU machine that has JAX but no TensorFlow and no network.

The machine takes at most 64 MiB of files per command, runs one command for at most 10 minutes and
keeps its files only while it is held. So the work is split in steps (see README.md beside this file):

  here:     python benchmarks/gpu/runner.py pack                 # wheels + the data, in parts, under .gpu/
  there:    python3 benchmarks/gpu/runner.py install .gpu/part1  # each part but the last, one command each
  there:    python3 benchmarks/gpu/runner.py install .gpu/partN start wait      # the last part; waits 570 s
  there:    python3 benchmarks/gpu/runner.py wait  # at once, as often as needed, then: collect

`start` launches Snakemake in its own process session, so it outlives the command that started it; `wait`
polls it and writes what is done so far (metrics, predictions, per-model timings, the log) into $OUT.
Rerunning `start` after an interruption resumes: Snakemake skips finished jobs and training resumes
from its last completed epoch.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("ALLREPRO_GPU_STATE", "/tmp/allrepro-gpu"))
PACK = ROOT / ".gpu"
PART_MIB = 60  # a part plus the working tree (1.9 MiB of tracked files) stays under the 64 MiB a command carries
# What the GPU image has (numpy, pandas, scikit-learn, scipy, OpenCV, matplotlib, JAX...: what selftest.sh installs
# to stand in for it) and what the whole DAG imports there (every stage: the audit's crepes and scikit-image, the
# report's papermill, nbconvert and kernel, the model card's mistune); `pack` downloads the second's dependency
# closure minus the first's, pinned to what this venv runs. TensorFlow, DVC and the web server are not needed there.
GPU_IMAGE = ["numpy", "pandas", "scikit-learn", "opencv-python-headless", "matplotlib", "pyyaml", "scipy", "pillow", "h5py",
             "jax", "typing-extensions", "wrapt", "tqdm", "rich", "absl-py", "ml-dtypes", "psutil", "requests", "jinja2",
             "packaging", "attrs", "joblib", "threadpoolctl"]
DAG_NEEDS = ["keras", "snakemake", "imbalanced-learn", "papermill", "nbconvert", "ipykernel", "jsonschema", "crepes",
             "scikit-image", "mistune", "ImageHash"]
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "any")


def target(python: str) -> list[str]:
    """pip download options for the GPU machine's interpreter (CPython `python`, x86-64 Linux)."""
    return ["--python-version", python, "--implementation", "cp", "--only-binary=:all:",
            *[a for p in PLATFORMS for a in ("--platform", p)]]


def sh(*cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- here: pack ----------------------------------------------------------------------------------

def closure(roots: list[str]) -> dict[str, str]:
    """The installed distributions `roots` need at run time (their requirements, recursively, extras left out),
    name -> installed version."""
    import re
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    out, done, stack = {}, set(), [(norm(r), "") for r in roots]
    while stack:
        name, extra = stack.pop()  # a requirement like bleach[css] asks for the extra's requirements too
        if (name, extra) in done:
            continue
        done.add((name, extra))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement this venv does without
        out[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if not req.marker or req.marker.evaluate({"extra": extra}):
                stack += [(norm(req.name), "")] + [(norm(req.name), e) for e in req.extras]
    return out


def fill(items: list[tuple[str, int]], capacity: int) -> list[list[tuple[str, int]]]:
    """Items (name, bytes) into as few parts of `capacity` bytes as their order allows (first fit)."""
    parts: list[list[tuple[str, int]]] = []
    for item in items:
        for part in parts:
            if sum(n for _, n in part) + item[1] <= capacity:
                part.append(item)
                break
        else:
            parts.append([item])
    return parts


def pack(args) -> None:
    """Wheels for the GPU machine's Python (3.12, x86-64) and the dataset's images (`Original/` and `Segmented/`) as a stored zip
    cut in pieces, packed into as few folders of PART_MIB as they fit (one command carries one folder); the
    wheels and pack.json come first, so `install` of part1 makes the packages importable."""
    shutil.rmtree(PACK, ignore_errors=True)
    wheels = PACK / "wheels"
    wheels.mkdir(parents=True)
    have = closure(GPU_IMAGE)
    pins = [f"{n}=={v}" for n, v in sorted(closure(DAG_NEEDS).items()) if n not in have]
    for pin in pins:
        name = pin.split("==")[0]
        got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *target(args.python),
                              "-d", str(wheels), pin], capture_output=True, text=True)
        if got.returncode:  # an sdist only (connection-pool): build its pure-Python wheel here
            sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, pin)
        print(f"wheel {name}: ok")
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, ROOT)  # allrepro itself

    source = Path(args.archive)
    subset = PACK / "dataset.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(subset, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if info.filename.startswith(tuple(f"{folder}/" for folder in args.subset)):
                dst.writestr(info, src.read(info))  # same names, same bytes, same dates
    digest, size, cap = sha256(subset), subset.stat().st_size, PART_MIB << 20
    items = sorted(((w.name, w.stat().st_size) for w in wheels.iterdir()), key=lambda i: -i[1])
    parts = fill(items, cap)
    # the data: a first piece fills the room left in the last wheel part (if any), then whole parts
    room, pieces, offset = cap - sum(n for _, n in parts[-1]), [], 0
    share_last = room > (1 << 20)
    while offset < size:
        take = min(room if share_last and not pieces else cap, size - offset)
        pieces.append((f"data.{len(pieces) + 1:02d}", offset, take))
        offset += take
    for number, (name, _, n) in enumerate(pieces):
        if number == 0 and share_last:
            parts[-1].append((name, n))
        else:
            parts.append([(name, n)])
    with open(subset, "rb") as fh:
        for number, part in enumerate(parts, start=1):
            folder = PACK / f"part{number}"
            (folder / "wheels").mkdir(parents=True)
            for name, _ in part:
                if name.startswith("data."):
                    _, start_at, n = next(p for p in pieces if p[0] == name)
                    fh.seek(start_at)
                    (folder / name).write_bytes(fh.read(n))
                else:
                    (wheels / name).rename(folder / "wheels" / name)
    subset.unlink()
    shutil.rmtree(wheels)
    (PACK / "part1" / "pack.json").write_text(json.dumps(
        {"zip": "dataset.zip", "sha256": digest, "bytes": size, "parts": [p[0] for p in pieces], "pins": pins,
         "wheels": len(items), "folders": len(parts)}, indent=1))
    for folder in sorted(PACK.iterdir()):
        mib = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        print(f"{folder.relative_to(ROOT)}: {mib:.1f} MiB")
    print(f"{len(parts)} parts: install each with its own command, part1 first, the last with `start wait`")


# ---- there: install, start, wait, collect --------------------------------------------------------

def install(folder: Path) -> None:
    """Keep one part's wheels and data pieces in the state folder; once every part is there, install all the
    wheels in one pip call (pip --target run once per part would replace the scripts folder, bin/, each time)."""
    STATE.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "wheels"):
        (STATE / sub).mkdir(exist_ok=True)
    for wheel in (folder / "wheels").glob("*.whl"):
        shutil.copy2(wheel, STATE / "wheels" / wheel.name)
    for item in folder.iterdir():
        if item.is_file():
            shutil.copy2(item, STATE / "data" / item.name)
    meta = STATE / "data" / "pack.json"
    pieces = sorted(p.name for p in (STATE / "data").glob("data.*"))
    print(f"kept {folder}: {len(list(STATE.glob('wheels/*.whl')))} wheels, data pieces {pieces}")
    packed = json.loads(meta.read_text()) if meta.exists() else None
    if packed and set(packed["parts"]) <= set(pieces) and len(list(STATE.glob("wheels/*.whl"))) >= packed["wheels"]:
        wheels = sorted((STATE / "wheels").glob("*.whl"))
        sh(sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--upgrade",
           "--target", STATE / "site", *wheels)
        print(f"installed: {len(wheels)} wheels (every part is here)")


def dataset() -> Path:
    """The reassembled zip, checked against the sha256 `pack` recorded."""
    meta = json.loads((STATE / "data" / "pack.json").read_text())
    out = STATE / "data" / meta["zip"]
    if out.exists() and sha256(out) == meta["sha256"]:
        return out
    missing = [p for p in meta["parts"] if not (STATE / "data" / p).exists()]
    if missing:
        raise SystemExit(f"data parts missing: {missing}: run `install` with the folders that carry them")
    with open(out, "wb") as dst:
        for part in meta["parts"]:
            dst.write((STATE / "data" / part).read_bytes())
    if sha256(out) != meta["sha256"]:
        raise SystemExit(f"{out}: sha256 differs from the packed zip's {meta['sha256']}")
    return out


def environment(archive: Path) -> dict:
    site = STATE / "site"
    env = {**os.environ, "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}".rstrip(":"),
           "PATH": f"{site / 'bin'}:{os.environ['PATH']}", "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax"),
           "ALLREPRO_DATA_SOURCE": f"file:{archive}", "PYTHONUNBUFFERED": "1",
           # the wheels' data files (nbconvert's templates, the python3 kernel spec) are under site/share/jupyter,
           # where Jupyter looks only when told
           "JUPYTER_PATH": str(site / "share" / "jupyter"),
           # each job is its own process (training and evaluation can overlap): JAX must not grab 75% of
           # the GPU at start, and then its peak-memory figure is what the model really used
           "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "DVC_NO_ANALYTICS": "1",
           # JAX's persistent compilation cache, shared by every job of the run (and a restart on the same machine):
           # a model's evaluation, another experiment's same backbone and a resumed job load what an earlier job
           # compiled (benchmarks/compile_counts.py measures it); every executable, however quick to compile
           "JAX_COMPILATION_CACHE_DIR": str(STATE / "jax-cache"), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    return env


def overrides_file(items: list[str], path: Path) -> Path:
    """KEY.PATH=VALUE overrides as a YAML file for `snakemake --configfile`, which merges it into
    params.yaml (`--config` takes top-level keys only, and reads `null` there as a string)."""
    import yaml

    nested: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(nested, sort_keys=False))
    return path


def sharing(args) -> list[str]:
    """Snakemake options that let `--gpu-jobs` training jobs share the GPU, the cores split between them.

    At batch 32 one job keeps an H100 mostly idle (2-2.5 GiB of 80 GiB) and a good part of each job is XLA
    compiling on the CPU, so jobs side by side overlap their compiles with each other's steps."""
    threads = max(1, args.cores // args.gpu_jobs)
    return ["--resources", f"gpu={args.gpu_jobs}", "--set-threads", f"train={threads}"]


def survivors(work: Path) -> str:
    """What an earlier start left on this machine: finished trainings and evaluations are skipped, a training
    cut short resumes after its last saved epoch; on a fresh machine nothing survived and everything runs."""
    if not (work / "models").is_dir():
        return "resume: nothing of an earlier run is on this machine (a fresh one): every job runs"
    trained = sorted(p.parent.relative_to(work / "models").as_posix() for p in work.glob("models/*/*/labels.json"))
    partial = sorted(p.parent.relative_to(work / "models").as_posix() for p in work.glob("models/*/*/.work"))
    evaluated = len(list(work.glob("reports/*/*/metrics.json")))
    return (f"resume: {len(trained)} trainings finished ({', '.join(trained) or 'none'}), {evaluated} evaluations "
            f"finished: skipped; cut short, resuming after their last saved epoch: {', '.join(partial) or 'none'}")


def start(args) -> None:
    archive = dataset()
    work = STATE / "work"
    print(survivors(work))
    # the project's files, refreshed; data/, models/, reports/ and logs/ of an earlier start are kept (resume)
    keep = {"data", "models", "reports", "logs", ".snakemake", ".gpu", ".whl", ".git", ".venv", ".pytest_cache"}
    work.mkdir(exist_ok=True)
    for item in ROOT.iterdir():
        if item.name in keep:
            continue
        dest = work / item.name
        if dest.is_dir():
            shutil.rmtree(dest)
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, dest)
    for name in ("data", "models", "reports"):
        (work / name).mkdir(exist_ok=True)
        for readme in (ROOT / name).glob("README.md"):
            shutil.copy2(readme, work / name / readme.name)
    env = environment(archive)
    config = [f"profile={args.profile}", *args.set]
    overrides = overrides_file(config, STATE / "overrides.yaml")
    # one Snakemake over every chosen experiment (so that jobs of different experiments share the GPU), the whole
    # DAG of the selection: trainings, evaluations, ensembles, audits, reports, bundles and the scorecard
    jobs = [["snakemake", "--cores", str(args.cores), *sharing(args), "--rerun-incomplete", "--keep-going",
             "--configfile", str(overrides), "--config", f"experiment={','.join(args.experiments)}"]]
    script = STATE / "run.sh"
    lines = ["set -e", f"cd {work}", "date +%s > ../started", "nvidia-smi -L || true",
             # GPU utilisation and memory every 5 s for the run's figures (no nvidia-smi, as in the CPU selftest: none)
             f"(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -l 5 "
             f"> {STATE / 'gpu-util.csv'} 2>/dev/null &) || true"]
    for cmd in jobs:
        lines += [f"echo \"== $(date +%T) {' '.join(cmd[:12])} ...\"", " ".join(f"'{c}'" for c in cmd)]
    lines += ["date +%s > ../finished", "pkill -f 'nvidia-smi --query-gpu' || true"]
    script.write_text("\n".join(lines) + "\n")
    for stale in ("finished", "failed", "started"):
        (STATE / stale).unlink(missing_ok=True)
    log = open(STATE / "run.log", "a")
    wrapper = f"bash {script} || echo $? > {STATE / 'failed'}"
    subprocess.Popen(["bash", "-c", wrapper], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                     start_new_session=True)  # survives the end of this command
    (STATE / "config.json").write_text(json.dumps({"experiments": args.experiments, "config": config,
                                                   "commands": jobs, "env": {k: env[k] for k in (
                                                       "KERAS_BACKEND", "XLA_PYTHON_CLIENT_PREALLOCATE")}}))
    print(f"started: {len(jobs)} snakemake runs, log {STATE / 'run.log'}")


def wait(args) -> None:
    deadline = time.time() + args.seconds
    while time.time() < deadline and not any((STATE / f).exists() for f in ("finished", "failed")):
        time.sleep(5)
    state = "finished" if (STATE / "finished").exists() else "failed" if (STATE / "failed").exists() else "running"
    print(f"state: {state}")
    collect(args)


def model_rows(work: Path) -> list[dict]:
    rows = []
    for labels in sorted(work.glob("models/*/*/labels.json")):
        info = json.loads(labels.read_text())
        rows.append({"trained_in": labels.parent.parent.name, **{k: info.get(k) for k in (
            "model", "backbone", "input_size", "train_rows", "epochs", "params_total", "seconds",
            "train_images_per_s", "first_epoch_seconds", "peak_memory_mib", "compile")}, **{
            k: info["runtime"].get(k) for k in ("backend", "device", "precision", "jit_compile", "deterministic")}})
    return rows


def collect(args) -> None:
    """Metrics, predictions, timings and logs into $OUT/results.tar.gz, and a summary on stdout."""
    out = Path(os.environ.get("OUT") or args.out or ".")
    out.mkdir(parents=True, exist_ok=True)
    work = STATE / "work"
    started = float((STATE / "started").read_text()) if (STATE / "started").exists() else None
    ended = (STATE / "finished").read_text() if (STATE / "finished").exists() else None
    summary = {"wall_seconds": round((float(ended) if ended else time.time()) - started) if started else None,
               "state": "finished" if ended else "failed" if (STATE / "failed").exists() else "running",
               "models": model_rows(work)}
    util = STATE / "gpu-util.csv"
    samples = [[float(v) for v in line.split(",")[:2]] for line in (util.read_text().splitlines() if util.exists() else [])
               if line.count(",") >= 1 and line.split(",")[0].strip().replace(".", "").isdigit()]
    if samples:
        summary["gpu"] = {"samples": len(samples), "utilisation_mean_pct": round(sum(u for u, _ in samples) / len(samples), 1),
                          "utilisation_max_pct": max(u for u, _ in samples), "memory_max_mib": max(m for _, m in samples)}
    for metrics in sorted(work.glob("reports/*/*/metrics.json")):
        m = json.loads(metrics.read_text())
        speed = metrics.with_name("inference.json")
        summary.setdefault("evaluations", []).append({
            "experiment": metrics.parent.parent.name, "model": metrics.parent.name,
            **{k: m.get(k) for k in ("accuracy", "mcc", "n", "coverage")},
            "inference_images_per_s": json.loads(speed.read_text()).get("images_per_s") if speed.exists() else None})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        for pattern in ("models/*/*/labels.json", "models/*/*/history.csv", "reports/*/*/*.json", "reports/*/*/*.csv",
                        "reports/*/report.html", "reports/*/*.json", "reports/*/*.csv", "reports/index.html",
                        "reports/scorecard.csv", "bundles/*/bundle.json", "bundles/*/model_card.md", "logs/**/*.log"):
            for path in sorted(work.glob(pattern)):
                tar.add(path, arcname=path.relative_to(work).as_posix())
        for name in ("run.log", "run.sh", "config.json", "gpu-util.csv"):
            if (STATE / name).exists():
                tar.add(STATE / name, arcname=name)
    print(json.dumps(summary, indent=1)[-6000:])
    log = STATE / "run.log"
    if log.exists():
        print("---- run.log (end) ----\n" + log.read_text()[-3000:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("steps", nargs="+", help="pack | install FOLDER | start | wait | collect, in order")
    ap.add_argument("--archive", default=str(ROOT.parent / "shared/datasets/mehradaria-leukemia/archive.zip"))
    ap.add_argument("--subset", nargs="+", default=["Original", "Segmented"],
                    help="the archive's folders to pack (default both: the audit compares the segmentation with Segmented/)")
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--experiments", nargs="+", default=["idrees", "patel", "najjar"])
    ap.add_argument("--set", action="append", default=["profiles.paper.weights=null"],
                    help="extra KEY=VALUE for snakemake --config (default: profiles.paper.weights=null, offline)")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--gpu-jobs", type=int, default=4,
                    help="training jobs sharing the GPU at once (default 4: three kept an H100 95%% busy on "
                         "2026-11-24 while compiles took 45%% of a job; a fourth overlaps them, 4 cores each of 16)")
    ap.add_argument("--python", default="3.12", help="pack: the GPU machine's Python version (default 3.12)")
    ap.add_argument("--seconds", type=float, default=570,
                    help="wait: poll this long (default 570: ends within a 10-minute command, collect included)")
    ap.add_argument("--out", default=None, help="where collect writes (default: $OUT)")
    args = ap.parse_args()
    steps = iter(args.steps)
    for step in steps:
        if step == "install":
            install(Path(next(steps)))
        elif step in ("pack", "start", "wait", "collect"):
            globals()[step](args)
        else:
            raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main()
