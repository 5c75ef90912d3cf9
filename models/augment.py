"""Training-time image augmentation as one jit-compatible Keras layer, kept out of the saved models.

Keras' own ``RandomRotation`` / ``RandomTranslation`` / ``RandomZoom`` layers declare
``supports_jit = False``; one of them anywhere in a model makes ``jit_compile="auto"`` resolve to
False for the whole model (``keras.src.trainers.trainer.model_supports_jit``), and on JAX every train
step then runs op by op (measured ~700x slower than a compiled step on an H200). :func:`random_augment`
does the same augmentation - horizontal flip, rotation +-0.03 turn, shift +-8%, zoom +-10% (one
affine warp per image, bilinear, edges repeated like ``fill_mode="nearest"``) and contrast +-20% -
with ``keras.ops`` / ``keras.random`` only: it is traced into the compiled train step on every
backend, runs on the device, draws new random parameters for every batch, and is reproducible under
its seed (a ``keras.random.SeedGenerator`` whose state is part of the training model).

The estimators train a *training model* (the inference layers with this layer spliced in, weights
shared) and keep and save the *inference model*, which has no augmentation at all
(:func:`training_model`).
"""

from __future__ import annotations

import functools
import math

from medbench.models import keras_base as kb

ROTATION_TURNS = 0.03  # +-0.03 of a full turn (+-10.8 degrees)
SHIFT = 0.08  # +-8% of the height / width
ZOOM = 0.10  # scale factor in [0.9, 1.1]
CONTRAST = 0.20  # contrast factor in [0.8, 1.2]


@functools.cache
def _layer_class():
    keras = kb.import_keras()
    ops = keras.ops

    class RandomAugment(keras.layers.Layer):
        """Flip / rotation / shift / zoom / contrast per image at training time; identity otherwise."""

        def __init__(self, seed: int = 0, value_range=(0.0, 1.0), **kwargs):
            super().__init__(**kwargs)
            self.seed = int(seed)
            self.value_range = (float(value_range[0]), float(value_range[1]))
            self.seed_generator = keras.random.SeedGenerator(self.seed, name="augment_seed")
            self.supports_masking = True

        def call(self, x, training=None):
            if not training:
                return x
            dtype = x.dtype
            x = ops.cast(x, "float32")
            n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
            u = keras.random.uniform((n, 6), seed=self.seed_generator)  # one draw per image and parameter
            x = ops.where(ops.reshape(u[:, 0] < 0.5, (-1, 1, 1, 1)), ops.flip(x, axis=2), x)
            x = _warp(ops, x, h, w, angle=(2 * u[:, 1] - 1) * ROTATION_TURNS * 2 * math.pi,
                      dx=(2 * u[:, 2] - 1) * SHIFT * w, dy=(2 * u[:, 3] - 1) * SHIFT * h,
                      zoom=1 + (2 * u[:, 4] - 1) * ZOOM)
            factor = ops.reshape(1 + (2 * u[:, 5] - 1) * CONTRAST, (-1, 1, 1, 1))
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            x = ops.clip((x - mean) * factor + mean, self.value_range[0], self.value_range[1])
            return ops.cast(x, dtype)

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "seed": self.seed, "value_range": list(self.value_range)}

    return RandomAugment


def _warp(ops, x, h: int, w: int, *, angle, dx, dy, zoom):
    """Each image warped by its own rotation about the centre, zoom and shift (bilinear, edge-clamped).

    Output pixel ``p`` samples the input at ``c + zoom * R(angle) (p - c) + (dx, dy)``; gathers are
    ``take`` on the flattened batch, so it traces on every backend (no image-transform op).
    """
    n, c = ops.shape(x)[0], x.shape[3]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    gy, gx = ops.meshgrid(ops.arange(h, dtype="float32") - cy, ops.arange(w, dtype="float32") - cx,
                          indexing="ij")
    gy, gx = ops.reshape(gy, (1, h * w)), ops.reshape(gx, (1, h * w))
    cos, sin = [ops.reshape(v * zoom, (-1, 1)) for v in (ops.cos(angle), ops.sin(angle))]
    src_x = cos * gx - sin * gy + cx + ops.reshape(dx, (-1, 1))
    src_y = sin * gx + cos * gy + cy + ops.reshape(dy, (-1, 1))
    src_x, src_y = ops.clip(src_x, 0.0, w - 1.0), ops.clip(src_y, 0.0, h - 1.0)
    x0, y0 = ops.floor(src_x), ops.floor(src_y)
    fx, fy = ops.expand_dims(src_x - x0, -1), ops.expand_dims(src_y - y0, -1)
    x0i, y0i = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    x1i, y1i = ops.minimum(x0i + 1, w - 1), ops.minimum(y0i + 1, h - 1)
    flat = ops.reshape(x, (-1, c))  # (n * h * w, c): one gather along axis 0 per corner
    base = ops.reshape(ops.arange(n, dtype="int32") * (h * w), (-1, 1))

    def at(yi, xi):
        return ops.take(flat, base + yi * w + xi, axis=0)

    top = at(y0i, x0i) * (1 - fx) + at(y0i, x1i) * fx
    bottom = at(y1i, x0i) * (1 - fx) + at(y1i, x1i) * fx
    return ops.reshape(top * (1 - fy) + bottom * fy, (n, h, w, c))


def random_augment(seed: int, value_range=(0.0, 1.0), name: str = "augment"):
    """A :class:`RandomAugment` layer (active only when called with ``training=True``)."""
    return _layer_class()(seed=seed, value_range=value_range, name=name)


def keras_custom_objects() -> dict:
    return {"RandomAugment": _layer_class()}


def training_model(keras, inputs, layers_before, augment, layers_after, name: str):
    """A model that runs ``layers_before``, ``augment`` (training only), then ``layers_after``.

    The layers are the inference model's own objects (shared weights): training it trains the
    inference model, which stays free of augmentation. Each item of ``layers_*`` is a callable
    applied in order.
    """
    x = inputs
    for layer in layers_before:
        x = layer(x)
    x = augment(x)
    for layer in layers_after:
        x = layer(x)
    return keras.Model(inputs, x, name=name)
