"""predict: class probabilities for new images from an exported bundle (bundles/<experiment>/).

The same code path as training: decode -> (HSV segmentation, when the bundle's models were trained on
segmented images) -> OpenCV resize to each model's input size -> RGB uint8 -> the model. Each image gets
every member's probabilities and vote, and the bundle's decision: the ensemble's weighted threshold (or
"no confident prediction") or the chosen member's class. A file that is not an image we can use is
listed with its reason and never stops the others.

    allrepro predict IMAGE|FOLDER ... --bundle bundles/patel [--out predictions.csv|.json]
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from allrepro.images import prepare
from allrepro.limits import MAX_PIXELS
from allrepro.params import UserError

NO_CONFIDENT = "no confident prediction"
# Types recognised by their first bytes, never by the file name
MAGIC = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png", b"BM": "bmp", b"II*\x00": "tiff", b"MM\x00*": "tiff"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


class BadImage(ValueError):
    """A file that cannot be scored; the message is the reason shown to the user."""


class BundleError(UserError):
    pass


def sniff(data: bytes) -> str | None:
    return next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), None)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone, before any pixel is decoded."""
    import io

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # only the header is read here; decode() applies our own limit, with the size
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception as exc:  # noqa: BLE001  (Pillow raises many types for a bad header)
        raise BadImage(f"unreadable image header ({exc.__class__.__name__})") from None


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """BGR uint8 (H, W, 3) from an encoded image, or BadImage with the reason."""
    if not data:
        raise BadImage("empty file (0 bytes)")
    kind = sniff(data)
    if kind is None:
        raise BadImage("not an image (content is not JPEG, PNG, BMP or TIFF, whatever the name says)")
    width, height = image_size(data)
    if width * height > max_pixels:
        raise BadImage(f"{width}x{height} pixels is over the limit of {max_pixels:,} pixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadImage(f"unreadable {kind} data")
    if image.dtype != np.uint8:
        raise BadImage(f"{image.dtype} pixels: only 8-bit images are supported")
    if image.ndim == 2 or image.shape[2] == 1:
        raise BadImage("not an RGB image (one channel: grayscale)")
    if image.shape[2] != 3:
        raise BadImage(f"not an RGB image ({image.shape[2]} channels)")
    return image


@dataclass
class Bundle:
    path: Path
    spec: dict
    models: dict = field(default_factory=dict)  # member name -> keras.Model

    @property
    def classes(self) -> list[str]:
        return self.spec["classes"]

    @property
    def members(self) -> list[dict]:
        return self.spec["members"]

    @property
    def segmented(self) -> bool:
        return self.spec["preprocessing"]["images"] == "segmented"


def load_bundle(path: str | Path) -> Bundle:
    path = Path(path)
    meta = path / "bundle.json"
    if not meta.is_file():
        raise BundleError(f"{path}: no bundle.json (export one with `allrepro export --experiment E`, "
                          "or run the pipeline: bundles/<experiment>/)")
    spec = json.loads(meta.read_text())
    if spec.get("format") != "allrepro-bundle/1":
        raise BundleError(f"{meta}: format {spec.get('format')!r} is not allrepro-bundle/1")
    import keras

    from allrepro.models import layers  # noqa: F401  (registers the custom layers for loading)

    bundle = Bundle(path, spec)
    for m in spec["members"]:
        file = path / m["file"]
        if not file.is_file():
            raise BundleError(f"{file}: missing model file of member {m['name']}")
        bundle.models[m["name"]] = keras.saving.load_model(file, compile=False)
    return bundle


def model_inputs(bgr: np.ndarray, bundle: Bundle) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    """{input size: RGB uint8 array}, and the HSV mask when the bundle segments (else None)."""
    from allrepro.hsv import segment_image

    mask = None
    if bundle.segmented:
        bgr, mask = segment_image(bgr, bundle.spec["preprocessing"]["segment"])
    interpolation = bundle.spec["preprocessing"]["resize"]["interpolation"]
    sizes = {m["input_size"] for m in bundle.members}
    return {s: prepare(bgr, s, interpolation) for s in sizes}, mask


def score(bundle: Bundle, images: list[np.ndarray], batch_size: int = 64) -> list[dict]:
    """Per image: each member's probabilities and vote, the decision and the probabilities behind it, and
    warnings where the image lies far outside what the models saw in training."""
    prepared = [model_inputs(bgr, bundle) for bgr in images]
    out = score_prepared(bundle, [p[0] for p in prepared], batch_size)
    for result, bgr, (_, mask) in zip(out, images, prepared):
        result["warnings"] = domain_warnings(bundle, bgr, mask)
    return out


def domain_warnings(bundle: Bundle, bgr: np.ndarray, mask: np.ndarray | None) -> list[str]:
    """Why an answer may mean nothing: the image is far from the training images in size or shape (it is
    stretched to the model's square), or the HSV mask keeps far less or more of it than in training (for a
    segmenting bundle, 0% means the model sees a black square). Bounds: the bundle's `input_domain` (the
    training images' 1st–99th percentiles), widened — a quarter to four times a size, 1.25 times an aspect, half to
    1.5 times a mask fraction."""
    domain = bundle.spec.get("input_domain")
    if not domain:
        return []
    out, (h, w) = [], bgr.shape[:2]
    (w_lo, w_hi), (h_lo, h_hi), (a_lo, a_hi) = domain["width"], domain["height"], domain["aspect"]
    if w < w_lo / 4 or h < h_lo / 4 or w > 4 * w_hi or h > 4 * h_hi:
        out.append(f"{w}x{h} pixels: the training images were {w_lo:g}–{w_hi:g} x {h_lo:g}–{h_hi:g}; at this scale "
                   "a cell does not look like the ones the model learned")
    aspect = w / h
    if aspect < a_lo / 1.25 or aspect > a_hi * 1.25:
        out.append(f"aspect {aspect:.2f} (width / height): the training images had {a_lo:.2f}–{a_hi:.2f}; the model "
                   "sees this image squeezed into a square")
    if mask is not None and domain.get("foreground"):
        lo, hi = domain["foreground"]
        kept = float((mask > 0).mean())
        if kept == 0:
            out.append("the segmentation kept 0% of this image: the model sees a black square, and its answer says "
                       "nothing about this image")
        elif kept < lo / 2 or kept > min(1.0, hi * 1.5):
            out.append(f"the segmentation kept {100 * kept:.1f}% of this image; in training it kept "
                       f"{100 * lo:.1f}–{100 * hi:.1f}% (1st–99th percentile)")
    return out


def score_prepared(bundle: Bundle, prepared: list[dict[int, np.ndarray]], batch_size: int = 64) -> list[dict]:
    """score() of images already prepared (model_inputs: {input size: RGB array}), so nothing is segmented twice."""
    from allrepro.combine import ABSTAIN, combine

    if not prepared:
        return []
    images = prepared
    probas = {}
    for m in bundle.members:
        x = np.stack([p[m["input_size"]] for p in prepared])
        probas[m["name"]] = infer(bundle.models[m["name"]], x, batch_size)
    dec, classes = bundle.spec["decision"], bundle.classes
    if dec["rule"] == "ensemble":
        members = [probas[n] for n in dec["members"]]
        pred, combined = combine(members, dec["weights"], dec["gamma"], dec["fallback"],
                                 dec["members"].index(dec["best_member"]))
    else:
        combined = probas[dec["model"]]
        pred = combined.argmax(axis=1)
    out = []
    for i in range(len(images)):
        out.append({"decision": NO_CONFIDENT if pred[i] == ABSTAIN else classes[pred[i]],
                    "probabilities": {c: float(combined[i, k]) for k, c in enumerate(classes)},
                    "members": {n: {"vote": classes[int(p[i].argmax())],
                                    "probabilities": {c: float(p[i, k]) for k, c in enumerate(classes)},
                                    "conformal_set": conformal_set(bundle, n, p[i])}
                                for n, p in probas.items()}})
        if dec["rule"] != "ensemble":
            out[-1]["conformal_set"] = out[-1]["members"][dec["model"]]["conformal_set"]
    return out


def infer(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities of a batch. Small batches (a request's few images) go through predict_on_batch, padded
    to a power of two so that at most log2(batch_size) + 1 shapes are ever traced: Keras' predict() costs hundreds
    of milliseconds of set-up per call, more than a small model's whole answer. Each image's row is the same either
    way (inference mode: no image sees another)."""
    n = len(x)
    if n > batch_size:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    padded = 1 << (n - 1).bit_length()
    if padded > n:
        x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), x.dtype)])
    return np.asarray(model.predict_on_batch(x), dtype=np.float64)[:n]


def conformal_set(bundle: Bundle, member: str, proba: np.ndarray) -> list[str] | None:
    """The member's split-conformal prediction set (calibrated on the validation part by the audit): every class
    whose non-conformity 1 − p is at most qhat; it holds the true class with the bundle's stated confidence when
    the image is exchangeable with the validation images. None when the bundle carries no conformal calibration."""
    conformal = (bundle.spec.get("calibration", {}).get(member) or {}).get("conformal")
    if not conformal:
        return None
    return [c for k, c in enumerate(bundle.classes) if 1.0 - proba[k] <= conformal["qhat"]]


def expand(paths: list[str], skipped: list[str] | None = None) -> list[Path]:
    """Files as given, folders walked (images by suffix, sorted); a path that does not exist is kept so
    that it is reported, not dropped. `skipped` receives the files of a folder passed over for their suffix."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            out += [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
            if skipped is not None:
                skipped += [str(f) for f in files if f.suffix.lower() not in IMAGE_SUFFIXES]
        else:
            out.append(p)
    return out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula (a file named `=1+1.jpg`) gets a
    leading apostrophe (OWASP's CSV-injection advice)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def predict_files(bundle: Bundle, paths: list[str], batch_size: int = 64, skipped: list[str] | None = None) -> list[dict]:
    rows, good, images = [], [], []
    for path in expand(paths, skipped):
        try:
            if not path.is_file():
                raise BadImage("no such file")
            images.append(decode(path.read_bytes()))
            good.append(len(rows))
            rows.append({"path": str(path)})
        except (BadImage, OSError) as exc:
            rows.append({"path": str(path), "error": str(exc)})
    for index, result in zip(good, score(bundle, images, batch_size)):
        rows[index].update(result)
    return rows


def table(rows: list[dict], classes: list[str], members: list[str]):
    """One CSV row per file: decision, the decision's probabilities, each member's vote, error."""
    import pandas as pd

    flat = []
    for r in rows:
        row = {"path": cell(r["path"]), "decision": r.get("decision", ""),
               "conformal_set": " ".join(r["conformal_set"]) if r.get("conformal_set") is not None else "",
               **{f"p_{c}": round(r["probabilities"][c], 6) if "probabilities" in r else None for c in classes},
               **{f"vote_{m}": r["members"][m]["vote"] if "members" in r else "" for m in members},
               "warnings": cell(" | ".join(r.get("warnings", []))), "error": cell(r.get("error", ""))}
        flat.append(row)
    return pd.DataFrame(flat)


def cli(bundle_path: str, paths: list[str], out: str | None, fmt: str | None) -> int:
    """`allrepro predict`: write CSV or JSON (to --out, else stdout); exit 1 when some file was refused."""
    import sys

    from allrepro.fileio import write_bytes

    bundle = load_bundle(bundle_path)
    skipped = []
    rows = predict_files(bundle, paths, skipped=skipped)
    fmt = fmt or ("json" if out and out.endswith(".json") else "csv")
    if fmt == "json":
        text = json.dumps({"bundle": str(bundle.path), "experiment": bundle.spec["experiment"], "predictions": rows,
                           "skipped": skipped}, indent=2) + "\n"
    else:
        text = table(rows, bundle.classes, [m["name"] for m in bundle.members]).to_csv(index=False, lineterminator="\n")
    if out:
        write_bytes(text.encode(), out)
    else:
        sys.stdout.write(text)
    bad = [r for r in rows if "error" in r]
    for r in bad:
        print(f"allrepro predict: {r['path']}: {r['error']}", file=sys.stderr)
    for r in rows:
        for warning in r.get("warnings", []):
            print(f"allrepro predict: {r['path']}: warning: {warning}", file=sys.stderr)
    for path in skipped:
        print(f"allrepro predict: {path}: skipped (in a folder, and not named as an image: "
              f"{', '.join(sorted(IMAGE_SUFFIXES))})", file=sys.stderr)
    print(f"allrepro predict: {len(rows) - len(bad)} scored, {len(bad)} refused, {len(skipped)} skipped",
          file=sys.stderr)
    return 1 if bad else 0
