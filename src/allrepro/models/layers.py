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


def warp_bilinear(x, coefficients):
    """Resample each image at p_in = A . p_out (A per image, its six coefficients each of shape (n,)),
    bilinear, edges repeated outside (the 'nearest' fill).

    Written as index arithmetic and one gather so that XLA compiles it on every backend: TensorFlow's
    ImageProjectiveTransform op (behind keras.ops.image.affine_transform) has no XLA kernel, so a
    jit-compiled training step with it fails on a GPU."""
    shape = ops.shape(x)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    xs, ys = ops.reshape(xs, (1, -1)), ops.reshape(ys, (1, -1))
    a00, a01, a02, a10, a11, a12 = (ops.expand_dims(a, 1) for a in coefficients)
    x_in, y_in = a00 * xs + a01 * ys + a02, a10 * xs + a11 * ys + a12
    x0, y0 = ops.floor(x_in), ops.floor(y_in)
    wx, wy = ops.expand_dims(x_in - x0, -1), ops.expand_dims(y_in - y0, -1)
    wmax, hmax = ops.cast(w - 1, "float32"), ops.cast(h - 1, "float32")
    # every pixel of the batch one row of (n*h*w, c): a gather picks whole pixels by one flat index each,
    # far cheaper on a CPU than take_along_axis with an index per channel
    rows = ops.reshape(x, (n * h * w, c))
    first_row = ops.expand_dims(ops.arange(n, dtype="int32") * (h * w), 1)

    def pixels(px, py):  # clamping the coordinates repeats the edge pixels
        index = ops.cast(ops.clip(py, 0.0, hmax), "int32") * w + ops.cast(ops.clip(px, 0.0, wmax), "int32")
        return ops.take(rows, first_row + index, axis=0)

    top = pixels(x0, y0) * (1.0 - wx) + pixels(x0 + 1.0, y0) * wx
    bottom = pixels(x0, y0 + 1.0) * (1.0 - wx) + pixels(x0 + 1.0, y0 + 1.0) * wx
    return ops.reshape(top * (1.0 - wy) + bottom * wy, (n, h, w, c))


@keras.saving.register_keras_serializable(package="allrepro")
class RandomAffine(keras.layers.Layer):
    """Rotation, shift, shear and zoom as ONE affine warp per image (training only).

    Keras' separate RandomRotation/Translation/Shear/Zoom layers resample the image four times; the
    papers' ImageDataGenerator composes one matrix and resamples once. So do we: it is faster and it
    blurs less. rotation: fraction of a full turn; shift, zoom: fractions of the size; shear: x-shear factor.
    """

    def __init__(self, rotation=0.0, shift=0.0, shear=0.0, zoom=0.0, fill_mode="nearest", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.shift, self.shear, self.zoom = rotation, shift, shear, zoom
        self.fill_mode, self.seed = fill_mode, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        shape = ops.shape(x)
        n, h, w = shape[0], ops.cast(shape[1], "float32"), ops.cast(shape[2], "float32")

        def uniform(limit):
            return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator) if limit else ops.zeros((n,))

        theta = uniform(self.rotation) * 2.0 * 3.141592653589793
        shear, zx, zy = uniform(self.shear), 1.0 + uniform(self.zoom), 1.0 + uniform(self.zoom)
        tx, ty = uniform(self.shift) * w, uniform(self.shift) * h
        cos, sin = ops.cos(theta), ops.sin(theta)
        # output pixel -> input pixel: p_in = c + R(theta) . Shear . Zoom . (p_out - c) + t
        a00, a01 = cos * zx, (cos * shear - sin) * zy
        a10, a11 = sin * zx, (sin * shear + cos) * zy
        cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
        a02 = cx - a00 * cx - a01 * cy + tx
        a12 = cy - a10 * cx - a11 * cy + ty
        return ops.cast(warp_bilinear(ops.cast(x, "float32"), (a00, a01, a02, a10, a11, a12)), x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation": self.rotation, "shift": self.shift, "shear": self.shear,
                "zoom": self.zoom, "fill_mode": self.fill_mode, "seed": self.seed}
