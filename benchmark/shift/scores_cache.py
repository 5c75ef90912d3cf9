"""Scores of a fitted job on extra images (external sets, corrupted test copies), cached under the job's key.

``--external`` and ``--robustness`` only *score* a fitted pipeline: the job key (the model's) does not hold
them. :class:`Scorer` stands in for the fitted pipeline where :func:`medbench.shift.external.score` and
:func:`medbench.shift.robustness.score` call ``predict_proba``: each call is keyed on the job key, the fit's id
(the record's ``fit_id``: the kept model's manifest digest, so another fit of the same key never shares a score)
and the digest of the very images it is given (an external set's decoded images after ``--class-map``; a corrupted
batch of the test split, which depends on the corruption, its severity, the seed and the corruption code),
and its result is kept as ``$MEDBENCH_CACHE_DIR/scores/<key>.npy`` (``allow_pickle=False``) with its SHA-256
and key inputs beside it (:func:`medbench.features.cache.write_checked`; a changed entry is recomputed with a
warning). The fitted pipeline itself is asked for (``model()``) only on a miss: when a finished job is scored
on a new set, that is the model kept by :mod:`medbench.models.model_cache`, never a refit. The feature cache
being off while a set is scored (:func:`medbench.features.cache.disabled`) does not turn this cache off;
``MEDBENCH_NO_CACHE=1`` does.

On a miss, the images go through the pipeline's feature steps and then its last step, as ``Pipeline.predict_proba``
does; the features are shared in this process by the pipelines whose fitted feature steps are equal (same classes,
parameters and fitted state: :func:`fitted_digest`; e.g. ``sift-svm``, ``sift-tree`` and ``sift-xgboost``, which
share one fitted codebook through :mod:`medbench.models.prefix_cache`), so each corrupted copy of the test split is
featurised once per featuriser, not once per pipeline. They are kept in memory only (at most
:data:`SHARED_BYTES`, oldest dropped first): corrupted copies are not worth a place on disk, their scores are.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import cachekeys, settings
from medbench.core.paths import cache_dir
from medbench.features import cache

__all__ = ["NAMESPACE", "SHARED_BYTES", "Scorer", "fitted_digest"]

NAMESPACE = "scores"
SHARED_BYTES = 768 * 2**20  # features of scored images kept in memory for the other pipelines of the run
_shared: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


class _Unhashable(Exception):
    pass


def fitted_digest(obj: Any) -> str | None:
    """SHA-256 of a fitted estimator's class, parameters and fitted state (every attribute, arrays by content,
    nested estimators too); None when it holds something this cannot hash exactly (then nothing is shared)."""
    h = hashlib.sha256()

    def feed(value: Any, depth: int) -> None:
        if depth > 8:
            raise _Unhashable
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise _Unhashable
            h.update(b"a" + cachekeys.array_digest(value).encode())
        elif value is None or isinstance(value, (str, bool, int, float, np.generic)):
            h.update(f"s{type(value).__name__}:{value!r};".encode())
        elif isinstance(value, (list, tuple)):
            h.update(f"l{len(value)}[".encode())
            for item in value:
                feed(item, depth + 1)
        elif isinstance(value, dict):
            h.update(f"d{len(value)}{{".encode())
            for k in sorted(value, key=str):
                h.update(f"{k!s}=".encode())
                feed(value[k], depth + 1)
        elif hasattr(value, "get_params") and hasattr(value, "__dict__"):
            h.update(f"o{type(value).__module__}.{type(value).__qualname__}(".encode())
            feed(vars(value), depth + 1)
        else:
            raise _Unhashable

    try:
        feed(obj, 0)
    except (_Unhashable, RecursionError, TypeError, ValueError):
        return None
    return h.hexdigest()


def _shared_transform(features: Any, digest: str | None, X: np.ndarray, x_digest: str) -> np.ndarray:
    if digest is None:
        return features.transform(X)
    key = (digest, x_digest)
    if key in _shared:
        _shared.move_to_end(key)
        return _shared[key]
    Xt = np.asarray(features.transform(X))
    _shared[key] = Xt
    while sum(a.nbytes for a in _shared.values()) > SHARED_BYTES and _shared:
        _shared.popitem(last=False)
    return Xt


class Scorer:
    """``predict_proba`` of one fit (``job_key``: the job key and the fit's id), cached per input; ``model()``
    gives the fitted pipeline (called at most once, on the first miss). ``hits`` / ``misses`` count the calls."""

    def __init__(self, job_key: str, model: Callable[[], Any]):
        self.job_key = job_key
        self._model_fn = model
        self._model: Any = None
        self.hits = 0
        self.misses = 0
        self._features: tuple[Any, str | None] | None = None

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Any:
        if self._model is None:
            self._model = self._model_fn()
        return self._model

    def _compute(self, X: np.ndarray, x_digest: str) -> np.ndarray:
        """``model().predict_proba(X)``, its feature steps shared with equal fitted ones (the module docstring)."""
        model = self.model()
        steps = getattr(model, "steps", None)
        if not isinstance(steps, list) or len(steps) < 2:
            return np.asarray(model.predict_proba(X))
        if self._features is None:
            features = model[:-1]
            shared = not settings.flag(settings.NO_CACHE_ENV)
            self._features = (features, fitted_digest(features) if shared else None)
        Xt = _shared_transform(*self._features, X, x_digest)
        return np.asarray(steps[-1][1].predict_proba(Xt))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        x_digest = cachekeys.array_digest(X)
        if settings.flag(settings.NO_CACHE_ENV):
            self.misses += 1
            return self._compute(X, x_digest)
        inputs = cachekeys.key_inputs(NAMESPACE, code=(), libs=(), job=self.job_key, input=x_digest)
        path = Path(cache_dir()) / NAMESPACE / f"{cachekeys.digest(inputs)[:32]}.npy"
        found = cache.read_checked(path)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        proba = self._compute(X, x_digest)
        cache.write_checked(path, proba, inputs)
        return proba

    def summary(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses}
