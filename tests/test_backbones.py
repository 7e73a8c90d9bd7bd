"""Every backbone of the four papers builds, trains one quick epoch on generated images and predicts;
local weights files load; the idrees heads reproduce its Table 4 parameter totals."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from allrepro.models.build import build_backbone, build_model
from allrepro.backbones import BACKBONES
from conftest import ROOT, cell_image

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SIZE = {"alexnet": 96}  # AlexNet's stride-4 stem and three poolings need more than 64 px


def images(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 4
    x = np.stack([cell_image(int(k), i, size)[..., ::-1] for i, k in enumerate(labels)])
    return x, labels


# One model per backbone and per head shape (idrees, patel, pushpalatha, MSEENet's Inception module).
COVER = ["quick_cnn", "idrees_efficientnetb3", "idrees_vgg16", "idrees_densenet121", "idrees_resnet50",
         "patel_densenet201", "patel_mobilenetv2", "patel_alexnet", "najjar_mseenet", "pushpalatha_vgg16"]
# idrees Table 4 totals; pooled heads make the count independent of the input size, so 64 px tests it.
IDREES_TABLE4 = {"idrees_efficientnetb3": 12_365_619, "idrees_vgg16": 15_248_196,
                 "idrees_densenet121": 8_095_300, "idrees_resnet50": 25_694_084}


def test_cover_spans_every_backbone():
    assert {PARAMS["models"][m]["backbone"] for m in COVER} == set(BACKBONES)


@pytest.mark.parametrize("name", COVER)
def test_model_trains_one_epoch_and_predicts(name):
    import keras

    keras.utils.set_random_seed(0)
    spec = {**PARAMS["models"][name], "weights": None}
    spec["input_size"] = SIZE.get(spec["backbone"], 64)
    model, backbone = build_model(spec, 4)
    if name in IDREES_TABLE4:
        assert model.count_params() == IDREES_TABLE4[name]
    x, y = images(8, spec["input_size"])
    # eager: tracing a 700-layer graph costs more than a step; plain SGD: Adam's two slots per weight (thousands of
    # variables for DenseNet-201) cost more to create than the step, and the optimizer is not what is tested here
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # one step: what a step needs, once
    assert np.isfinite(history.history["loss"][0])
    proba = model.predict(x, verbose=0)
    assert proba.shape == (8, 4) and np.allclose(proba.sum(axis=1), 1, atol=1e-3)


def test_backbone_loads_a_local_weights_file(tmp_path):
    base = build_backbone("mobilenetv2", (64, 64, 3), None)
    path = tmp_path / "mobilenetv2.weights.h5"
    base.save_weights(path)
    again = build_backbone("mobilenetv2", (64, 64, 3), str(path))
    for a, b in zip(base.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh = build_backbone("mobilenetv2", (64, 64, 3), None)
    assert any(not np.array_equal(a, b) for a, b in zip(base.get_weights(), fresh.get_weights()))




def test_small_cnn_shape_keys_widths_and_separable_blocks():
    """`filters` and `separable` shape small_cnn: the widths are the blocks' channels, separable blocks follow
    the first one; any other backbone refuses them, naming the key."""
    import keras

    plain = build_backbone("small_cnn", (48, 48, 3), None, filters=[16, 32, 64, 128])
    separable = build_backbone("small_cnn", (48, 48, 3), None, filters=[16, 32, 64, 128], separable=True)
    convs = [type(layer) for layer in separable.layers if "conv" in layer.name]
    assert convs == [keras.layers.Conv2D] + [keras.layers.SeparableConv2D] * 3
    assert plain.output.shape[-1] == separable.output.shape[-1] == 128
    assert separable.count_params() < plain.count_params() / 4
    with pytest.raises(ValueError, match="separable"):
        build_backbone("mobilenetv2", (64, 64, 3), None, separable=True)
