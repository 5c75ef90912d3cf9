"""Fitted job pipelines kept in the cache, so a finished job can score new sets without being fitted again.

After a job is fitted the runner saves its fitted pipeline here under the job's key
(:meth:`medbench.running.runner.Job.key`: the medbench source, the library versions, the dataset and split
fingerprints, the pipeline, its options and the seed): ``$MEDBENCH_CACHE_DIR/fitted/<key>/`` is a folder
written by :mod:`medbench.models.persist` (skops with medbench's explicit trust list, XGBoost's own format,
Keras ``.keras`` files in safe mode: never pickle; every file's size and SHA-256 in its manifest) with the key
in its ``model.json``, and ``<key>.json`` beside it holds the job's key inputs (written last; what
``medbench cache info`` lists and checks). When ``--external`` or ``--robustness`` is added to a finished run,
the runner loads the model from here (:func:`load`: it must verify and name the same key) instead of fitting
it again (:mod:`medbench.shift.scores_cache`). A pipeline that cannot be saved safely is simply not kept (a later
scoring refits it). ``MEDBENCH_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from medbench.core import settings
from medbench.core.atomic import write_json
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir
from medbench.features import cache
from medbench.models import persist

__all__ = ["NAMESPACE", "entry_intact", "load", "save"]

NAMESPACE = "fitted"


def _paths(job_key: str) -> tuple[Path, Path]:
    root = Path(cache_dir()) / NAMESPACE
    return root / f"{job_key[:32]}.json", root / job_key[:32]


def save(job_key: str, inputs: dict[str, Any], fitted: Pipeline) -> str | None:
    """Keep ``fitted`` under ``job_key`` (``inputs``: the job's key inputs); return the kept folder's manifest
    digest (the job record stores it as its ``fit_id``: this fit, not another fit of the same key), or None
    when it is not kept."""
    if not cache.enabled():
        return None
    side, folder = _paths(job_key)
    try:
        persist.save_pipeline(fitted, folder, {"job_key": job_key})
        write_json(side, inputs)
        return str(persist.read_model(folder)[0]["manifest_sha256"])
    except (OSError, MedbenchError, KeyError):
        return None  # a step that cannot be stored safely, or a read-only / full cache: nothing kept


def load(job_key: str, fit_id: str) -> Pipeline | None:
    """The fitted pipeline kept under ``job_key`` by the fit ``fit_id`` (its manifest digest), verified; None
    when absent, damaged, another key's or another fit's (a later fit of the same key, e.g. ``--fresh`` into
    another folder, replaces it). Asked for while a set is scored, i.e. inside
    :func:`medbench.features.cache.disabled`: only ``MEDBENCH_NO_CACHE=1`` turns it off."""
    if settings.flag(settings.NO_CACHE_ENV):
        return None
    side, folder = _paths(job_key)
    if not side.exists() or not folder.is_dir():
        return None
    try:
        if persist.read_model(folder)[0].get("manifest_sha256") != fit_id:
            return None
        fitted, meta = persist.load_pipeline(folder)
    except MedbenchError:
        return None
    return fitted if meta.get("job_key") == job_key else None


def entry_intact(entry: str) -> bool:
    """Whether entry ``fitted/<stem>.npy`` (as :func:`medbench.features.cache.describe` names it) verifies."""
    stem = Path(entry).stem
    with contextlib.suppress(MedbenchError, OSError):
        return str(persist.read_meta(Path(cache_dir()) / NAMESPACE / stem).get("job_key", "")).startswith(stem)
    return False
