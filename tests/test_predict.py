"""`allrepro predict` and the API behind the web page, on generated images and bundles built here from
untrained models: what is refused and why, what is scored, and the decision rules. (Parity with the
evaluate stage on a real run: tests/test_dag.py; the page in a browser: tests/test_serve.py.)"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from allrepro import predict
from conftest import CLASSES, cell_image


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def claimed_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG with its header (IHDR) claiming another size, CRC fixed: a decompression bomb's header."""
    ihdr = bytearray(data[12:29])  # type + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    return data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + data[33:]


@pytest.mark.parametrize("make, reason", [
    (lambda: b"just some text, named .jpg", "not an image"),
    (lambda: png(np.zeros((20, 20), np.uint8)), "not an RGB image (one channel"),
    (lambda: png(np.zeros((20, 20, 4), np.uint8)), "not an RGB image (4 channels)"),
    (lambda: png(np.zeros((20, 20, 3), np.uint16)), "only 8-bit"),
    (lambda: claimed_size(png(cell_image(0, 0, 32)), 50_000, 50_000), "50000x50000 pixels is over the limit"),
    (lambda: cv2.imencode(".jpg", cell_image(0, 0, 64))[1].tobytes()[:200], "unreadable"),
])
def test_decode_refuses_with_the_reason(make, reason):
    with pytest.raises(predict.BadImage, match=None) as err:
        predict.decode(make())
    assert reason in str(err.value)


def test_decode_sniffs_the_content_not_the_name(tmp_path):
    image = cell_image(2, 1, 48)
    for ext in (".jpg", ".png", ".bmp", ".tif"):
        data = cv2.imencode(ext, image)[1].tobytes()
        assert predict.decode(data).shape == (48, 48, 3), ext


def toy_bundle(folder: Path, decision: dict, segmented: bool = False) -> Path:
    """A bundle of two untrained quick models (sizes 32 and 40), written as `allrepro export` lays it out."""
    from allrepro.models.build import build_model

    members = []
    for i, (name, size) in enumerate((("a", 32), ("b", 40))):
        import keras

        keras.utils.set_random_seed(i)
        model, _ = build_model({"backbone": "small_cnn", "input_size": size, "weights": None,
                                "head": {"dense": [8]}}, len(CLASSES))
        (folder / "models").mkdir(parents=True, exist_ok=True)
        model.save(folder / f"models/{name}.keras")
        members.append({"name": name, "file": f"models/{name}.keras", "input_size": size, "backbone": "small_cnn",
                        "params_total": model.count_params()})
    segment = {"hsv_lower": [115, 50, 0], "hsv_upper": [140, 255, 255], "open_kernel": 0, "close_kernel": 0,
               "min_area": 0}
    spec = {"format": "allrepro-bundle/1", "experiment": "toy", "paper": "none", "profile": "test",
            "classes": CLASSES, "members": members, "decision": decision, "test": {"model": "a"},
            "preprocessing": {"images": "segmented" if segmented else "original",
                              "segment": segment if segmented else None, "resize": {"interpolation": "area"}},
            "audit": {"verdicts": ["a verdict"]}}
    (folder / "bundle.json").write_text(json.dumps(spec))
    return folder


ENSEMBLE = {"rule": "ensemble", "members": ["a", "b"], "weights": [0.5, 0.5], "fallback": "abstain",
            "best_member": "a"}


def test_a_folder_with_bad_files_scores_the_others(tmp_path):
    bundle = predict.load_bundle(toy_bundle(tmp_path / "bundle", {"rule": "best_member", "model": "b"}))
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"cell{i}.png"), cell_image(i, i, 48))
    (images / "notes.jpg").write_text("not an image")
    rows = predict.predict_files(bundle, [str(images), str(tmp_path / "missing.png")])
    errors = {Path(r["path"]).name: r["error"] for r in rows if "error" in r}
    assert set(errors) == {"notes.jpg", "missing.png"}
    assert "not an image" in errors["notes.jpg"] and errors["missing.png"] == "no such file"
    scored = [r for r in rows if "decision" in r]
    assert len(scored) == 3
    for r in scored:  # the chosen member decides; every member votes
        assert r["probabilities"] == r["members"]["b"]["probabilities"]
        assert r["decision"] == max(r["probabilities"], key=r["probabilities"].get)
        assert set(r["members"]) == {"a", "b"}


def test_the_ensemble_abstains_below_gamma_and_decides_above(tmp_path):
    images = [cell_image(i % 4, i, 48) for i in range(6)]
    sure = predict.load_bundle(toy_bundle(tmp_path / "sure", {**ENSEMBLE, "gamma": 0.0}))
    never = predict.load_bundle(toy_bundle(tmp_path / "never", {**ENSEMBLE, "gamma": 1.01}))
    for r in predict.score(sure, images):
        combined = {c: 0.5 * r["members"]["a"]["probabilities"][c] + 0.5 * r["members"]["b"]["probabilities"][c]
                    for c in CLASSES}
        assert r["probabilities"] == pytest.approx(combined)
        assert r["decision"] == max(combined, key=combined.get)
    assert {r["decision"] for r in predict.score(never, images)} == {predict.NO_CONFIDENT}


def test_the_conformal_set_holds_every_class_within_qhat(tmp_path):
    folder = toy_bundle(tmp_path / "b", {"rule": "best_member", "model": "a"})
    spec = json.loads((folder / "bundle.json").read_text())
    spec["calibration"] = {"a": {"conformal": {"confidence": 0.95, "qhat": 0.8}}}  # a class is in when p >= 0.2
    (folder / "bundle.json").write_text(json.dumps(spec))
    bundle = predict.load_bundle(folder)
    for r in predict.score(bundle, [cell_image(i % 4, i, 48) for i in range(4)]):
        probabilities = r["members"]["a"]["probabilities"]
        assert r["conformal_set"] == [c for c in CLASSES if probabilities[c] >= 0.2 - 1e-12]
        assert r["members"]["b"]["conformal_set"] is None  # no calibration for b: no set
    [scored] = predict.score(bundle, [cell_image(0, 0, 48)])
    row = predict.table([{"path": "x.png", **scored}], CLASSES, ["a", "b"]).iloc[0]
    assert row["conformal_set"] == " ".join(scored["conformal_set"])


def test_a_segmenting_bundle_segments_what_it_is_given(tmp_path):
    from allrepro.hsv import segment_image

    bundle = predict.load_bundle(toy_bundle(tmp_path / "b", {"rule": "best_member", "model": "a"}, segmented=True))
    image = cell_image(1, 3, 48)
    inputs, mask = predict.model_inputs(image, bundle)
    expected, _ = segment_image(image, bundle.spec["preprocessing"]["segment"])
    assert mask is not None and set(inputs) == {32, 40}
    assert np.array_equal(inputs[32], cv2.cvtColor(cv2.resize(expected, (32, 32), interpolation=cv2.INTER_AREA),
                                                   cv2.COLOR_BGR2RGB))


def test_predict_cli_writes_json_and_exits_1_when_a_file_was_refused(tmp_path):
    from allrepro.cli import main

    toy_bundle(tmp_path / "bundle", {"rule": "best_member", "model": "a"})
    good = tmp_path / "cell.jpg"
    cv2.imwrite(str(good), cell_image(0, 0, 48))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"GIF89a")
    out = tmp_path / "p.json"
    assert main(["predict", str(good), str(bad), "--bundle", str(tmp_path / "bundle"), "--out", str(out)]) == 1
    rows = json.loads(out.read_text())["predictions"]
    assert [("decision" in r, "error" in r) for r in rows] == [(True, False), (False, True)]
    assert main(["predict", str(good), "--bundle", str(tmp_path / "nowhere")]) == 2  # a clear error, no traceback


def test_api_limits_bombs_types_and_overload(tmp_path):
    from fastapi.testclient import TestClient

    from allrepro.serve import create_app

    bundle = predict.load_bundle(toy_bundle(tmp_path / "b", {**ENSEMBLE, "gamma": 0.0}))
    client = TestClient(create_app(bundle, {"max_file_mb": 0.05, "max_files": 2}), base_url="http://127.0.0.1")
    assert client.get("/healthz").json()["status"] == "ok"
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]
    jpg = cv2.imencode(".jpg", cell_image(1, 1, 48))[1].tobytes()
    files = [("files", ("x.jpg", jpg, "image/jpeg")), ("files", ("../../etc/passwd", b"text", "image/jpeg"))]
    results = client.post("/api/predict", files=files).json()["results"]
    assert results[0]["decision"] in CLASSES and "gradcam" not in results[0]["members"]["a"]  # asked for apart:
    cams = client.post("/api/gradcam", files=[("file", ("x.jpg", jpg, "image/jpeg"))]).json()["members"]
    assert cams["a"]["gradcam"].startswith("data:image/png") and cams["a"]["vote"] == results[0]["members"]["a"]["vote"]
    assert results[1]["name"] == "passwd" and "not an image" in results[1]["error"]  # the name: text, never a path
    big = png(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))  # ~120 kB of noise
    assert "larger than the limit of 0.05 MiB" in client.post("/api/predict", files=[("files", ("n.png", big, "image/png"))]).json()["results"][0]["error"]
    bomb = claimed_size(png(cell_image(0, 0, 32)), 50_000, 50_000)
    assert "over the limit" in client.post("/api/predict", files=[("files", ("b.png", bomb, "image/png"))]).json()["results"][0]["error"]
    three = [("files", (f"{i}.jpg", jpg, "image/jpeg")) for i in range(3)]
    assert client.post("/api/predict", files=three).status_code == 422  # over max_files: the schema says maxItems
    busy = TestClient(create_app(bundle, {"max_queue": 0}), base_url="http://127.0.0.1")  # nothing may be admitted: every request is refused
    answer = busy.post("/api/predict", files=[("files", ("x.jpg", jpg, "image/jpeg"))])
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert busy.get("/healthz").status_code == 200  # the rest of the server stays up
