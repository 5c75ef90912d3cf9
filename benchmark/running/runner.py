"""The job runner: one (dataset, split, pipeline, seed) job at a time, each with its own cached output.

A job is independent: given the dataset, the split and a :class:`Job`, :func:`run_job` fits the
pipeline, tunes it on the validation split only, scores the test split once, measures runtime and
writes ``jobs/<job_id>.json`` atomically. A finished record is reused only when its key matches and
its body is intact. The key (:mod:`medbench.core.cachekeys`) covers the hash of the medbench source
that computes a job (core, features, models, runner, metrics; a plugin pipeline's own package too),
the library versions, the Keras backend, the dataset and split fingerprints, the pipeline, its
options and the seed, and whatever a step reports through ``cache_identity()`` (e.g. which weights
``imagenet-or-random`` resolved to). The body carries its own SHA-256, so an edited record is
recomputed, never reported. Each record stores its key inputs, so a re-run can say why it reused or
recomputed a job.

Unless ``--no-gallery``, a job also makes the pictures of its most confident test mistakes
(:mod:`medbench.running.gallery`) after every timing; :func:`finish` writes them under ``OUT/gallery/<key>/`` and a
record is reused only while its pictures are there, unchanged.
"""

from __future__ import annotations

import inspect
import pickle
import statistics
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline

from medbench import metrics_reloaded as reloaded
from medbench.core import cachekeys, settings
from medbench.core.atomic import json_roundtrip, read_json, write_json
from medbench.core.errors import MedbenchError
from medbench.core.profiling import PeakMemory, timer
from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split
from medbench.features import cache
from medbench.metrics import (
    PROBA_DECIMALS,
    choose_threshold,
    predict_with_threshold,
    roc_auc,
)
from medbench.models import model_cache, persist, prefix_cache, registry
from medbench.records import jobs as records
from medbench.records.jobs import TEST_SPLIT
from medbench.records.view import job_id as make_job_id
from medbench.running import gallery as gallery_mod
from medbench.running import predict
from medbench.shift import plan as shift_mod
from medbench.shift import recompute, scores_cache
from medbench.shift.external import entry_metrics

LATENCY_BATCH = 256
LATENCY_SINGLE = 10
#: The medbench code a job record depends on (its source hash is part of every job key).
JOB_CODE = ("medbench.core", "medbench.features", "medbench.models", "medbench.running.runner", "medbench.metrics",
            "medbench.metrics_reloaded",
            "medbench.core.profiling", "medbench.running.gallery")
JOB_LIBS = tuple(dict.fromkeys(cachekeys.LIBS_CLASSICAL + cachekeys.LIBS_DEEP))
_VOLATILE = ("cached", "cache_reason", "body_sha256")
#: The binary threshold of ``--protocol medmnist``: ACC at 0.5 (= the arg-max of two probabilities).
FIXED_THRESHOLD = {"threshold": 0.5, "method": "fixed 0.5 (--protocol medmnist)"}


@dataclass(frozen=True)
class Job:
    pipeline: str
    seed: int = 0
    options: dict[str, str] = field(default_factory=dict)
    threshold_rule: str = "youden"  # binary tasks: "youden" (chosen on validation) or "fixed-0.5" (--protocol)

    @property
    def job_id(self) -> str:
        return make_job_id(self.pipeline, self.seed)

    def key_inputs(self, ds: Dataset, split_fingerprint: str, identity: dict[str, Any] | None = None,
                   shift: shift_mod.Shift | None = None) -> dict[str, Any]:
        plugin = registry.plugin_of(self.pipeline)
        # the model's key: --external / --robustness only score the fitted model (the record's ``shift_key``
        # says what its external / robustness entries answer; see :func:`plan_job`), so ``shift`` is not in it
        extra: dict[str, Any] = {}
        if self.threshold_rule != "youden":  # --protocol medmnist (absent: keys unchanged)
            extra["threshold_rule"] = self.threshold_rule
        return cachekeys.key_inputs(
            "job", code=JOB_CODE + ((plugin,) if plugin else ()), libs=JOB_LIBS,
            keras_backend=settings.keras_backend(), dataset=ds.fingerprint, split=split_fingerprint,
            pipeline=self.pipeline, seed=self.seed, options=self.options, identity=identity or {}, **extra)

    def key(self, ds: Dataset, split_fingerprint: str, identity: dict[str, Any] | None = None,
            shift: shift_mod.Shift | None = None) -> str:
        return cachekeys.digest(self.key_inputs(ds, split_fingerprint, identity, shift))




def shift_key(shift: shift_mod.Shift | None) -> dict[str, Any] | None:
    """What a record's ``external`` / ``robustness`` entries answer: the shift settings and the code that scores
    them (None without --external / --robustness)."""
    if shift is None or not shift.active:
        return None
    return {"shift": json_roundtrip(shift.key()), "code": cachekeys.source_hash(*shift_mod.CODE)}


def quiet_metrics(y_true, y_pred, proba, class_names, positive) -> dict[str, Any]:
    """:func:`classification_metrics` without scikit-learn's warnings on a split lacking a class."""
    return entry_metrics(y_true, y_pred, proba, class_names, positive, "the validation split")[0]


def job_path(out_dir: Path, job: Job) -> Path:
    return Path(out_dir) / "jobs" / f"{job.job_id}.json"


def body_digest(record: dict[str, Any]) -> str:
    """SHA-256 of a record's body (everything but the volatile bookkeeping fields)."""
    return cachekeys.digest({k: v for k, v in record.items() if k not in _VOLATILE})


def load_cached(out_dir: Path, job: Job, inputs: dict[str, Any], ds: Dataset | None = None
                ) -> tuple[dict[str, Any] | None, str]:
    """``(record, why)``: the finished record for ``job`` if it may be reused, else ``None`` and the reason.

    With ``ds``, the record's headline metrics are recomputed from its stored test predictions and a
    record whose numbers disagree is recomputed (even with a re-sealed body digest)."""
    path = job_path(out_dir, job)
    if not path.exists():
        return None, "not run before"
    try:
        record = read_json(path, "job record")
    except (OSError, ValueError, RecursionError):
        return None, f"{path.name} is unreadable"
    if not isinstance(record, dict) or record.get("status") != "ok":
        return None, "the earlier attempt failed"
    if (bad := records.problem(record, records.JOB_RECORD_SCHEMA, path.name)) is not None:
        return None, f"it does not match the job record schema ({bad})"
    if record.get("body_sha256") != body_digest(record):
        return None, f"{path.name} was edited or damaged (body digest mismatch)"
    if record.get("key") != cachekeys.digest(inputs):
        return None, cachekeys.explain(record.get("key_inputs"), inputs)
    if ds is not None:
        positive = (1 if ds.positive_class is None else ds.positive_class) if ds.n_classes == 2 else None
        wrong = recompute.record_disagreement(record, ds.class_names, positive)  # headline, threshold, external
        if wrong is not None:
            return None, f"{path.name} does not add up: {wrong}"
    return record, "same inputs"


def _accepts(fn, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _fit_final(est, Xt, y, val) -> Any:
    if _accepts(est.fit, "validation_data"):
        return est.fit(Xt, y, validation_data=val)
    return est.fit(Xt, y)


def _fit_features(features: Pipeline, X: dict[str, np.ndarray], y_train: np.ndarray
                  ) -> tuple[Pipeline, dict[str, np.ndarray]]:
    Xt = {"train": features.fit_transform(X["train"], y_train)}
    Xt.update({s: features.transform(X[s]) for s in ("val", "test")})
    return features, Xt


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


def take(images: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``images[idx]``, as a view (no copy of a memory-mapped array) when ``idx`` is a contiguous ascending run."""
    idx = np.asarray(idx)
    if idx.size and idx[-1] - idx[0] == idx.size - 1 and np.all(np.diff(idx) == 1):
        return images[int(idx[0]):int(idx[-1]) + 1]
    return images[idx]


def _grid(spec: registry.PipelineSpec, final_name: str, pinned: dict[str, Any]) -> list[dict[str, Any]]:
    """The validation grid (``step__param`` keys of the final step), less what ``--option`` pinned."""
    bad = [k for k in spec.param_grid if k.split("__", 1)[0] != final_name]
    if bad:
        raise MedbenchError(f"pipeline {spec.name}: grid key {bad[0]!r} is not a parameter of its final step "
                            f"{final_name!r} (use {final_name}__PARAM)")
    grid = {k: v for k, v in spec.param_grid.items() if k not in pinned}
    return list(ParameterGrid(grid)) if grid else [{}]


def build(job: Job, n_classes: int, image_shape: tuple[int, int], n_jobs: int = -1
          ) -> tuple[registry.PipelineSpec, Pipeline, dict[str, Any]]:
    """``(spec, pipeline, resolved options)`` for ``job``: built and with its options applied and checked."""
    spec = registry.get(job.pipeline)
    ctx = registry.BuildContext(n_classes=n_classes, image_shape=image_shape, seed=job.seed, n_jobs=n_jobs)
    pipe = spec.build(ctx)
    return spec, pipe, registry.apply_options(spec, pipe, job.options)


def option_defaults(spec: registry.PipelineSpec, ds: Dataset, job: Job, resolved: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's own default of every parameter an option set (``{step__param: default}``)."""
    ctx = registry.BuildContext(n_classes=ds.n_classes, image_shape=ds.image_shape, seed=job.seed)
    params = spec.build(ctx).get_params(deep=True)
    out = {}
    for key in resolved:
        value = params.get(key)
        out[key] = value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)
    return out


def identity(pipe: Pipeline) -> dict[str, Any]:
    """What the steps' ``cache_identity()`` report (e.g. the weights a transfer model will load)."""
    out = {}
    for name, step in pipe.steps:
        fn = getattr(step, "cache_identity", None)
        if callable(fn):
            out[name] = fn()
    return out


def fit_and_evaluate(ds: Dataset, split: Split, job: Job, n_jobs: int = -1, *, save_model_to: Path | None = None,
                     job_key: str | None = None, split_fingerprint: str | None = None,
                     gallery: bool = True, shift: shift_mod.Shift | None = None,
                     key_inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one job and return its record (no I/O, unless ``save_model_to`` asks to save the fitted pipeline
    under ``save_model_to/models/<job id>/``). With ``gallery``, the record also carries its most confident
    test mistakes (:mod:`medbench.running.gallery`): captions under ``gallery``, PNG bytes under ``_gallery_png``
    (written by :func:`finish`). ``shift``: external sets / corrupted test copies to score too. With ``job_key``
    and ``key_inputs``, the fitted pipeline is kept in the cache (:mod:`medbench.models.model_cache`) so that a
    later run can score new sets with it, and the scores are cached (:mod:`medbench.shift.scores_cache`)."""
    spec, pipe, resolved = build(job, ds.n_classes, ds.image_shape, n_jobs)
    X = {s: take(ds.images, split.indices(s)) for s in ("train", "val", "test")}
    y = {s: ds.labels[split.indices(s)] for s in ("train", "val", "test")}
    runtime: dict[str, Any] = {}
    cache.reset_stats()
    np.random.seed(job.seed)
    with PeakMemory() as mem:
        features = Pipeline(pipe.steps[:-1]) if len(pipe.steps) > 1 else None
        final_name, final = pipe.steps[-1]
        with timer(runtime, "feature_time_s"):
            if features is not None:  # an equal prefix fitted on the same data is shared (models.prefix_cache)
                features, Xt, runtime["prefix_cache"] = prefix_cache.fit_transform(
                    features, X, y["train"], job.seed, lambda: _fit_features(features, X, y["train"]))
            else:
                Xt = dict(X)
        runtime["feature_cache"] = cache.stats()
        tuning, best, best_score = [], None, None
        pinned = {k: v for k, v in resolved.items() if k in spec.param_grid}
        with timer(runtime, "fit_time_s"):
            for params in _grid(spec, final_name, pinned):
                est = clone(final).set_params(**{k.split("__", 1)[1]: v for k, v in params.items()})
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
        threshold = (dict(FIXED_THRESHOLD) if job.threshold_rule == "fixed-0.5"
                     else choose_threshold(y["val"], best_p_val, positive))
        # Metrics Reloaded's sensitivity at fixed specificity: its thresholds are chosen on validation too
        threshold["at_specificity"] = reloaded.thresholds_at_specificity(y["val"], best_p_val, positive)
        y_pred = predict_with_threshold(proba, threshold["threshold"], positive)
    else:
        positive = None
        y_pred = proba.argmax(axis=1)
    variant = getattr(best, "variant_", None)
    saved = None
    if save_model_to is not None:
        try:
            saved = str(predict.save_job_model(save_model_to, fitted, ds, split, job, threshold, family=spec.family,
                                               summary=spec.summary, params={**best_params, **pinned},
                                               split_fingerprint=split_fingerprint, job_key=job_key)
                        .relative_to(save_model_to))
        except MedbenchError as exc:  # e.g. a plugin step that cannot be saved safely: the job still counts
            saved = f"not saved: {exc}"
    pictures: dict[str, Any] = {}
    if gallery:  # after every timing: the pictures cost the run, never the job's runtime figures
        made, png = gallery_mod.make(fitted.steps, spec.family, X["test"], ds.ids[split.test].tolist(), y["test"],
                                     y_pred, proba, job_key or "0" * 64)
        pictures = {"gallery": made, "_gallery_png": png}
    # a test split lacking a class: the metrics it cannot define are None and say why (as on an external set)
    test_metrics, undefined = entry_metrics(y["test"], y_pred, proba, ds.class_names, positive, TEST_SPLIT,
                                            threshold and threshold.get("at_specificity"))
    # this fit's identity: the kept model's manifest digest (or a fresh random id when it is not kept); scores
    # are cached under it, and a later run scores new sets only with this very model (see :func:`rescore`)
    fit_id = (model_cache.save(job_key, key_inputs, fitted) if job_key and key_inputs else None) or uuid.uuid4().hex
    scorer = scores_cache.Scorer(f"{job_key}:{fit_id}", lambda: fitted) if job_key else fitted
    shifted = {} if shift is None or not shift.active else shift.score(
        scorer, X["test"], y["test"], ds.class_names, threshold and threshold["threshold"], positive, job.seed,
        test_metrics, threshold and threshold.get("at_specificity"))
    if shifted:
        shifted["shift_key"] = shift_key(shift)
    return {
        "pipeline": job.pipeline,
        "name": f"{job.pipeline} ({variant})" if variant else job.pipeline,
        "variant": variant,
        "family": spec.family,
        "summary": spec.summary,
        "seed": job.seed,
        "options": dict(job.options),
        "steps": [name for name, _ in fitted.steps],
        "params": {**best_params, **pinned},
        "fixed_by_option": pinned,
        "resolved_options": resolved,
        "option_defaults": option_defaults(spec, ds, job, resolved),  # what the options changed (the verdict)
        "tuning": tuning,
        "threshold": threshold,
        "metrics": test_metrics,
        **({"undefined": undefined} if undefined else {}),
        # a likelihood ratio dividing by zero at the operating point: null, and why (medbench.metrics_reloaded)
        **({"metric_notes": notes} if (notes := reloaded.undefined_reasons(test_metrics, ds.n_classes)) else {}),
        "val_metrics": quiet_metrics(
            y["val"], predict_with_threshold(best_p_val, threshold and threshold["threshold"], positive),
            best_p_val, ds.class_names, positive),
        "runtime": runtime,
        "model_info": getattr(best, "report_info_", {}) or {},
        "model_origin": "fitted",
        "fit_id": fit_id,
        **({"saved_model": saved} if saved is not None else {}),
        **shifted,
        "predictions": {
            "ids": ds.ids[split.test].tolist(),
            "y_true": y["test"].tolist(),
            "y_pred": y_pred.tolist(),
            "proba": np.round(proba, PROBA_DECIMALS).tolist(),
        },
        **pictures,
    }


@dataclass
class Planned:
    """A job about to run (or reused): its key inputs, why it runs, and its pipeline family."""

    job: Job
    inputs: dict[str, Any]
    reason: str
    family: str
    split_fingerprint: str
    cached: dict[str, Any] | None = None
    save_model_to: Path | None = None  # the run's OUT when --save-models
    gallery: bool = True  # make the error gallery (--no-gallery: off)
    shift: shift_mod.Shift | None = None  # --external / --robustness
    rescore: dict[str, Any] | None = None  # a finished record of this key whose shift entries must be redone


def plan_job(ds: Dataset, split: Split, job: Job, out_dir: Path, n_jobs: int = -1,
             split_fingerprint: str | None = None, reuse: bool = True, save_models: bool = False,
             gallery: bool = True, shift: shift_mod.Shift | None = None) -> Planned:
    """Key ``job`` and look for a reusable record (no fitting). Unknown pipelines/options raise here.

    With ``save_models``, a record is reused only if the model saved beside it was made by the same job key.
    With ``gallery``, only if its error-gallery pictures are all there, unchanged (else the job runs again:
    the pictures need the fitted model).
    """
    fp = split_fingerprint or split.fingerprint(ds)
    spec, pipe, _ = build(job, ds.n_classes, ds.image_shape, n_jobs)
    inputs = job.key_inputs(ds, fp, identity(pipe), shift)
    save_to = Path(out_dir) if save_models else None
    if not reuse:
        return Planned(job, inputs, "--fresh", spec.family, fp, None, save_to, gallery, shift)
    cached, reason = load_cached(out_dir, job, inputs, ds)
    if cached is not None and save_models and persist.saved_job_key(
            persist.model_dir(out_dir, job.pipeline, job.seed)) != cachekeys.digest(inputs):
        cached, reason = None, "no saved model for this job (--save-models)"
    if cached is not None and gallery and (why := gallery_mod.intact(out_dir, cached.get("gallery"))):
        cached, reason = None, f"{job.job_id}.json: {why} (the pictures are remade with the job)"
    if cached is not None and cached.get("shift_key") != shift_key(shift):  # same model, other sets to score
        what = ("scored on this run's --external / --robustness sets with its fitted model" if shift_key(shift)
                else "its --external / --robustness results left out")
        return Planned(job, inputs, f"same model; {what}", spec.family, fp, None, save_to, gallery, shift,
                       rescore=cached)
    return Planned(job, inputs, reason, spec.family, fp, cached, save_to, gallery, shift)


def execute(ds: Dataset, split: Split, planned: Planned, n_jobs: int = -1) -> dict[str, Any]:
    """Fit and score a planned job; return its record (no I/O, so it can run on another machine).

    A :class:`MedbenchError` (e.g. a pipeline refusing to run without its weights) or any other
    exception is recorded as ``status: "error"`` with its message, so the rest of the run goes on.
    """
    job = planned.job
    t0 = time.perf_counter()
    base = {"job_id": job.job_id, "key": cachekeys.digest(planned.inputs), "key_inputs": planned.inputs,
            "pipeline": job.pipeline, "family": planned.family, "seed": job.seed, "options": dict(job.options),
            "split_fingerprint": planned.split_fingerprint, "dataset_fingerprint": ds.fingerprint}
    try:
        rescored = rescore(ds, split, planned) if planned.rescore is not None else None
        record = rescored if rescored is not None else {**base, "status": "ok", **fit_and_evaluate(
            ds, split, job, n_jobs, save_model_to=planned.save_model_to, job_key=base["key"],
            split_fingerprint=planned.split_fingerprint, gallery=planned.gallery, shift=planned.shift,
            key_inputs=planned.inputs)}
    except MedbenchError as exc:
        record = {**base, "status": "error", "error": str(exc),
                  **({"remedy": exc.remedy} if isinstance(getattr(exc, "remedy", None), dict) else {})}
    except Exception as exc:  # noqa: BLE001 - one broken pipeline must not lose the others' results
        record = {**base, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
    record["wall_time_s"] = time.perf_counter() - t0
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return record


def rescore(ds: Dataset, split: Split, planned: Planned) -> dict[str, Any] | None:
    """The finished record ``planned.rescore`` (same job key) with its ``external`` / ``robustness`` entries made
    for this run's shift settings, without fitting: scores come from :mod:`medbench.shift.scores_cache`, or from
    the fitted model kept by :mod:`medbench.models.model_cache`. None when a score is missing and no kept model
    verifies (the job is then fitted again)."""
    old = planned.rescore or {}
    record = {k: v for k, v in old.items() if k not in (*_VOLATILE, "external", "robustness", "shift_key",
                                                        "wall_time_s", "finished")}
    record["model_origin"] = "reused"
    shift = planned.shift
    if shift is None or not shift.active:
        return record
    key, fit_id = cachekeys.digest(planned.inputs), old.get("fit_id")
    if old.get("key") != key or not isinstance(fit_id, str):
        return None  # a record made before fits had an id: fitted again

    def kept() -> Pipeline:
        fitted = model_cache.load(key, fit_id)
        if fitted is None:
            raise _NoModel
        return fitted

    test = split.indices("test")
    threshold = old.get("threshold")
    positive = (1 if ds.positive_class is None else ds.positive_class) if ds.n_classes == 2 else None
    try:
        shifted = shift.score(scores_cache.Scorer(f"{key}:{fit_id}", kept), take(ds.images, test),
                              ds.labels[test], ds.class_names, threshold and threshold["threshold"], positive,
                              planned.job.seed, old["metrics"], threshold and threshold.get("at_specificity"))
    except _NoModel:
        return None
    return {**record, **shifted, "shift_key": shift_key(shift)}


class _NoModel(Exception):
    """No kept fitted model for a score the cache does not hold (the job is fitted again)."""


def error_record(ds: Dataset, planned: Planned, message: str) -> dict[str, Any]:
    """The record of a job that could not run at all (e.g. its worker died twice)."""
    job = planned.job
    return {"job_id": job.job_id, "key": cachekeys.digest(planned.inputs), "key_inputs": planned.inputs,
            "pipeline": job.pipeline, "family": planned.family, "seed": job.seed, "options": dict(job.options),
            "split_fingerprint": planned.split_fingerprint, "dataset_fingerprint": ds.fingerprint,
            "status": "error", "error": message, "wall_time_s": 0.0,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def finish(record: dict[str, Any], planned: Planned, out_dir: Path) -> dict[str, Any]:
    """Seal ``record`` with its body digest, write it (and its gallery pictures) atomically under ``out_dir``,
    return it. The pictures of the job's previous record, when keyed differently, are removed."""
    png = record.pop("_gallery_png", None) or {}
    gallery_mod.write(out_dir, record.get("gallery"), png)
    gallery_mod.forget_previous(out_dir, job_path(out_dir, planned.job), record.get("gallery"))
    record = json_roundtrip(record)  # exactly what the file will hold, so its digest checks on reload
    record["body_sha256"] = body_digest(record)
    write_json(job_path(out_dir, planned.job), record)
    return {**record, "cached": False, "cache_reason": planned.reason}


def run_job(ds: Dataset, split: Split, job: Job, out_dir: Path, n_jobs: int = -1,
            split_fingerprint: str | None = None, reuse: bool = True, gallery: bool = True) -> dict[str, Any]:
    """Run ``job`` here unless its intact record with the same key exists; write and return the record.

    The returned record has ``cached`` (reused or not) and ``cache_reason`` (why it was recomputed,
    when an earlier record existed).
    """
    planned = plan_job(ds, split, job, out_dir, n_jobs, split_fingerprint, reuse, gallery=gallery)
    if planned.cached is not None:
        return {**planned.cached, "cached": True, "cache_reason": planned.reason}
    return finish(execute(ds, split, planned, n_jobs), planned, out_dir)
