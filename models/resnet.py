"""ResNet50 transfer learning: weights resolution, cached frozen-backbone embeddings, a dense head, and
an optional end-to-end fine-tune of the top stage.

Input: the dataset's uint8 grayscale images. Inside the model they are resized to ``image_size``
(bilinear, antialiased when shrinking), stacked to 3 channels and passed through the model's own
``keras.applications.resnet50.preprocess_input``; the backbone is
``keras.applications.ResNet50(include_top=False, pooling="avg")`` (2048-d embeddings).

* ``strategy="frozen"`` (default, practical on a CPU): embeddings are computed once per (image
  content, image size, weights hash, precision, backend) and cached on disk
  (``features.cache.cached_array``, namespace ``embeddings``); the head - standardisation of the
  embeddings (train mean / variance), dropout 0.3 and a softmax ``Dense`` layer with L2 1e-4, i.e. a
  regularised multinomial logistic regression trained with Adam, balanced class weights and early
  stopping on the validation loss - is fitted on them.
* ``strategy="finetune"`` (meant for a GPU): the head is fitted as above, then the ``conv5`` stage
  (batch-norm statistics kept frozen) and the head are trained end to end on augmented images at a
  low learning rate, early-stopped on the validation loss.

Weights (``weights``): ``imagenet`` (default) is Keras' own hash-verified download of the official
notop file, cached under ``~/.keras/models/`` (``$KERAS_HOME/models/``), or the local file named by
``$MEDBENCH_RESNET50_WEIGHTS``; a file path is checked against Keras' published MD5 of that file, or
against ``weights_sha256``; ``random`` is an explicit random initialisation, and
``imagenet-or-random`` falls back to it (with a warning) when ImageNet weights cannot be had. A
random-init model is never reported as transfer learning: its ``variant_`` is ``"random init"``.
Mixed precision (``mixed_float16``) is used on a GPU only.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.features import cache
from medbench.models import keras_base as kb

NOTOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
NOTOP_MD5 = "4d473c1dd8becc155b73f8504c6f6626"  # keras/src/applications/resnet.py WEIGHTS_HASHES
WEIGHTS_ENV = "MEDBENCH_RESNET50_WEIGHTS"
WEIGHT_KEYWORDS = ("imagenet", "random", "imagenet-or-random")
DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation, so an unreachable host fails instead of hanging
RANDOM_INIT = "random init"
EMBEDDING_DIM = 2048
CACHE_NAMESPACE = "embeddings"
EMBEDDING_VERSION = 1  # bump when the preprocessing changes


def published_notop_md5() -> str:
    """Keras' published MD5 of the official notop file (from the installed Keras, else our copy)."""
    try:
        from keras.src.applications.resnet import WEIGHTS_HASHES

        return WEIGHTS_HASHES["resnet50"][1]
    except Exception:  # noqa: BLE001 - private module moved: the constant is the same file's hash
        return NOTOP_MD5


def keras_models_dir() -> Path:
    """Where ``keras.utils.get_file(cache_subdir="models")`` keeps the weights: ``$KERAS_HOME/models``."""
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser()) / "models"


@functools.lru_cache(maxsize=16)
def _digest(path: str, size: int, mtime_ns: int, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    st = Path(path).stat()
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, algorithm)


@dataclass(frozen=True)
class Weights:
    """Resolved backbone weights: ``kind`` is ``imagenet`` (a verified file) or ``random``."""

    kind: str
    source: str
    path: str | None = None
    sha256: str | None = None
    verified: str | None = None  # what the file was checked against
    note: str | None = None  # why ImageNet weights were not used (fallback)

    @property
    def is_random(self) -> bool:
        return self.kind == "random"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _how_to_provide() -> str:
    return (f"put {NOTOP_FILE} at {keras_models_dir() / NOTOP_FILE}, "
            f"or set {WEIGHTS_ENV}=/path/to/{NOTOP_FILE}, "
            f"or pass --option resnet50.weights=random for an explicitly random-init (not transfer) run")


def check_file(path: Path, sha256: str | None, origin: str) -> Weights:
    """A local weights file, verified against ``sha256`` or else Keras' published MD5 of the notop file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MedbenchError(f"resnet50 weights file {path} (from {origin}) does not exist")
    if sha256:
        algorithm, expected, against = "sha256", sha256.lower(), "the weights_sha256 option"
    else:
        algorithm, expected, against = "md5", published_notop_md5(), f"Keras' published MD5 of {NOTOP_FILE}"
    actual = file_digest(path, algorithm)
    if actual != expected:
        hint = "" if sha256 else "; for a file of your own pass --option resnet50.weights_sha256=<its sha256>"
        raise MedbenchError(f"resnet50 weights file {path} (from {origin}): {algorithm} {actual} does not "
                            f"match the expected {expected} ({against}){hint}")
    return Weights("imagenet", origin, str(path), file_digest(path), f"{algorithm} ({against})")


def download_imagenet(sha256: str | None = None) -> Weights:
    """Keras' own hash-verified download of the notop file (a no-op when it is cached)."""
    keras = kb.import_keras()
    target = keras_models_dir() / NOTOP_FILE
    md5 = published_notop_md5()
    cached = target.is_file() and file_digest(target, "md5") == md5
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        path = keras.utils.get_file(NOTOP_FILE, WEIGHTS_URL + NOTOP_FILE, cache_subdir="models",
                                    file_hash=md5, cache_dir=str(keras_models_dir().parent))
    except Exception as exc:  # noqa: BLE001 - any download failure becomes the same one-line advice
        raise MedbenchError(f"resnet50: ImageNet weights are not cached and could not be downloaded "
                            f"({_one_line(exc)}); {_how_to_provide()}") from None
    finally:
        socket.setdefaulttimeout(old)
    weights = Weights("imagenet", "keras cache" if cached else "keras download", str(path),
                      file_digest(Path(path)), f"md5 (Keras' published MD5 of {NOTOP_FILE})")
    if sha256 and weights.sha256 != sha256.lower():
        raise MedbenchError(f"resnet50 weights file {path}: sha256 {weights.sha256} does not match the "
                            f"expected {sha256.lower()} (the weights_sha256 option)")
    return weights


def resolve_weights(weights: str = "imagenet", sha256: str | None = None) -> Weights:
    """``imagenet`` | ``random`` | ``imagenet-or-random`` | a file path -> :class:`Weights`."""
    if weights == "random":
        return Weights("random", "random init (weights=random)")
    if weights not in WEIGHT_KEYWORDS:
        return check_file(Path(weights), sha256, "weights option")
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    if env:
        return check_file(Path(env), sha256, f"${WEIGHTS_ENV}")
    try:
        return download_imagenet(sha256)
    except MedbenchError as exc:
        if weights != "imagenet-or-random":
            raise
        print(f"medbench: warning: resnet50 falls back to random init, results are NOT transfer learning: "
              f"{exc}", file=sys.stderr)
        return Weights("random", "random init (fallback: ImageNet weights unavailable)", note=str(exc))


@functools.cache
def _layers():
    """The two custom preprocessing layers (defined on first use: Keras is imported lazily)."""
    keras = kb.import_keras()
    ops = keras.ops

    class GrayResize(keras.layers.Layer):
        """uint8 ``(N, H, W, 1)`` -> float32 ``(N, S, S, 1)`` in [0, 255] (antialiased when shrinking)."""

        def __init__(self, size: int, **kwargs):
            super().__init__(**kwargs)
            self.size = int(size)

        def call(self, x):
            x = ops.cast(x, "float32")
            if tuple(x.shape[1:3]) != (self.size, self.size):
                shrink = x.shape[1] is None or x.shape[1] > self.size
                x = ops.image.resize(x, (self.size, self.size), interpolation="bilinear", antialias=shrink)
            return x

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.size, self.size, 1)

        def get_config(self):
            return {**super().get_config(), "size": self.size}

    class ImagenetGray(keras.layers.Layer):
        """Gray [0, 255] -> 3 equal channels -> ``keras.applications.resnet50.preprocess_input``."""

        def call(self, x):
            x = ops.concatenate([x, x, x], axis=-1)
            x = keras.applications.resnet50.preprocess_input(ops.cast(x, "float32"))
            return ops.cast(x, self.compute_dtype)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 3)

    return GrayResize, ImagenetGray


def build_backbone(weights: Weights, image_size: int):
    """``ResNet50(include_top=False, pooling="avg")`` at ``image_size`` with the resolved weights."""
    keras = kb.import_keras()
    try:
        return keras.applications.ResNet50(
            include_top=False, weights=None if weights.is_random else weights.path,
            input_shape=(image_size, image_size, 3), pooling="avg")
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise MedbenchError(f"resnet50: could not load weights file {weights.path} into ResNet50 (notop): "
                            f"{_one_line(exc)}") from None


def build_extractor(backbone, input_shape: tuple[int, int], image_size: int):
    """uint8 gray images ``(N, H, W, 1)`` -> 2048-d embeddings (all preprocessing inside the graph)."""
    keras = kb.import_keras()
    GrayResize, ImagenetGray = _layers()
    inputs = keras.Input(shape=(*input_shape, 1), dtype="uint8", name="image")
    x = ImagenetGray(name="imagenet_gray")(GrayResize(image_size, name="resize")(inputs))
    return keras.Model(inputs, backbone(x, training=False), name="resnet50_embeddings")


def build_head(n_features: int, n_classes: int, mean: np.ndarray, variance: np.ndarray, *,
               dropout: float = 0.3, l2: float = 1e-4, seed: int = 0):
    """Standardise -> dropout -> softmax ``Dense`` (a regularised multinomial logistic regression)."""
    keras = kb.import_keras()
    L = keras.layers
    inputs = keras.Input(shape=(n_features,), name="embedding")
    x = L.Normalization(mean=mean, variance=variance, name="standardise")(inputs)
    x = L.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = L.Dense(n_classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2),
                      dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name="head")


def standardise_variance(emb: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """Per-feature variance for the head's standardisation, floored at ``floor`` x the mean variance.

    Features constant on the training images (dead ReLUs) would otherwise be divided by ~0 and blow
    up on any image where they are not constant (validation, test, or after fine-tuning).
    """
    var = emb.var(axis=0).astype(np.float64)
    return np.maximum(var, floor * float(var.mean()) + 1e-12).astype(np.float32)


def weights_array_digest(model) -> str:
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).data)
    return h.hexdigest()


def embedding_params(image_size: int, weights_hash: str, precision: str, backend: str) -> dict[str, Any]:
    """The cache key's parameters: everything besides the pixels that the embeddings depend on."""
    return {"model": "resnet50-notop-avg", "image_size": int(image_size), "weights": weights_hash,
            "precision": precision, "backend": backend, "preprocess": "gray3-bilinear-caffe",
            "version": EMBEDDING_VERSION}


def extract_embeddings(extractor, x: np.ndarray, batch_size: int,
                       params: dict[str, Any]) -> tuple[np.ndarray, bool]:
    """``(embeddings, cache_hit)``: cached per (pixels, ``params``), else one batched ``predict``."""
    emb, hit = cache.cached_array(CACHE_NAMESPACE, x, params,
                                  lambda: kb.predict_batches(extractor, x, batch_size))
    return np.asarray(emb, dtype=np.float32), hit


def default_size(native: int) -> int:
    return 64 if native <= 64 else 128


class ResNet50Classifier(kb.KerasClassifierBase):
    """sklearn classifier: ResNet50 embeddings (cached) + dense head, or conv5 fine-tuning."""

    def __init__(self, weights: str = "imagenet", weights_sha256: str | None = None, strategy: str = "frozen",
                 image_size: int | None = None, batch_size: int = 64, epochs: int = 200, patience: int = 15,
                 learning_rate: float = 1e-3, dropout: float = 0.3, finetune_epochs: int = 10,
                 finetune_learning_rate: float = 1e-4, mixed_precision: str = "auto",
                 n_classes: int | None = None, random_state: int = 0, deterministic: bool = True,
                 verbose: int = 0):
        self.weights = weights
        self.weights_sha256 = weights_sha256
        self.strategy = strategy
        self.image_size = image_size
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.finetune_epochs = finetune_epochs
        self.finetune_learning_rate = finetune_learning_rate
        self.mixed_precision = mixed_precision
        self.n_classes = n_classes
        self.random_state = random_state
        self.deterministic = deterministic
        self.verbose = verbose

    # -- embeddings -------------------------------------------------------------------------------
    def _embed(self, x: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """``(embeddings, cache_hit, seconds)`` for uint8 images ``(N, H, W, 1)``."""
        t0 = time.perf_counter()
        emb, hit = extract_embeddings(self.extractor_, x, self.batch_size, self.embedding_params_)
        return emb, hit, time.perf_counter() - t0

    def fit(self, X, y, validation_data=None):
        t_start = time.perf_counter()
        if self.strategy not in ("frozen", "finetune"):
            raise MedbenchError(f"resnet50 strategy must be frozen or finetune, got {self.strategy!r}")
        keras = kb.import_keras()
        x, y_idx, val = kb.prepare_fit(self, X, y, validation_data)
        n_classes = len(self.classes_)
        size = int(self.image_size or default_size(min(self.input_shape_)))
        if size < 32:
            raise MedbenchError(f"resnet50 image_size must be at least 32, got {size}")
        self.weights_info_ = resolve_weights(self.weights, self.weights_sha256)
        deterministic = kb.seed_everything(self.random_state, self.deterministic)
        dev = kb.device_info()
        precision = kb.resolve_precision(self.mixed_precision, dev["device"])
        with kb.dtype_policy(precision):
            self.backbone_ = build_backbone(self.weights_info_, size)
            self.extractor_ = build_extractor(self.backbone_, tuple(self.input_shape_), size)
        weights_hash = self.weights_info_.sha256 or f"init:{weights_array_digest(self.backbone_)}"
        self.embedding_params_ = embedding_params(size, weights_hash, precision, dev["backend"])
        e_train, hit_train, t_train = self._embed(x)
        hits, emb_time = {"train": hit_train}, t_train
        e_val = None
        if val is not None:
            e_val, hits["val"], t_val = self._embed(val[0])
            emb_time += t_val
        cw = kb.class_weights(y_idx, n_classes)
        kb.seed_everything(self.random_state, self.deterministic)
        with kb.dtype_policy(precision):
            self.head_ = build_head(e_train.shape[1], n_classes, e_train.mean(0),
                                    standardise_variance(e_train), dropout=self.dropout,
                                    seed=self.random_state)
        self.head_.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                           loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        head = kb.fit_keras(self.head_, e_train, y_idx,
                            validation_data=None if val is None else (e_val, val[1]), epochs=self.epochs,
                            batch_size=256, patience=self.patience, class_weight=cw, verbose=self.verbose)
        finetune = None
        self.model_ = None
        if self.strategy == "finetune":
            finetune = self._finetune(x, y_idx, val, cw, precision)
        self.variant_ = RANDOM_INIT if self.weights_info_.is_random else None
        self.model_size_bytes_ = kb.saved_size_bytes(self.model_) if self.model_ is not None else \
            kb.saved_size_bytes(self.backbone_, self.head_)
        transfer = not self.weights_info_.is_random
        strategy = ("fine-tune conv5 + head end to end" if self.strategy == "finetune"
                    else "frozen backbone embeddings + dense head")
        if not transfer:
            strategy += " on a RANDOM-INIT backbone (not transfer learning)"
        self.report_info_ = {
            "model": "resnet50", "strategy": strategy, "transfer_learning": transfer, **dev,
            "precision": precision, "deterministic_ops": deterministic, "seed": int(self.random_state),
            "batch_size": int(self.batch_size), "input_size": [size, size],
            "native_size": [int(s) for s in self.input_shape_],
            "weights": {k: v for k, v in asdict(self.weights_info_).items() if v is not None},
            "embedding_dim": int(e_train.shape[1]), "embedding_time_s": round(emb_time, 3),
            "embedding_cache_hit": hits, "embedding_cache_key": self.embedding_params_,
            "head": f"standardise (variance floor 0.01 x mean) -> dropout {self.dropout} -> Dense softmax "
                    f"(L2 1e-4), Adam lr={self.learning_rate}",
            "class_weight": {str(k): v for k, v in cw.items()}, "max_epochs": int(self.epochs),
            "patience": int(self.patience),
            "early_stopping": "val_auc (best epoch restored)" if val is not None else None,
            "epochs_run": head["epochs_run"], "best_epoch": head["best_epoch"], "history": head["history"],
            "head_fit_time_s": round(head["fit_time_s"], 3), **kb.count_params(self.head_),
            "backbone_params": int(self.backbone_.count_params()),
        }
        if finetune is not None:
            self.report_info_["finetune"] = finetune
            self.report_info_["epochs_run"] = head["epochs_run"] + finetune["epochs_run"]
        self.report_info_["fit_total_s"] = round(time.perf_counter() - t_start, 3)
        return self

    def _finetune(self, x, y_idx, val, cw, precision) -> dict[str, Any]:
        """Unfreeze ``conv5`` (batch-norm layers stay frozen, in inference mode); train it with the head."""
        from medbench.models.cnn import augmentation

        keras = kb.import_keras()
        GrayResize, ImagenetGray = _layers()
        size = int(self.backbone_.input_shape[1])
        with kb.dtype_policy(precision):
            inputs = keras.Input(shape=(*self.input_shape_, 1), dtype="uint8", name="image")
            h = GrayResize(size, name="resize")(inputs)
            h = augmentation(keras, self.random_state, value_range=(0.0, 255.0))(h)
            h = ImagenetGray(name="imagenet_gray")(h)
            h = self.backbone_(h, training=False)
            self.model_ = keras.Model(inputs, self.head_(h), name="resnet50_finetune")
        self.backbone_.trainable = True
        for layer in self.backbone_.layers:
            layer.trainable = layer.name.startswith("conv5_") and not isinstance(
                layer, keras.layers.BatchNormalization)
        self.model_.compile(optimizer=keras.optimizers.Adam(self.finetune_learning_rate),
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        run = kb.fit_keras(self.model_, x, y_idx, validation_data=val, epochs=self.finetune_epochs,
                           batch_size=self.batch_size, patience=3, class_weight=cw, verbose=self.verbose)
        return {"unfrozen": "conv5 (batch-norm frozen)", "learning_rate": self.finetune_learning_rate,
                "max_epochs": int(self.finetune_epochs), "patience": 3, **kb.count_params(self.model_),
                "epochs_run": run["epochs_run"], "best_epoch": run["best_epoch"], "history": run["history"],
                "fit_time_s": round(run["fit_time_s"], 3)}

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = kb.as_images(X)
        self._check_shape(x)
        if self.model_ is not None:
            return kb.to_proba(kb.predict_batches(self.model_, x, self.batch_size))
        emb, _, _ = self._embed(x)
        return kb.to_proba(kb.predict_batches(self.head_, emb, 1024))
