"""`allrepro <stage>`: one subcommand per pipeline stage, each a thin wrapper over an importable function.

Every subcommand validates params.yaml (with any --set overrides) before doing any work.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from allrepro import params as P


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set profile=paper (YAML value); repeatable")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="allrepro", description=__doc__.splitlines()[0])
    subs = ap.add_subparsers(dest="command", required=True)
    specs = {
        "validate": "check params.yaml against the schema and exit",
        "acquire": "fetch the dataset (kaggle:, https://, file:) and write data/raw/manifest.csv",
        "segment": "HSV segmentation of every image",
        "split": "stratified split and oversampling of one experiment",
        "cache": "decode and resize one split part into a uint8 array",
        "train": "train one model of one experiment",
        "evaluate": "predict the validation and test parts and write metrics",
        "ensemble": "weighted-threshold ensemble of an experiment's members (patel eq. 8)",
        "duplicates": "exact and near-duplicate clusters of a dataset (data/interim/<dataset>/audit/)",
        "agreement": "Dice/IoU of our HSV masks against the dataset's own segmented images",
        "audit": "leakage, colour-only baselines, bootstrap intervals, McNemar and the papers' numbers",
        "fit-hsv": "search the HSV bounds that best agree with the dataset's segmented images (training part)",
        "report": "render one experiment's HTML report (papermill)",
        "models": "list the models in params.yaml with their parameter counts",
        "dvc-yaml": "write dvc.yaml from the stage table (or --check it is up to date)",
    }
    for name, help_ in specs.items():
        sub = subs.add_parser(name, help=help_, description=help_)
        _common(sub)
        if name in ("split", "cache", "train", "evaluate", "ensemble", "audit", "fit-hsv", "report"):
            sub.add_argument("--experiment", required=True)
        if name in ("train", "evaluate"):
            sub.add_argument("--model", required=True)
        if name in ("acquire", "segment", "duplicates", "agreement"):
            sub.add_argument("--dataset", required=True, help="a key of `datasets:` in params.yaml")
        if name == "cache":
            sub.add_argument("--size", type=int, required=True)
            sub.add_argument("--part", choices=["train", "val", "test"], required=True)
        if name == "segment":
            sub.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
        if name == "fit-hsv":
            sub.add_argument("--out", default="params.fitted-hsv.yaml", help="params file to write (a segment: block)")
            sub.add_argument("--images-per-class", type=int, default=None)
        if name == "models":
            sub.add_argument("names", nargs="*", help="models to list (default: all in params.yaml)")
        if name == "dvc-yaml":
            sub.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml differs")
            sub.add_argument("--out", default="dvc.yaml")
    return ap


def run(args: argparse.Namespace) -> int:
    cfg = P.load(args.params, args.overrides)
    cmd = args.command
    if cmd in ("split", "cache", "train", "evaluate", "ensemble", "audit", "fit-hsv", "report") and args.experiment not in cfg["experiments"]:
        raise P.ParamsError(f"--experiment {args.experiment!r}: not in params key 'experiments'")
    if getattr(args, "dataset", None) and args.dataset not in cfg["datasets"]:
        raise P.ParamsError(f"--dataset {args.dataset!r}: not in params key 'datasets'")
    if getattr(args, "model", None) and args.model not in cfg["models"]:
        raise P.ParamsError(f"--model {args.model!r}: not in params key 'models'")
    if cmd == "validate":
        print(f"{args.params}: valid (profile {cfg['profile']}, experiment {cfg['experiment']})")
    elif cmd == "acquire":
        from allrepro.acquire import acquire
        acquire(cfg["datasets"][args.dataset], P.data_source(cfg, args.dataset), args.dataset,
                on_bad_file=cfg["data"]["on_bad_file"])
    elif cmd == "segment":
        from allrepro.segment import segment
        segment(cfg, args.dataset, workers=args.workers or int(os.environ.get("ALLREPRO_WORKERS", 0)) or None)
    elif cmd == "split":
        from allrepro.split import split
        split(cfg, args.experiment)
    elif cmd == "cache":
        from allrepro import layout
        from allrepro.cache import build_cache
        build_cache(layout.split_csv(args.experiment, args.part),
                    layout.cache_npy(args.experiment, args.size, args.part), args.size,
                    cfg["cache"].get("interpolation", "area"))
    elif cmd == "train":
        from allrepro.train import train
        train(cfg, args.experiment, args.model)
    elif cmd == "evaluate":
        from allrepro.evaluate import evaluate
        evaluate(cfg, args.experiment, args.model)
    elif cmd == "ensemble":
        from allrepro.ensemble import ensemble
        members = P.ensemble_members(cfg, args.experiment)
        if not members:
            raise P.ParamsError(f"experiments.{args.experiment}: no 'ensemble' block")
        ensemble(cfg, args.experiment, members)
    elif cmd == "duplicates":
        from allrepro.audit.duplicates import duplicates
        duplicates(cfg, args.dataset)
    elif cmd == "agreement":
        from allrepro.audit.segmentation import agreement
        if not cfg["datasets"][args.dataset].get("reference_masks"):
            raise P.ParamsError(f"datasets.{args.dataset}.reference_masks: not set (no segmented images to compare with)")
        agreement(cfg, args.dataset)
    elif cmd == "audit":
        from allrepro.audit.stage import audit
        audit(cfg, args.experiment)
    elif cmd == "fit-hsv":
        from allrepro.audit.segmentation import fit_hsv, write_fitted
        if not cfg["datasets"][P.dataset_of(cfg, args.experiment)].get("reference_masks"):
            raise P.ParamsError(f"experiments.{args.experiment}: its dataset has no reference_masks to fit against")
        result = fit_hsv(cfg, args.experiment, args.images_per_class)
        write_fitted(result, args.out)
        print(f"fit-hsv {args.experiment}: default {result['default']} -> fitted {result['fitted']} "
              f"on {result['images']} training images; wrote {args.out}")
    elif cmd == "report":
        from allrepro.report import render_report
        render_report(cfg, args.experiment, args.params, args.overrides)
    elif cmd == "models":
        from allrepro.models.summary import print_models
        print_models(cfg, args.names)
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


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the logs
    args = parser().parse_args(argv)
    try:
        return run(args)
    except P.UserError as exc:  # bad params or data source: the message names the key or file
        print(f"allrepro {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
