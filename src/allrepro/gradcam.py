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


def heatmaps(model, images: np.ndarray, class_indices, parts=None) -> np.ndarray:
    """Grad-CAM of a batch of RGB uint8 images (N, H, W, 3), image i for class class_indices[i]: float32
    (N, H, W), each in [0, 1]. One forward and one backward pass for the batch: in inference mode an image's
    score depends on its own feature map only, so the gradient of the summed scores is each image's own."""
    import keras

    front, head = parts or split(model)
    fmap = front(images, training=False)
    pick = np.eye(int(head.outputs[0].shape[-1]), dtype=np.float32)[np.asarray(class_indices)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(fmap)
            score = tf.reduce_sum(head(fmap, training=False) * pick)
        grads = tape.gradient(score, fmap).numpy()
    elif backend == "jax":
        import jax

        grads = np.asarray(jax.grad(lambda f: (head(f, training=False) * pick).sum())(fmap))
    else:
        raise NotImplementedError(f"Grad-CAM needs the TensorFlow or JAX backend, not {backend}")
    fmap = keras.ops.convert_to_numpy(fmap).astype(np.float32)
    weights = grads.mean(axis=(1, 2), keepdims=True)  # one weight per channel: the gradient averaged over the map
    out = []
    for cam in np.maximum((fmap * weights).sum(axis=-1), 0):
        cam = cv2.resize(cam, images.shape[2:0:-1], interpolation=cv2.INTER_LINEAR)
        out.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(out).astype(np.float32)


def heatmap(model, image: np.ndarray, class_index: int, parts=None) -> np.ndarray:
    """Grad-CAM of one RGB uint8 image (H, W, 3) for class_index: float32 (H, W) in [0, 1]."""
    return heatmaps(model, image[None], [class_index], parts)[0]


def share_inside(cam: np.ndarray, mask: np.ndarray) -> float:
    """The share of a heat map's mass on the mask's pixels (mask resized to the map, nearest); NaN when the map
    is all zero or the mask empty (nothing to measure)."""
    if mask.shape != cam.shape:
        mask = cv2.resize(mask, cam.shape[::-1], interpolation=cv2.INTER_NEAREST)
    inside, total = float(cam[mask > 0].sum()), float(cam.sum())
    return inside / total if total > 0 and (mask > 0).any() else float("nan")


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map (jet colours) over the RGB image, RGB uint8."""
    colour = cv2.applyColorMap(np.uint8(255 * cam), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8((1 - alpha) * image + alpha * colour)
