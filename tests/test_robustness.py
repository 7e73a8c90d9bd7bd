"""Robustness to stain/colour shift and where the model looks, on generated images with known answers."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from allrepro import gradcam
from allrepro.audit import robustness as rob
from allrepro.audit.stage import _robustness_verdicts
from allrepro.shifts import perturb, rng_for, shifted

SPECS = {"stain": {"kind": "hed", "sigma": 0.08}, "light": {"kind": "brightness_contrast", "brightness": 0.2, "contrast": 0.2},
         "jpeg": {"kind": "jpeg", "quality": 30}, "blur": {"kind": "blur", "sigma": 1.5}}


def cells(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Pale backgrounds with one violet disc; class 1 a large disc, class 0 a small one; class 1 images are also a
    little darker, so a classifier of the mean brightness gets every clean image right."""
    rng, images, y = np.random.default_rng(seed), [], np.arange(n) % 2
    for label in y:
        level = 200 if label else 215
        img = np.full((64, 64, 3), level, np.uint8) + rng.integers(0, 4, (64, 64, 3), dtype=np.uint8)
        cv2.circle(img, (32, 32), 18 if label else 8, (120, 60, 150), -1)
        images.append(img)
    return images, y


def test_each_perturbation_is_seeded_per_image_and_changes_the_image():
    images, _ = cells(4)
    for name, spec in SPECS.items():
        once, again = shifted(images, name, spec, 7), shifted(images, name, spec, 7)
        assert all(np.array_equal(a, b) for a, b in zip(once, again)), name
        assert all(a.dtype == np.uint8 and a.shape == b.shape for a, b in zip(once, images))
        assert any(not np.array_equal(a, b) for a, b in zip(once, images)), f"{name} left every image unchanged"
    stain = shifted(images, "stain", SPECS["stain"], 7)
    assert not np.array_equal(stain[0] - images[0], stain[2] - images[2]), "two images drew the same jitter"


def test_zero_strength_stain_jitter_is_the_identity_up_to_rounding():
    img = cells(1)[0][0]
    out = perturb(img, {"kind": "hed", "sigma": 0.0}, rng_for(1, 0, "x"))
    assert np.abs(out.astype(int) - img.astype(int)).max() <= 2


def test_unknown_kind_names_the_key():
    with pytest.raises(ValueError, match="evaluate.shift.perturbations"):
        perturb(cells(1)[0][0], {"kind": "sepia"}, rng_for(1, 0, "x"))


def _frame(paths, y, pred, shift=None):
    f = pd.DataFrame({"path": paths, "true": y, "pred": pred})
    return f if shift is None else f.assign(shift=shift)


def test_a_colour_statistic_fails_the_colour_shift_and_a_shape_reader_passes():
    images, y = cells(200)
    paths = [f"img{i}.png" for i in range(len(y))]

    def colour_model(imgs):  # the mean brightness: the colour statistic
        return np.array([int(img.mean() < 200) for img in imgs])

    def shape_model(imgs):  # the disc's area, found by Otsu's threshold of each image's own grey levels
        def area(img):
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            return (grey <= cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]).mean()
        return np.array([int(area(img) > 0.12) for img in imgs])

    clean, table_in = {}, {}
    for name, model in (("colour", colour_model), ("shape", shape_model)):
        assert (model(images) == y).all(), f"{name} should be right on every clean image"
        clean[name] = _frame(paths, y, model(images))
        table_in[name] = pd.concat([_frame(paths, y, model(shifted(images, s, SPECS[s], 3)), s)
                                    for s in ("stain", "light")])
    table = rob.shift_table(table_in, clean, {s: SPECS[s]["kind"] for s in SPECS}, 0.95)
    assert rob.colour_dependence(table, "colour")[1] > 20
    assert rob.colour_dependence(table, "shape")[1] < 5
    summary = {"robustness": {
        "colour_drop_limit": 5, "colour_baseline": "colour",
        "accuracy": {m: {r["shift"]: r.to_dict() for _, r in g.iterrows()} for m, g in table.groupby("model")},
        "worst_colour_shift": {m: rob.colour_dependence(table, m) for m in ("shape", "colour")}, "attention": {}}}
    [said] = _robustness_verdicts(summary)
    assert said.startswith("Stain and colour shift: shape") and "does not hinge on the exact colour" in said
    summary["robustness"]["colour_baseline"] = "shape"
    [said] = _robustness_verdicts(summary)
    assert said.startswith("Stain and colour shift: colour") and "depends on colour" in said


def test_clean_row_has_exact_interval_and_zero_drop():
    f = _frame(["a", "b", "c"], [0, 1, 1], [0, 1, 1])
    table = rob.shift_table({"m": pd.DataFrame(columns=["shift", "path", "true", "pred"])}, {"m": f}, {}, 0.95)
    [row] = table.to_dict("records")
    assert row["shift"] == "clean" and row["accuracy"] == 1 and row["drop points"] == 0 and row["low"] < 1


def test_share_inside_the_mask():
    mask = np.zeros((10, 10), np.uint8)
    mask[2:6, 2:6] = 255
    inside = np.where(mask > 0, 1.0, 0.0).astype(np.float32)
    assert gradcam.share_inside(inside, mask) == 1.0
    assert gradcam.share_inside(1 - inside, mask) == 0.0
    assert gradcam.share_inside(np.ones((10, 10), np.float32), mask) == pytest.approx(0.16)
    assert np.isnan(gradcam.share_inside(inside, np.zeros_like(mask)))


def test_attention_table_per_class_with_interval_and_unmeasured_images():
    frame = pd.DataFrame({"path": list("abcdef"), "true": ["x", "x", "x", "y", "y", "y"],
                          "share_inside": [0.9, 0.8, 0.7, 0.2, 0.1, np.nan], "mask_share": [0.3] * 5 + [0.0]})
    table = rob.attention_table({"m": frame}, 500, 1, 0.95).set_index("class")
    assert table.loc["x", "share inside"] == pytest.approx(0.8) and table.loc["x", "low"] <= 0.8 <= table.loc["x", "high"]
    assert table.loc["y", "measured"] == 2 and table.loc["all", "images"] == 6
    assert [r["path"] for r in rob.lowest({"m": frame}, 2)["m"]] == ["e", "d"]


def test_batched_gradcam_equals_one_image_at_a_time():
    import keras

    inner = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu")],
                             name="backbone")
    x = keras.Input((16, 16, 3))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inner(x)))
    model = keras.Model(x, out)
    images = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3)).astype("float32")
    classes = [0, 2, 1, 1, 0]
    batch = gradcam.heatmaps(model, images, classes)
    for i, c in enumerate(classes):
        np.testing.assert_allclose(batch[i], gradcam.heatmap(model, images[i], c), atol=1e-5)
