"""Backbone registry: name -> (constructor, preprocessing mode).

Names are plain strings so params validation can check them without importing Keras. keras.applications
backbones are built with include_top=False; custom ones live in this package and take the same
arguments (input_shape, weights).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Backbone:
    constructor: str  # "module:attribute"
    preprocess: str   # a Preprocess mode
    keras_app: bool = True


BACKBONES: dict[str, Backbone] = {
    "small_cnn": Backbone("allrepro.models.small_cnn:build", "scale01", keras_app=False),
    "alexnet": Backbone("allrepro.models.alexnet:build", "scale01", keras_app=False),
    "efficientnetb3": Backbone("keras.applications:EfficientNetB3", "raw"),
    "efficientnetv2b0": Backbone("keras.applications:EfficientNetV2B0", "raw"),  # MSEENet's base
    "vgg16": Backbone("keras.applications:VGG16", "caffe"),
    "densenet121": Backbone("keras.applications:DenseNet121", "torch"),
    "densenet201": Backbone("keras.applications:DenseNet201", "torch"),
    "resnet50": Backbone("keras.applications:ResNet50", "caffe"),
    "mobilenetv2": Backbone("keras.applications:MobileNetV2", "tf"),
}


def build_backbone(name: str, input_shape: tuple[int, int, int], weights):
    """The feature extractor. `weights`: 'imagenet', None, or a path to a weights file."""
    entry = BACKBONES[name]
    module, _, attr = entry.constructor.partition(":")
    constructor = getattr(importlib.import_module(module), attr)
    if not entry.keras_app:
        return constructor(input_shape=input_shape, weights=weights)
    local = weights not in (None, "imagenet")
    base = constructor(include_top=False, input_shape=input_shape, weights=None if local else weights)
    if local:
        base.load_weights(weights)
    return base
