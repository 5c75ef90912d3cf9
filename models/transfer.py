"""Transfer learning from an ImageNet backbone: one Keras estimator, the backbone a row of
:data:`medbench.models.backbones.BACKBONES` (ResNet50, DenseNet121, EfficientNetB0, MobileNetV3Small,
ConvNeXtTiny). Weights resolution, cached frozen-backbone embeddings, a dense head, and an optional
end-to-end fine-tune of the top stage.

Input: the dataset's uint8 images, gray or RGB. Inside the model they are resized to ``image_size``
(bilinear, antialiased when shrinking), gray ones stacked to 3 channels (RGB ones go as they are), and
passed through the backbone's own ``keras.applications.<module>.preprocess_input``; the backbone is the row's
``keras.applications.<Constructor>(include_top=False, pooling="avg")`` (embeddings of the row's width).

* ``strategy="frozen"`` (default, practical on a CPU): embeddings are computed once and cached on
  disk (``features.cache.cached_array``, namespace ``embeddings``). The entry's key covers the
  pixels, the backbone, the image size, the weights actually loaded (the file's SHA-256, or a digest
  of the random initialisation: what ``imagenet-or-random`` resolved to), the precision, the Keras
  backend, the medbench source that computes it (``medbench.models``, ``medbench.features``,
  ``medbench.core``) and the deep-learning library versions, so no number needs bumping by hand. The
  head - standardisation of the embeddings (train mean / variance), dropout and a softmax ``Dense``
  layer with L2 1e-4, i.e. a regularised multinomial logistic regression trained with Adam,
  balanced class weights and early stopping on the validation ROC-AUC - is fitted on them.
* ``strategy="finetune"`` (meant for a GPU): the head is fitted as above, then the row's top stage
  (batch-norm statistics kept frozen) and the head are trained end to end on augmented images at a
  low learning rate, early-stopped on the validation ROC-AUC.
* ``strategy="full"`` (meant for a GPU; ``medbench run --profile gpu``): every layer, batch norm
  included, trained end to end from the resolved weights (ImageNet, or a random initialisation - then
  it is training from scratch and reported as RANDOM-INIT) with a fresh dropout + softmax head, on
  augmented images: AdamW (weight decay 1e-4) at ``finetune_learning_rate`` with a one-epoch linear
  warm-up and cosine decay over ``finetune_epochs``, early-stopped on the validation ROC-AUC (patience
  3, best epoch restored). No embeddings are computed or cached.

Augmentation (fine-tune and full) is :mod:`medbench.models.augment`'s jit-compatible layer, spliced
after the resize into a *training model* that shares every layer with the inference model ``model_``;
the saved model has no augmentation, and the train step is compiled (``jax.jit`` / ``tf.function``,
XLA where Keras allows it). ``report_info_["training"]`` records how the step ran and training
images/s (median over the epochs after the first).

Weights (``weights``): ``imagenet`` (default) is Keras' own hash-verified download of the row's
official no-top file, cached under ``$KERAS_HOME/models/`` (default ``~/.keras/models/``), or for
ResNet50 the local file named by ``$MEDBENCH_RESNET50_WEIGHTS``; a file path is checked against
Keras' published hash of that file, or against ``weights_sha256``; ``random`` is an explicit random
initialisation, and ``imagenet-or-random`` falls back to it (with a warning) when ImageNet weights
cannot be had. A random-init model is never reported as transfer learning: its ``variant_`` is
``"random init"`` (the row reads ``<pipeline> (random init)``). Mixed precision is used on a GPU only.
Every constructor parameter is an ``--option PIPELINE.NAME=VALUE``; :meth:`check_params` validates them.
"""

from __future__ import annotations

import functools
import hashlib
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import cachekeys, settings
from medbench.core.errors import MedbenchError
from medbench.core.storage import stored_as
from medbench.core.warn import warn
from medbench.features import cache
from medbench.models import keras_base as kb
from medbench.models.augment import random_augment, training_model
from medbench.models.backbones import BACKBONES, Backbone
from medbench.models.cnn import AUGMENTATION

WEIGHT_KEYWORDS = ("imagenet", "random", "imagenet-or-random")
DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation, so an unreachable host fails instead of hanging
RANDOM_INIT = "random init"
CACHE_NAMESPACE = "embeddings"
#: The medbench code whose source hash is part of every embedding's cache key.
EMBEDDING_CODE = ("medbench.models", "medbench.features", "medbench.core")
HEAD_L2 = 1e-4
FINETUNE_PATIENCE = 3
STRATEGIES = ("frozen", "finetune", "full")
WARMUP_EPOCHS = 1  # strategy=full: linear learning-rate warm-up over the first epoch, then cosine decay


def keras_models_dir() -> Path:
    """Where ``keras.utils.get_file(cache_subdir="models")`` keeps the weights: ``$KERAS_HOME/models``."""
    return settings.keras_home() / "models"


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int, algorithm: str) -> str:
    return cachekeys.file_sha256(path, algorithm)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """:func:`medbench.core.cachekeys.file_sha256`, remembered per (file, size, mtime) in this process."""
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


class WeightsUnavailable(MedbenchError):
    """ImageNet weights could be neither found nor downloaded; ``remedy`` says exactly which file goes where
    (recorded in the failed job's record, shown by the report's verdict)."""

    def __init__(self, message: str, remedy: dict[str, Any]):
        super().__init__(message)
        self.remedy = remedy

    def __reduce__(self):  # picklable (a worker process may send it back)
        return type(self), (str(self), self.remedy)

    @classmethod
    def of(cls, message: str, bb: Backbone) -> WeightsUnavailable:
        folder = keras_models_dir()
        return cls(message, {"kind": "weights missing", "file": bb.weights_file, "folder": str(folder),
                             "path": str(folder / bb.weights_file), "env": bb.weights_env,
                             "option": f"{bb.pipeline}.weights", "text": how_to_provide(bb)})


def how_to_provide(bb: Backbone) -> str:
    env = f"or set {bb.weights_env}=/path/to/{bb.weights_file}, " if bb.weights_env else \
        f"or pass --option {bb.pipeline}.weights=/path/to/{bb.weights_file}, "
    return (f"put {bb.weights_file} at {keras_models_dir() / bb.weights_file}, {env}"
            f"or pass --option {bb.pipeline}.weights=random for an explicitly random-init (not transfer) run")


def check_file(bb: Backbone, path: Path, sha256: str | None, origin: str) -> Weights:
    """A local weights file, verified against ``sha256`` or else Keras' published hash of the row's file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MedbenchError(f"{bb.key} weights file {path} (from {origin}) does not exist")
    if sha256:
        algorithm, expected, against = "sha256", sha256.lower(), "the weights_sha256 option"
    else:
        algorithm, expected = bb.hash_algorithm, bb.weights_hash
        against = f"Keras' published {algorithm.upper()} of {bb.weights_file}"
    actual = file_digest(path, algorithm)
    if actual != expected:
        hint = "" if sha256 else f"; for a file of your own pass --option {bb.pipeline}.weights_sha256=<its sha256>"
        raise MedbenchError(f"{bb.key} weights file {path} (from {origin}): {algorithm} {actual} does not "
                            f"match the expected {expected} ({against}){hint}")
    return Weights("imagenet", origin, str(path), file_digest(path), f"{algorithm} ({against})")


#: Downloads that failed in this process, by weights file: the failure is raised again without a second
#: try (a run resolves the weights when it plans a job and again when it fits it; offline, the user
#: would otherwise see Keras' "Downloading data from ..." and the same long error twice).
_FAILED_DOWNLOADS: dict[str, str] = {}


def download_imagenet(bb: Backbone, sha256: str | None = None) -> Weights:
    """Keras' own hash-verified download of the row's no-top file (a no-op when it is cached); a download
    that failed once in this process is not tried again (unless the file has been cached since)."""
    keras = kb.import_keras()
    target = keras_models_dir() / bb.weights_file
    cached = target.is_file() and file_digest(target, bb.hash_algorithm) == bb.weights_hash
    failed = _FAILED_DOWNLOADS.get(str(target))
    if failed is not None and not cached:
        raise WeightsUnavailable.of(failed, bb)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        path = keras.utils.get_file(bb.weights_file, bb.weights_url + bb.weights_file, cache_subdir="models",
                                    file_hash=bb.weights_hash, cache_dir=str(keras_models_dir().parent))
    except Exception as exc:  # noqa: BLE001 - any download failure becomes the same one-line advice
        message = (f"{bb.key}: ImageNet weights are not cached and could not be downloaded "
                   f"({_one_line(exc)}); {how_to_provide(bb)}")
        _FAILED_DOWNLOADS[str(target)] = message
        raise WeightsUnavailable.of(message, bb) from None
    finally:
        socket.setdefaulttimeout(old)
    weights = Weights("imagenet", "keras cache" if cached else "keras download", str(path),
                      file_digest(Path(path)),
                      f"{bb.hash_algorithm} (Keras' published {bb.hash_algorithm.upper()} of {bb.weights_file})")
    if sha256 and weights.sha256 != sha256.lower():
        raise MedbenchError(f"{bb.key} weights file {path}: sha256 {weights.sha256} does not match the "
                            f"expected {sha256.lower()} (the weights_sha256 option)")
    return weights


def weights_keyword(weights: str) -> str:
    """``weights`` as given: a keyword (case-insensitive) in lower case, a path as it is."""
    w = str(weights).strip()
    return w.lower() if w.lower() in WEIGHT_KEYWORDS else w


def resolve_weights(bb: Backbone, weights: str = "imagenet", sha256: str | None = None, *,
                    quiet: bool = False) -> Weights:
    """``imagenet`` | ``random`` | ``imagenet-or-random`` | a file path -> :class:`Weights` for row ``bb``."""
    weights = weights_keyword(weights)
    if weights == "random":
        return Weights("random", "random init (weights=random)")
    if weights not in WEIGHT_KEYWORDS:
        return check_file(bb, Path(weights), sha256, "weights option")
    env = settings.path(bb.weights_env) if bb.weights_env else None
    if env is not None:
        return check_file(bb, env, sha256, f"${bb.weights_env}")
    try:
        return download_imagenet(bb, sha256)
    except MedbenchError as exc:
        if weights != "imagenet-or-random":
            raise
        if not quiet:
            warn(f"{bb.key} falls back to random init, results are NOT transfer learning: "
                 f"{exc}")
        return Weights("random", "random init (fallback: ImageNet weights unavailable)", note=str(exc))


@functools.cache
def _layers():
    """The two custom preprocessing layers (defined on first use: Keras is imported lazily)."""
    keras = kb.import_keras()
    ops = keras.ops

    class GrayResize(keras.layers.Layer):
        """uint8 ``(N, H, W, C)`` -> float32 ``(N, S, S, C)`` in [0, 255] (antialiased when shrinking)."""

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
            return (input_shape[0], self.size, self.size, input_shape[-1])

        def get_config(self):
            return {**super().get_config(), "size": self.size}

    class ImagenetGray(keras.layers.Layer):
        """Gray [0, 255] -> 3 equal channels (RGB input as it is) -> ``keras.applications.<module>.preprocess_input``."""

        def __init__(self, module: str = "resnet50", **kwargs):
            super().__init__(**kwargs)
            self.module = module
            self._preprocess = getattr(keras.applications, module).preprocess_input

        def call(self, x):
            if x.shape[-1] == 1:
                x = ops.concatenate([x, x, x], axis=-1)
            x = self._preprocess(ops.cast(x, "float32"))
            return ops.cast(x, self.compute_dtype)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 3)

        def get_config(self):
            return {**super().get_config(), "module": self.module}

    return GrayResize, ImagenetGray


def keras_custom_objects() -> dict[str, Any]:
    """The custom preprocessing layers by name, for loading a saved ``.keras`` model of this module."""
    GrayResize, ImagenetGray = _layers()
    return {"GrayResize": GrayResize, "ImagenetGray": ImagenetGray}


def build_backbone(bb: Backbone, weights: Weights, image_size: int):
    """``keras.applications.<row>(include_top=False, pooling="avg")`` at ``image_size``, resolved weights."""
    keras = kb.import_keras()
    try:
        return getattr(keras.applications, bb.constructor)(
            include_top=False, weights=None if weights.is_random else weights.path,
            input_shape=(image_size, image_size, 3), pooling="avg")
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise MedbenchError(f"{bb.key}: could not load weights file {weights.path} into {bb.constructor} "
                            f"(notop): {_one_line(exc)}") from None


def build_extractor(bb: Backbone, backbone, input_shape: tuple[int, int], image_size: int, channels: int = 1):
    """uint8 images ``(N, H, W, channels)`` (1: gray, 3: RGB) -> embeddings (all preprocessing inside the graph)."""
    keras = kb.import_keras()
    GrayResize, ImagenetGray = _layers()
    inputs = keras.Input(shape=(*input_shape, channels), dtype="uint8", name="image")
    x = ImagenetGray(bb.preprocess_module, name="imagenet_gray")(GrayResize(image_size, name="resize")(inputs))
    return keras.Model(inputs, backbone(x, training=False), name=f"{bb.key}_embeddings")


def build_head(n_features: int, n_classes: int, mean: np.ndarray, variance: np.ndarray, *,
               dropout: float = 0.3, l2: float = HEAD_L2, seed: int = 0):
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
    """SHA-256 of a model's weight values (identifies a random initialisation)."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).data)
    return h.hexdigest()


def embedding_params(bb: Backbone, image_size: int, weights: dict[str, Any], precision: str,
                     backend: str, channels: int = 1) -> dict[str, Any]:
    """The cache key's parameters besides pixels, code and library versions."""
    mode = "gray3" if channels == 1 else "rgb"
    return {"model": f"{bb.key}-notop-avg", "image_size": int(image_size), "weights": weights,
            "precision": precision, "backend": backend, "preprocess": f"{mode}-bilinear-{bb.preprocess_module}"}


def extract_embeddings(extractor, x: np.ndarray, batch_size: int,
                       params: dict[str, Any]) -> tuple[np.ndarray, bool]:
    """``(embeddings, cache_hit)``: cached per (pixels, ``params``, code, libraries), else one batched predict."""
    emb, hit = cache.cached_array(CACHE_NAMESPACE, x, params, lambda: kb.predict_batches(extractor, x, batch_size),
                                  code=EMBEDDING_CODE, libs=cachekeys.LIBS_DEEP)
    return np.asarray(emb, dtype=np.float32), hit


@stored_as("keras-estimator", keras_models=("extractor_", "head_", "model_"),
           unsaved=("backbone_", "weights_info_"), custom_objects=keras_custom_objects)
class KerasTransferClassifier(kb.KerasClassifierBase):
    """sklearn classifier: a backbone's embeddings (cached) + dense head, or top-stage fine-tuning.

    ``backbone`` names a row of :data:`~medbench.models.backbones.BACKBONES`.
    """

    def __init__(self, backbone: str = "resnet50", weights: str = "imagenet", weights_sha256: str | None = None,
                 strategy: str = "frozen", image_size: int | str | None = None, batch_size: int = 64,
                 epochs: int = 200, patience: int = 15, learning_rate: float = 1e-3, dropout: float = 0.3,
                 finetune_epochs: int = 10, finetune_learning_rate: float = 1e-4,
                 mixed_precision: bool | str = "auto", n_classes: int | None = None, random_state: int = 0,
                 deterministic: bool = True, verbose: int = 0):
        self.backbone = backbone
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

    # -- parameters -------------------------------------------------------------------------------
    def _label(self) -> str:
        return self.backbone if self.backbone in BACKBONES else "transfer"

    def _rules(self) -> dict[str, kb.Rule]:
        return {
            "backbone": kb.Rule(lambda v: v in BACKBONES, f"one of {', '.join(BACKBONES)}"),
            "weights": kb.Rule(lambda v: isinstance(v, (str, Path)) and bool(str(v).strip()),
                               f"{', '.join(WEIGHT_KEYWORDS)} or a weights file path"),
            "weights_sha256": kb.Rule(
                lambda v: v is None or (isinstance(v, str) and len(v.strip()) == 64
                                        and all(c in "0123456789abcdef" for c in v.strip().lower())),
                "None or 64 hexadecimal digits"),
            "strategy": kb.choice(*STRATEGIES), "image_size": kb.size(32),
            "batch_size": kb.integer(1, 4096), "epochs": kb.integer(1, 10000), "patience": kb.integer(0, 10000),
            "learning_rate": kb.number(1e-7, 1.0), "dropout": kb.number(0.0, 0.95),
            "finetune_epochs": kb.integer(1, 1000), "finetune_learning_rate": kb.number(1e-8, 1.0),
            "mixed_precision": kb.TRISTATE, "n_classes": kb.OPTIONAL_INT, "random_state": kb.SEED,
            "deterministic": kb.SWITCH, "verbose": kb.integer(0, 2),
        }

    def _row(self) -> Backbone:
        return BACKBONES[self.backbone]

    def _sha256(self) -> str | None:
        return self.weights_sha256.strip().lower() if self.weights_sha256 else None

    def cache_identity(self) -> dict[str, Any]:
        """What the weights options resolve to now (for the runner's job key), without building a model."""
        try:
            self.check_params()
            w = resolve_weights(self._row(), self.weights, self._sha256(), quiet=True)
        except MedbenchError as exc:  # fit will raise it, inside the job
            return {"backbone": str(self.backbone), "weights": f"unresolved: {exc}"}
        return {"backbone": self.backbone, "weights": {"kind": w.kind, "sha256": w.sha256}}

    # -- embeddings -------------------------------------------------------------------------------
    def _embed(self, x: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """``(embeddings, cache_hit, seconds)`` for uint8 images ``(N, H, W, 1)``."""
        t0 = time.perf_counter()
        emb, hit = extract_embeddings(self.extractor_, x, self.batch_size, self.embedding_params_)
        return emb, hit, time.perf_counter() - t0

    def fit(self, X, y, validation_data=None):
        t_start = time.perf_counter()
        self.check_params()
        bb = self._row()
        keras = kb.import_keras()
        x, y_idx, val = kb.prepare_fit(self, X, y, validation_data)
        n_classes = len(self.classes_)
        size = kb.as_size(self.image_size) or bb.default_size(min(self.input_shape_))
        self.weights_info_ = resolve_weights(bb, self.weights, self._sha256())
        deterministic = kb.seed_everything(self.random_state, kb.as_bool(self.deterministic))
        dev = kb.device_info()
        precision = kb.resolve_precision(self.mixed_precision, dev["device"], dev.get("compute_capability"))
        if self.strategy == "full":
            return self._fit_full(bb, x, y_idx, val, size, dev, precision, deterministic, t_start)
        with kb.dtype_policy(precision):
            self.backbone_ = build_backbone(bb, self.weights_info_, size)
            self.extractor_ = build_extractor(bb, self.backbone_, tuple(self.input_shape_), size, self.n_channels_)
        loaded = {"kind": self.weights_info_.kind,
                  "sha256": self.weights_info_.sha256 or f"init:{weights_array_digest(self.backbone_)}"}
        self.embedding_params_ = embedding_params(bb, size, loaded, precision, dev["backend"], self.n_channels_)
        e_train, hit_train, t_train = self._embed(x)
        hits, emb_time = {"train": hit_train}, t_train
        e_val = None
        if val is not None:
            e_val, hits["val"], t_val = self._embed(val[0])
            emb_time += t_val
        cw = kb.class_weights(y_idx, n_classes)
        kb.seed_everything(self.random_state, kb.as_bool(self.deterministic))
        with kb.dtype_policy(precision):
            self.head_ = build_head(e_train.shape[1], n_classes, e_train.mean(0),
                                    standardise_variance(e_train), dropout=self.dropout,
                                    seed=self.random_state)
        kb.compile_model(self.head_, keras.optimizers.Adam(self.learning_rate))
        head = kb.fit_keras(self.head_, e_train, y_idx,
                            validation_data=None if val is None else (e_val, val[1]), epochs=self.epochs,
                            batch_size=256, patience=self.patience, class_weight=cw, verbose=self.verbose)
        finetune = None
        self.model_ = None
        if self.strategy == "finetune":
            finetune = self._finetune(bb, x, y_idx, val, cw, precision)
        self.variant_ = RANDOM_INIT if self.weights_info_.is_random else None
        self.model_size_bytes_ = kb.saved_size_bytes(self.model_) if self.model_ is not None else \
            kb.saved_size_bytes(self.backbone_, self.head_)
        transfer = not self.weights_info_.is_random
        strategy = (f"fine-tune {bb.top_stage_label} + head end to end" if self.strategy == "finetune"
                    else "frozen backbone embeddings + dense head")
        if not transfer:
            strategy += " on a RANDOM-INIT backbone (not transfer learning)"
        self.report_info_ = {
            "model": bb.key, "backbone": bb.constructor, "strategy": strategy, "transfer_learning": transfer,
            **dev, "precision": precision, "deterministic_ops": deterministic, "seed": int(self.random_state),
            "batch_size": int(self.batch_size), "input_size": [size, size],
            "native_size": [int(s) for s in self.input_shape_],
            "weights": {k: v for k, v in asdict(self.weights_info_).items() if v is not None},
            "embedding_dim": int(e_train.shape[1]), "embedding_time_s": round(emb_time, 3),
            "embedding_cache_hit": hits, "embedding_cache_key": self.embedding_params_,
            "head": f"standardise (variance floor 0.01 x mean) -> dropout {self.dropout} -> Dense softmax "
                    f"(L2 {HEAD_L2:g}), Adam lr={self.learning_rate}",
            "class_weight": {str(k): v for k, v in cw.items()}, "max_epochs": int(self.epochs),
            "patience": int(self.patience),
            "early_stopping": "val_auc (best epoch restored)" if val is not None else None,
            "epochs_run": head["epochs_run"], "best_epoch": head["best_epoch"], "history": head["history"],
            "head_fit_time_s": round(head["fit_time_s"], 3), **kb.count_params(self.head_),
            "training": {**(finetune or head)["training"],
                         "stage": "end to end (fine-tune)" if finetune else "dense head on cached embeddings"},
            "backbone_params": int(self.backbone_.count_params()),
        }
        if finetune is not None:
            self.report_info_["finetune"] = {k: v for k, v in finetune.items() if k != "training"}
            self.report_info_["epochs_run"] = head["epochs_run"] + finetune["epochs_run"]
        self.report_info_["fit_total_s"] = round(time.perf_counter() - t_start, 3)
        return self

    def _finetune(self, bb: Backbone, x, y_idx, val, cw, precision) -> dict[str, Any]:
        """Unfreeze the row's top stage (batch-norm layers stay frozen, in inference mode); train it with the head."""
        keras = kb.import_keras()
        size = int(self.backbone_.input_shape[1])
        with kb.dtype_policy(precision):
            self.model_, train_model = self._end_to_end(keras, bb, size, self.head_, training=False)
        self.backbone_.trainable = True
        for layer in self.backbone_.layers:
            layer.trainable = layer.name.startswith(bb.top_stage) and not isinstance(
                layer, keras.layers.BatchNormalization)
        kb.compile_model(train_model, keras.optimizers.Adam(self.finetune_learning_rate))
        run = kb.fit_keras(train_model, x, y_idx, validation_data=val, epochs=self.finetune_epochs,
                           batch_size=self.batch_size, patience=FINETUNE_PATIENCE, class_weight=cw,
                           verbose=self.verbose, predict_model=self.model_)
        return {"unfrozen": f"{bb.top_stage_label} (batch-norm frozen)", "learning_rate": self.finetune_learning_rate,
                "max_epochs": int(self.finetune_epochs), "patience": FINETUNE_PATIENCE,
                **kb.count_params(self.model_), "epochs_run": run["epochs_run"], "best_epoch": run["best_epoch"],
                "history": run["history"], "fit_time_s": round(run["fit_time_s"], 3), "training": run["training"]}

    def _end_to_end(self, keras, bb: Backbone, size: int, head, *, training: bool | None):
        """``(model, train_model)``: uint8 images -> resize -> ImageNet preprocessing -> backbone -> head, and
        the same layers with the augmentation after the resize (what is fitted; never saved).
        ``training=False`` keeps the backbone's batch-norm layers in inference mode."""
        GrayResize, ImagenetGray = _layers()
        resize = GrayResize(size, name="resize")
        prep = ImagenetGray(bb.preprocess_module, name="imagenet_gray")
        after = [prep, (lambda h: self.backbone_(h, training=False)) if training is False else self.backbone_, head]

        def inputs():
            return keras.Input(shape=(*self.input_shape_, self.n_channels_), dtype="uint8", name="image")

        model = training_model(keras, inputs(), [resize], lambda h: h, after, f"{bb.key}_{self.strategy}")
        train = training_model(keras, inputs(), [resize], random_augment(self.random_state, (0.0, 255.0)),
                               after, f"{bb.key}_{self.strategy}_train")
        return model, train

    def _fit_full(self, bb: Backbone, x, y_idx, val, size: int, dev: dict[str, Any], precision: str,
                  deterministic: bool, t_start: float):
        """``strategy="full"``: every layer (batch norm included) trained end to end from the resolved
        weights (ImageNet, or a random initialisation: then it is training from scratch, not transfer),
        AdamW with a linear warm-up over the first epoch and cosine decay, early stopping on the
        validation ROC-AUC (best epoch restored)."""
        keras = kb.import_keras()
        n_classes = len(self.classes_)
        cw = kb.class_weights(y_idx, n_classes)
        with kb.dtype_policy(precision):
            self.backbone_ = build_backbone(bb, self.weights_info_, size)
            L = keras.layers
            inputs = keras.Input(shape=(bb.embedding_dim,), name="embedding")
            h = L.Dropout(self.dropout, seed=self.random_state, name="dropout")(inputs)
            outputs = L.Dense(n_classes, activation="softmax", dtype="float32", name="probs")(h)
            self.head_ = keras.Model(inputs, outputs, name="head")
            self.model_, train_model = self._end_to_end(keras, bb, size, self.head_, training=None)
        self.extractor_ = None
        self.backbone_.trainable = True
        steps_per_epoch = -(-len(x) // self.batch_size)
        total = max(self.finetune_epochs * steps_per_epoch, 1)
        warmup = min(WARMUP_EPOCHS * steps_per_epoch, total - 1)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else self.finetune_learning_rate, decay_steps=total - warmup,
            warmup_target=self.finetune_learning_rate if warmup else None, warmup_steps=warmup)
        kb.compile_model(train_model, keras.optimizers.AdamW(schedule, weight_decay=1e-4))
        run = kb.fit_keras(train_model, x, y_idx, validation_data=val, epochs=self.finetune_epochs,
                           batch_size=self.batch_size, patience=FINETUNE_PATIENCE, class_weight=cw,
                           verbose=self.verbose, predict_model=self.model_)
        self.variant_ = RANDOM_INIT if self.weights_info_.is_random else None
        self.model_size_bytes_ = kb.saved_size_bytes(self.model_)
        transfer = not self.weights_info_.is_random
        strategy = "full: every layer trained end to end"
        strategy += " from ImageNet weights" if transfer else \
            " from a RANDOM-INIT backbone (trained from scratch, not transfer learning)"
        self.report_info_ = {
            "model": bb.key, "backbone": bb.constructor, "strategy": strategy, "transfer_learning": transfer,
            **dev, "precision": precision, "deterministic_ops": deterministic, "seed": int(self.random_state),
            "batch_size": int(self.batch_size), "input_size": [size, size],
            "native_size": [int(s) for s in self.input_shape_],
            "weights": {k: v for k, v in asdict(self.weights_info_).items() if v is not None},
            "head": f"dropout {self.dropout} -> Dense softmax", "augmentation": AUGMENTATION,
            "optimizer": f"AdamW lr={self.finetune_learning_rate} ({WARMUP_EPOCHS}-epoch linear warm-up, "
                         f"cosine decay), wd=1e-4",
            "class_weight": {str(k): v for k, v in cw.items()}, "max_epochs": int(self.finetune_epochs),
            "patience": FINETUNE_PATIENCE,
            "early_stopping": "val_auc (best epoch restored)" if val is not None else None,
            "epochs_run": run["epochs_run"], "best_epoch": run["best_epoch"], "history": run["history"],
            "training": {**run["training"], "stage": "end to end"}, "train_time_s": round(run["fit_time_s"], 3),
            **kb.count_params(self.model_), "backbone_params": int(self.backbone_.count_params()),
            "fit_total_s": round(time.perf_counter() - t_start, 3),
        }
        return self

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = kb.as_images(X)
        self._check_shape(x)
        if self.model_ is not None:
            return kb.to_proba(kb.predict_batches(self.model_, x, self.batch_size))
        emb, _, _ = self._embed(x)
        return kb.to_proba(kb.predict_batches(self.head_, emb, 1024))
