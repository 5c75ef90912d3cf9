"""Small datasets: every classical pipeline and the majority baseline run end to end on a 40-image
folder of real chest X-rays (20 per class; the default split leaves a handful of validation images
per class). Internal folds adapt to what a split holds; where nothing can adapt (a class absent from
the validation split) the refusal is one line that names the class, its count and the option that
helps. Before, ``hog-svm`` and ``sift-svm`` failed here with scikit-learn's ``n_splits=5 cannot be
greater than the number of members in each class``."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets.splits import make_split
from medbench.models import registry
from medbench.models.classifiers import CalibratedSVC
from medbench.running.runner import Job, fit_and_evaluate

PIPELINES = [p.name for p in registry.resolve(["classical", "baseline"])]


@pytest.fixture
def tiny(make_image_folder):
    ds = load_dataset(f"folder:{make_image_folder(20, name='tiny')}", image_size=64)
    split = make_split(ds, seed=0)
    return ds, split


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("sift") else n
                                  for n in PIPELINES])
def test_classical_pipeline_runs_on_40_images(name, tiny):
    ds, split = tiny
    assert len(ds.labels) == 40
    val_counts = np.bincount(ds.labels[split.val], minlength=2)
    assert val_counts.min() < 5  # fewer than the 5 folds scikit-learn's calibration asked for
    with threadpool_limits(limits=1):
        rec = fit_and_evaluate(ds, split, Job(name, seed=0), n_jobs=1)
    proba = np.array(rec["predictions"]["proba"])
    assert proba.shape == (len(split.test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert 0.0 <= rec["metrics"]["roc_auc"] <= 1.0


def test_svm_calibration_with_one_validation_image_per_class(tiny):
    """The frozen SVM's validation scores are used whole: one image per class is enough."""
    ds, split = tiny
    x = ds.images.reshape(len(ds.images), -1).astype(np.float32) / 255.0
    y = ds.labels
    val = np.array([np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]])
    train = np.setdiff1d(np.arange(len(y)), val)
    est = CalibratedSVC().fit(x[train], y[train], validation_data=(x[val], y[val]))
    proba = est.predict_proba(x[train])
    assert proba.shape == (len(train), 2) and np.all((proba > 0) & (proba < 1))


def test_svm_refuses_a_validation_split_without_a_class_in_one_line(tiny):
    ds, _ = tiny
    x = ds.images.reshape(len(ds.images), -1).astype(np.float32) / 255.0
    y = ds.labels
    only_normal = np.flatnonzero(y == 0)[:3]
    with pytest.raises(MedbenchError) as err:
        CalibratedSVC().fit(x, y, validation_data=(x[only_normal], y[only_normal]))
    msg = str(err.value)
    assert "class 1 has 20 training images but 0 in the validation split" in msg
    assert "--val-fraction" in msg and "\n" not in msg


def test_svm_without_validation_adapts_its_folds():
    """No validation split: cross-validated calibration with as many folds as the rarest class allows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)) + np.repeat([[0.0], [2.0]], [10, 2], axis=0)
    y = np.repeat([0, 1], [10, 2])
    assert CalibratedSVC().fit(x, y).calibrated_.cv == 2
    with pytest.raises(MedbenchError, match="needs 2 training images per class; a class has 1"):
        CalibratedSVC().fit(x[:11], y[:11])
