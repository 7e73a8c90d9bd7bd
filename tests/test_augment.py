"""The augmentation layers: one affine warp that is the identity at zero range, random otherwise,
off at inference, and saved and reloaded with the model."""
from __future__ import annotations

import numpy as np

from allrepro.models.build import augmentation, build_model
from allrepro.models.layers import RandomAffine
from conftest import cell_image


def batch(n=4, size=48):
    return np.stack([cell_image(i % 4, i, size) for i in range(n)]).astype("float32")


def test_tiny_ranges_are_the_identity_and_inference_is_untouched():
    x = batch()
    near = np.asarray(RandomAffine(rotation=1e-7, shift=1e-7, zoom=1e-7, seed=1)(x, training=True))
    np.testing.assert_allclose(near, x, atol=0.5)
    np.testing.assert_array_equal(np.asarray(RandomAffine(rotation=0.2, seed=1)(x, training=False)), x)


def test_ranges_move_pixels_and_keep_the_value_range():
    x = batch()
    out = np.asarray(RandomAffine(rotation=0.1, shift=0.2, shear=0.1, zoom=0.2, seed=3)(x, training=True))
    assert out.shape == x.shape
    assert np.abs(out - x).mean() > 5
    assert out.min() >= 0 and out.max() <= 255  # nearest fill: no black borders, no overshoot beyond input


def test_geometric_augmentation_is_one_layer():
    layers = augmentation({"flip": "horizontal", "rotation": 0.02, "shift": 0.08, "shear": 0.08, "zoom": 0.08,
                           "brightness": 0.05})
    assert [type(l).__name__ for l in layers] == ["RandomFlip", "RandomAffine", "RandomBrightness"]


def test_model_with_augmentation_saves_and_reloads(tmp_path):
    import keras

    spec = {"backbone": "small_cnn", "input_size": 32, "batch_size": 4, "head": {"pooling": "avg"},
            "augment": {"rotation": 0.05, "zoom": 0.1}, "phases": [{"epochs": 1, "optimizer": "adam",
                                                                     "learning_rate": 0.001}]}
    model, _ = build_model(spec, 4)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    x = batch(2, 32).astype("uint8")
    np.testing.assert_allclose(model.predict(x, verbose=0), again.predict(x, verbose=0), atol=1e-6)


def test_compilable_warp_matches_keras_affine_transform():
    """Our gather-based warp (XLA-compilable on every backend) resamples as Keras' own op does."""
    from keras import ops

    from allrepro.models.layers import warp_bilinear

    x = batch(3, 40)
    rng = np.random.default_rng(0)
    theta = rng.uniform(-0.3, 0.3, 3)
    a = [np.cos(theta), -np.sin(theta), rng.uniform(-3, 3, 3), np.sin(theta), np.cos(theta), rng.uniform(-3, 3, 3)]
    a = [v.astype("float32") for v in a]
    ours = np.asarray(warp_bilinear(x, a))
    zeros = np.zeros(3, "float32")
    theirs = np.asarray(ops.image.affine_transform(x, np.stack([*a, zeros, zeros], 1), interpolation="bilinear",
                                                   fill_mode="nearest"))
    inner = (slice(None), slice(4, -4), slice(4, -4))  # edges: the two 'nearest' fills differ by half a pixel
    np.testing.assert_allclose(ours[inner], theirs[inner], atol=1.0)
