"""The MedMNIST facts in ``info.py`` are coherent: official URLs on the MedMNIST Zenodo record, MD5s of
the right form, split sizes, label names, tasks, channels and published figures that make sense; and
the one set that is here for real (PneumoniaMNIST) matches its facts exactly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from medbench.datasets import dataset_kinds, info, load_dataset
from medbench.datasets.download import md5sum

SETS_2D = {"pathmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist", "breastmnist", "bloodmnist",
           "tissuemnist", "organamnist", "organcmnist", "organsmnist"}
METHODS = {"ResNet-18 (28)", "ResNet-50 (224)", "auto-sklearn", "AutoKeras", "Google AutoML Vision"}


def test_every_2d_set_but_chestmnist_is_known():
    assert set(info.MEDMNIST) == SETS_2D
    assert set(info.MEDMNIST_EXCLUDED) == {"chestmnist"}
    assert not set(info.MEDMNIST) & {name for name, kind in dataset_kinds().items() if kind.needs_path}


@pytest.mark.parametrize("name", sorted(SETS_2D))
def test_facts_are_coherent(name):
    f = info.MEDMNIST[name]
    assert f["file"] == f"{name}.npz"
    assert f["url"] == f"https://zenodo.org/records/10519652/files/{name}.npz?download=1"
    assert re.fullmatch(r"[0-9a-f]{32}", f["md5"])
    assert f["task"] == ("binary" if len(f["label_names"]) == 2 else "multiclass")
    assert f["medmnist_task"] in ("binary-class", "multi-class", "ordinal-regression")
    assert f["channels"] in ("gray", "rgb") and f["image_size"] == 28
    assert len(set(f["label_names"])) == len(f["label_names"]) >= 2
    assert set(f["n_samples"]) == {"train", "val", "test"} and min(f["n_samples"].values()) > 0
    assert (f["positive_class"] is None) == (f["task"] != "binary")
    if f["positive_class"] is not None:
        assert f["positive_class"] in f["label_names"]
    assert set(f["published"]) == METHODS
    for row in f["published"].values():
        assert set(row) == {"accuracy", "roc_auc"}
        assert 1.0 / len(f["label_names"]) < row["accuracy"] < 1.0 and 0.5 < row["roc_auc"] <= 1.0


def test_colour_sets_and_the_ordinal_one():
    rgb = {n for n, f in info.MEDMNIST.items() if f["channels"] == "rgb"}
    assert rgb == {"pathmnist", "dermamnist", "retinamnist", "bloodmnist"}
    assert info.MEDMNIST["retinamnist"]["medmnist_task"] == "ordinal-regression"
    assert "classification" in info.MEDMNIST["retinamnist"]["description"]
    assert info.MEDMNIST["dermamnist"]["licence"] == "CC BY-NC 4.0"
    for organ in ("organamnist", "organcmnist", "organsmnist"):
        assert "6496656" in info.MEDMNIST[organ]["published_note"]


def test_md5s_are_distinct():
    md5s = [f["md5"] for f in info.MEDMNIST.values()]
    assert len(set(md5s)) == len(md5s)


def test_the_real_pneumoniamnist_matches_its_facts(shared_datasets: Path):
    path = shared_datasets / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"real data not found: {path}")
    facts = info.MEDMNIST["pneumoniamnist"]
    assert md5sum(path) == facts["md5"]
    ds = load_dataset("pneumoniamnist")
    assert ds.channels == "gray" and ds.image_shape == (28, 28) and ds.class_names == facts["label_names"]
    assert {s: int((ds.official_split == s).sum()) for s in ("train", "val", "test")} == facts["n_samples"]
    assert np.bincount(ds.labels).tolist() == [1214 + 135 + 234, 3494 + 389 + 390]  # shared/README.md
