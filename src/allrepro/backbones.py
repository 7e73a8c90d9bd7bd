"""Backbone registry: name -> (keras.applications constructor, preprocessing mode).

Names are plain strings so params validation can check them without importing Keras. keras.applications
backbones are built with include_top=False; the hand-built ones (constructor None) live in allrepro.models
and are imported by models/build.py, so that the stages that build them depend on their source.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backbone:
    constructor: str | None  # "keras.applications:Name", or None: built in this package (build.CUSTOM)
    preprocess: str          # a Preprocess mode


BACKBONES: dict[str, Backbone] = {
    "small_cnn": Backbone(None, "scale01"),
    "alexnet": Backbone(None, "scale01"),
    "efficientnetb3": Backbone("keras.applications:EfficientNetB3", "raw"),
    "efficientnetv2b0": Backbone("keras.applications:EfficientNetV2B0", "raw"),  # MSEENet's base
    "vgg16": Backbone("keras.applications:VGG16", "caffe"),
    "densenet121": Backbone("keras.applications:DenseNet121", "torch"),
    "densenet201": Backbone("keras.applications:DenseNet201", "torch"),
    "resnet50": Backbone("keras.applications:ResNet50", "caffe"),
    "mobilenetv2": Backbone("keras.applications:MobileNetV2", "tf"),
}
