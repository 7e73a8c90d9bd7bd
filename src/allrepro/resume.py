"""Randomness and callback state as functions of (seed, epoch), so that a training killed after any epoch
and rerun ends with the weights of the run that was never interrupted.

A checkpoint (keras BackupAndRestore) holds the weights and the optimizer, not the random state: the
shuffling order, the augmentation and dropout draws (each layer's SeedGenerator) and the counters of
EarlyStopping / ReduceLROnPlateau. Rather than saving random state, each epoch derives it afresh from
(seed, epoch); the callbacks' counters are saved after every epoch and put back at the first epoch
a resumed run trains.
"""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from allrepro.fileio import atomic_path


class EpochBatches(keras.utils.PyDataset):
    """The training arrays in batches, in an order drawn from (seed, epoch) alone (set by EpochSeeds)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.order = np.arange(len(y))

    def set_epoch(self, epoch: int) -> None:
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return self.x[rows], self.y[rows]

    def feed(self):
        """What model.fit takes."""
        return self


class TensorFlowEpochBatches(EpochBatches):
    """The same batches, in the same order, as a tf.data pipeline. Keras hands a PyDataset to TensorFlow
    through a Python generator, which made a small model's training step 4x slower on a 2-core CPU
    (benchmarks/quick_model.py). The epoch's order lives in a variable that set_epoch assigns: Keras builds a
    new iterator each epoch after on_epoch_begin, so every epoch reads its own order."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        import tensorflow as tf

        super().__init__(x, y, batch_size, seed)
        self.order_var = tf.Variable(self.order, trainable=False)
        images, labels, rows = tf.constant(x), tf.constant(y), len(y)

        def batch(index):
            picked = tf.sort(self.order_var[index * batch_size:tf.minimum((index + 1) * batch_size, rows)])
            return tf.gather(images, picked), tf.gather(labels, picked)

        self.dataset = tf.data.Dataset.range(len(self)).map(batch).prefetch(1)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.order_var.assign(self.order)

    def feed(self):
        return self.dataset


def epoch_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> EpochBatches:
    """The training batches for this backend (tf.data under TensorFlow, a PyDataset under JAX/PyTorch, whose
    trainers iterate it in Python anyway and have no TensorFlow to lean on)."""
    cls = TensorFlowEpochBatches if keras.backend.backend() == "tensorflow" else EpochBatches
    return cls(x, y, batch_size, seed)


class EpochSeeds(keras.callbacks.Callback):
    """At the start of each epoch: the batch order and every random layer's seed state from (seed, epoch).

    A SeedGenerator's state is [seed, counter]; its seed stays the layer's own (drawn at build time from
    the global seed), the counter restarts at a value that only the epoch decides."""

    def __init__(self, batches: EpochBatches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        for layer in self.model._flatten_layers():
            for generator in getattr(layer, "_seed_generators", []):
                state = keras.ops.convert_to_numpy(generator.state)
                # 2**20 draws per epoch before two epochs' streams could meet; int32 range (JAX keeps uint32)
                generator.state.assign(np.array([state[0], (epoch << 20) % 2**31], dtype=state.dtype))


class CallbackState(keras.callbacks.Callback):
    """Saves the counters of EarlyStopping / ReduceLROnPlateau (and EarlyStopping's best weights) after
    every epoch, keyed by epoch, and restores those of the last completed epoch when a resumed run
    starts. Placed after them and before BackupAndRestore, so a checkpoint never runs ahead of it."""

    FIELDS = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")

    def __init__(self, folder: Path, tracked: list[keras.callbacks.Callback]):
        super().__init__()
        self.folder, self.tracked, self.first = folder, tracked, True

    def _path(self, epoch: int) -> Path:
        return self.folder / f"callbacks-{epoch}.json"

    def on_epoch_begin(self, epoch, logs=None):
        if not self.first:
            return
        self.first = False
        saved = self._path(epoch - 1)
        if not self.tracked or not saved.exists():
            return
        for callback, state in zip(self.tracked, json.loads(saved.read_text())):
            best_weights = state.pop("best_weights", None)
            for key, value in state.items():
                setattr(callback, key, value)
            if best_weights:
                with np.load(self.folder / best_weights) as npz:
                    callback.best_weights = [npz[f"w{i}"] for i in range(len(npz.files))]

    def on_epoch_end(self, epoch, logs=None):
        if not self.tracked:
            return
        states = []
        for i, callback in enumerate(self.tracked):
            state = {k: _plain(getattr(callback, k)) for k in self.FIELDS if hasattr(callback, k)}
            if getattr(callback, "best_weights", None) is not None:
                name = f"best-{i}-{callback.best_epoch}.npz"
                if not (self.folder / name).exists():
                    with atomic_path(self.folder / name) as tmp:
                        with open(tmp, "wb") as fh:
                            np.savez(fh, **{f"w{j}": w for j, w in enumerate(callback.best_weights)})
                state["best_weights"] = name
            states.append(state)
        with atomic_path(self._path(epoch)) as tmp:
            Path(tmp).write_text(json.dumps(states))


def _plain(value):
    return None if value is None else float(value) if isinstance(value, (float, np.floating)) else int(value)
