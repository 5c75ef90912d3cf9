"""The deep pipelines, registered by name: ``cnn`` (compact CNN from scratch) and ``resnet50``.

Each is a one-step :class:`~sklearn.pipeline.Pipeline` around a Keras estimator with the same
``fit(X, y, validation_data=...)`` / ``predict_proba`` face as the classical classifiers, so it runs
on exactly the same images and appears in the same tables. Options come from the command line as
``--option cnn.KEY=VALUE`` / ``--option resnet50.KEY=VALUE``; they are validated here (a bad key or
value is a one-line :class:`MedbenchError`). Importing this module does not import Keras.

``cnn`` options: ``epochs`` (15), ``batch_size`` (64), ``image_size`` (``auto``: native up to 64 px,
else 96), ``learning_rate`` (0.001), ``patience`` (4), ``width`` (32), ``augment`` (1),
``mixed_precision`` (0; ``auto`` = on a GPU), ``deterministic`` (1).

``resnet50`` options: ``weights`` (``imagenet`` | ``random`` | ``imagenet-or-random`` | a file path;
default ``imagenet``, or the file in ``$MEDBENCH_RESNET50_WEIGHTS``), ``weights_sha256`` (check a
local file against this instead of Keras' published MD5), ``strategy`` (``frozen`` | ``finetune``;
``finetune=1`` is the same as ``strategy=finetune``), ``image_size`` (``auto``: 64 px for images up
to 64 px, else 128), ``batch_size`` (64), ``epochs`` (head, 200), ``patience`` (head, 15),
``finetune_epochs`` (10), ``finetune_learning_rate`` (1e-4), ``mixed_precision`` (``auto``: on a GPU
only), ``deterministic`` (1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.pipeline import Pipeline

from medbench.core.errors import MedbenchError
from medbench.models.cnn import KerasCNNClassifier
from medbench.models.registry import BuildContext, PipelineSpec, register
from medbench.models.resnet import WEIGHT_KEYWORDS, ResNet50Classifier

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _ranged(cast: Callable[[str], Any], kind: str, lo: float, hi: float) -> Callable[[str], Any]:
    def parse(v: str):
        x = cast(v)
        if not lo <= x <= hi:
            raise ValueError(f"expected {kind} in [{lo}, {hi}]")
        return x
    return parse


def _int(lo: int, hi: int) -> Callable[[str], int]:
    return _ranged(int, "an integer", lo, hi)


def _float(lo: float, hi: float) -> Callable[[str], float]:
    return _ranged(float, "a number", lo, hi)


def _bool(v: str) -> bool:
    if v.lower() in _TRUE:
        return True
    if v.lower() in _FALSE:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _tristate(v: str) -> str:
    if v.lower() == "auto":
        return "auto"
    return "1" if _bool(v) else "0"


def _size(lo: int) -> Callable[[str], int | None]:
    def parse(v: str) -> int | None:
        return None if v.lower() == "auto" else _int(lo, 1024)(v)
    return parse


def _choice(*values: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if v.lower() not in values:
            raise ValueError(f"expected one of {', '.join(values)}")
        return v.lower()
    return parse


def _weights(v: str) -> str:
    if not v.strip():
        raise ValueError(f"expected {', '.join(WEIGHT_KEYWORDS)} or a weights file path")
    return v.lower() if v.lower() in WEIGHT_KEYWORDS else v


def _sha256(v: str) -> str:
    h = v.strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError("expected 64 hexadecimal digits")
    return h


# option name -> (estimator parameter, parser)
CNN_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "epochs": ("epochs", _int(1, 1000)),
    "batch_size": ("batch_size", _int(1, 4096)),
    "image_size": ("image_size", _size(8)),
    "learning_rate": ("learning_rate", _float(1e-7, 1.0)),
    "patience": ("patience", _int(0, 1000)),
    "width": ("width", _int(4, 256)),
    "augment": ("augment", _bool),
    "mixed_precision": ("mixed_precision", _tristate),
    "deterministic": ("deterministic", _bool),
}
RESNET_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "weights": ("weights", _weights),
    "weights_sha256": ("weights_sha256", _sha256),
    "strategy": ("strategy", _choice("frozen", "finetune")),
    "finetune": ("strategy", lambda v: "finetune" if _bool(v) else "frozen"),
    "image_size": ("image_size", _size(32)),
    "batch_size": ("batch_size", _int(1, 4096)),
    "epochs": ("epochs", _int(1, 10000)),
    "patience": ("patience", _int(0, 10000)),
    "finetune_epochs": ("finetune_epochs", _int(1, 1000)),
    "finetune_learning_rate": ("finetune_learning_rate", _float(1e-8, 1.0)),
    "mixed_precision": ("mixed_precision", _tristate),
    "deterministic": ("deterministic", _bool),
}


def parse_options(pipeline: str, options: dict[str, Any],
                  table: dict[str, tuple[str, Callable[[str], Any]]]) -> dict[str, Any]:
    """``{"epochs": "5"}`` -> ``{"epochs": 5}``; unknown keys and bad values raise :class:`MedbenchError`."""
    params: dict[str, Any] = {}
    for key, value in options.items():
        if key not in table:
            raise MedbenchError(f"unknown option {pipeline}.{key}={value}; known {pipeline} options: "
                                f"{', '.join(table)}")
        param, parse = table[key]
        try:
            parsed = parse(str(value).strip())
        except ValueError as exc:
            msg = str(exc) if "expected" in str(exc) else "not a valid value"
            raise MedbenchError(f"invalid option {pipeline}.{key}={value}: {msg}") from None
        if param in params and params[param] != parsed:
            raise MedbenchError(f"conflicting options for {pipeline}.{param}: {params[param]!r} vs "
                                f"{key}={value}")
        params[param] = parsed
    return params


def build_cnn(ctx: BuildContext) -> Pipeline:
    params = parse_options("cnn", ctx.options, CNN_OPTIONS)
    return Pipeline([("cnn", KerasCNNClassifier(n_classes=ctx.n_classes, random_state=ctx.seed, **params))])


def build_resnet50(ctx: BuildContext) -> Pipeline:
    params = parse_options("resnet50", ctx.options, RESNET_OPTIONS)
    return Pipeline([("resnet50", ResNet50Classifier(n_classes=ctx.n_classes, random_state=ctx.seed,
                                                     **params))])


register(PipelineSpec("cnn", "deep", "compact CNN trained from scratch (augmentation, class weights, "
                      "early stopping)", build_cnn))
register(PipelineSpec(
    "resnet50", "deep", "ResNet50 ImageNet transfer: frozen-backbone embeddings + dense head "
    "(finetune=1: conv5 end to end)", build_resnet50))
