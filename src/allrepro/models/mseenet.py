"""MSEENet's multi-scale block (najjar 2025): an Inception module on top of EfficientNetV2-B0 features.

Parallel branches — 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max-pooling then 1x1 — each with `filters`
channels, 'same' padding, concatenated along channels. It belongs to the head, so the base can be
frozen in the first phase while the module trains.
"""
from __future__ import annotations

from keras import layers


def inception_module(x, filters: int, name: str = "inception"):
    def conv(t, kernel, suffix):
        return layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"{name}_{suffix}")(t)

    b1 = conv(x, 1, "1x1")
    b3 = conv(conv(x, 1, "3x3_reduce"), 3, "3x3")
    b5 = conv(conv(x, 1, "5x5_reduce"), 5, "5x5")
    bp = conv(layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x), 1, "pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])
