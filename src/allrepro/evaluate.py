"""evaluate: predict the validation and test parts (predictions_{val,test}.csv); metrics.json and the
confusion matrix of the test part; the test part again under each seeded colour/stain/compression/blur shift
(predictions_shift.csv, allrepro.shifts); and where the model looks: each test image's share of Grad-CAM mass
inside the cell's HSV mask (attention.csv)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from allrepro import runtime
from allrepro.arrays import load_part
from allrepro.fileio import write_csv, write_json
from allrepro.images import prepare
from allrepro.metrics import classification_metrics
from allrepro.params import robustness_on
from allrepro.plots import plot_confusion, plot_roc


def predictions_frame(manifest: pd.DataFrame, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({"path": manifest["path"], "true": manifest["class"],
                        "pred": [classes[i] for i in proba.argmax(axis=1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = np.round(proba[:, i].astype(np.float64), 6)
    return out


def confusion_table(cm: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Counts and row percentages (recall per true class), long form for `dvc plots` and the report."""
    rows = []
    for i, t in enumerate(classes):
        total = cm[i].sum()
        for j, p in enumerate(classes):
            rows.append({"true": t, "pred": p, "count": int(cm[i, j]),
                         "row_pct": round(100.0 * cm[i, j] / total, 2) if total else 0.0})
    return pd.DataFrame(rows)


def headline(metrics: dict) -> dict:
    """The few numbers `dvc metrics show` and `dvc exp show` put in a row (metrics.json has every class's)."""
    return {"accuracy": round(metrics["accuracy"], 4), "mcc": round(metrics["mcc"], 4),
            "macro_f1": round(metrics["macro"]["f1"], 4) if "macro" in metrics else None, "n": metrics["n"]}


def timed_predict(model, x: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, float | None]:
    """Class probabilities, and inference images/s measured on the full batches after one warm-up
    batch (which compiles the step); None when there is less than two batches."""
    import time

    if len(x) < 2 * batch_size:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64), None
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)
    full = len(x) // batch_size * batch_size
    start = time.perf_counter()
    head = model.predict(x[:full], batch_size=batch_size, verbose=0)
    rate = full / (time.perf_counter() - start)
    tail = model.predict(x[full:], batch_size=batch_size, verbose=0) if full < len(x) else head[:0]
    return np.concatenate([head, tail]).astype(np.float64), round(rate, 1)


def read_bgr(paths) -> list[np.ndarray]:
    import cv2

    out = []
    for p in paths:
        bgr = cv2.imread(p, cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"{p}: unreadable image")
        out.append(bgr)
    return out


def shift_predictions(cfg: dict, model, manifest: pd.DataFrame, originals: list[np.ndarray], classes: list[str],
                      size: int) -> pd.DataFrame:
    """The test part under each perturbation of `evaluate.shift` (applied to the image as read, then resized as
    the cache stage resizes), as predictions rows with a `shift` column."""
    from allrepro.shifts import shifted

    spec, interpolation = cfg["evaluate"].get("shift") or {}, cfg["cache"].get("interpolation", "area")
    rgb = [img[..., ::-1] for img in originals]
    frames = [pd.DataFrame(columns=["shift", "path", "true", "pred", *(f"p_{c}" for c in classes)])]
    for name, pert in (spec.get("perturbations") or {}).items():
        x = np.stack([prepare(np.ascontiguousarray(img[..., ::-1]), size, interpolation)
                      for img in shifted(rgb, name, pert, spec["seed"])])
        proba = np.asarray(model.predict(x, batch_size=64, verbose=0), dtype=np.float64)
        frames.append(predictions_frame(manifest, proba, classes).assign(shift=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["shift", *(c for c in out.columns if c != "shift")]]


def cell_masks(cfg: dict, inputs: dict, manifest: pd.DataFrame, originals: list[np.ndarray]) -> list[np.ndarray]:
    """The HSV mask of each test image's cell: the segment stage's mask (experiments on segmented images), else
    the same segmentation (params `segment`) of the image as read."""
    import cv2

    from allrepro.hsv import hsv_mask

    if "segmented" in inputs:
        masks = dict(zip(*pd.read_csv(inputs["segmented"], keep_default_na=False)[["path", "mask"]].T.values))
        return [cv2.imread(masks[p], cv2.IMREAD_GRAYSCALE) for p in manifest["path"]]
    return [hsv_mask(bgr, cfg["segment"]) for bgr in originals]


def attention(model, x: np.ndarray, proba: np.ndarray, manifest: pd.DataFrame, masks: list[np.ndarray],
              classes: list[str], batch_size: int = 32) -> pd.DataFrame:
    """Each test image's Grad-CAM (for its predicted class) and the share of its mass inside the cell's mask;
    `mask_share`: the share of the image the mask covers (what a map spread evenly would give)."""
    import cv2

    from allrepro import gradcam

    parts, pred, shares, areas = gradcam.split(model), proba.argmax(axis=1), [], []
    for start in range(0, len(x), batch_size):
        cams = gradcam.heatmaps(model, x[start:start + batch_size], pred[start:start + batch_size], parts)
        for cam, mask in zip(cams, masks[start:start + batch_size]):
            small = cv2.resize(mask, cam.shape[::-1], interpolation=cv2.INTER_NEAREST)
            shares.append(gradcam.share_inside(cam, small))
            areas.append(float((small > 0).mean()))
    grid = "x".join(str(d) for d in parts[0].outputs[0].shape[1:3])  # the feature map's resolution
    return pd.DataFrame({"path": manifest["path"], "true": manifest["class"], "pred": [classes[i] for i in pred],
                         "share_inside": np.round(shares, 4), "mask_share": np.round(areas, 4), "map": grid})


def evaluate(cfg: dict, inputs: dict, outputs: dict, exp: str, model_name: str, seed: int | None = None) -> dict:
    """Predict the validation and test parts with one trained model (a repeat's when `seed` is given)."""
    import keras

    from allrepro.models import layers  # noqa: F401  (registers the custom layer for loading)

    info = json.loads(Path(inputs["labels"]).read_text())
    classes = info["classes"]
    model = keras.saving.load_model(inputs["model"])
    sizes = [len(np.load(inputs[f"{p}_npy"], mmap_mode="r")) for p in ("val", "test")]
    if runtime.eager_predict(sum(-(-n // 64) for n in sizes)):
        model.run_eagerly = True  # tracing the predict step would cost more than the few batches it serves
    probas, rate = {}, None
    for part in ("val", "test"):  # validation predictions feed the ensemble's choice of weights
        x, y = load_part(inputs, part)
        probas[part], rate = timed_predict(model, x) if len(x) else (np.zeros((0, len(classes))), None)
        manifest = pd.read_csv(inputs[f"{part}_csv"])
        write_csv(predictions_frame(manifest, probas[part], classes), outputs[f"predictions_{part}_csv"])
    proba = probas["test"]
    manifest = pd.read_csv(inputs["test_csv"])
    originals = read_bgr(manifest["path"]) if robustness_on(cfg) else []
    measure = robustness_on(cfg) and len(x)  # the profile measures robustness (not smoke)
    shift = shift_predictions(cfg, model, manifest, originals, classes, x.shape[1]) if measure else None
    write_csv(shift if shift is not None else pd.DataFrame(columns=["shift", "path"]), outputs["predictions_shift_csv"])
    looks = (attention(model, x, proba, manifest, cell_masks(cfg, inputs, manifest, originals), classes)
             if measure and cfg["evaluate"].get("attention", True) else pd.DataFrame(columns=["path", "share_inside"]))
    write_csv(looks, outputs["attention_csv"])
    metrics = classification_metrics(y, proba, classes, cfg["evaluate"].get("average", ["macro", "weighted"]))
    metrics.update({"experiment": exp, "model": model_name, "split": "test", "seed": info.get("seed")})
    # speed apart from the metrics: it varies run to run, the metrics must not
    write_json({"images_per_s": rate, "batch_size": 64, "device": runtime.device_name(), "backend": runtime.backend(),
                "peak_memory_mib": runtime.peak_memory_mib()}, outputs["inference_json"])

    cm = np.array(metrics["confusion_matrix"])
    write_csv(confusion_table(cm, classes), outputs["confusion_csv"])
    plot_confusion(cm, classes, f"{exp} / {model_name}", outputs["confusion_png"])
    plot_roc(y, proba, classes, f"{exp} / {model_name}", outputs["roc_png"])
    write_json(metrics, outputs["metrics_json"])
    write_json(headline(metrics), outputs["headline_json"])
    print(f"evaluate {exp}/{model_name}: accuracy {metrics['accuracy']:.4f}, MCC {metrics['mcc']:.4f} "
          f"on {metrics['n']} test images")
    return metrics
