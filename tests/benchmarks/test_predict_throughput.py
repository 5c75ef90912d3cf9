"""Prediction throughput of a saved-and-reloaded pipeline against the in-memory one (pytest-benchmark).

Per pipeline: fitted as the runner fits it on the real PneumoniaMNIST subset of tests/conftest.py
(``pneumonia_small``: 300 train / 100 val / 150 test images, official split), saved with
:func:`medbench.running.predict.save_job_model` and loaded with :func:`medbench.running.predict.load_model` (load time
reported separately, in ``extra_info``). The benchmark times ``SavedModel.predict_proba`` on 256 real
images (the 150 test, 100 validation and 6 training images). For the ratio, the loaded model and the
in-memory ``Pipeline.predict_proba`` are timed in alternation on the same images (best of at least 3
rounds and about 1 s each), both with the feature cache off (features computed, as for new images) and
on one thread. ``extra_info`` holds both best times, the throughputs and their ratio (goal: >= 0.8
once loaded); the test fails below :data:`MIN_RATIO`. A smaller SIFT codebook and
fewer XGBoost rounds than the defaults keep the fixture fast; what is timed is the same code.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split
from medbench.features import cache
from medbench.metrics import choose_threshold
from medbench.running.predict import load_model, save_job_model
from medbench.running.runner import Job, build

pytestmark = pytest.mark.perf
BATCH = 256
ROUNDS = 3
MAX_ROUNDS = 200
RATIO_BUDGET_S = 1.0
MIN_RATIO = 0.8
OPTIONS = {"sift": {"n_words": "64"}, "xgboost": {"n_estimators": "150"}, "cnn": {"epochs": "1"}}
PIPELINES = ["majority", "hog-svm", "hog-tree", "hog-xgboost", "sift-svm", "sift-tree", "sift-xgboost",
             pytest.param("cnn", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Every benchmark in this module times one thread's work."""


def _fit(name: str, ds: Dataset, split: Split) -> tuple[Pipeline, dict]:
    """As ``runner.fit_and_evaluate`` fits (features on train, final step with the validation split), no grid."""
    options = {k: v for part in name.split("-") for k, v in OPTIONS.get(part, {}).items()}
    _, pipe, _ = build(Job(name, options=options), ds.n_classes, ds.image_shape, n_jobs=1)
    x = {s: ds.images[split.indices(s)] for s in ("train", "val")}
    y = {s: ds.labels[split.indices(s)] for s in ("train", "val")}
    features = Pipeline(pipe.steps[:-1]) if len(pipe.steps) > 1 else None
    xt_train = features.fit_transform(x["train"], y["train"]) if features else x["train"]
    xt_val = features.transform(x["val"]) if features else x["val"]
    step, final = pipe.steps[-1]
    if "validation_data" in inspect.signature(final.fit).parameters:
        final.fit(xt_train, y["train"], validation_data=(xt_val, y["val"]))
    else:
        final.fit(xt_train, y["train"])
    fitted = Pipeline((features.steps if features else []) + [(step, final)])
    return fitted, choose_threshold(y["val"], final.predict_proba(xt_val), ds.positive_class)


def _best_times(first, second, x) -> tuple[float, float]:
    """Best wall times of ``first(x)`` and ``second(x)``, timed in alternation (same machine load for both)
    for at least :data:`ROUNDS` rounds and about :data:`RATIO_BUDGET_S` seconds each (fast pipelines take
    milliseconds: many rounds make their minimum stable)."""
    best = [float("inf"), float("inf")]
    rounds, r = ROUNDS, 0
    while r < rounds:
        for i, fn in enumerate((first, second)):
            t0 = time.perf_counter()
            fn(x)
            best[i] = min(best[i], time.perf_counter() - t0)
        if r == 0:
            rounds = max(ROUNDS, min(MAX_ROUNDS, math.ceil(RATIO_BUDGET_S / max(best))))
        r += 1
    return best[0], best[1]


@pytest.mark.parametrize("name", PIPELINES)
def test_saved_model_predict_throughput(benchmark, pneumonia_small: Dataset, pneumonia_small_split: Split,
                                        tmp_path, name):
    ds, split = pneumonia_small, pneumonia_small_split
    fitted, threshold = _fit(name, ds, split)
    folder = save_job_model(tmp_path, fitted, ds, split, Job(name), threshold)
    t0 = time.perf_counter()
    model = load_model(folder)
    load_s = time.perf_counter() - t0
    x = ds.images[np.concatenate([split.test, split.val, split.train])[:BATCH]]  # 150 test, 100 val, 6 train
    model.predict_proba(x[:2])  # warm-up, as the runner's latency figures (lazy initialisation, tracing)
    with cache.disabled():
        fitted.predict_proba(x[:2])
        expected = fitted.predict_proba(x)
        in_memory_s, loaded_s = _best_times(fitted.predict_proba, model.predict_proba, x)
    proba = benchmark.pedantic(model.predict_proba, args=(x,), rounds=ROUNDS, iterations=1)
    ratio = in_memory_s / loaded_s  # throughput loaded / in memory
    benchmark.extra_info.update({
        "images": BATCH, "load_time_s": round(load_s, 4), "loaded_best_s": round(loaded_s, 5),
        "in_memory_best_s": round(in_memory_s, 5), "loaded_img_per_s": round(BATCH / loaded_s, 1),
        "in_memory_img_per_s": round(BATCH / in_memory_s, 1), "throughput_ratio": round(ratio, 3),
    })
    print(f"\n{name}: load {load_s:.3f} s; loaded {BATCH / loaded_s:.0f} img/s, in memory "
          f"{BATCH / in_memory_s:.0f} img/s, ratio {ratio:.2f}")
    # same probabilities as in memory: checked where CI runs it (tests/test_perf_correctness.py; cnn:
    # tests/test_persist.py::test_reloaded_cnn_reproduces_probabilities); here only a guard that the
    # timed call is the right one
    assert proba.shape == (BATCH, 2) and np.abs(proba - expected).max() <= 1e-3
    assert ratio >= MIN_RATIO, f"{name}: the loaded model predicts at {ratio:.2f}x the in-memory throughput"
