"""train: fit one model of one experiment on its cached arrays, phase by phase, as params say."""
from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from allrepro import layout, runtime
from allrepro.fileio import atomic_path, write_csv, write_json
from allrepro.params import experiment, model_spec

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamax": keras.optimizers.Adamax,
              "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}


def load_part(exp: str, part: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(layout.cache_npy(exp, size, part))
    y = pd.read_csv(layout.split_csv(exp, part))["label"].to_numpy()
    if len(x) != len(y):
        raise RuntimeError(f"{layout.cache_npy(exp, size, part)}: {len(x)} rows but "
                           f"{layout.split_csv(exp, part)} has {len(y)}; rerun the cache stage")
    return x, y


def set_trainable(backbone: keras.Model, trainable) -> None:
    """'head': backbone frozen; 'all': everything trains; N: only the backbone's top N layers train."""
    backbone.trainable = trainable != "head"
    if isinstance(trainable, int):
        for layer in backbone.layers[:-trainable]:
            layer.trainable = False


def optimizer(phase: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr = phase["learning_rate"]
    if phase.get("lr_schedule") == "cosine":  # decays to 0 over the phase: the last epochs settle
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=phase["epochs"] * steps_per_epoch)
    kwargs = {"learning_rate": lr}
    if phase["optimizer"] == "sgd":
        kwargs["momentum"] = phase.get("momentum", 0.0)
    return OPTIMIZERS[phase["optimizer"]](**kwargs)


def callbacks(phase: dict, has_val: bool) -> list[keras.callbacks.Callback]:
    monitor = "val_loss" if has_val else "loss"
    out = []
    if phase.get("early_stopping"):
        out.append(keras.callbacks.EarlyStopping(monitor, patience=phase["early_stopping"], restore_best_weights=True))
    if phase.get("reduce_lr_patience"):
        out.append(keras.callbacks.ReduceLROnPlateau(monitor, patience=phase["reduce_lr_patience"], factor=0.2))
    return out


def train(cfg: dict, exp: str, model_name: str) -> dict:
    from allrepro.models.build import build_model

    setup = runtime.configure(cfg["train"])
    spec, classes = model_spec(cfg, model_name), cfg["data"]["classes"]
    size = spec["input_size"]
    x_train, y_train = load_part(exp, "train", size)
    val = load_part(exp, "val", size)
    val = val if len(val[1]) else None  # an experiment without a validation part
    class_weight = None
    if experiment(cfg, exp).get("class_weights"):
        weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=y_train)
        class_weight = {i: float(w) for i, w in enumerate(weights)}

    model, backbone = build_model(spec, len(classes))
    history, epoch, started = [], 0, time.time()
    for number, phase in enumerate(spec["phases"], start=1):
        set_trainable(backbone, phase.get("trainable", "all"))
        steps = -(-len(y_train) // spec["batch_size"])
        model.compile(optimizer=optimizer(phase, steps), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      jit_compile=setup["jit_compile"])
        fit = model.fit(x_train, y_train, batch_size=spec["batch_size"], epochs=epoch + phase["epochs"],
                        initial_epoch=epoch, validation_data=val, class_weight=class_weight, shuffle=True,
                        callbacks=callbacks(phase, val is not None), verbose=2)
        for i, e in enumerate(fit.epoch):
            history.append({"epoch": e + 1, "phase": number, **{k: float(v[i]) for k, v in fit.history.items()}})
        epoch = history[-1]["epoch"]

    out = Path(layout.model_dir(exp, model_name))
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_csv(pd.DataFrame(history), out / "history.csv")
    info = {"classes": classes, "model": model_name, "backbone": spec["backbone"], "input_size": size,
            "weights": spec.get("weights"), "train_rows": int(len(y_train)), "epochs": epoch,
            "params_total": int(model.count_params()), "runtime": setup,
            "seconds": round(time.time() - started, 1)}
    write_json(info, out / "labels.json")
    print(f"train {exp}/{model_name}: {epoch} epochs in {info['seconds']} s on {setup['backend']} "
          f"({setup['gpus']} GPU) -> {out}")
    return info
