"""The quick profile's network: four conv blocks, trained from scratch in minutes on a CPU."""
from __future__ import annotations

import keras
from keras import layers


def build(input_shape: tuple[int, int, int], weights=None, filters=(32, 64, 128, 256)) -> keras.Model:
    if weights not in (None, "null"):
        raise ValueError("small_cnn is trained from scratch: weights must be null")
    inputs = keras.Input(input_shape)
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"block{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"block{i + 1}_bn")(x)
        x = layers.Activation("relu", name=f"block{i + 1}_relu")(x)
        x = layers.MaxPooling2D(name=f"block{i + 1}_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")
