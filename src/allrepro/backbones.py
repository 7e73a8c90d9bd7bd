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
    # Seconds per epoch of the paper profile on one H100 at batch 32, compile included (reports/benchmarks.md,
    # 2026-11-24: a job's time over its epochs). Only the order of training jobs depends on it (the longest
    # first: pipeline.priority); never a result.
    gpu_epoch_s: float = 1.0


BACKBONES: dict[str, Backbone] = {
    "small_cnn": Backbone(None, "scale01", gpu_epoch_s=0.5),
    "alexnet": Backbone(None, "scale01", gpu_epoch_s=3.8),
    "efficientnetb3": Backbone("keras.applications:EfficientNetB3", "raw", gpu_epoch_s=13.3),
    "efficientnetv2b0": Backbone("keras.applications:EfficientNetV2B0", "raw", gpu_epoch_s=10.1),  # MSEENet's base
    "vgg16": Backbone("keras.applications:VGG16", "caffe", gpu_epoch_s=3.2),
    "densenet121": Backbone("keras.applications:DenseNet121", "torch", gpu_epoch_s=6.7),
    "densenet201": Backbone("keras.applications:DenseNet201", "torch", gpu_epoch_s=30.7),
    "resnet50": Backbone("keras.applications:ResNet50", "caffe", gpu_epoch_s=3.2),
    "mobilenetv2": Backbone("keras.applications:MobileNetV2", "tf", gpu_epoch_s=7.1),
}
