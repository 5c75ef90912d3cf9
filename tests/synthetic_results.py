"""Small synthetic results.json documents, built in the shape benchmark/records/results.py documents, for tests
of reading, validating, comparing and rendering results without running a benchmark.

Scores are drawn per (pipeline, seed) from their own random stream, so changing one pipeline's
``strength`` (how well its scores separate the classes) leaves every other pipeline's job identical.
Metrics and statistics are computed by medbench itself from the generated predictions.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from medbench.evaluation import section as evaluation
from medbench.metrics import classification_metrics, predict_with_threshold
from medbench.records import results as results_mod
from medbench.records import view

PIPELINES = (("hog-svm", "classical", 2.0), ("cnn", "deep", 1.2), ("majority", "baseline", 0.0))
BINARY = ("normal", "pneumonia")


def _rng(*key: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def job(pipeline: str, seed: int, family: str, strength: float, class_names: tuple[str, ...], n: int,
        positive: int | None) -> dict[str, Any]:
    """One successful job record: predictions, metrics from them, runtime and a threshold (binary)."""
    k = len(class_names)
    y = np.arange(n) % k
    rng = _rng(pipeline, seed, k, n)
    logits = rng.normal(0, 1, (n, k)) + strength * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if strength == 0:  # a constant predictor (the majority floor)
        proba = np.tile(np.eye(k)[0] * 0.6 + 0.4 / k, (n, 1))
    proba = np.round(proba, 6)
    # binary: the operating point and the thresholds of the sensitivity at fixed specificity, as if chosen on validation
    threshold = {"threshold": 0.5, "method": "max Youden's J on validation", "youden_j": 0.4,
                 "at_specificity": {"sens_at_spec90": {"target": 0.9, "threshold": 0.7},
                                    "sens_at_spec95": {"target": 0.95, "threshold": 0.8}}} if k == 2 else None
    pred = predict_with_threshold(proba, 0.5 if k == 2 else None, positive)
    return {
        "job_id": view.job_id(pipeline, seed), "pipeline": pipeline, "name": pipeline, "family": family,
        "seed": seed, "status": "ok", "options": {}, "split_fingerprint": "s" * 64, "threshold": threshold,
        "metrics": classification_metrics(y, pred, proba, list(class_names), positive,
                                          threshold and threshold["at_specificity"]),
        "runtime": {"feature_time_s": 1.5, "fit_time_s": 2.0 + strength, "predict_time_s": 0.1,
                    "latency_ms_per_image": 0.5 + strength, "throughput_img_per_s": 2000.0 / (1 + strength),
                    "single_image_latency_ms": 3.0, "peak_rss_mb": 300.0, "model_size_bytes": 10_000},
        "model_info": {},
        "predictions": {"ids": [f"img{i}" for i in range(n)], "y_true": y.tolist(), "y_pred": pred.tolist(),
                        "proba": proba.tolist()},
    }


def make(pipelines=PIPELINES, seeds=(0,), class_names: tuple[str, ...] = BINARY, n: int = 60,
         n_resamples: int | None = 100, title: str = "Synthetic chest X-rays", spec: str = "synthetic",
         failed: tuple[tuple[str, str], ...] = (), created: str = "2026-01-01T00:00:00+0000",
         environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete results dict; with ``n_resamples`` its statistics section too. ``failed``: (pipeline,
    error) pairs recorded as failed jobs (seed of the first seed). ``environment``: keys to set in the
    environment section (e.g. ``git_commit``, ``gpus``)."""
    k = len(class_names)
    positive = 1 if k == 2 else None
    jobs = [job(p, s, fam, strength, class_names, n, positive) for p, fam, strength in pipelines for s in seeds]
    jobs += [{"job_id": view.job_id(p, seeds[0]), "pipeline": p, "seed": seeds[0], "family": "deep",
              "status": "error", "error": err} for p, err in failed]
    counts = {c: n // k + (i < n % k) for i, c in enumerate(class_names)}
    res = {
        "schema": results_mod.SCHEMA, "schema_version": results_mod.SCHEMA_VERSION, "medbench_version": "0.0.test",
        "created": created, "command": "medbench run --dataset synthetic",
        "config": {"pipelines": [p for p, _, _ in pipelines], "seeds": list(seeds)},
        "dataset": {"name": "synthetic", "spec": spec, "title": title, "task": "binary" if k == 2 else "multi-class",
                    "class_names": list(class_names), "positive_class": class_names[1] if k == 2 else None,
                    "n_images": 4 * n, "image_shape": [28, 28], "class_counts": {c: 4 * v for c, v in counts.items()},
                    "fingerprint": "f" * 64, "group_source": "none", "n_groups": 4 * n,
                    "source": {"url": "https://example.org/data"}, "problems": {}},
        "split": {"fingerprint": "s" * 64, "method": "official", "seed": 0, "notes": [], "manifest": "split.json",
                  "counts": {"train": {c: 2 * v for c, v in counts.items()}, "val": dict(counts),
                             "test": dict(counts)}},
        "environment": {"cpu": "test CPU", "cpu_count": 2, "memory_gb": 8.0, "python": "3.11", "platform": "test",
                        "keras_backend": "tensorflow", "libraries": {"numpy": "2"}, **(environment or {})},
        "jobs": jobs,
    }
    if n_resamples:
        res = evaluation.add_statistics(res, n_resamples=n_resamples, seed=0)
    return json.loads(json.dumps(res))  # as read back from the file


def write(res: dict[str, Any], folder: Path) -> Path:
    """``folder/results.json`` (NaN / Infinity written as Python's json writes them); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(res), encoding="utf-8")
    return folder


def find(res: dict[str, Any], pipeline: str, seed: int = 0) -> dict[str, Any]:
    return next(j for j in res["jobs"] if j["pipeline"] == pipeline and j["seed"] == seed)
