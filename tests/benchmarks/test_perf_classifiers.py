"""Timing micro-benchmarks of each classifier's ``predict_proba`` on a batch of 256 HOG feature vectors
(pytest-benchmark), with the classifiers medbench builds (models.classifiers), fitted on 800 real
PneumoniaMNIST training images (validation: 200 images; XGBoost: one thread, at most 200 rounds, to
keep the fixture fast and the timing independent of the core count). Skipped when the data is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from medbench.features.hog import _hog_one
from medbench.models import classifiers

pytestmark = pytest.mark.perf
N_TRAIN, N_VAL, BATCH = 800, 200, 256


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Every benchmark in this module times one thread's work."""


def _hog(x: np.ndarray) -> np.ndarray:
    params = {"image_size": 28, "orientations": 9, "pixels_per_cell": 4, "cells_per_block": 2}
    return np.stack([_hog_one(img, **params) for img in x])


@pytest.fixture(scope="module")
def data(pneumonia_parts) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    parts = pneumonia_parts(N_TRAIN, N_VAL, BATCH)
    scaler = StandardScaler().fit(_hog(parts["train"][0]))
    return {s: (scaler.transform(_hog(x)).astype(np.float32), y) for s, (x, y) in parts.items()}


def _fitted(name: str, data) -> object:
    x, y = data["train"]
    if name == "svm":
        return classifiers.svm(0).fit(x, y, validation_data=data["val"])
    if name == "tree":
        return classifiers.tree(0).set_params(max_depth=12).fit(x, y)
    xgb = classifiers.xgboost(0, n_jobs=1).set_params(n_estimators=200)
    return xgb.fit(x, y, validation_data=data["val"])


@pytest.mark.parametrize("name", ["svm", "tree", "xgboost"])
def test_predict_proba_batch(benchmark, data, name):
    model = _fitted(name, data)
    x_test = data["test"][0]
    proba = benchmark(model.predict_proba, x_test)
    assert proba.shape == (BATCH, 2)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
