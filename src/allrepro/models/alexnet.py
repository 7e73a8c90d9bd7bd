"""AlexNet (Krizhevsky et al. 2012) built by hand: the five convolutional layers here, the three dense
layers in the head (params: `head: {pooling: flatten, dense: [4096, 4096], dropout: 0.5}`).

Local response normalisation is replaced by batch normalisation (LRN is not a Keras 3 layer; BN is
what re-implementations use). 227x227 input, as patel uses.
"""
from __future__ import annotations

import keras
from keras import layers

# (filters, kernel, stride, max-pool after)
CONV = [(96, 11, 4, True), (256, 5, 1, True), (384, 3, 1, False), (384, 3, 1, False), (256, 3, 1, True)]


def build(input_shape: tuple[int, int, int], weights=None) -> keras.Model:
    if weights == "imagenet":
        raise ValueError("alexnet: no ImageNet weights ship with Keras; use weights: null or a local weights file")
    inputs = keras.Input(input_shape)
    x = inputs
    for i, (filters, kernel, stride, pool) in enumerate(CONV, start=1):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="valid" if i == 1 else "same",
                          activation="relu", name=f"conv{i}")(x)
        if i <= 2:
            x = layers.BatchNormalization(name=f"norm{i}")(x)
        if pool:
            x = layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)
    model = keras.Model(inputs, x, name="alexnet")
    if weights not in (None, "null"):
        model.load_weights(weights)
    return model
