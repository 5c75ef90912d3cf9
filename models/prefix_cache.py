"""Fitted pipeline prefixes shared across pipelines: the feature steps fitted once per cache, not once per job.

The runner fits a pipeline's leading steps (``pipeline[:-1]``: e.g. dense SIFT + the 256-word codebook + the
scaler of ``sift-svm``, ``sift-tree`` and ``sift-xgboost``) on the training split and transforms the three
splits. Pipelines whose leading steps are equal share that work through this cache: an entry is keyed
(:mod:`medbench.core.cachekeys`) on the steps (name, class, every parameter but ``n_jobs``, which changes no
value), the job's seed, the training images and labels, the validation and test images (their array digests),
the medbench source that computes it (``medbench.core``, ``medbench.features``, ``medbench.models``, and the
module of any step from another package) and the library versions. An entry ``$MEDBENCH_CACHE_DIR/prefix/<key>`` holds:

* ``<key>/``: the fitted steps, saved by :mod:`medbench.models.persist` (skops with medbench's explicit trust
  list, every file's size and SHA-256 in its manifest; the key is recorded in its ``model.json`` and checked);
* ``<key>-train.npy`` / ``-val.npy`` / ``-test.npy``: the transformed splits (``allow_pickle=False``), each
  with its SHA-256 beside it (:func:`medbench.features.cache.read_checked`);
* ``<key>.json``: its key inputs (written last; what ``medbench cache info`` lists and checks).

A hit is used only when every part verifies; anything missing, damaged or edited is a miss (refitted and
rewritten, a changed ``.npy`` with a warning). A prefix holding a step whose class declares no skops storage
(:mod:`medbench.core.storage`) is not cached. ``MEDBENCH_NO_CACHE=1`` or :func:`medbench.features.cache.disabled`
turns it off.

Why not scikit-learn's ``Pipeline(memory=...)``: it caches the fitted transformers through ``joblib.Memory``,
which stores them *pickled* and unpickles them on a hit (loading pickle from a cache folder a user may receive
from someone else runs code: the project never does it), keys them on joblib's hash of the transformer and its
input but not on the medbench source or the library versions (an edited ``sift.py`` would hit), checks no
digest of what it loads, and caches one step at a time (the transformed splits still pass through the later
steps on every job). The cache here keys and checks like the feature cache and never unpickles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from medbench.core import cachekeys, storage
from medbench.core.atomic import write_json
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir
from medbench.features import cache
from medbench.models import persist

__all__ = ["CODE", "NAMESPACE", "SPLITS", "entry_intact", "fit_transform", "prefix_params"]

NAMESPACE = "prefix"
CODE = ("medbench.core", "medbench.features", "medbench.models")
LIBS = persist.LIBS
SPLITS = ("train", "val", "test")
#: Parameters that change how fast a step runs, never what it computes (left out of the key).
UNKEYED = ("n_jobs",)


def prefix_params(steps: list[tuple[str, Any]]) -> list[dict[str, Any]] | None:
    """The keyed description of ``steps`` (name, class, parameters), or None when one cannot be cached
    (its class declares no skops storage)."""
    out = []
    for name, step in steps:
        how = storage.storage_of(type(step))
        if how is None or how.codec != "skops":
            return None
        params = {k: v for k, v in step.get_params(deep=True).items() if k.rsplit("__", 1)[-1] not in UNKEYED}
        out.append({"name": name, "class": how.name, "params": params})
    return out


def _paths(key: str) -> tuple[Path, Path, dict[str, Path]]:
    root = Path(cache_dir()) / NAMESPACE
    stem = key[:32]
    return root / f"{stem}.json", root / stem, {s: root / f"{stem}-{s}.npy" for s in SPLITS}


def _load(key: str) -> tuple[Pipeline, dict[str, np.ndarray]] | None:
    side, folder, arrays = _paths(key)
    if not side.exists() or not folder.is_dir():
        return None
    try:
        fitted, meta = persist.load_pipeline(folder)
    except MedbenchError:
        return None
    if meta.get("prefix_key") != key:
        return None
    out = {}
    for split, path in arrays.items():
        arr = cache.read_checked(path)
        if arr is None:
            return None
        out[split] = arr
    return fitted, out


def _store(key: str, inputs: dict[str, Any], fitted: Pipeline, Xt: dict[str, np.ndarray]) -> None:
    side, folder, arrays = _paths(key)
    try:
        persist.save_pipeline(fitted, folder, {"prefix_key": key})
        for split, path in arrays.items():
            if not cache.write_checked(path, np.asarray(Xt[split])):
                return
        write_json(side, inputs)  # last: an entry listed by its sidecar is complete
    except (OSError, MedbenchError):
        pass  # a read-only or full cache (or a step skops cannot save) never fails a run


def fit_transform(features: Pipeline, X: dict[str, np.ndarray], y_train: np.ndarray, seed: int,
                  fit: Callable[[], tuple[Pipeline, dict[str, np.ndarray]]]
                  ) -> tuple[Pipeline, dict[str, np.ndarray], dict[str, Any]]:
    """``(fitted prefix, {split: transformed}, info)``: from the cache when an equal prefix was fitted on the
    same data with the same seed, else from ``fit()`` (then stored). ``info`` (kept in the job's runtime
    record): ``{"reused": bool, "key": first 16 hex digits}``, or ``{"reused": False, "cached": why not}``."""
    steps = prefix_params(features.steps)
    if steps is None or not cache.enabled():
        fitted, Xt = fit()
        why = "off" if steps is not None else "a step declares no skops storage"
        return fitted, Xt, {"reused": False, "cached": why}
    # a step from another package (a plugin): its own module's source joins the key
    modules = {type(step).__module__ for _, step in features.steps}
    own = tuple(sorted(m for m in modules if not m.startswith(("medbench.", "sklearn."))))
    inputs = cachekeys.key_inputs(
        NAMESPACE, code=CODE + own, libs=LIBS, steps=steps, seed=int(seed), labels=cachekeys.array_digest(np.asarray(y_train)),
        **{split: cachekeys.array_digest(np.asarray(X[split])) for split in SPLITS})
    key = cachekeys.digest(inputs)
    hit = _load(key)
    if hit is not None:
        return hit[0], hit[1], {"reused": True, "key": key[:16]}
    fitted, Xt = fit()
    _store(key, inputs, fitted, Xt)
    return fitted, Xt, {"reused": False, "key": key[:16]}


def entry_intact(entry: str) -> bool:
    """Whether cache entry ``prefix/<stem>.npy`` (as listed by :func:`medbench.features.cache.describe`) still
    verifies: its fitted steps against their manifest and every transformed split against its SHA-256."""
    stem = Path(entry).stem
    root = Path(cache_dir()) / NAMESPACE
    with contextlib.suppress(MedbenchError, OSError):
        _, meta = persist.load_pipeline(root / stem)
        if str(meta.get("prefix_key", "")).startswith(stem):
            return all(cache.entry_intact(root / f"{stem}-{s}.npy") for s in SPLITS)
    return False

