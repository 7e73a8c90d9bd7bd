"""Which layers of a backbone train in a phase ('head', 'all' or the top N), and how many weights that is."""
from __future__ import annotations

import keras
import numpy as np


def set_trainable(backbone: keras.Model, trainable) -> None:
    """'head': backbone frozen; 'all': everything trains; N: only the backbone's top N layers train.

    Each layer is set explicitly: Keras does not propagate `trainable = True` to sublayers that were
    frozen while the parent already was trainable."""
    backbone.trainable = trainable != "head"
    n = len(backbone.layers)
    first = n if trainable == "head" else 0 if trainable == "all" else max(0, n - int(trainable))
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= first


def count_trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
