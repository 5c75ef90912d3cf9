"""The job runner: one (dataset, split, pipeline, seed) job at a time, each with its own cached output.

A job is independent: given the dataset, the split and a :class:`Job`, :func:`run_job` fits the
pipeline, tunes it on the validation split only, scores the test split once, measures runtime and
writes ``jobs/<job_id>.json`` atomically. A job whose file exists with the same key (medbench
version, dataset and split fingerprints, pipeline, options, seed) is not run again, so an
interrupted run resumes where it stopped and jobs can later be farmed out in parallel.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import pickle
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline

from medbench.core.atomic import write_json
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.datasets.dataset import Dataset
from medbench.features import cache
from medbench.metrics import choose_threshold, classification_metrics, predict_with_threshold, roc_auc
from medbench.models import registry
from medbench.profiling import PeakMemory, timer
from medbench.splits import Split

LATENCY_BATCH = 256
LATENCY_SINGLE = 10


@dataclass(frozen=True)
class Job:
    pipeline: str
    seed: int = 0
    options: dict[str, str] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return f"{self.pipeline}__seed{self.seed}"

    def key(self, ds: Dataset, split_fingerprint: str) -> str:
        blob = json.dumps({
            "medbench": __version__, "dataset": ds.fingerprint, "split": split_fingerprint,
            "pipeline": self.pipeline, "seed": self.seed, "options": self.options,
        }, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def job_path(out_dir: Path, job: Job) -> Path:
    return Path(out_dir) / "jobs" / f"{job.job_id}.json"


def load_cached(out_dir: Path, job: Job, key: str) -> dict[str, Any] | None:
    path = job_path(out_dir, job)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("key") == key and record.get("status") == "ok" else None


def _accepts(fn, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _fit_final(est, Xt, y, val) -> Any:
    if _accepts(est.fit, "validation_data"):
        return est.fit(Xt, y, validation_data=val)
    return est.fit(Xt, y)


def _val_score(y_val, proba, n_classes, positive) -> tuple[float, float]:
    auc = roc_auc(y_val, proba, n_classes, positive)
    bacc = float(np.mean([np.mean(proba[y_val == c].argmax(1) == c) for c in np.unique(y_val)]))
    return (-1.0 if auc is None else auc), bacc


def _model_size(pipe: Pipeline) -> int | None:
    size = getattr(pipe.steps[-1][1], "model_size_bytes_", None)
    if size is not None:
        return int(size)
    try:
        return len(pickle.dumps(pipe, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - a model that cannot be pickled just has no size
        return None


def _latency(pipe: Pipeline, X: np.ndarray) -> dict[str, float]:
    """End-to-end inference (features recomputed, caches off) on a batch and on single images."""
    batch = X[:LATENCY_BATCH]
    with cache.disabled():
        pipe.predict_proba(batch[:2])  # warm-up (lazy initialisation, graph tracing)
        t0 = time.perf_counter()
        pipe.predict_proba(batch)
        dt = time.perf_counter() - t0
        singles = []
        for i in range(min(LATENCY_SINGLE, len(X))):
            t1 = time.perf_counter()
            pipe.predict_proba(X[i:i + 1])
            singles.append(time.perf_counter() - t1)
    return {
        "latency_batch_size": int(len(batch)),
        "latency_ms_per_image": 1000 * dt / len(batch),
        "throughput_img_per_s": len(batch) / dt if dt > 0 else float("inf"),
        "single_image_latency_ms": 1000 * statistics.median(singles),
    }


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value  # a bare word such as "balanced" or "sqrt"


def apply_param_options(pipe: Pipeline, options: dict[str, str]) -> Pipeline:
    """Options named like scikit-learn parameters (``step__param``, e.g. ``hog__pixels_per_cell=4``)
    are set on the built pipeline; other options are the builder's to read."""
    params = {k: _literal(v) for k, v in options.items() if "__" in k}
    if params:
        valid = pipe.get_params(deep=True)
        bad = sorted(set(params) - set(valid))
        if bad:
            steps = [k for k in valid if "__" in k and k.split("__", 1)[0] not in ("steps", "memory")]
            raise MedbenchError(f"option {bad[0]!r} is not a parameter of this pipeline; valid names look like "
                                f"{', '.join(steps[:4])}, … (scikit-learn step__param)")
        pipe.set_params(**params)
    return pipe


def fit_and_evaluate(ds: Dataset, split: Split, job: Job, n_jobs: int = -1) -> dict[str, Any]:
    """Run one job and return its record (no I/O)."""
    spec = registry.get(job.pipeline)
    ctx = registry.BuildContext(n_classes=ds.n_classes, image_shape=ds.image_shape, seed=job.seed,
                                n_jobs=n_jobs, options=dict(job.options))
    pipe = apply_param_options(spec.build(ctx), job.options)
    X = {s: ds.images[split.indices(s)] for s in ("train", "val", "test")}
    y = {s: ds.labels[split.indices(s)] for s in ("train", "val", "test")}
    runtime: dict[str, Any] = {}
    cache.reset_stats()
    np.random.seed(job.seed)
    with PeakMemory() as mem:
        features = Pipeline(pipe.steps[:-1]) if len(pipe.steps) > 1 else None
        final_name, final = pipe.steps[-1]
        with timer(runtime, "feature_time_s"):
            if features is not None:
                Xt = {"train": features.fit_transform(X["train"], y["train"])}
                Xt.update({s: features.transform(X[s]) for s in ("val", "test")})
            else:
                Xt = dict(X)
        runtime["feature_cache"] = cache.stats()
        tuning, best, best_score = [], None, None
        with timer(runtime, "fit_time_s"):
            for params in ParameterGrid(spec.param_grid) if spec.param_grid else [{}]:
                est = clone(final).set_params(**params)
                _fit_final(est, Xt["train"], y["train"], (Xt["val"], y["val"]))
                p_val = est.predict_proba(Xt["val"])
                score = _val_score(y["val"], p_val, ds.n_classes, ds.positive_class)
                tuning.append({"params": params, "val_roc_auc": score[0], "val_balanced_accuracy": score[1]})
                if best_score is None or score > best_score:
                    best, best_score, best_p_val, best_params = est, score, p_val, params
        runtime["n_candidates"] = len(tuning)
        with timer(runtime, "predict_time_s"):
            proba = best.predict_proba(Xt["test"])
        fitted = Pipeline((features.steps if features is not None else []) + [(final_name, best)])
        runtime.update(_latency(fitted, X["test"]))
        runtime["model_size_bytes"] = _model_size(fitted)
    runtime["peak_rss_mb"] = mem.peak_mb
    threshold = None
    if ds.n_classes == 2:
        positive = 1 if ds.positive_class is None else ds.positive_class
        threshold = choose_threshold(y["val"], best_p_val, positive)
        y_pred = predict_with_threshold(proba, threshold["threshold"], positive)
    else:
        positive = None
        y_pred = proba.argmax(axis=1)
    variant = getattr(best, "variant_", None)
    return {
        "pipeline": job.pipeline,
        "name": f"{job.pipeline} ({variant})" if variant else job.pipeline,
        "variant": variant,
        "family": spec.family,
        "summary": spec.summary,
        "seed": job.seed,
        "options": dict(job.options),
        "steps": [name for name, _ in fitted.steps],
        "params": best_params,
        "tuning": tuning,
        "threshold": threshold,
        "metrics": classification_metrics(y["test"], y_pred, proba, ds.class_names, positive),
        "val_metrics": classification_metrics(
            y["val"], predict_with_threshold(best_p_val, threshold and threshold["threshold"], positive),
            best_p_val, ds.class_names, positive),
        "runtime": runtime,
        "model_info": getattr(best, "report_info_", {}) or {},
        "predictions": {
            "ids": ds.ids[split.test].tolist(),
            "y_true": y["test"].tolist(),
            "y_pred": y_pred.tolist(),
            "proba": np.round(proba, 6).tolist(),
        },
    }


def run_job(ds: Dataset, split: Split, job: Job, out_dir: Path, n_jobs: int = -1,
            split_fingerprint: str | None = None, reuse: bool = True) -> dict[str, Any]:
    """Run ``job`` unless its cached record exists; write and return the record.

    A :class:`MedbenchError` (e.g. a pipeline refusing to run without its weights) or any other
    exception is recorded as ``status: "error"`` with its message, so the rest of the run goes on.
    """
    fp = split_fingerprint or split.fingerprint(ds)
    key = job.key(ds, fp)
    if reuse and (cached := load_cached(out_dir, job, key)) is not None:
        cached["cached"] = True
        return cached
    t0 = time.perf_counter()
    base = {"job_id": job.job_id, "key": key, "pipeline": job.pipeline, "seed": job.seed,
            "options": dict(job.options), "split_fingerprint": fp, "dataset_fingerprint": ds.fingerprint}
    try:
        record = {**base, "status": "ok", **fit_and_evaluate(ds, split, job, n_jobs)}
    except MedbenchError as exc:
        record = {**base, "status": "error", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken pipeline must not lose the others' results
        record = {**base, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
    record["wall_time_s"] = time.perf_counter() - t0
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(job_path(out_dir, job), record)
    record["cached"] = False
    return record
