"""Scores of a fitted job on extra images (external sets, corrupted test copies), cached under the job's key.

``--external`` and ``--robustness`` only *score* a fitted pipeline: the job key (the model's) does not hold
them. :class:`Scorer` stands in for the fitted pipeline where :func:`medbench.shift.external.score` and
:func:`medbench.shift.robustness.score` call ``predict_proba``: each call is keyed on the job key and the
digest of the very images it is given (an external set's decoded images after ``--class-map``; a corrupted
batch of the test split, which depends on the corruption, its severity, the seed and the corruption code),
and its result is kept as ``$MEDBENCH_CACHE_DIR/scores/<key>.npy`` (``allow_pickle=False``) with its SHA-256
and key inputs beside it (:func:`medbench.features.cache.write_checked`; a changed entry is recomputed with a
warning). The fitted pipeline itself is asked for (``model()``) only on a miss: when a finished job is scored
on a new set, that is the model kept by :mod:`medbench.models.model_cache`, never a refit. The feature cache
being off while a set is scored (:func:`medbench.features.cache.disabled`) does not turn this cache off;
``MEDBENCH_NO_CACHE=1`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import cachekeys, settings
from medbench.core.paths import cache_dir
from medbench.features import cache

__all__ = ["NAMESPACE", "Scorer"]

NAMESPACE = "scores"


class Scorer:
    """``predict_proba`` of the job keyed ``job_key``, cached per input; ``model()`` gives the fitted pipeline
    (called at most once, on the first miss). ``hits`` / ``misses`` count the calls."""

    def __init__(self, job_key: str, model: Callable[[], Any]):
        self.job_key = job_key
        self._model_fn = model
        self._model: Any = None
        self.hits = 0
        self.misses = 0

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Any:
        if self._model is None:
            self._model = self._model_fn()
        return self._model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if settings.flag(settings.NO_CACHE_ENV):
            self.misses += 1
            return np.asarray(self.model().predict_proba(X))
        inputs = cachekeys.key_inputs(NAMESPACE, code=(), libs=(), job=self.job_key,
                                      input=cachekeys.array_digest(X))
        path = Path(cache_dir()) / NAMESPACE / f"{cachekeys.digest(inputs)[:32]}.npy"
        found = cache.read_checked(path)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        proba = np.asarray(self.model().predict_proba(X))
        cache.write_checked(path, proba, inputs)
        return proba

    def summary(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses}
