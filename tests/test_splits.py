"""medbench.datasets.splits on real data: official, carved-validation and seeded group-aware splits, fingerprints
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
from medbench.datasets.splits import MANIFEST_SCHEMA, Split, load_manifest, make_split, save_manifest
from medbench.datasets.splits import fingerprint as splits_fingerprint

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


# ---------------------------------------------------------------- exact values (mutation testing, #18)
#
# Hand-worked sizes and messages: with every image its own group, StratifiedGroupKFold's folds are as even
# as the class counts allow, so a hold-out of 1/k of a pool of k * m images per class is exactly m per class.


def _subset(full: Dataset, per_class: int, *, name: str = "pneu-subset", n_classes: int = 2) -> Dataset:
    """The first ``per_class`` real PneumoniaMNIST training images of each class, no official split, every
    image its own group (PneumoniaMNIST has no patient ids)."""
    train = np.flatnonzero(full.official_split == "train")
    idx = np.sort(np.concatenate([train[full.labels[train] == c][:per_class] for c in range(2)]))
    names = list(full.class_names) + [f"unused{i}" for i in range(n_classes - 2)]
    return Dataset(name=name, spec=name, title=name, class_names=names, images=full.images[idx].copy(),
                   labels=full.labels[idx].copy(), ids=full.ids[idx].copy(), groups=full.ids[idx].copy())


def _with_official(ds: Dataset, official: np.ndarray, **changes) -> Dataset:
    return dataclasses.replace(ds, official_split=np.asarray(official), **changes)


def test_random_split_sizes_by_hand(pneumonia_full: Dataset):
    ds = _subset(pneumonia_full, 50)  # 100 images, 50 per class
    split = make_split(ds, seed=0, val_fraction=0.1, test_fraction=0.2)
    # test: 1/round(1/0.2) = 1/5 of 100 -> 10 per class; val: 1/round(0.8/0.1) = 1/8 of the 80 left -> 5 per class
    assert {s: ds.class_counts(split.indices(s)) for s in SPLITS} == {
        "train": {"normal": 35, "pneumonia": 35}, "val": {"normal": 5, "pneumonia": 5},
        "test": {"normal": 10, "pneumonia": 10}}
    _assert_partition(ds, split)
    assert split.notes == [] and split.seed == 0
    # a larger validation share: 0.3 / (1 - 0.2) = 0.375 -> round(2.67) = 3 folds of the 80: 40 / 3 per class
    wide = make_split(ds, seed=0, val_fraction=0.3, test_fraction=0.2)
    assert len(wide.test) == 20 and len(wide.val) in (26, 27, 28)
    # shares near 0.5: 1 / 0.45 rounds to 2 folds, and 0.45 / 0.55 would round to 1: never below 2
    half = make_split(ds, seed=0, val_fraction=0.45, test_fraction=0.45)
    assert (len(half.train), len(half.val), len(half.test)) == (25, 25, 50)


def test_a_hold_out_needs_as_many_images_of_each_present_class_as_folds(pneumonia_full: Dataset):
    from medbench.datasets.splits import _carve

    ds = _subset(pneumonia_full, 5, n_classes=3)  # 5 per class; a third class with no image at all
    rest, held = _carve(ds, np.arange(len(ds)), 0.2, 0)  # 5 folds, 5 per class: exactly enough
    assert sorted(ds.labels[held].tolist()) == [0, 1] and len(rest) == 8
    normals = np.flatnonzero(ds.labels == 0)
    rest, held = _carve(ds, normals, 0.2, 0)  # one class only: the absent ones do not count
    assert len(held) == 1 and len(rest) == 4
    with pytest.raises(MedbenchError) as exc:
        _carve(ds, np.arange(len(ds))[1:], 0.2, 0)  # 4 normal images: too few for 5 folds
    assert str(exc.value) == ("pneu-subset: a class has only 4 images, too few for a 20% stratified hold-out; "
                              "add images or drop the class")


def test_official_validation_kept_from_min_val_images_up(pneumonia_small: Dataset):
    ds = pneumonia_small  # official 300 train / 100 val / 150 test
    official = {s: np.flatnonzero(ds.official_split == s) for s in SPLITS}
    kept = make_split(ds, min_val=100)
    assert kept.method == "official" and kept.notes == []
    for s in SPLITS:
        assert np.array_equal(kept.indices(s), official[s])
    carved = make_split(ds, min_val=101)
    assert carved.method == "official; val carved from train (stratified, group-aware)"
    assert carved.notes == ["official validation split has only 100 images: merged into train and a 10% "
                            "validation set carved from train instead"]
    assert np.array_equal(carved.test, official["test"]) and len(carved.val) == 40  # 1/10 of 400
    # a validation split missing a class is carved too, however large
    one_class = official["val"][ds.labels[official["val"]] == 1]
    only_pos = ds.official_split.copy()
    only_pos[np.setdiff1d(official["val"], one_class)] = "train"
    assert len(one_class) >= 10
    split = make_split(_with_official(ds, only_pos), min_val=10)
    assert split.method == "official; val carved from train (stratified, group-aware)"
    assert split.notes[0].startswith(f"official validation split has only {len(one_class)} images")


def test_official_split_without_validation_or_test(pneumonia_small: Dataset):
    ds = pneumonia_small
    no_val = np.where(ds.official_split == "val", "train", ds.official_split)
    split = make_split(_with_official(ds, no_val))
    assert split.method == "official; val carved from train (stratified, group-aware)"
    assert split.notes == ["no official validation split: 10% of train carved as validation"]
    assert len(split.val) == 40 and len(split.train) == 360 and len(split.test) == 150
    no_test = np.where(ds.official_split == "test", "train", ds.official_split)
    split = make_split(_with_official(ds, no_test), test_fraction=0.2)
    assert split.method == "official train; test carved (stratified, group-aware)"
    assert len(split.test) == 90 and len(split.train) == 360  # 1/5 of the 450 official train images
    assert np.array_equal(split.val, np.flatnonzero(ds.official_split == "val")) and split.notes == []
    _assert_partition(ds, split)


def test_patients_in_two_splits_are_counted_per_pair(pneumonia_small: Dataset):
    ds = pneumonia_small
    groups = ds.groups.copy()
    train, val, test = (np.flatnonzero(ds.official_split == s) for s in SPLITS)
    groups[[train[0], test[0]]] = "patient-1"  # train and test
    groups[[train[1], test[1], val[0]]] = "patient-2"  # all three
    groups[[val[1], test[2]]] = "patient-3"  # val and test
    split = make_split(_with_official(ds, ds.official_split, groups=groups))
    assert split.notes == ["1 patient/group ids appear in both train and val",
                           "2 patient/group ids appear in both train and test",
                           "2 patient/group ids appear in both val and test"]


@pytest.mark.parametrize("seed", [np.int64(7), 0, 2**32 - 1])
def test_split_seeds_that_are_whole_numbers_in_range_are_taken(pneumonia_small: Dataset, seed):
    split = make_split(pneumonia_small, seed=seed, min_val=101)
    assert split.seed == int(seed) and type(split.seed) is int


def test_split_fractions_in_range_are_taken_and_others_named(pneumonia_full: Dataset):
    from medbench.datasets.splits import check_fractions

    assert check_fractions(np.float64(0.25), 0.4999) == (0.25, 0.4999)
    for val, test, flag, value in [(0.5, 0.2, "--val-fraction", "0.5"), (0.1, 0, "--test-fraction", "0"),
                                   (True, 0.2, "--val-fraction", "True"), (0.1, "0.2", "--test-fraction", "'0.2'")]:
        with pytest.raises(MedbenchError) as exc:
            check_fractions(val, test)
        what = flag[2:].replace("-", " ")
        assert str(exc.value) == f"{flag} {value}: the {what} must be a number between 0 and 0.5"


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("fingerprint"), "field fingerprint is missing"),
    (lambda m: m["ids"].update(train=[""] + m["ids"]["train"][1:]), "field ids.train[0] is an empty string"),
    (lambda m: [m.pop("fingerprint"), m.pop("labels")], "field fingerprint is missing"),  # the first missing
    (lambda m: m.update(seed=-1), "field seed is -1, below the smallest allowed value 0"),
    (lambda m: m.update(seed=2**32), "field seed is 4294967296, above the largest allowed value 4294967295"),
    (lambda m: m.update(manifest_version=2), "field manifest_version is 2, above the largest allowed value 1"),
    (lambda m: m.update(manifest_version=0), "field manifest_version is 0, below the smallest allowed value 1"),
    (lambda m: m["ids"].update(extra=["x"]), "field ids has unexpected key(s) 'extra': only train, val, test are "
                                             "allowed"),
    (lambda m: m["labels"].update(extra=["normal"]), "field labels has unexpected key(s) 'extra': only train, val, "
                                                     "test are allowed"),
    (lambda m: m.update(class_names=["normal"]), "field class_names needs at least 2 entries"),
    (lambda m: m.update(class_names=["normal", "normal"]), 'field class_names lists "normal" more than once'),
    (lambda m: m.update(fingerprint="A" * 64), "field fingerprint is not a 64-digit lower-case SHA-256 hex digest"),
    (lambda m: m.update(seed="3"), "field seed must be a whole number, not a string"),
    ("top", "the top level must be an object, not an array"),
])
def test_manifest_schema_messages_exactly(pneumonia_small: Dataset, small_manifest, edit, message):
    path, manifest = small_manifest
    if edit == "top":
        manifest = [manifest]
    else:
        edit(manifest)
    with pytest.raises(MedbenchError) as exc:
        load_manifest(pneumonia_small, _rewrite(path, manifest))
    assert str(exc.value) == f"split manifest {path}: {message}"


def test_other_schema_problems_are_cut_to_one_short_line():
    import jsonschema

    from medbench.datasets.splits import _schema_problem

    long = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(
        {"properties": {"a": {"enum": [f"choice-{i}" for i in range(60)]}}}).iter_errors({"a": "other"}))
    text = _schema_problem(long)
    assert text == f"field a: {long.message[:200]}..." and len(long.message) > 200
    short = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator({"const": 1}).iter_errors(2))
    assert _schema_problem(short) == "the top level: 1 was expected"
    # keywords on both sides (in sort order) of every keyword given its own message, so a "==" turned into "<"
    # or ">=" sends one of them to the wrong message
    for schema, instance in (({"not": {"type": "string"}}, "y"), ({"multipleOf": 2}, 3), ({"minProperties": 1}, {}),
                             ({"unevaluatedProperties": False}, {"a": 1}), ({"const": 1}, 2),
                             ({"propertyNames": {"maxLength": 1}, "maxProperties": 0}, {"ab": 1})):
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
        assert _schema_problem(error) == f"the top level: {error.message}"
    exact = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(
        {"enum": ["x" * 178]}).iter_errors("y"))
    assert len(exact.message) == 200 and _schema_problem(exact) == f"the top level: {exact.message}"
    over = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(
        {"enum": ["x" * 179]}).iter_errors("y"))
    assert len(over.message) == 201 and _schema_problem(over) == f"the top level: {over.message[:200]}..."


def test_manifest_without_a_seed_or_with_a_stale_overlap_note(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest.pop("seed")
    manifest["notes"] = ["made by hand", "3 patient/group ids appear in both train and test"]
    split = load_manifest(pneumonia_small, _rewrite(path, manifest))
    assert split.seed == 0 and split.notes == ["made by hand"]  # PneumoniaMNIST: no image in two splits
    assert split.method == f"manifest {path.name}"


def test_manifest_with_unsorted_ids_is_refused_even_when_it_fingerprints_itself(pneumonia_small: Dataset,
                                                                                 small_manifest):
    path, manifest = small_manifest
    manifest["ids"]["test"].reverse()
    manifest["labels"]["test"].reverse()
    manifest["fingerprint"] = splits_fingerprint(manifest["class_names"], manifest["ids"], manifest["labels"])
    _refused(pneumonia_small, path, manifest, "fingerprint does not match its ids and labels")


def test_manifest_that_cannot_be_read_is_one_line(pneumonia_small: Dataset, tmp_path: Path):
    folder = tmp_path / "a-folder.json"
    folder.mkdir()
    with pytest.raises(MedbenchError, match=r"a-folder\.json is a folder, not a split manifest"):
        load_manifest(pneumonia_small, folder)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MedbenchError) as exc:
        load_manifest(pneumonia_small, deep)
    assert str(exc.value) == f"{deep} is not a medbench split manifest (nested too deeply)"


def test_manifest_written_for_the_official_split(pneumonia_small: Dataset):
    ds = pneumonia_small
    split = make_split(ds)
    m = split.manifest(ds)
    test = np.flatnonzero(ds.official_split == "test")
    names = ds.class_names
    by_id = dict(zip(ds.ids[test].tolist(), ds.labels[test].tolist()))
    assert m["ids"]["test"] == sorted(by_id) and m["labels"]["test"] == [names[by_id[i]] for i in sorted(by_id)]
    hand = np.bincount(ds.labels[test], minlength=2)
    assert m["counts"]["test"] == {names[0]: int(hand[0]), names[1]: int(hand[1])}
    assert (m["manifest_version"], m["dataset"], m["dataset_spec"], m["method"], m["seed"], m["notes"]) == (
        1, ds.name, ds.spec, "official", 0, [])
    assert m["class_names"] == names and m["fingerprint"] == splits_fingerprint(names, m["ids"], m["labels"])


@pytest.mark.parametrize("label", [0, 1])  # each way round: normal -> pneumonia and pneumonia -> normal
def test_manifest_for_a_relabelled_dataset_names_the_image(pneumonia_small: Dataset, small_manifest, label):
    path, manifest = small_manifest
    where = {id_: i for i, id_ in enumerate(pneumonia_small.ids.tolist())}
    first = next(x for x in manifest["ids"]["test"] if pneumonia_small.labels[where[x]] == label)
    i = where[first]
    relabelled = dataclasses.replace(pneumonia_small, labels=pneumonia_small.labels.copy())
    relabelled.labels[i] = 1 - relabelled.labels[i]
    was, now = (pneumonia_small.class_names[pneumonia_small.labels[i]],
                pneumonia_small.class_names[relabelled.labels[i]])
    with pytest.raises(MedbenchError) as exc:
        load_manifest(relabelled, path)
    assert str(exc.value) == (f"split manifest {path}: test id {first!r} is labelled {was!r} in the manifest but "
                              f"{now!r} in {pneumonia_small.spec} (labels changed or file edited)")


@pytest.mark.parametrize("n_val, kept", [(50, True), (49, False)])
def test_official_validation_of_50_images_is_kept_by_default(pneumonia_small: Dataset, n_val, kept):
    ds = pneumonia_small
    val = np.flatnonzero(ds.official_split == "val")
    official = ds.official_split.copy()
    official[val[n_val:]] = "train"  # the first n_val official validation images stay (both classes among them)
    assert len(np.unique(ds.labels[val[:n_val]])) == 2
    split = make_split(_with_official(ds, official))
    assert (split.method == "official") is kept
    assert np.array_equal(split.val, val[:n_val]) is kept


def test_manifest_classes_are_compared_whole(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["class_names"] = [manifest["class_names"][0], "zebra"]  # sorts after the dataset's, not before
    with pytest.raises(MedbenchError) as exc:
        load_manifest(pneumonia_small, _rewrite(path, _refit(manifest)))
    assert str(exc.value) == (f"split manifest {path} was made for classes ['normal', 'zebra'], but the dataset "
                              f"has {list(pneumonia_small.class_names)}")


def test_manifest_with_an_edited_fingerprint_says_so(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["fingerprint"] = "0" * 64
    with pytest.raises(MedbenchError) as exc:
        load_manifest(pneumonia_small, _rewrite(path, manifest))
    assert str(exc.value) == (f"split manifest {path}: fingerprint does not match the file's own ids and labels "
                              "(file edited)")


def test_manifest_with_more_labels_than_ids_is_refused(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["labels"]["test"].append(manifest["labels"]["test"][0])
    n = len(manifest["ids"]["test"])
    with pytest.raises(MedbenchError) as exc:
        load_manifest(pneumonia_small, _rewrite(path, manifest))
    assert str(exc.value) == f"split manifest {path}: field labels.test has {n + 1} entries but ids.test has {n}"


def test_a_class_with_one_image_is_too_few_for_a_hold_out(pneumonia_full: Dataset):
    from medbench.datasets.splits import _carve

    ds = _subset(pneumonia_full, 5)
    pool = np.concatenate([np.flatnonzero(ds.labels == 0)[:1], np.flatnonzero(ds.labels == 1)])
    with pytest.raises(MedbenchError, match="a class has only 1 images, too few for a 20% stratified hold-out"):
        _carve(ds, pool, 0.2, 0)


def test_official_validation_with_more_classes_than_train_is_kept(pneumonia_small: Dataset):
    ds = pneumonia_small
    official = ds.official_split.copy()
    official[(official == "train") & (ds.labels == 0)] = "test"  # train: pneumonia only; val keeps both classes
    split = make_split(_with_official(ds, official))
    assert split.method == "official" and np.array_equal(split.val, np.flatnonzero(official == "val"))


@pytest.mark.parametrize("part", SPLITS)
def test_manifest_with_a_split_out_of_order_is_refused(pneumonia_small: Dataset, small_manifest, part):
    path, manifest = small_manifest
    manifest["ids"][part].reverse()
    manifest["labels"][part].reverse()
    manifest["fingerprint"] = splits_fingerprint(manifest["class_names"], manifest["ids"], manifest["labels"])
    _refused(pneumonia_small, path, manifest, "fingerprint does not match its ids and labels")


def test_manifest_with_several_unknown_ids_names_the_first(pneumonia_small: Dataset, small_manifest):
    path, manifest = small_manifest
    manifest["ids"]["val"][0], manifest["ids"]["val"][1] = "val/unknown-first", "val/unknown-second"
    msg = _refused(pneumonia_small, path, manifest, "2 val ids are not in", "(first: val/unknown-first)")
    assert "unknown-second" not in msg


def test_a_fingerprint_that_differs_either_way_is_refused(pneumonia_small: Dataset, small_manifest):
    """Moving one test image into train, several times over: the recomputed fingerprint is sometimes above and
    sometimes below the stored one (asserted), and every time the file is refused for its fingerprint (not
    later, for its labels)."""
    path, original = small_manifest
    sides = set()
    for k in range(8):
        manifest = json.loads(json.dumps(original))
        moved, label = manifest["ids"]["test"].pop(k), manifest["labels"]["test"].pop(k)
        pairs = sorted(zip(manifest["ids"]["train"] + [moved], manifest["labels"]["train"] + [label]))
        manifest["ids"]["train"], manifest["labels"]["train"] = [i for i, _ in pairs], [c for _, c in pairs]
        recomputed = splits_fingerprint(manifest["class_names"], manifest["ids"], manifest["labels"])
        sides.add(recomputed > manifest["fingerprint"])
        _refused(pneumonia_small, path, manifest, "fingerprint does not match")
    assert sides == {True, False}
