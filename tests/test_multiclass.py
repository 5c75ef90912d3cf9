"""Every classical pipeline on a real three-class task: CoronaHack etiology (normal / bacteria / virus),
a small stratified subset at 32 px. Multi-class paths (arg-max decisions, one-vs-rest AUC, XGBoost's
multi-class objective with early stopping) must work end to end, not only the binary ones."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from medbench.datasets import load_dataset
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.splits import make_split
from medbench.models import registry
from medbench.running.runner import Job, fit_and_evaluate

pytestmark = pytest.mark.slow  # seven real 3-class fits (about a minute); CI runs them in tox -e slow

PER_CLASS = {"train": 80, "val": 30, "test": 40}


@pytest.fixture(scope="module")
def etiology_small(shared_datasets) -> Dataset:
    full = load_dataset(f"coronahack:{shared_datasets / 'coronahack'}", task="etiology", image_size=32,
                        allow_missing=True)
    rng = np.random.default_rng(0)
    # The official split has no validation part: carve one from train, then take a few images per class.
    split = make_split(full, seed=0)
    idx, official = [], []
    for s in SPLITS:
        part = split.indices(s)
        for c in range(full.n_classes):
            members = part[full.labels[part] == c]
            take = rng.choice(members, PER_CLASS[s], replace=False)
            idx.extend(take)
            official.extend([s] * len(take))
    idx = np.array(idx)
    return Dataset(name="coronahack-etiology-small", spec=full.spec, title=full.title,
                   class_names=list(full.class_names), images=full.images[idx], labels=full.labels[idx],
                   ids=full.ids[idx], groups=full.groups[idx], official_split=np.array(official),
                   positive_class=None, task=full.task)


@pytest.mark.parametrize("name", [p.name for p in registry.resolve(["classical", "baseline"])])
def test_three_class_pipeline(name, etiology_small: Dataset):
    assert etiology_small.class_names == ["normal", "bacteria", "virus"]
    split = make_split(etiology_small, seed=0)
    with threadpool_limits(limits=1):
        rec = fit_and_evaluate(etiology_small, split, Job(name, seed=0), n_jobs=1)
    m = rec["metrics"]
    proba = np.array(rec["predictions"]["proba"])
    assert proba.shape == (len(split.test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert rec["threshold"] is None  # multi-class: arg-max, no binary threshold
    y_pred = np.array(rec["predictions"]["y_pred"])  # arg-max of the (unrounded) probabilities
    assert np.all(proba[np.arange(len(y_pred)), y_pred] >= proba.max(axis=1) - 1e-5)
    assert np.array(m["confusion_matrix"]).shape == (3, 3)
    assert "sensitivity" not in m
    assert m["roc_auc"] is not None and 0.0 <= m["roc_auc"] <= 1.0
    if name == "majority":
        assert m["roc_auc"] == pytest.approx(0.5)
    else:  # a real learner ranks better than chance (a single tree on 240 tiny images only just)
        assert m["roc_auc"] > 0.55, m["roc_auc"]
