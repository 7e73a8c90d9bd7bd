"""Serializable preprocessing layer: each backbone's own input scaling, written with keras.ops only
so a saved model.keras reloads under any Keras backend without unsafe Lambda layers."""
from __future__ import annotations

import keras
from keras import ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="allrepro")
class Preprocess(keras.layers.Layer):
    """uint8 RGB in, the float input a backbone was trained on out.

    modes: scale01 (x/255), tf (x/127.5 - 1), torch (ImageNet mean/std), caffe (BGR, mean-subtracted),
    raw (float pixels 0-255: EfficientNet models rescale inside the network)."""

    MODES = ("scale01", "tf", "torch", "caffe", "raw")

    def __init__(self, mode: str = "scale01", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"Preprocess mode {mode!r}: expected one of {self.MODES}")
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.mode == "scale01":
            return x / 255.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(IMAGENET_MEAN, self.compute_dtype)
            std = ops.convert_to_tensor(IMAGENET_STD, self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, self.compute_dtype)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
