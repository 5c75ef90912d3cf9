"""medbench.splits on real data: official, carved-validation and seeded group-aware splits, fingerprints
and manifests."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.splits import MANIFEST_SCHEMA, Split, load_manifest, make_split, save_manifest
from medbench.splits import fingerprint as splits_fingerprint

# Regression guard, computed once from the real pneumoniamnist.npz (MD5 28209eda62fecd6e6a2d98b1501bb15f)
# with make_split(ds) and pinned here: the official split's fingerprint must never change silently
# (results of earlier runs quote it). Change it only with a deliberate change of the fingerprint format.
PNEUMONIAMNIST_OFFICIAL_FINGERPRINT = "1ccf5a03bbd72a82c8aaf350e07786cf313a698e28495fa4e842456e93f371ce"


def _groups(ds: Dataset, idx: np.ndarray) -> set[str]:
    return set(ds.groups[idx].tolist())


def _assert_partition(ds: Dataset, split: Split) -> None:
    all_idx = np.concatenate([split.indices(s) for s in SPLITS])
    assert len(all_idx) == len(set(all_idx.tolist())), "an image is in two splits"
    assert sorted(all_idx.tolist()) == list(range(len(ds))), "an image is in no split"


# ---------------------------------------------------------------- official split (PneumoniaMNIST)


def test_pneumoniamnist_uses_the_official_split(pneumonia_full: Dataset):
    ds = pneumonia_full
    split = make_split(ds, seed=0)
    assert split.method == "official"
    assert (len(split.train), len(split.val), len(split.test)) == (4708, 524, 624)
    for s in SPLITS:
        assert np.array_equal(split.indices(s), np.flatnonzero(ds.official_split == s))
    assert ds.class_counts(split.test) == {"normal": 234, "pneumonia": 390}
    assert split.notes == []  # MedMNIST has no patient ids: nothing shared between splits
    _assert_partition(ds, split)
    # the seed only matters for carved splits: the official one is the same for any seed
    assert make_split(ds, seed=5).fingerprint(ds) == split.fingerprint(ds)


def test_pneumoniamnist_official_fingerprint_is_pinned(pneumonia_full: Dataset):
    assert make_split(pneumonia_full, seed=0).fingerprint(pneumonia_full) == PNEUMONIAMNIST_OFFICIAL_FINGERPRINT


# ---------------------------------------------------------------- chest_xray: tiny official val


@pytest.fixture(scope="module")
def chest_xray_32(chest_xray_dir: Path) -> Dataset:
    t0 = time.perf_counter()
    ds = load_dataset(f"folder:{chest_xray_dir}", image_size=32)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = load_dataset(f"folder:{chest_xray_dir}", image_size=32)
    second = time.perf_counter() - t0
    print(f"\nchest_xray at 32 px: {len(ds)} images, first load {first:.1f} s, second (image cache) {second:.2f} s",
          file=sys.stderr)
    assert again.fingerprint == ds.fingerprint
    return ds


@pytest.mark.slow
def test_chest_xray_image_cache_is_written(chest_xray_32: Dataset, medbench_cache_dir: Path):
    assert chest_xray_32.image_shape == (32, 32)
    assert list((medbench_cache_dir / "images").glob("*-32px.npy")), "decoded images were not cached"


@pytest.mark.slow
def test_chest_xray_tiny_val_is_merged_and_carved_group_aware(chest_xray_32: Dataset):
    ds = chest_xray_32
    official = {s: np.flatnonzero(ds.official_split == s) for s in SPLITS}
    assert len(official["val"]) == 16  # 8 + 8: too small to tune on
    split = make_split(ds, seed=0)
    assert "val carved" in split.method
    assert any("only 16 images" in n and "merged" in n for n in split.notes), split.notes
    # the official test split is kept as is; train + val is the official train + val
    assert np.array_equal(split.test, official["test"])
    pool = np.sort(np.concatenate([official["train"], official["val"]]))
    assert np.array_equal(np.sort(np.concatenate([split.train, split.val])), pool)
    assert set(official["val"].tolist()) <= set(np.concatenate([split.train, split.val]).tolist())
    # about 10% of the pool, stratified: both classes, in about the pool's proportions
    assert 0.07 * len(pool) <= len(split.val) <= 0.13 * len(pool)
    val_pos = ds.labels[split.val].mean()
    assert abs(val_pos - ds.labels[pool].mean()) < 0.05
    assert set(np.unique(ds.labels[split.val]).tolist()) == {0, 1}
    # group-aware: no patient on both sides of train / val
    assert not (_groups(ds, split.train) & _groups(ds, split.val))
    assert not any("train and val" in n for n in split.notes)
    _assert_partition(ds, split)


# ---------------------------------------------------------------- folder without a split


@pytest.fixture
def flat_ds(make_image_folder) -> Dataset:
    """60 real chest_xray images per class, no split folders; PNEUMONIA has multi-image patients."""
    root = make_image_folder(60, layout="flat")
    ds = load_dataset(f"folder:{root}", image_size=32)
    assert ds.official_split is None
    sizes = np.unique(ds.groups, return_counts=True)[1]
    assert (sizes > 1).any(), "the test needs patients with several images"
    return ds


def test_no_split_folder_gets_stratified_group_aware_split(flat_ds: Dataset):
    ds = flat_ds
    split = make_split(ds, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert split.method == "stratified, group-aware random split"
    _assert_partition(ds, split)
    for s in SPLITS:
        counts = ds.class_counts(split.indices(s))
        assert all(c > 0 for c in counts.values()), f"{s} lacks a class: {counts}"
    assert 0.12 * len(ds) <= len(split.test) <= 0.28 * len(ds)
    assert 0.05 * len(ds) <= len(split.val) <= 0.16 * len(ds)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not (_groups(ds, split.indices(a)) & _groups(ds, split.indices(b))), f"patient in {a} and {b}"
    assert split.notes == []


def test_fingerprint_is_stable_and_seed_dependent(flat_ds: Dataset):
    a, b = make_split(flat_ds, seed=0), make_split(flat_ds, seed=0)
    for s in SPLITS:
        assert np.array_equal(a.indices(s), b.indices(s))
    assert a.fingerprint(flat_ds) == b.fingerprint(flat_ds)
    assert len(a.fingerprint(flat_ds)) == 64
    c = make_split(flat_ds, seed=1)
    assert c.fingerprint(flat_ds) != a.fingerprint(flat_ds)


def test_fingerprint_depends_on_labels_and_classes(flat_ds: Dataset):
    split = make_split(flat_ds, seed=0)
    relabelled = dataclasses.replace(flat_ds, labels=flat_ds.labels.copy())
    relabelled.labels[split.test[0]] = 1 - relabelled.labels[split.test[0]]
    assert split.fingerprint(relabelled) != split.fingerprint(flat_ds)
    renamed = dataclasses.replace(flat_ds, class_names=["normal", "pneumonia"])
    assert split.fingerprint(renamed) != split.fingerprint(flat_ds)


def test_too_few_images_for_a_split_is_a_clear_error(make_image_folder):
    root = make_image_folder(3, layout="flat")
    ds = load_dataset(f"folder:{root}", image_size=32)
    with pytest.raises(MedbenchError, match="too few"):
        make_split(ds, seed=0)


# ---------------------------------------------------------------- manifests


def test_manifest_round_trip(flat_ds: Dataset, tmp_path: Path):
    split = make_split(flat_ds, seed=3)
    path = save_manifest(flat_ds, split, tmp_path / "split.json")
    manifest = json.loads(path.read_text())
    assert manifest["fingerprint"] == split.fingerprint(flat_ds)
    assert manifest["seed"] == 3 and manifest["class_names"] == flat_ds.class_names
    back = load_manifest(flat_ds, path)
    for s in SPLITS:
        assert np.array_equal(back.indices(s), split.indices(s))
    assert back.fingerprint(flat_ds) == split.fingerprint(flat_ds)
    assert back.seed == 3 and back.method == "manifest split.json"
    # the same manifest applied to the same folder loaded again (fresh Dataset object)
    again = load_dataset(flat_ds.spec, image_size=32)
    assert load_manifest(again, path).fingerprint(again) == split.fingerprint(flat_ds)


def test_manifest_round_trip_official(pneumonia_small: Dataset, tmp_path: Path):
    split = make_split(pneumonia_small)
    back = load_manifest(pneumonia_small, save_manifest(pneumonia_small, split, tmp_path / "m.json"))
    for s in SPLITS:
        assert np.array_equal(back.indices(s), split.indices(s))
    assert back.fingerprint(pneumonia_small) == split.fingerprint(pneumonia_small)


@pytest.fixture
def manifest_file(flat_ds: Dataset, tmp_path: Path) -> tuple[Path, dict]:
    path = save_manifest(flat_ds, make_split(flat_ds, seed=0), tmp_path / "split.json")
    return path, json.loads(path.read_text())


def _rewrite(path: Path, manifest: dict) -> Path:
    path.write_text(json.dumps(manifest))
    return path


def test_manifest_with_edited_labels_is_refused(flat_ds: Dataset, manifest_file):
    path, manifest = manifest_file
    names = manifest["class_names"]
    manifest["labels"]["test"][0] = names[1 - names.index(manifest["labels"]["test"][0])]
    with pytest.raises(MedbenchError, match="label"):
        load_manifest(flat_ds, _rewrite(path, manifest))


def test_manifest_for_relabelled_dataset_is_refused(flat_ds: Dataset, manifest_file):
    path, _ = manifest_file
    relabelled = dataclasses.replace(flat_ds, labels=flat_ds.labels.copy())
    relabelled.labels[0] = 1 - relabelled.labels[0]
    with pytest.raises(MedbenchError, match="label"):
        load_manifest(relabelled, path)


def test_manifest_with_moved_ids_is_refused(flat_ds: Dataset, manifest_file):
    path, manifest = manifest_file
    moved, label = manifest["ids"]["test"].pop(0), manifest["labels"]["test"].pop(0)  # test -> train: a leak
    train = sorted(zip(manifest["ids"]["train"] + [moved], manifest["labels"]["train"] + [label]))
    manifest["ids"]["train"], manifest["labels"]["train"] = [i for i, _ in train], [c for _, c in train]
    with pytest.raises(MedbenchError, match="fingerprint"):
        load_manifest(flat_ds, _rewrite(path, manifest))


def test_manifest_with_unknown_ids_is_refused(flat_ds: Dataset, manifest_file):
    path, manifest = manifest_file
    manifest["ids"]["val"][0] = "PNEUMONIA/not_in_the_dataset.jpeg"
    with pytest.raises(MedbenchError, match="not_in_the_dataset.jpeg"):
        load_manifest(flat_ds, _rewrite(path, manifest))


def test_manifest_for_other_classes_is_refused(flat_ds: Dataset, manifest_file):
    path, manifest = manifest_file
    manifest["class_names"] = ["NORMAL", "COVID"]
    with pytest.raises(MedbenchError, match="classes"):
        load_manifest(flat_ds, _rewrite(path, manifest))


def test_manifest_of_another_dataset_is_refused(pneumonia_small: Dataset, manifest_file):
    path, _ = manifest_file
    with pytest.raises(MedbenchError):
        load_manifest(pneumonia_small, path)


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"no_ids": true}'])
def test_manifest_not_a_manifest(flat_ds: Dataset, tmp_path: Path, content: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MedbenchError, match="manifest"):
        load_manifest(flat_ds, path)


def test_manifest_missing_file(flat_ds: Dataset, tmp_path: Path):
    with pytest.raises(MedbenchError, match="does not exist"):
        load_manifest(flat_ds, tmp_path / "nope.json")


# ---------------------------------------------------------------- manifest validation (schema, overlap, seeds)


@pytest.fixture
def small_manifest(pneumonia_small: Dataset, tmp_path: Path) -> tuple[Path, dict]:
    path = save_manifest(pneumonia_small, make_split(pneumonia_small), tmp_path / "split.json")
    return path, json.loads(path.read_text())


def _refit(manifest: dict) -> dict:
    """Re-sort each split's ids with their labels and recompute the fingerprint, as a careful editor would."""
    for s in SPLITS:
        pairs = sorted(zip(manifest["ids"][s], manifest["labels"][s]))
        manifest["ids"][s], manifest["labels"][s] = [i for i, _ in pairs], [c for _, c in pairs]
    manifest["fingerprint"] = splits_fingerprint(manifest["class_names"], manifest["ids"], manifest["labels"])
    return manifest


def _refused(ds: Dataset, path: Path, manifest: dict, *parts: str) -> str:
    with pytest.raises(MedbenchError) as exc:
        load_manifest(ds, _rewrite(path, manifest))
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    for part in parts:
        assert part in msg, (part, msg)
    return msg


def test_manifest_with_test_ids_also_in_train_is_refused(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    leaked = manifest["ids"]["test"][:5]
    manifest["ids"]["train"] += leaked
    manifest["labels"]["train"] += manifest["labels"]["test"][:5]
    _refused(pneumonia_small, path, _refit(manifest), "in both train and test", leaked[0])


def test_manifest_with_a_duplicate_id_is_refused(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["ids"]["val"].append(manifest["ids"]["val"][0])
    manifest["labels"]["val"].append(manifest["labels"]["val"][0])
    _refused(pneumonia_small, path, _refit(manifest), "ids.val", "more than once", manifest["ids"]["val"][0])


def test_manifest_with_an_empty_split_is_refused(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["ids"]["val"], manifest["labels"]["val"] = [], []
    _refused(pneumonia_small, path, _refit(manifest), "ids.val", "empty")


@pytest.mark.parametrize("field, value, words", [
    ("fingerprint", 12345, ("field fingerprint", "must be a string", "not an integer")),
    ("fingerprint", "abc", ("field fingerprint", "SHA-256")),
    ("ids", {"train": "train/00000", "val": ["x"], "test": ["y"]}, ("field ids.train", "must be a list", "not a string")),
    ("ids", {"train": ["a", 2], "val": ["x"], "test": ["y"]}, ("field ids.train[1]", "must be a string")),
    ("ids", {"train": ["a"], "val": ["b"]}, ("field ids.test is missing",)),
    ("class_names", "normal,pneumonia", ("field class_names", "must be a list")),
    ("seed", -1, ("field seed", "-1")),
    ("labels", None, ("field labels", "must be an object", "not null")),
])
def test_manifest_with_wrong_types_is_refused(pneumonia_small: Dataset, small_manifest, field, value, words):
    path, manifest = small_manifest
    manifest[field] = value
    _refused(pneumonia_small, path, manifest, *words)


def test_manifest_labels_must_match_ids(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["labels"]["test"].pop()
    _refused(pneumonia_small, path, manifest, "labels.test has", "entries but ids.test has")


def test_manifest_schema_is_a_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(MANIFEST_SCHEMA)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "3"])
def test_split_seed_must_be_a_non_negative_int(pneumonia_small: Dataset, seed):
    with pytest.raises(MedbenchError, match=r"split seed .* is not a whole number from 0 to 4294967295") as exc:
        make_split(pneumonia_small, seed=seed)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("val, test", [(0.0, 0.2), (0.1, 1.0), (0.5, 0.5), (-0.1, 0.2)])
def test_split_fractions_are_checked(pneumonia_small: Dataset, val, test):
    with pytest.raises(MedbenchError, match="fraction"):
        make_split(pneumonia_small, seed=0, val_fraction=val, test_fraction=test)
