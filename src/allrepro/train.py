"""train: fit one model of one experiment on its cached arrays, phase by phase, as params say.

Resumable: completed epochs are checkpointed (keras BackupAndRestore) and logged under
models/<exp>/<model>/.work/; a job killed mid-run resumes from its last completed epoch when rerun, and
ends with the weights of an uninterrupted run (each epoch's randomness comes from (seed, epoch): resume.py).
The declared outputs (model.keras, history.csv, labels.json) are written only once training is
complete, each under a temporary name renamed into place.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from allrepro import runtime
from allrepro.arrays import load_part
from allrepro.fileio import atomic_path, write_csv, write_json
from allrepro.models.trainable import count_trainable, set_trainable
from allrepro.params import classes as class_names
from allrepro.params import experiment, model_spec
from allrepro.resume import CallbackState, EpochSeeds, epoch_batches

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamax": keras.optimizers.Adamax,
              "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
KILL_ENV = "ALLREPRO_TEST_KILL_AT_EPOCH"  # tests only: SIGKILL this process after that epoch is saved


def optimizer(phase: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr = phase["learning_rate"]
    if phase.get("lr_schedule") == "cosine":  # decays to 0 over the phase: the last epochs settle
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=phase["epochs"] * steps_per_epoch)
    kwargs = {"learning_rate": lr}
    if phase["optimizer"] == "sgd":
        kwargs["momentum"] = phase.get("momentum", 0.0)
    return OPTIMIZERS[phase["optimizer"]](**kwargs)


class EpochLog(keras.callbacks.Callback):
    """Appends each finished epoch to a CSV at once, so a killed run keeps its history; and says so in one
    `progress:` line, which the Snakemake rule shows on the terminal (the rest stays in the job's log)."""

    def __init__(self, path: Path, phase: int, label: str = "", epochs: int = 0):
        super().__init__()
        self.path, self.phase, self.label, self.epochs = path, phase, label, epochs

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "phase": self.phase, **{k: float(v) for k, v in (logs or {}).items()}}
        shown = ", ".join(f"{k} {row[k]:.3f}" for k in ("accuracy", "val_accuracy") if k in row)
        print(f"progress: train {self.label}: epoch {epoch + 1}/{self.epochs} (phase {self.phase}), {shown}", flush=True)
        if "learning_rate" not in row:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        new = not self.path.exists()
        with open(self.path, "a") as fh:
            if new:
                fh.write(json.dumps(list(row)) + "\n")
            fh.write(json.dumps(list(row.values())) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class Throughput(keras.callbacks.Callback):
    """Adds each epoch's training time and images/s (validation excluded) to its logs.

    Placed before EpochLog so history.csv carries them; an epoch that compiles the step is slower, so
    summaries take the median of the other epochs."""

    def __init__(self, rows: int):
        super().__init__()
        self.rows, self.start, self.stop = rows, 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.stop = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.stop = self.stop or time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = (self.stop or time.perf_counter()) - self.start
        if logs is not None:
            logs["train_seconds"] = round(seconds, 3)
            logs["images_per_s"] = round(self.rows / seconds, 1)


def throughput_summary(history: pd.DataFrame) -> dict:
    """Steady-state training speed: the median over epochs that did not compile (each phase's first
    epoch compiles its step), and the first epoch's time, which includes compiling."""
    if "images_per_s" not in history or history.empty:
        return {}
    first = history.groupby("phase")["epoch"].transform("min") == history["epoch"]
    steady = history.loc[~first, "images_per_s"] if (~first).any() else history["images_per_s"]
    return {"train_images_per_s": round(float(steady.median()), 1),
            "first_epoch_seconds": round(float(history.loc[first, "train_seconds"].iloc[0]), 1)}


def fit_phase(model: keras.Model, setup: dict, **kwargs):
    """model.fit, with TensorFlow's refusal of an op that has no deterministic GPU kernel turned into an
    error that names the op and the setting to change (it is raised by the first step)."""
    try:
        return model.fit(**kwargs)
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is the determinism refusal
        text = str(exc)
        if "deterministic" not in text.lower() or not setup["deterministic"]:
            raise
        named = re.search(r"implementation of (\w+)", text) or re.search(r"\b([A-Z][a-z]+(?:[A-Z0-9][a-z0-9]*){2,})\b", text)
        op = named.group(1) if named else "an op"
        raise RuntimeError(f"{op} has no deterministic implementation on this device under {setup['backend']} "
                           f"(params.yaml key 'train.deterministic: true'). Set train.deterministic: false, or run "
                           f"with KERAS_BACKEND=jax. Original error: {text.splitlines()[0]}") from exc


class KillAfter(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


def read_log(path: Path) -> pd.DataFrame:
    """The epoch log, one row per epoch (an epoch rerun after a kill keeps its last record)."""
    if not path.exists():
        return pd.DataFrame()
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frames = []
    header = None
    for line in lines:
        if all(isinstance(v, str) for v in line):
            header = line
        else:
            frames.append(dict(zip(header, line)))
    return pd.DataFrame(frames).drop_duplicates("epoch", keep="last").reset_index(drop=True)


def callbacks(phase: dict, has_val: bool) -> list[keras.callbacks.Callback]:
    monitor = "val_loss" if has_val else "loss"
    out = []
    if phase.get("early_stopping"):
        out.append(keras.callbacks.EarlyStopping(monitor, patience=phase["early_stopping"], restore_best_weights=True))
    if phase.get("reduce_lr_patience"):
        out.append(keras.callbacks.ReduceLROnPlateau(monitor, patience=phase["reduce_lr_patience"], factor=0.2))
    return out


def train(cfg: dict, inputs: dict, outputs: dict, exp: str, model_name: str, seed: int | None = None) -> dict:
    """Train one model; `seed` (a seed of `repeats:`) trains a repeat in place of train.seed, under seeds/<seed>/."""
    from allrepro.models.build import build_model

    if seed is not None:
        cfg = {**cfg, "train": {**cfg["train"], "seed": seed}}
    setup = runtime.configure(cfg["train"])
    compiles = runtime.compile_counter()  # JAX: XLA compiles and persistent-cache loads of this job
    spec, classes = model_spec(cfg, model_name), class_names(cfg, exp)
    size = spec["input_size"]
    x_train, y_train = load_part(inputs, "train")
    val = load_part(inputs, "val")
    val = val if len(val[1]) else None  # an experiment without a validation part
    class_weight = None
    if experiment(cfg, exp).get("class_weights"):
        weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=y_train)
        class_weight = {i: float(w) for i, w in enumerate(weights)}

    out = Path(outputs["model"]).parent
    work = out / ".work"  # resumable state of an interrupted run, beside the outputs
    fingerprint = json.dumps({"spec": spec, "train": cfg["train"], "rows": len(y_train),
                              "class_weight": class_weight, "backend": setup["backend"]}, sort_keys=True)
    previous = work / "fingerprint.json"
    if work.exists() and (not previous.exists() or previous.read_text() != fingerprint):
        shutil.rmtree(work)  # left by a run with other params: nothing to resume
    work.mkdir(parents=True, exist_ok=True)
    (work / "fingerprint.json").write_text(fingerprint)
    log, started, epoch, trainable = work / "epochs.csv", time.time(), 0, []
    kill_at = int(os.environ.get(KILL_ENV, 0))
    batches = epoch_batches(x_train, y_train, spec["batch_size"], cfg["train"]["seed"])
    steps = -(-len(y_train) // spec["batch_size"])
    setup["run_eagerly"] = runtime.run_eagerly(cfg["train"].get("run_eagerly"), steps * sum(p["epochs"] for p in spec["phases"]),
                                               setup)
    with runtime.distribution(setup):
        model, backbone = build_model(spec, len(classes))
        for number, phase in enumerate(spec["phases"], start=1):
            done = work / f"phase{number}.weights.h5"
            set_trainable(backbone, phase.get("trainable", "all"))
            trainable.append(count_trainable(model))
            model.compile(optimizer=optimizer(phase, steps), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                          jit_compile=setup["jit_compile"] and not setup["run_eagerly"], run_eagerly=setup["run_eagerly"])
            if done.exists():  # finished before an interruption: take its weights, skip its epochs
                model.load_weights(done)
                epoch = json.loads((work / f"phase{number}.json").read_text())["last_epoch"]
                print(f"phase {number}: already complete (epoch {epoch}), resuming after it")
                continue
            extra = [KillAfter(kill_at)] if kill_at else []
            tracked = callbacks(phase, val is not None)
            epoch_log = EpochLog(log, number, f"{exp}/{model_name}" + (f" seed {seed}" if seed is not None else ""),
                             sum(p["epochs"] for p in spec["phases"]))
            # EarlyStopping/ReduceLROnPlateau update before their state is saved, and that before the
            # checkpoint, so a checkpoint never runs ahead of the state it is resumed with
            fit_phase(model, setup, x=batches.feed(), epochs=epoch + phase["epochs"], initial_epoch=epoch,
                      validation_data=val, class_weight=class_weight, verbose=2,
                      shuffle=False,  # EpochBatches orders the rows; Keras' own shuffle draws from Python's RNG
                      callbacks=[EpochSeeds(batches), Throughput(len(y_train)), epoch_log, *tracked,
                                 CallbackState(work, tracked),
                                 keras.callbacks.BackupAndRestore(str(work / f"phase{number}")), *extra])
            # BackupAndRestore leaves the epoch it resumed at on the model, and the next phase's fit would
            # start from it instead of its own initial_epoch
            model._initial_epoch = None
            epoch = int(read_log(log)["epoch"].max())
            model.save_weights(done)
            (work / f"phase{number}.json").write_text(json.dumps({"last_epoch": epoch}))

    history = read_log(log)
    with atomic_path(outputs["model"]) as tmp:
        model.save(tmp)
    write_csv(history, outputs["history"])
    info = {"classes": classes, "model": model_name, "backbone": spec["backbone"], "input_size": size,
            "weights": spec.get("weights"), "seed": cfg["train"]["seed"], "train_rows": int(len(y_train)), "epochs": epoch,
            "params_total": int(model.count_params()), "params_trainable": trainable, "runtime": setup,
            "seconds": round(time.time() - started, 1), **throughput_summary(history),
            "peak_memory_mib": runtime.peak_memory_mib(), "compile": compiles or None,
            "overrides": cfg.get("_overrides", [])}
    write_json(info, outputs["labels"])
    shutil.rmtree(work)
    print(f"train {exp}/{model_name}: {epoch} epochs in {info['seconds']} s on {setup['backend']} "
          f"({setup['gpus']} GPU) -> {out}")
    return info
