"""A compact CNN trained from scratch, sized for the images (28 px MedMNIST up to 224 px folders).

Backend-agnostic Keras 3 (``keras.layers`` / ``keras.ops`` only): the same code runs with
``KERAS_BACKEND=tensorflow``, ``jax`` or ``torch``. The network takes the dataset's uint8 images as
they are (one channel for gray datasets, three for RGB ones); inside the model it rescales to [0, 1], resizes to the working size (``image_size``:
native up to 64 px, else 96 px, antialiased when shrinking), then runs ``n`` stages of 3x3 conv-BN-ReLU layers
(one in the first stage, two after) with max-pooling in between, ``n`` chosen so that the last
feature map is about 7x7; working sizes over 48 px start with a stride-2 5x5 conv + max-pool stem,
which keeps 96 px images about as cheap as 28 px ones. Then global average pooling, dropout and a
softmax layer. Training: AdamW with cosine decay, balanced class weights, checkpoint selection and
early stopping on the validation ROC-AUC, on augmented images (horizontal flip, small rotation, shift,
zoom, contrast: :mod:`medbench.models.augment`, a jit-compatible layer spliced in after the resize of a
*training model* that shares the inference model's layers). The train step is compiled on every backend
(``jax.jit``; ``tf.function``, with XLA unless TensorFlow's op determinism is on); the fitted and saved
model (``model_``) has no augmentation in it. ``report_info_["training"]`` records how the step ran
(``compiled``, ``jit_compile``, ``mode``, ``backend``) and training images/s per epoch (the median after
the first, compiling, epoch). Model: :func:`build_cnn`; estimator: :class:`KerasCNNClassifier`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from medbench.core.storage import stored_as
from medbench.models import augment as augment_mod
from medbench.models import keras_base as kb

AUTO_SIZE_LIMIT = 64  # images up to this side are used at native size
AUTO_LARGE_SIZE = 96  # working size for larger images (e.g. 224 px folders)
STEM_ABOVE = 48  # working sizes above this start with a stride-4 stem
AUGMENTATION = ["flip-horizontal", "rotation+-0.03turn", "shift+-8%", "zoom+-10%", "contrast+-20%"]


def working_size(native: int, image_size: int | None) -> int:
    if image_size:
        return int(image_size)
    return native if native <= AUTO_SIZE_LIMIT else AUTO_LARGE_SIZE


def augmentation(seed: int, value_range=(0.0, 1.0)):
    """The training-only augmentation layer (:func:`medbench.models.augment.random_augment`: jit-compatible,
    identity at inference); it goes into the training model only, never into the saved one."""
    return augment_mod.random_augment(seed, value_range)


def stage_plan(size: int) -> tuple[bool, int]:
    """``(stem, n_stages)`` for a working size: last feature map about 7x7.

    Sizes over 48 px start with a stride-2 5x5 conv + 2x2 max-pool (a ResNet-style stem), which
    keeps 96 px images about as cheap as 28 px ones.
    """
    stem = size > STEM_ABOVE
    side = size / 4 if stem else size
    return stem, max(2, 1 + round(math.log2(max(side, 7) / 7)))


def cnn_layers(input_shape: tuple[int, int], n_classes: int, *, image_size: int, width: int = 32,
               dropout: float = 0.3, seed: int = 0) -> tuple[list, list]:
    """The CNN's layers in order, as ``(preprocess, body)``: augmentation goes between the two."""
    keras = kb.import_keras()
    L = keras.layers
    pre = [L.Rescaling(1.0 / 255.0, name="rescale")]
    if tuple(input_shape) != (image_size, image_size):
        pre.append(L.Resizing(image_size, image_size, antialias=image_size < min(input_shape), name="resize"))
    body = []

    def conv_bn_relu(filters, kernel=3, strides=1, name=""):
        body.extend([L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"),
                     L.BatchNormalization(momentum=0.9, name=f"{name}_bn"), L.ReLU(name=f"{name}_relu")])

    stem, n_stages = stage_plan(image_size)
    if stem:
        conv_bn_relu(width, kernel=5, strides=2, name="stem")
        body.append(L.MaxPooling2D(name="stem_pool"))
    for i in range(n_stages):
        filters = width * 2 ** min(i, 3)
        if i > 0:  # the first stage has one conv: the cheapest place to save compute
            conv_bn_relu(filters, name=f"stage{i + 1}a")
        conv_bn_relu(filters, name=f"stage{i + 1}b")
        if i < n_stages - 1:
            body.append(L.MaxPooling2D(name=f"stage{i + 1}_pool"))
    body += [L.GlobalAveragePooling2D(name="gap"), L.Dropout(dropout, seed=seed, name="dropout"),
             L.Dense(n_classes, activation="softmax", dtype="float32", name="probs")]
    return pre, body


def build_cnn(input_shape: tuple[int, int], n_classes: int, *, image_size: int, width: int = 32,
              dropout: float = 0.3, augment: bool = True, seed: int = 0, name: str = "cnn", channels: int = 1):
    """``(model, train_model)``: the inference model (uint8 ``(H, W, channels)`` in, 1: gray, 3: RGB; class
    probabilities out; no augmentation) and the model to ``fit`` - the same layers (shared weights)
    with the augmentation layer after the resize when ``augment``, else the model itself."""
    keras = kb.import_keras()
    pre, body = cnn_layers(input_shape, n_classes, image_size=image_size, width=width, dropout=dropout, seed=seed)

    def inputs():
        return keras.Input(shape=(*input_shape, channels), dtype="uint8", name="image")

    model = augment_mod.training_model(keras, inputs(), pre, lambda x: x, body, name)
    if not augment:
        return model, model
    return model, augment_mod.training_model(keras, inputs(), pre, augmentation(seed), body, f"{name}_train")


@stored_as("keras-estimator", keras_models=("model_",))
class KerasCNNClassifier(kb.KerasClassifierBase):
    """sklearn classifier around :func:`build_cnn` (``fit(X, y, validation_data=...)`` / ``predict_proba``).

    ``image_size=None`` (or ``"auto"``) picks the working size from the images (native up to 64 px,
    else 96 px). Every parameter is an ``--option cnn.NAME=VALUE``; :meth:`check_params` says which
    values are allowed (``epochs`` 1-1000, ``batch_size`` 1-4096, ``width`` 4-256, ``learning_rate``,
    ``weight_decay``, ``patience``, ``dropout``, switches ``augment`` / ``deterministic``,
    ``mixed_precision`` auto / on / off).
    """

    def __init__(self, image_size: int | None = None, width: int = 32, epochs: int = 15,
                 batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 1e-4,
                 patience: int = 4, dropout: float = 0.3, augment: bool = True,
                 mixed_precision: bool | str = False, n_classes: int | None = None, random_state: int = 0,
                 deterministic: bool = True, verbose: int = 0):
        self.image_size = image_size
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.dropout = dropout
        self.augment = augment
        self.mixed_precision = mixed_precision
        self.n_classes = n_classes
        self.random_state = random_state
        self.deterministic = deterministic
        self.verbose = verbose

    def _label(self) -> str:
        return "cnn"

    def _rules(self) -> dict[str, kb.Rule]:
        return {
            "image_size": kb.size(8), "width": kb.integer(4, 256), "epochs": kb.integer(1, 1000),
            "batch_size": kb.integer(1, 4096), "learning_rate": kb.number(1e-7, 1.0),
            "weight_decay": kb.number(0.0, 1.0), "patience": kb.integer(0, 1000),
            "dropout": kb.number(0.0, 0.95), "augment": kb.SWITCH, "mixed_precision": kb.TRISTATE,
            "n_classes": kb.OPTIONAL_INT, "random_state": kb.SEED, "deterministic": kb.SWITCH,
            "verbose": kb.integer(0, 2),
        }

    def fit(self, X, y, validation_data=None):
        t0 = time.perf_counter()
        self.check_params()
        keras = kb.import_keras()
        x, y_idx, val = kb.prepare_fit(self, X, y, validation_data)
        n_classes = len(self.classes_)
        size = working_size(min(self.input_shape_), kb.as_size(self.image_size))
        augment = kb.as_bool(self.augment)
        deterministic = kb.seed_everything(self.random_state, kb.as_bool(self.deterministic))
        dev = kb.device_info()
        precision = kb.resolve_precision(self.mixed_precision, dev["device"], dev.get("compute_capability"))
        with kb.dtype_policy(precision):
            self.model_, train_model = build_cnn(tuple(self.input_shape_), n_classes, image_size=size, width=self.width,
                                    dropout=self.dropout, augment=augment, seed=self.random_state,
                                    channels=self.n_channels_)
        steps = self.epochs * math.ceil(len(x) / self.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=max(steps, 1))
        kb.compile_model(train_model, keras.optimizers.AdamW(schedule, weight_decay=self.weight_decay))
        weights = kb.class_weights(y_idx, n_classes)
        run = kb.fit_keras(train_model, x, y_idx, validation_data=val, epochs=self.epochs,
                           batch_size=self.batch_size, patience=self.patience, class_weight=weights,
                           verbose=self.verbose, predict_model=self.model_)
        self.variant_ = None
        self.model_size_bytes_ = kb.saved_size_bytes(self.model_)
        stem, stages = stage_plan(size)
        self.report_info_ = {
            "model": "cnn", "strategy": "trained from scratch", **dev, "precision": precision,
            "deterministic_ops": deterministic, "seed": int(self.random_state),
            "batch_size": int(self.batch_size), "input_size": [size, size],
            "native_size": [int(s) for s in self.input_shape_], "channels": int(self.n_channels_),
            "stem": stem, "stages": stages,
            "width": int(self.width), **kb.count_params(self.model_),
            "augmentation": AUGMENTATION if augment else [],
            "class_weight": {str(k): v for k, v in weights.items()},
            "optimizer": f"AdamW lr={self.learning_rate} cosine, wd={self.weight_decay}",
            "max_epochs": int(self.epochs), "patience": int(self.patience),
            "early_stopping": "val_auc (best epoch restored)" if val is not None else None,
            "epochs_run": run["epochs_run"], "best_epoch": run["best_epoch"], "history": run["history"],
            "training": {**run["training"], "stage": "end to end"},
            "train_time_s": round(run["fit_time_s"], 3), "fit_total_s": round(time.perf_counter() - t0, 3),
        }
        return self

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = kb.as_images(X)
        self._check_shape(x)
        return kb.to_proba(kb.predict_batches(self.model_, x, max(self.batch_size, 256)))
