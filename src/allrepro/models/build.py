"""Assemble a classifier from params: uint8 input -> augmentation -> preprocessing -> backbone -> head."""
from __future__ import annotations

import keras
from keras import layers

from allrepro.models.layers import Preprocess
from allrepro.models.registry import BACKBONES, build_backbone


def augmentation(spec: dict) -> list[keras.layers.Layer]:
    """Keras preprocessing layers (active in training only), so augmentation runs on the accelerator."""
    aug, out = spec or {}, []
    if aug.get("flip", "none") != "none":
        out.append(layers.RandomFlip(aug["flip"]))
    if aug.get("rotation"):
        out.append(layers.RandomRotation(aug["rotation"], fill_mode="nearest"))
    if aug.get("shift"):
        out.append(layers.RandomTranslation(aug["shift"], aug["shift"], fill_mode="nearest"))
    if aug.get("shear"):
        out.append(layers.RandomShear(aug["shear"], aug["shear"], fill_mode="nearest"))
    if aug.get("zoom"):
        out.append(layers.RandomZoom(aug["zoom"], fill_mode="nearest"))
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
    backbone = build_backbone(spec["backbone"], (size, size, 3), spec.get("weights"))
    x = backbone(x)
    head = spec.get("head", {})
    pooling = head.get("pooling", "avg")
    x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D,
         "flatten": layers.Flatten}[pooling](name=f"pool_{pooling}")(x)
    for i, units in enumerate(head.get("dense", [])):
        x = layers.Dense(units, activation="relu", name=f"head_dense{i + 1}")(x)
    if head.get("dropout"):
        x = layers.Dropout(head["dropout"], name="head_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=spec["backbone"]), backbone
