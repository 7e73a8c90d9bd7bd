"""Grad-CAM (Selvaraju et al. 2017) for our models: the backbone's last feature map weighted by the
gradient of the class score, ReLU, upsampled over the image.

Every model is uint8 image -> rescale/augment/preprocess -> backbone -> head (models/build.py), so the
feature map is the backbone's output: the model is cut there into a front and a head, and the gradient
of the head's class score is taken with respect to that map (TensorFlow or JAX backend).
"""
from __future__ import annotations

import cv2
import numpy as np


def split(model):
    """(front: image -> feature map, head: feature map -> probabilities), cut at the backbone."""
    import keras

    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    features = backbone._inbound_nodes[-1].output_tensors[0]  # the backbone's output inside this model
    return keras.Model(model.inputs[0], features), keras.Model(features, model.outputs[0])


def heatmap(model, image: np.ndarray, class_index: int, parts=None) -> np.ndarray:
    """Grad-CAM of one RGB uint8 image (H, W, 3) for class_index: float32 (H, W) in [0, 1]."""
    import keras

    front, head = parts or split(model)
    fmap = front(image[None], training=False)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(fmap)
            score = head(fmap, training=False)[:, class_index]
        grads = tape.gradient(score, fmap).numpy()
    elif backend == "jax":
        import jax

        grads = np.asarray(jax.grad(lambda f: head(f, training=False)[0, class_index])(fmap))
    else:
        raise NotImplementedError(f"Grad-CAM needs the TensorFlow or JAX backend, not {backend}")
    fmap = keras.ops.convert_to_numpy(fmap)[0].astype(np.float32)
    weights = grads[0].mean(axis=(0, 1))  # one weight per channel: the gradient averaged over the map
    cam = np.maximum((fmap * weights).sum(axis=-1), 0)
    cam = cv2.resize(cam, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    return cam / cam.max() if cam.max() > 0 else cam


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map (jet colours) over the RGB image, RGB uint8."""
    colour = cv2.applyColorMap(np.uint8(255 * cam), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8((1 - alpha) * image + alpha * colour)
