"""Assemble a classifier from params: uint8 input -> augmentation -> preprocessing -> backbone -> head."""
from __future__ import annotations

import importlib

import keras
from keras import layers

from allrepro.models import alexnet, small_cnn
from allrepro.models.layers import Preprocess, RandomAffine
from allrepro.models.mseenet import inception_module
from allrepro.backbones import BACKBONES

CUSTOM = {"small_cnn": small_cnn.build, "alexnet": alexnet.build}  # backbones built in this package


SMALL_CNN_KEYS = ("filters", "separable")  # a model spec's keys that shape small_cnn (Keras' applications are fixed)


def build_backbone(name: str, input_shape: tuple[int, int, int], weights, **shape):
    """The feature extractor. `weights`: 'imagenet', None, or a path to a weights file; `shape`: the
    SMALL_CNN_KEYS given in the model's spec (block widths, separable convolutions)."""
    shape = {k: v for k, v in shape.items() if v is not None}
    if shape and name != "small_cnn":
        raise ValueError(f"backbone {name}: {sorted(shape)} shape small_cnn only")
    if name in CUSTOM:
        return CUSTOM[name](input_shape=input_shape, weights=weights, **shape)
    module, _, attr = BACKBONES[name].constructor.partition(":")
    constructor = getattr(importlib.import_module(module), attr)
    local = weights not in (None, "imagenet")
    base = constructor(include_top=False, input_shape=input_shape, weights=None if local else weights)
    if local:
        base.load_weights(weights)
    return base


def augmentation(spec: dict) -> list[keras.layers.Layer]:
    """Keras preprocessing layers (active in training only), so augmentation runs on the accelerator."""
    aug, out = spec or {}, []
    if aug.get("flip", "none") != "none":
        out.append(layers.RandomFlip(aug["flip"]))
    geometric = {k: aug.get(k, 0.0) for k in ("rotation", "shift", "shear", "zoom")}
    if any(geometric.values()):
        out.append(RandomAffine(**geometric, fill_mode="nearest"))
    if aug.get("brightness"):
        out.append(layers.RandomBrightness(aug["brightness"], value_range=(0, 255)))
    return out


def build_model(spec: dict, n_classes: int) -> tuple[keras.Model, keras.Model]:
    """Return (model, backbone); the backbone is returned so training phases can freeze it."""
    size = spec["input_size"]
    inputs = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = layers.Rescaling(1.0, name="to_float")(inputs)  # uint8 -> float, pixel values kept 0-255
    for layer in augmentation(spec.get("augment")):
        x = layer(x)
    x = Preprocess(BACKBONES[spec["backbone"]].preprocess, name="preprocess")(x)
    backbone = build_backbone(spec["backbone"], (size, size, 3), spec.get("weights"),
                              **{k: spec.get(k) for k in SMALL_CNN_KEYS})
    x = backbone(x)
    outputs = head(x, spec.get("head", {}), n_classes)
    return keras.Model(inputs, outputs, name=spec["backbone"]), backbone


def head(x, spec: dict, n_classes: int):
    """[inception module] -> pooling -> [BN] -> dense layers (ReLU, L1/L2) -> [BN] -> [dropout] -> softmax.

    idrees: avg pooling, dense [1024], BN after the dense layer, dropout 0.6-0.7.
    pushpalatha: max pooling, BN before the dense layer (momentum 0.99, eps 0.001), dense [256] with L1/L2.
    najjar (MSEENet): the Inception module first."""
    if spec.get("inception"):
        x = inception_module(x, spec["inception"])
    pooling = spec.get("pooling", "avg")
    x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D,
         "flatten": layers.Flatten}[pooling](name=f"pool_{pooling}")(x)
    bn = spec.get("batch_norm", "none")

    def batch_norm(t, where):
        return layers.BatchNormalization(momentum=spec.get("bn_momentum", 0.99), epsilon=spec.get("bn_epsilon", 1e-3),
                                         name=f"head_bn_{where}")(t)

    if bn == "before_dense":
        x = batch_norm(x, "before")
    regularizer = (keras.regularizers.L1L2(l1=spec.get("l1", 0.0), l2=spec.get("l2", 0.0))
                   if spec.get("l1") or spec.get("l2") else None)
    for i, units in enumerate(spec.get("dense", [])):
        x = layers.Dense(units, activation="relu", kernel_regularizer=regularizer, name=f"head_dense{i + 1}")(x)
        if spec.get("dropout") and i < len(spec["dense"]) - 1:
            x = layers.Dropout(spec["dropout"], name=f"head_dropout{i + 1}")(x)
    if bn == "after_dense":
        x = batch_norm(x, "after")
    if spec.get("dropout"):
        x = layers.Dropout(spec["dropout"], name="head_dropout")(x)
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="predictions")(x)
