"""The correctness checks of the timing benchmarks (tests/benchmarks, marker ``perf``, which CI does not
run), as ordinary tests: the same properties at a size the fast suite affords; the timings stay in perf.

* a saved-and-reloaded classical pipeline predicts the same probabilities as the in-memory one with the
  feature cache off (features computed, as for new images) on a batch of test, validation and training
  images (tests/benchmarks/test_predict_throughput.py times this);
* loading an image folder from the decoded-image cache makes no in-memory copy of the pixels: Python's
  traced allocations stay far below the pixel array (the pixels are a memory map), and the cached load has
  the cold load's fingerprint and images (tests/benchmarks/test_memory.py measures the peak RSS of 20,000
  images: <= 1.3x the pixel array; the copies it guards against made it about 3x).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from test_persist import FAST_OPTIONS, fit_like_runner

from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split
from medbench.features import cache
from medbench.running.predict import load_model, save_job_model
from medbench.running.runner import Job

PIPELINES = ["majority", "hog-svm", "hog-tree", "hog-xgboost",
             pytest.param("sift-svm", marks=pytest.mark.slow), pytest.param("sift-xgboost", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name", PIPELINES)
def test_saved_model_predicts_the_in_memory_probabilities_without_the_feature_cache(
        name, pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path):
    ds, split = pneumonia_small, pneumonia_small_split
    options = {k: v for part in name.split("-") for k, v in FAST_OPTIONS.get(part, {}).items()}
    job = Job(name, options=options)
    _, fitted, threshold = fit_like_runner(ds, split, job)
    model = load_model(save_job_model(tmp_path, fitted, ds, split, job, threshold))
    x = ds.images[np.concatenate([split.test, split.val, split.train])[:256]]
    with cache.disabled():
        expected = fitted.predict_proba(x)
        got = model.predict_proba(x)
    assert got.shape == expected.shape == (256, 2)
    assert np.abs(got - expected).max() <= 1e-6
    assert np.allclose(got.sum(axis=1), 1.0)


def test_a_cached_folder_load_makes_no_copy_of_the_pixels(make_image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    spec = f"folder:{make_image_folder(60, name='mem')}"
    cold = load_dataset(spec, image_size=128)
    cold_images, cold_fp = np.array(cold.images), cold.fingerprint
    del cold
    tracemalloc.start()
    try:
        cached = load_dataset(spec, image_size=128)
        fp = cached.fingerprint
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pixel_bytes = cached.images.nbytes
    assert pixel_bytes == 120 * 128 * 128
    assert peak <= 0.3 * pixel_bytes, f"cached load allocated {peak / pixel_bytes:.2f}x the pixel array"
    assert isinstance(cached.images, np.memmap) or isinstance(getattr(cached.images, "base", None), np.memmap)
    assert fp == cold_fp and len(cached) == 120
    assert np.array_equal(np.asarray(cached.images), cold_images)
