"""`allrepro <stage>`: one subcommand per pipeline stage, each a thin wrapper over an importable function.

Every subcommand validates params.yaml (with any --set overrides) before doing any work.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import re
import sys
from pathlib import Path

from allrepro import params as P


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set profile=paper (YAML value); repeatable")


OTHER = {  # commands that are not pipeline stages
    "validate": "check params.yaml against the schema and exit",
    "fit-hsv": "search the HSV bounds that best agree with the dataset's segmented images (training part)",
    "models": "list the models in params.yaml with their parameter counts",
    "dvc-yaml": "write dvc.yaml from the stage table (or --check it is up to date)",
    "dvc-plots": "write .dvc/plots.html, the page `dvc plots show` fills, with Vega inside it (offline)",
    "results": "the selected experiments' headline test metrics and where their reports and bundles are",
    "predict": "class probabilities and the decision for images or folders, from an exported bundle",
    "serve": "a web page and JSON API for predictions from an exported bundle (127.0.0.1 unless told)",
}
BUNDLE_ONLY = ("predict", "serve")  # need a bundle, not a project: no params.yaml is read
ARG_TYPES = {"ds": {"help": "a key of `datasets:` in params.yaml"},
             "exp": {"help": "a key of `experiments:` in params.yaml"},
             "model": {"help": "a key of `models:` in params.yaml"},
             "size": {"type": int, "help": "input size in pixels"}, "part": {"choices": ["train", "val", "test"]}}


def parser() -> argparse.ArgumentParser:
    from allrepro.pipeline import CLI_ARGS, STAGES

    ap = argparse.ArgumentParser(prog="allrepro", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show TensorFlow's start-up messages (e.g. why no GPU was found); hidden by default")
    subs = ap.add_subparsers(dest="command", required=True)
    for name, help_ in {"validate": OTHER["validate"], **{n: st.help for n, st in STAGES.items()},
                        **{k: v for k, v in OTHER.items() if k != "validate"}}.items():
        sub = subs.add_parser(name, help=help_, description=help_)
        if name in BUNDLE_ONLY:
            _bundle_args(sub, name)
            continue
        _common(sub)
        for w in STAGES[name].wildcards if name in STAGES else ():
            sub.add_argument(CLI_ARGS[w], dest=w, required=True, metavar=CLI_ARGS[w][2:].upper(), **ARG_TYPES.get(w, {}))
        if name in STAGES and STAGES[name].repeated:
            sub.add_argument(CLI_ARGS["seed"], dest="seed", type=int, default=None, metavar="SEED",
                             help="a training seed of `repeats:` (default: train.seed, the primary run)")
        if name in STAGES:
            sub.add_argument("--show", action="store_true",
                             help="print what this job reads (files, params keys and values) and writes, and exit")
        if name == "fit-hsv":
            sub.add_argument("--experiment", dest="exp", required=True)
            sub.add_argument("--out", default="params.fitted-hsv.yaml", help="params file to write (a segment: block)")
            sub.add_argument("--images-per-class", type=int, default=None)
        if name == "models":
            sub.add_argument("names", nargs="*", help="models to list (default: all in params.yaml)")
        if name == "dvc-yaml":
            sub.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml differs")
            sub.add_argument("--out", default="dvc.yaml")
    return ap


def _bundle_args(sub: argparse.ArgumentParser, name: str) -> None:
    sub.add_argument("--bundle", required=True, help="an exported bundle folder, e.g. bundles/patel")
    if name == "predict":
        sub.add_argument("paths", nargs="+", metavar="IMAGE|FOLDER")
        sub.add_argument("--out", help="write here (.csv or .json) instead of standard output")
        sub.add_argument("--format", choices=["csv", "json"], help="default: from --out's suffix, else csv")
    else:
        from allrepro.limits import LIMITS

        sub.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
        sub.add_argument("--port", type=int, default=8000)
        sub.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                         help="another Host name the server answers to (e.g. the machine's DNS name on a lab network); "
                              "loopback names and the --host address always are")
        for key, (value, help_) in LIMITS.items():
            sub.add_argument(f"--{key.replace('_', '-')}", dest=key, type=type(value), default=value, help=help_)


def _check_names(cfg: dict, args: argparse.Namespace) -> None:
    for attr, key, flag in (("exp", "experiments", "--experiment"), ("ds", "datasets", "--dataset"),
                            ("model", "models", "--model")):
        value = getattr(args, attr, None)
        if value is not None and value not in cfg[key]:
            raise P.ParamsError(f"{flag} {value!r}: not in params key '{key}'")
    seed = getattr(args, "seed", None)
    if seed is not None and seed not in P.repeats(cfg):
        raise P.ParamsError(f"--seed {seed}: not in params key 'repeats' {P.repeats(cfg)} (the primary run, "
                            f"train.seed, takes no --seed)")


def run(args: argparse.Namespace) -> int:
    from allrepro.pipeline import STAGES

    if args.command == "predict":
        from allrepro.predict import cli
        return cli(args.bundle, args.paths, args.out, args.format)
    if args.command == "serve":
        from allrepro.serve import main as serve
        return serve(args)
    if args.command == "dvc-plots":  # from the installed packages only: no params read
        from allrepro.dvcplots import write
        print(write())
        return 0
    cfg = P.load(args.params, args.overrides)
    _check_names(cfg, args)
    cmd = args.command
    if cmd in STAGES and args.show:
        from allrepro.pipeline import show
        print(show(cfg, cmd, {w: getattr(args, w) for w in STAGES[cmd].coordinates(getattr(args, "seed", None) is not None)}))
    elif cmd in STAGES:  # the stage's function, called with the job's files (from its record) and coordinates
        stage = STAGES[cmd]
        from allrepro import trace
        from allrepro.pipeline import job_name
        trace.start(job_name(cmd, {w: getattr(args, w) for w in stage.coordinates(getattr(args, "seed", None) is not None)}))
        if stage.gpu:  # before any framework starts: it reads CUDA_VISIBLE_DEVICES once
            from allrepro.gpuslots import claim
            claim()
        from allrepro.pipeline import job_files
        module, _, function = stage.run.partition(":")
        repeat = {"seed": args.seed} if stage.repeated and args.seed is not None else {}
        inputs, outputs = job_files(cfg, cmd, {**{w: getattr(args, w) for w in stage.wildcards}, **repeat})
        getattr(importlib.import_module(module), function)(cfg, inputs, outputs,
                                                           *(getattr(args, w) for w in stage.wildcards), **repeat)
    elif cmd == "validate":
        print(f"{args.params}: valid (profile {cfg['profile']}, experiment {cfg['experiment']})")
    elif cmd == "fit-hsv":
        from allrepro.audit.segmentation import fit_hsv, write_fitted
        if not cfg["datasets"][P.dataset_of(cfg, args.exp)].get("reference_masks"):
            raise P.ParamsError(f"experiments.{args.exp}: its dataset has no reference_masks to fit against")
        from allrepro.pipeline import outputs
        result = fit_hsv(cfg, args.exp, outputs("split", exp=args.exp)["train"], args.images_per_class)
        write_fitted(result, args.out)
        print(f"fit-hsv {args.exp}: default {result['default']} -> fitted {result['fitted']} "
              f"on {result['images']} training images; wrote {args.out}")
    elif cmd == "models":
        from allrepro.models.summary import print_models
        print_models(cfg, args.names)
    elif cmd == "results":
        _results(cfg)
    elif cmd == "dvc-yaml":
        from allrepro.dvcyaml import render
        text, out = render(cfg), Path(args.out)
        if args.check:
            if not out.is_file() or out.read_text() != text:
                print(f"{out} is out of date: run `allrepro dvc-yaml`", file=sys.stderr)
                return 1
            print(f"{out} is up to date")
        else:
            out.write_text(text)
            print(f"wrote {out}")
    return 0


def _results(cfg: dict) -> None:
    """What `make run` ends with: each model's (and ensemble's) test accuracy and MCC, the report and the bundle."""
    import json

    from allrepro.pipeline import outputs

    for exp in P.selected_experiments(cfg):
        rows = [(m, outputs("evaluate", exp=exp, model=m)["metrics_json"]) for m in P.models_for(cfg, exp)]
        rows += [("ensemble", outputs("ensemble", exp=exp)["metrics_json"])] if P.ensemble_members(cfg, exp) else []
        for name, path in rows:
            if not Path(path).is_file():
                print(f"{exp} {name}: not evaluated yet ({path} missing)")
                continue
            m = json.loads(Path(path).read_text())
            if name == "ensemble":  # abstentions count as wrong in accuracy_all
                print(f"{exp} ensemble: test accuracy {m['accuracy_all']:.4f} on all {m['n']} images "
                      f"({m['accuracy_covered']:.4f} on the {m['coverage']:.1%} it answers; weights {m['weights']}, "
                      f"gamma {m['gamma']})")
            else:
                print(f"{exp} {name}: test accuracy {m['accuracy']:.4f}, MCC {m['mcc']:.4f} ({m['n']} images)")
        for what, path in (("report", outputs("report", exp=exp)["html"]), ("bundle", outputs("export", exp=exp)["bundle"])):
            print(f"{exp} {what}: {path}" + ("" if Path(path).exists() else " (not made yet)"))
    card = outputs("scorecard")["html"]
    print(f"scorecard (every selected paper): {card}" + ("" if Path(card).exists() else " (not made yet)"))


# What TensorFlow's C++ side prints at start-up whatever TF_CPP_MIN_LOG_LEVEL says (absl logs before its
# initialisation): info and warning lines, and the CUDA probing errors of a machine without a GPU.
_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog|[IW]\d{4} \d\d:\d\d:\d\d|"
                    rb"E\d{4} .*(cuInit|cuda|cuDNN|cuFFT|cuBLAS|Unable to register|computation_placer))")


def _filter_stderr() -> None:
    """Drop TensorFlow's start-up noise from this process's standard error (fd 2: the C++ side writes there
    directly), keeping every other line; `allrepro -v` keeps everything."""
    import atexit
    import threading

    try:
        real = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
    except OSError:
        return

    def pump() -> None:
        with os.fdopen(read, "rb") as src, os.fdopen(os.dup(real), "wb", buffering=0) as dst:
            for line in src:
                if not _NOISE.match(line):
                    dst.write(line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last writer (children gone): the pump drains and ends
        thread.join(timeout=5)

    atexit.register(restore)


def keras_backend() -> str:
    """The backend Keras will start, read as Keras reads it (keras/src/backend/config.py), without importing it:
    KERAS_BACKEND, else "backend" in $KERAS_HOME/keras.json (~/.keras, or /tmp/.keras where home is not
    writable), else TensorFlow."""
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    home = os.path.expanduser("~")
    folder = os.environ.get("KERAS_HOME") or os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(folder, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _no_jax_under_tensorflow() -> None:
    """TensorFlow's import also imports JAX whenever JAX is installed (tensorflow/lite/python/util.py tries it for
    TFLite's JAX converter, which allrepro never calls): 0.8 s of every TensorFlow job's start (`import keras`
    5.7 s -> 4.8 s, benchmarks/startup.py). Under the TensorFlow backend the command marks JAX absent
    (`sys.modules["jax"] = None`, Python's way to refuse an import), so TFLite's optional import fails at once.
    allrepro imports JAX only under the JAX backend, where nothing is refused."""
    if keras_backend() == "tensorflow":
        sys.modules.setdefault("jax", None)


def main(argv: list[str] | None = None) -> int:
    command_line, argv = argv is None, sys.argv[1:] if argv is None else argv
    # TensorFlow's start-up chatter (CUDA probing on a machine without a GPU, oneDNN notes) stays out of the
    # terminal and the logs unless asked for with -v; its real errors still raise in Python. Only for the
    # `allrepro` command itself: a caller in the same process (tests) keeps its own standard error.
    verbose = any(a in ("-v", "--verbose") for a in argv[:1])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if command_line and not verbose:
        _filter_stderr()
    if command_line:
        _no_jax_under_tensorflow()
    args = parser().parse_args(argv)
    try:
        return run(args)
    except P.UserError as exc:  # bad params or data source: the message names the key or file
        print(f"allrepro {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if command_line:  # the process ends now: its last garbage collections need not walk every object
            gc.freeze()   # TensorFlow's modules made (about 1 s of CPU per job, at exit); files still close, atexit runs


if __name__ == "__main__":
    sys.exit(main())
