"""Grad-CAM heat maps (Selvaraju et al., ICCV 2017) for medbench's Keras models: where in an image the
last convolutional feature maps pushed the model towards a class.

:func:`parts` splits a fitted deep estimator (the CNN, or a transfer model of any strategy) into
``features`` (uint8 images -> the last convolutional feature maps ``A``, ``(N, h, w, K)``, inference mode)
and ``head`` (``A`` -> the pre-softmax class scores: global average pooling, the rest of the head, the
final ``Dense`` without its softmax). :func:`grad_cam` differentiates the score of a chosen class with
respect to ``A`` using the active Keras backend's own automatic differentiation - TensorFlow's
``GradientTape``, ``jax.grad`` on JAX, ``torch.autograd`` on PyTorch - and returns
``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of the gradient, scaled to [0, 1] per image.
Any other backend raises :class:`GradCamUnavailable` with the reason, which the report shows.

For a global-average-pooling + linear head (both models here) Grad-CAM equals the class activation map
``ReLU(sum_k W_kc A_k)`` up to a positive factor (Selvaraju et al., section 3.1): the tests use this as
the independent reference.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from medbench.models import keras_base as kb
from medbench.models.transfer import _layers

BACKENDS = ("tensorflow", "jax", "torch")


class GradCamUnavailable(RuntimeError):
    """Grad-CAM cannot be computed for this model or backend (the message says why)."""


def _dense_logits(keras, dense, h):
    """The pre-softmax scores of a ``Dense`` layer: ``h @ W + b`` (its softmax left out)."""
    z = keras.ops.matmul(keras.ops.cast(h, dense.kernel.dtype), dense.kernel)
    return z + dense.bias if dense.use_bias else z


def _run(layers: list, x):
    for layer in layers:
        x = layer(x, training=False) if _takes_training(layer) else layer(x)
    return x


def _takes_training(layer) -> bool:
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def _cnn_parts(keras, est) -> tuple[Callable, Callable, str]:
    model = est.model_
    layers = [lay for lay in model.layers if not isinstance(lay, keras.layers.InputLayer)]
    names = [lay.name for lay in layers]
    if "gap" not in names or names[-1] != "probs":
        raise GradCamUnavailable("the CNN has no global-average-pooling layer before its output")
    cut = names.index("gap")
    body, head, dense = layers[:cut], layers[cut:-1], layers[-1]
    last = body[-1].name
    return (lambda x: _run(body, x)), (lambda a: _dense_logits(keras, dense, _run(head, a))), last


def _transfer_parts(keras, est) -> tuple[Callable, Callable, str]:
    backbone, head_model = est.backbone_, est.head_
    pool = backbone.layers[-1]
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D):
        raise GradCamUnavailable(f"the {backbone.name} backbone does not end in global average pooling")
    conv = keras.Model(backbone.inputs, backbone.layers[-2].output)
    GrayResize, ImagenetGray = _layers()
    size = int(backbone.input_shape[1])
    prep = [GrayResize(size), ImagenetGray(est._row().preprocess_module)]
    head_layers = [lay for lay in head_model.layers if not isinstance(lay, keras.layers.InputLayer)]
    middle, dense = head_layers[:-1], head_layers[-1]

    def features(x):
        return conv(_run(prep, x), training=False)

    def head(a):
        return _dense_logits(keras, dense, _run(middle, pool(a)))

    return features, head, backbone.layers[-2].name


def parts(est) -> tuple[Callable, Callable, str]:
    """``(features, head, layer name)`` of a fitted medbench Keras estimator (see the module docstring)."""
    keras = kb.import_keras()
    if getattr(est, "backbone_", None) is not None and getattr(est, "head_", None) is not None:
        return _transfer_parts(keras, est)
    if getattr(est, "model_", None) is not None:
        return _cnn_parts(keras, est)
    raise GradCamUnavailable(f"{type(est).__name__} is not a fitted medbench Keras model")


def _gradients(keras, head: Callable, a, classes: np.ndarray):
    """d score[class_i] / d A for every image i, with the active backend's automatic differentiation."""
    backend = keras.backend.backend()
    onehot = np.eye(int(keras.ops.shape(head(a[:1]))[-1]), dtype="float32")[classes]
    if backend == "tensorflow":
        import tensorflow as tf

        a = tf.convert_to_tensor(a)
        with tf.GradientTape() as tape:
            tape.watch(a)
            score = tf.reduce_sum(tf.cast(head(a), tf.float32) * onehot)
        return tape.gradient(score, a)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return jax.grad(lambda t: jnp.sum(head(t).astype(jnp.float32) * onehot))(jnp.asarray(a))
    if backend == "torch":
        import torch

        t = a.detach().clone().requires_grad_(True)
        (head(t).float() * torch.as_tensor(onehot, device=t.device)).sum().backward()
        return t.grad
    raise GradCamUnavailable(f"Grad-CAM needs automatic differentiation, which medbench does for the "
                             f"{', '.join(BACKENDS)} Keras backends; this one is {backend!r}")


def grad_cam(est, images: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Heat maps ``(N, h, w)`` in [0, 1] (the feature maps' grid; upsample to show) of ``images`` (uint8,
    as the estimator takes them) for ``classes`` (one class index per image), and what was done."""
    keras = kb.import_keras()
    features, head, layer = parts(est)
    x = kb.as_images(images)
    a = features(x)
    grads = keras.ops.convert_to_numpy(_gradients(keras, head, a, np.asarray(classes, dtype=np.int64)))
    a = keras.ops.convert_to_numpy(a).astype(np.float64)
    alpha = grads.astype(np.float64).mean(axis=(1, 2))  # (N, K): spatial mean of the gradient
    cam = np.maximum((a * alpha[:, None, None, :]).sum(axis=-1), 0.0)
    peak = cam.reshape(len(cam), -1).max(axis=1)
    cam = np.divide(cam, peak[:, None, None], out=np.zeros_like(cam), where=peak[:, None, None] > 0)
    return cam, {"method": "Grad-CAM", "layer": layer, "backend": keras.backend.backend(),
                 "grid": [int(cam.shape[1]), int(cam.shape[2])]}


def class_activation_map(est, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class activation map ``ReLU(sum_k W_kc A_k)`` scaled to [0, 1] (Zhou et al. 2016), for a CNN whose
    head is global average pooling + one ``Dense``: Grad-CAM's closed form there (the tests' reference)."""
    keras = kb.import_keras()
    features, _, _ = parts(est)
    a = keras.ops.convert_to_numpy(features(kb.as_images(images))).astype(np.float64)
    w = keras.ops.convert_to_numpy(est.model_.get_layer("probs").kernel).astype(np.float64)
    cam = np.maximum(np.einsum("nhwk,nk->nhw", a, w[:, np.asarray(classes)].T), 0.0)
    peak = cam.reshape(len(cam), -1).max(axis=1)
    return np.divide(cam, peak[:, None, None], out=np.zeros_like(cam), where=peak[:, None, None] > 0)
