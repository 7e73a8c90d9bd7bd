"""A trained model as plain Keras: the inference graph with only Keras' own layers, so that
`keras.saving.load_model(path)` works where allrepro is not installed.

Training graphs carry two allrepro layers: `RandomAffine` (augmentation, the identity at inference) and
`Preprocess` (each backbone's input scaling). The portable graph drops the augmentation and writes the scaling
with standard layers — scale01 and tf as `Rescaling`, torch as `Rescaling` then `Normalization` (ImageNet mean and
variance), caffe as a fixed 1×1 convolution that swaps RGB to BGR and subtracts the mean (weights 0 and 1: exact
in float32), raw as nothing — then reuses the trained backbone and head unchanged (the same weights). Input: uint8
RGB at the model's size, as the bundle's preprocessing says; output: the class probabilities.
"""
from __future__ import annotations

import numpy as np

from allrepro.models.layers import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, Preprocess


def scaling(mode: str) -> list:
    """Standard Keras layers computing what Preprocess(mode) computes."""
    import keras
    from keras import layers

    if mode == "scale01":
        return [layers.Rescaling(1.0 / 255.0, name="scale01")]
    if mode == "tf":
        return [layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_tf")]
    if mode == "torch":
        return [layers.Rescaling(1.0 / 255.0, name="scale01"),
                layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD],
                                     name="imagenet_normalize")]
    if mode == "caffe":
        kernel = np.zeros((1, 1, 3, 3), dtype="float32")
        for out_channel, in_channel in enumerate((2, 1, 0)):  # BGR out of RGB
            kernel[0, 0, in_channel, out_channel] = 1.0
        conv = layers.Conv2D(3, 1, use_bias=True, trainable=False, name="rgb_to_bgr_minus_mean",
                             kernel_initializer=keras.initializers.Constant(kernel),
                             bias_initializer=keras.initializers.Constant(-np.asarray(CAFFE_MEAN_BGR, "float32")))
        return [conv]
    if mode == "raw":
        return []
    raise ValueError(f"Preprocess mode {mode!r}: expected one of {Preprocess.MODES}")


def portable(model):
    """The inference graph of a trained allrepro model with Keras' own layers only (see the module's text)."""
    import keras
    from keras import layers

    pre = next((layer for layer in model.layers if isinstance(layer, Preprocess)), None)
    if pre is None:
        raise ValueError(f"model {model.name!r}: no Preprocess layer (not an allrepro model?)")
    tail = keras.Model(pre.output, model.outputs[0], name=f"{model.name}_trained")  # backbone and head, as trained
    size = tuple(model.inputs[0].shape[1:])
    image = keras.Input(size, dtype="uint8", name="image")
    x = layers.Rescaling(1.0, name="to_float")(image)
    for layer in scaling(pre.mode):
        x = layer(x)
    return keras.Model(image, tail(x), name=model.name)
