"""Shared plumbing for the Keras estimators: parameter validation, input checks, seeding and
determinism, device / backend detection, mixed precision, class weights, early-stopped training with
history, and model size; :class:`KerasClassifierBase` is their common scikit-learn face (image-input
tags, ``check_params``, ``NotFittedError`` before ``fit``).

Nothing here imports Keras at module level (``medbench pipelines`` must stay light): every function
that needs it imports it on call. Model code stays backend-agnostic Keras 3; the only
backend-specific lines (the determinism switch and GPU detection) live in this module.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from medbench.core import settings
from medbench.core.errors import MedbenchError


def import_keras():
    """Import Keras (quietly: TensorFlow's C++ info logs off unless the user asked for them)."""
    settings.set_default("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


# -- parameter validation ----------------------------------------------------------------------------
# Every Keras estimator parameter is set by ``--option PIPELINE.NAME=VALUE`` (the runner parses the
# value as a Python literal, falling back to the plain string), so the rules accept what a command
# line produces: ``1``/``0``, ``True``/``False`` and on/off words for switches, ``auto``/``None``
# for automatic sizes. Values are checked, never rewritten: the estimator reads them through
# :func:`as_bool` / :func:`as_size` / :func:`as_precision` when it fits.

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Rule:
    """One parameter's constraint: ``ok(value)`` and the words that say what is allowed."""

    ok: Callable[[Any], bool]
    expected: str


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and bool(np.isfinite(v))


def integer(lo: int, hi: int) -> Rule:
    return Rule(lambda v: _is_int(v) and lo <= v <= hi, f"an integer in [{lo}, {hi}]")


def number(lo: float, hi: float) -> Rule:
    return Rule(lambda v: _is_number(v) and lo <= v <= hi, f"a number in [{lo:g}, {hi:g}]")


def size(lo: int, hi: int = 1024) -> Rule:
    return Rule(lambda v: v is None or (isinstance(v, str) and v.lower() == "auto") or (_is_int(v) and lo <= v <= hi),
                f"auto (or None) or an integer in [{lo}, {hi}]")


def choice(*values: str) -> Rule:
    return Rule(lambda v: isinstance(v, str) and v.lower() in values, f"one of {', '.join(values)}")


def _switch_word(v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return True
    if _is_int(v):
        return v in (0, 1)
    return isinstance(v, str) and v.strip().lower() in _TRUE + _FALSE


SWITCH = Rule(_switch_word, "1/0, True/False, yes/no or on/off")
TRISTATE = Rule(lambda v: _switch_word(v) or (isinstance(v, str) and v.strip().lower() == "auto"),
                "auto, 1/0, True/False, yes/no or on/off")
OPTIONAL_INT = Rule(lambda v: v is None or (_is_int(v) and v >= 1), "None or an integer >= 1")
SEED = Rule(lambda v: _is_int(v) and 0 <= v < 2 ** 32, "an integer in [0, 2**32)")


def as_bool(v: Any) -> bool:
    """A validated switch value as a bool."""
    if isinstance(v, str):
        return v.strip().lower() in _TRUE
    return bool(v)


def as_size(v: Any) -> int | None:
    """A validated size value: ``None`` for auto, else the integer."""
    if v is None or (isinstance(v, str) and v.lower() == "auto"):
        return None
    return int(v)


def check_rules(est: BaseEstimator, label: str, rules: dict[str, Rule]) -> None:
    """Raise a one-line :class:`MedbenchError` for the first parameter of ``est`` that breaks its rule."""
    params = est.get_params(deep=False)
    for name, rule in rules.items():
        value = params[name]
        if not rule.ok(value):
            raise MedbenchError(f"{label} parameter {name}={value!r} is invalid: expected {rule.expected}")


def as_images(X, name: str = "X") -> np.ndarray:
    """Gray ``(N, H, W)`` / ``(N, H, W, 1)`` -> ``(N, H, W, 1)``; RGB ``(N, H, W, 3)`` kept; uint8."""
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim != 4 or X.shape[-1] not in (1, 3) or min(X.shape[1:3]) < 1:
        raise MedbenchError(f"{name} must be a (N, H, W) gray or (N, H, W, 3) RGB image array, got shape {X.shape}")
    if X.dtype != np.uint8:
        X = np.clip(np.rint(X), 0, 255).astype(np.uint8)
    return X


def encode_labels(y, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes_, y_as_indices)``; ``classes_`` is ``0..n_classes-1`` when ``n_classes`` is set."""
    y = np.asarray(y).ravel()
    seen = np.unique(y)
    if n_classes is not None and np.issubdtype(y.dtype, np.integer) and seen.min() >= 0:
        classes = np.arange(max(int(n_classes), int(seen.max()) + 1))
    else:
        classes = seen
    if len(classes) < 2:
        raise MedbenchError(f"need at least 2 classes to train, got labels {seen.tolist()}")
    return classes, np.searchsorted(classes, y).astype(np.int32)


def encode_validation(validation_data, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The runner's ``(X_val, y_val)`` as ``(uint8 (N, H, W, 1) images, label indices)``, or ``None``."""
    if validation_data is None:
        return None
    x_val, y_val = validation_data
    return as_images(x_val, "X_val"), np.searchsorted(classes, np.asarray(y_val).ravel()).astype(np.int32)


def prepare_fit(est, X, y, validation_data):
    """The common start of a Keras estimator's ``fit``: checked images, label indices (setting
    ``est.classes_`` and ``est.input_shape_``) and the encoded validation pair (or None)."""
    x = as_images(X)
    est.classes_, y_idx = encode_labels(y, est.n_classes)
    est.input_shape_ = x.shape[1:3]
    est.n_channels_ = int(x.shape[-1])  # 1 (gray) or 3 (RGB): the model's input channels
    return x, y_idx, encode_validation(validation_data, est.classes_)


def class_weights(y_idx: np.ndarray, n_classes: int) -> dict[int, float]:
    """Balanced class weights ``n / (k * n_c)`` for the classes present in ``y_idx``."""
    counts = np.bincount(y_idx, minlength=n_classes)
    present = counts > 0
    k = int(present.sum())
    return {int(c): float(len(y_idx) / (k * counts[c])) for c in range(n_classes) if present[c]}


def seed_everything(seed: int, deterministic: bool = True) -> bool:
    """Seed Python, NumPy and the backend; switch the backend to deterministic ops where it has them.

    Returns whether a determinism switch was applied. TensorFlow: ``enable_op_determinism`` (switched
    off again for ``deterministic=False``: it is process-wide, and it keeps XLA off); torch:
    ``use_deterministic_algorithms`` (warn-only); JAX is deterministic on CPU (on GPU set
    ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` before the process starts).
    """
    keras = import_keras()
    keras.utils.set_random_seed(int(seed))
    backend = keras.backend.backend()
    if not deterministic:
        if backend == "tensorflow":  # the switch is process-wide: an earlier fit's must not leak into this one
            from tensorflow.python.framework import config as tf_config

            if hasattr(tf_config, "disable_op_determinism"):
                tf_config.disable_op_determinism()
        return False
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        return True
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
        return True
    return backend == "jax" and device_info()["device"] == "cpu"


def device_info() -> dict[str, str]:
    """The Keras backend and the device it computes on (``gpu`` when the backend sees one)."""
    keras = import_keras()
    backend = keras.backend.backend()
    device, name, capability = "cpu", "cpu", None
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                device, name = "gpu", gpus[0].name
                details = tf.config.experimental.get_device_details(gpus[0])
                name = details.get("device_name", name)
                capability = details.get("compute_capability")
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform == "gpu":
                device, name = "gpu", str(dev.device_kind)
                capability = getattr(dev, "compute_capability", None)
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                device, name = "gpu", torch.cuda.get_device_name(0)
                capability = torch.cuda.get_device_capability(0)
    except Exception:  # noqa: BLE001 - detection failure just means "cpu"
        pass
    info = {"backend": backend, "device": device, "device_name": name, "keras_version": keras.__version__}
    if device == "gpu" and capability is not None:
        info["compute_capability"] = _capability(capability)
    return info


def _capability(value: Any) -> str:
    """A GPU compute capability as ``"8.0"``, from a ``(8, 0)`` tuple or a ``"8.0"`` string."""
    if isinstance(value, (tuple, list)):
        return ".".join(str(int(v)) for v in value[:2])
    return str(value)


BF16_FROM_CAPABILITY = 8.0  # Ampere (A100) and later compute in bfloat16 at full speed


def mixed_policy(compute_capability: str | None) -> str:
    """The mixed-precision policy for a GPU: ``mixed_bfloat16`` from compute capability 8.0 on (no loss
    scaling needed), ``mixed_float16`` on older GPUs or when the capability is unknown."""
    try:
        cc = float(compute_capability) if compute_capability is not None else 0.0
    except ValueError:
        cc = 0.0
    return "mixed_bfloat16" if cc >= BF16_FROM_CAPABILITY else "mixed_float16"


def resolve_precision(mixed_precision: Any, device: str, compute_capability: str | None = None) -> str:
    """``auto`` -> mixed precision on a GPU (bfloat16 at compute capability >= 8.0, else float16),
    ``float32`` on a CPU; a switch value forces mixed precision on (the GPU's kind, float16 on a
    CPU) or off."""
    if isinstance(mixed_precision, str) and mixed_precision.strip().lower() == "auto":
        return mixed_policy(compute_capability) if device == "gpu" else "float32"
    if not as_bool(mixed_precision):
        return "float32"
    return mixed_policy(compute_capability) if device == "gpu" else "mixed_float16"


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under the dtype policy ``name`` (Keras' policy is global: restore it afterwards)."""
    keras = import_keras()
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def history_dict(history) -> dict[str, list[float]]:
    """A Keras ``History`` as ``{metric: [per-epoch floats]}``."""
    return {k: [float(v) for v in vals] for k, vals in (getattr(history, "history", None) or {}).items()}


def val_auc(y_idx: np.ndarray, proba: np.ndarray) -> float | None:
    """ROC-AUC on the validation split (binary, or macro one-vs-rest); ``None`` when undefined."""
    present = np.unique(y_idx)
    if len(present) < 2:
        return None
    if proba.shape[1] == 2:
        return float(roc_auc_score(y_idx, proba[:, 1]))
    if len(present) < proba.shape[1]:
        return None
    return float(roc_auc_score(y_idx, _normalise(proba), multi_class="ovr", average="macro"))


def _normalise(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, None)
    return p / p.sum(axis=1, keepdims=True)


def _auc_callback(keras, x_val, y_val, batch_size: int):
    """Adds ``val_auc`` to each epoch's logs (before early stopping and History read them)."""

    class ValidationAUC(keras.callbacks.Callback):
        predict_model = None

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                proba = predict_batches(self.predict_model or self.model, x_val, batch_size)
                auc = val_auc(y_val, proba)
                logs["val_auc"] = -float(logs.get("val_loss", 0.0)) if auc is None else auc

    return ValidationAUC()


def jit_setting(model) -> bool | str:
    """The ``jit_compile`` to compile ``model`` with: True where Keras can compile its train step with
    XLA (JAX; TensorFlow unless op determinism is on, which Keras refuses to combine with XLA - the step
    then still runs as a ``tf.function`` graph), ``"auto"`` on torch (eager unless asked)."""
    keras = import_keras()
    if keras.backend.backend() == "torch":
        return "auto"
    try:
        from keras.src.trainers.trainer import model_supports_jit
    except ImportError:  # another Keras layout: ask the layers themselves
        return all(getattr(layer, "supports_jit", True) for layer in model._flatten_layers())
    return bool(model_supports_jit(model))


def compile_model(model, optimizer, **kwargs) -> None:
    """``model.compile`` with sparse categorical cross-entropy and accuracy, train step compiled
    (:func:`jit_setting`)."""
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit_setting(model), **kwargs)


def compile_state(model) -> dict[str, Any]:
    """How ``model``'s train step runs: ``compiled`` (True unless op by op), ``jit_compile`` (XLA /
    ``jax.jit`` / ``torch.compile``) and ``mode`` in words."""
    keras = import_keras()
    backend = keras.backend.backend()
    jit = bool(model.jit_compile)
    eager = bool(getattr(model, "run_eagerly", False))
    if eager:
        mode = "eager (run_eagerly)"
    elif jit:
        mode = {"jax": "compiled (jax.jit / XLA)", "tensorflow": "compiled (tf.function + XLA)",
                "torch": "compiled (torch.compile)"}.get(backend, "compiled")
    elif backend == "tensorflow":
        mode = "compiled (tf.function graph, no XLA)"
    else:
        mode = "eager (op by op)"
    return {"backend": backend, "compiled": mode.startswith("compiled"), "jit_compile": jit, "mode": mode}


def _epoch_timer(keras):
    """Times the training part of each epoch (from its start to the start of validation, or its end)."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._t0 = None

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def _stop(self):
            if self._t0 is not None:
                # The device may still be running the last steps (JAX dispatches asynchronously): wait for
                # a value the last step wrote before reading the clock.
                keras.ops.convert_to_numpy(self.model.optimizer.iterations)
                self.seconds.append(time.perf_counter() - self._t0)
                self._t0 = None

        def on_test_begin(self, logs=None):
            self._stop()

        def on_epoch_end(self, epoch, logs=None):
            self._stop()

    return EpochTimer()


def throughput(n_images: int, epoch_seconds: list[float]) -> dict[str, Any]:
    """Training images/s: the median over the epochs after the first (which includes tracing and
    compilation); the first epoch's rate when it is the only one (``includes_compile``: True)."""
    rates = [n_images / s for s in epoch_seconds if s > 0]
    if not rates:
        return {"images_per_s": None, "epoch_images_per_s": [], "includes_compile": None}
    later = rates[1:]
    value = float(np.median(later)) if later else rates[0]
    return {"images_per_s": round(value, 1), "epoch_images_per_s": [round(r, 1) for r in rates],
            "first_epoch_s": round(epoch_seconds[0], 3), "includes_compile": not later}


def fit_keras(model, x, y, *, validation_data, epochs: int, batch_size: int, patience: int,
              class_weight: dict[int, float] | None, verbose: int = 0, predict_model=None) -> dict[str, Any]:
    """``model.fit`` with early stopping on the validation ROC-AUC (best weights restored).

    The validation split serves only checkpoint selection: after each epoch its ROC-AUC (binary, or
    macro one-vs-rest; minus the loss where AUC is undefined) is logged as ``val_auc`` and the epoch
    with the best one is kept, training stopping ``patience`` epochs after it. ``predict_model``
    (default ``model``) scores the validation images: the inference model when ``model`` is a
    training model around it. Returns ``history`` (per-epoch metrics), ``epochs_run``,
    ``best_epoch`` (1-based), ``fit_time_s`` and ``training`` (:func:`compile_state` and
    :func:`throughput`).
    """
    keras = import_keras()
    timer = _epoch_timer(keras)
    callbacks = [timer]
    if validation_data is not None:
        scorer = _auc_callback(keras, validation_data[0], validation_data[1], max(batch_size, 256))
        if predict_model is not None:
            scorer.predict_model = predict_model
        callbacks.append(scorer)
        if patience > 0:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_auc", mode="max", patience=patience, restore_best_weights=True, verbose=0))
    t0 = time.perf_counter()
    hist = model.fit(x, y, validation_data=validation_data, epochs=epochs, batch_size=batch_size,
                     class_weight=class_weight, shuffle=True, callbacks=callbacks, verbose=verbose)
    fit_time = time.perf_counter() - t0
    history = history_dict(hist)
    epochs_run = len(history.get("loss", []))
    best_epoch = epochs_run
    if history.get("val_auc") and patience > 0:
        best_epoch = int(np.argmax(history["val_auc"])) + 1
    training = {**compile_state(model), **throughput(len(x), timer.seconds), "batch_size": int(batch_size)}
    return {"history": history, "epochs_run": epochs_run, "best_epoch": best_epoch, "fit_time_s": fit_time,
            "training": training}


def predict_batches(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``model.predict`` (``predict_on_batch`` for a single batch: no per-call data-pipeline overhead)."""
    if len(x) <= batch_size:
        out = model.predict_on_batch(x)
    else:
        out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)


def to_proba(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    s = p.sum(axis=1, keepdims=True)
    return np.divide(p, s, out=np.full_like(p, 1.0 / p.shape[1]), where=s > 0)


def saved_size_bytes(*models) -> int:
    """Bytes of the models' weights as saved by ``save_weights`` (what a deployment would ship)."""
    total = 0
    with tempfile.TemporaryDirectory(prefix="medbench-size-") as tmp:
        for i, model in enumerate(models):
            path = Path(tmp) / f"model{i}.weights.h5"
            model.save_weights(str(path))
            total += path.stat().st_size
    return total


def count_params(model) -> dict[str, int]:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"params": int(model.count_params()), "trainable_params": trainable}


class KerasClassifierBase(ClassifierMixin, BaseEstimator):
    """sklearn face of a Keras model: ``predict`` from ``predict_proba``; subclasses implement the rest.

    Input: ``uint8`` images, gray ``(N, H, W)`` (also ``(N, H, W, 1)``) or RGB ``(N, H, W, 3)``,
    declared in ``__sklearn_tags__`` (a 3-D image array, not a 2-D feature table). Subclasses list
    their parameters' :class:`Rule` s in ``_rules()`` and their name in messages as ``_label()``;
    :meth:`check_params` validates them (the runner calls it right after applying ``--option``
    values, ``fit`` calls it first). Fitted attributes shared by all subclasses: ``classes_``,
    ``input_shape_``, ``variant_`` (``None`` or ``"random init"``), ``report_info_`` (JSON-able)
    and ``model_size_bytes_``.
    """

    def _rules(self) -> dict[str, Rule]:
        raise NotImplementedError

    def _label(self) -> str:
        return type(self).__name__

    def check_params(self) -> None:
        """Validate every hyper-parameter without fitting: a bad one is a one-line :class:`MedbenchError`."""
        check_rules(self, self._label(), self._rules())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _check_fitted(self) -> None:
        check_is_fitted(self, ("classes_", "input_shape_"))

    def _check_shape(self, x: np.ndarray) -> None:
        if tuple(x.shape[1:3]) != tuple(self.input_shape_[:2]):
            raise MedbenchError(f"{type(self).__name__} was fitted on {self.input_shape_[0]}x"
                                f"{self.input_shape_[1]} images, got {x.shape[1]}x{x.shape[2]}")
        fitted = getattr(self, "n_channels_", 1)
        if x.shape[-1] != fitted:
            words = {1: "gray", 3: "RGB"}
            raise MedbenchError(f"{type(self).__name__} was fitted on {words[fitted]} images, got "
                                f"{words.get(x.shape[-1], x.shape[-1])} ones: load the data with --channels "
                                f"{'gray' if fitted == 1 else 'rgb'}")

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted estimator
        return self.classes_[np.argmax(proba, axis=1)]
