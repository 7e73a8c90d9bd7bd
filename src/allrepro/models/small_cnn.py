"""The quick profile's network: four conv blocks, trained from scratch in minutes on a CPU."""
from __future__ import annotations

import keras
from keras import layers


def build(input_shape: tuple[int, int, int], weights=None, filters=(32, 64, 128, 256),
          separable: bool = False) -> keras.Model:
    """conv 3x3 -> BN -> ReLU -> max pool, once per width in `filters`. `separable`: every block after the
    first convolves depthwise then pointwise (MobileNet's factorisation), about 8x fewer multiply-adds there;
    the first block sees only 3 channels, where the factorisation saves nothing."""
    if weights not in (None, "null"):
        raise ValueError("small_cnn is trained from scratch: weights must be null")
    inputs = keras.Input(input_shape)
    x = inputs
    for i, f in enumerate(filters):
        conv = layers.SeparableConv2D if separable and i > 0 else layers.Conv2D
        x = conv(f, 3, padding="same", use_bias=False, name=f"block{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"block{i + 1}_bn")(x)
        x = layers.Activation("relu", name=f"block{i + 1}_relu")(x)
        x = layers.MaxPooling2D(name=f"block{i + 1}_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")
