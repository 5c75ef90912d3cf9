"""``npz:PATH``: the user's own arrays, both layouts, channels, dtype conversion, and one-line refusals
for every kind of bad file (never unpickling anything)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from medbench import api
from medbench.core.errors import MedbenchError
from medbench.datasets import dataset_kinds, describe_datasets, info, load_dataset
from medbench.datasets.images import stretch_to_uint8
from medbench.datasets.splits import make_split


def _gray(rng, n, size=16):
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8)


def _medmnist_style(path, rng, *, val=True, **extra):
    arrays = {"train_images": _gray(rng, 40), "train_labels": (np.arange(40) % 2)[:, None],
              "test_images": _gray(rng, 20), "test_labels": (np.arange(20) % 2)[:, None]}
    if val:
        arrays |= {"val_images": _gray(rng, 10), "val_labels": (np.arange(10) % 2)[:, None]}
    np.savez(path, **(arrays | extra))
    return arrays


def _load(path, **kw):
    return load_dataset(f"npz:{path}", **kw)


def test_medmnist_layout_keeps_the_official_split(tmp_path):
    arrays = _medmnist_style(tmp_path / "mine.npz", np.random.default_rng(0))
    ds = _load(tmp_path / "mine.npz")
    assert ds.name == "mine" and ds.channels == "gray" and ds.image_shape == (16, 16)
    assert np.array_equal(ds.images, np.concatenate([arrays[f"{s}_images"] for s in ("train", "val", "test")]))
    assert ds.class_names == ["0", "1"] and ds.labels.dtype == np.int64
    assert {s: int((ds.official_split == s).sum()) for s in ("train", "val", "test")} == {"train": 40, "val": 10,
                                                                                        "test": 20}
    assert ds.ids[0] == "train/00000" and ds.source["layout"] == "medmnist"
    split = make_split(ds)
    assert split.method.startswith("official")


def test_validation_split_is_optional_and_extra_keys_are_listed(tmp_path):
    _medmnist_style(tmp_path / "noval.npz", np.random.default_rng(1), val=False, notes=np.arange(3))
    ds = _load(tmp_path / "noval.npz")
    assert set(ds.official_split.tolist()) == {"train", "test"}
    assert ds.problems["ignored_keys"] == ["notes"]
    assert len(make_split(ds).indices("val")) > 0  # carved from train


def test_xy_layout_has_no_official_split_and_class_names_name_labels(tmp_path):
    rng = np.random.default_rng(2)
    y = np.repeat([3, 7, 9], 20)
    np.savez(tmp_path / "xy.npz", x=_gray(rng, 60), y=y)
    ds = _load(tmp_path / "xy.npz")
    assert ds.official_split is None and ds.class_names == ["3", "7", "9"] and ds.task == "multiclass"
    assert ds.labels.tolist() == np.repeat([0, 1, 2], 20).tolist()
    np.savez(tmp_path / "named.npz", x=_gray(rng, 60), y=np.repeat([0, 1, 2], 20),
             class_names=np.array(["normal", "benign", "malignant"]))
    named = _load(tmp_path / "named.npz")
    assert named.class_names == ["normal", "benign", "malignant"] and named.labels.max() == 2


def test_channels_auto_gray_rgb(tmp_path):
    rng = np.random.default_rng(3)
    gray = _gray(rng, 30)
    gray3 = np.repeat(gray[..., None], 3, axis=-1)
    colour = rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8)
    y = np.arange(30) % 2
    np.savez(tmp_path / "gray3.npz", x=gray3, y=y)
    np.savez(tmp_path / "colour.npz", x=colour, y=y)
    np.savez(tmp_path / "rgba.npz", x=np.concatenate([colour, np.full((30, 16, 16, 1), 7, np.uint8)], -1), y=y)
    auto_gray = _load(tmp_path / "gray3.npz")  # three equal channels: gray
    assert auto_gray.channels == "gray" and np.array_equal(auto_gray.images, gray)
    assert _load(tmp_path / "colour.npz").channels == "rgb"
    assert np.array_equal(_load(tmp_path / "rgba.npz").images, colour)  # alpha dropped
    as_gray = _load(tmp_path / "colour.npz", channels="gray")
    r, g, b = (colour[..., i].astype(np.uint32) for i in range(3))
    assert np.array_equal(as_gray.images, ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8))
    forced = _load(tmp_path / "gray3.npz", channels="RGB")
    assert forced.channels == "rgb" and np.array_equal(forced.images[..., 1], gray)
    assert forced.fingerprint != auto_gray.fingerprint
    with pytest.raises(MedbenchError, match="channels 'colour' is not one of auto, gray, rgb"):
        _load(tmp_path / "gray3.npz", channels="colour")


def test_other_dtypes_are_stretched_like_the_decoder(tmp_path):
    rng = np.random.default_rng(4)
    x16 = rng.integers(100, 4000, (10, 12, 12)).astype(np.uint16)
    xf = rng.normal(size=(10, 12, 12)).astype(np.float32)
    y = np.arange(10) % 2
    np.savez(tmp_path / "u16.npz", x=x16, y=y.astype(np.float64))  # whole-number float labels are fine
    np.savez(tmp_path / "f32.npz", x=xf, y=y)
    np.savez(tmp_path / "bool.npz", x=x16 > 2000, y=y)
    assert np.array_equal(_load(tmp_path / "u16.npz").images, np.stack([stretch_to_uint8(a) for a in x16]))
    assert np.array_equal(_load(tmp_path / "f32.npz").images, np.stack([stretch_to_uint8(a) for a in xf]))
    assert set(np.unique(_load(tmp_path / "bool.npz").images).tolist()) == {0, 255}


class _Boom:
    """Unpickling this would create a file: the refusal must come before any of it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _bad(tmp_path, name, **arrays):
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def _one_line_error(path, match):
    with pytest.raises(MedbenchError) as err:
        _load(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert match in msg, msg
    return msg


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path):
    rng = np.random.default_rng(5)
    x, y = _gray(rng, 10), np.arange(10) % 2
    _one_line_error(_bad(tmp_path, "nokeys", images=x, labels=y), "expected train_images")
    _one_line_error(_bad(tmp_path, "notest", train_images=x, train_labels=y), "has no test_images")
    _one_line_error(_bad(tmp_path, "halfval", train_images=x, train_labels=y, test_images=x, test_labels=y,
                         val_images=x), "no 'val_labels'")
    _one_line_error(_bad(tmp_path, "both", x=x, y=y, train_images=x), "keep one layout")
    _one_line_error(_bad(tmp_path, "short", x=x, y=y[:7]), "has 7 labels for 10 images")
    _one_line_error(_bad(tmp_path, "strlabels", x=x, y=np.array(["a"] * 10)), "labels must be integers")
    _one_line_error(_bad(tmp_path, "fraclabels", x=x, y=y + 0.5), "non-integer labels")
    _one_line_error(_bad(tmp_path, "neglabels", x=x, y=y - 1), "negative labels")
    _one_line_error(_bad(tmp_path, "multilabel", x=x, y=np.zeros((10, 14), int)), "multi-label")
    _one_line_error(_bad(tmp_path, "complex", x=x.astype(np.complex64), y=y), "images must be numbers")
    _one_line_error(_bad(tmp_path, "chfirst", x=np.zeros((10, 3, 16, 16), np.uint8), y=y), "channels-first")
    _one_line_error(_bad(tmp_path, "tiny", x=np.zeros((10, 4, 4), np.uint8), y=y), "at least 8x8")
    _one_line_error(_bad(tmp_path, "flat", x=np.zeros((10, 256), np.uint8), y=y), "expected images (N, H, W)")
    _one_line_error(_bad(tmp_path, "oneclass", x=x, y=np.zeros(10, int)), "at least 2 classes")
    _one_line_error(_bad(tmp_path, "names", x=x, y=y * 2, class_names=np.array(["a", "b"])),
                    "label 2 has no entry in 'class_names'")
    _one_line_error(_bad(tmp_path, "sizes", train_images=x, train_labels=y, test_images=_gray(rng, 10, 20),
                         test_labels=y), "splits differ in image size")
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    _one_line_error(not_zip, "not a zip file")
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, x)
    _one_line_error(npy, "not a zip file")
    damaged = tmp_path / "damaged.npz"
    good = tmp_path / "good.npz"
    np.savez_compressed(good, x=x, y=y)
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    with pytest.raises(MedbenchError, match=str(damaged)):
        _load(damaged)
    with pytest.raises(MedbenchError, match="does not exist"):
        _load(tmp_path / "absent.npz")
    with pytest.raises(MedbenchError, match="not a file"):
        _load(tmp_path)


def test_pickled_object_arrays_are_refused_without_unpickling(tmp_path):
    sentinel = tmp_path / "unpickled"
    path = tmp_path / "evil.npz"
    obj = np.empty(10, dtype=object)
    for i in range(10):
        obj[i] = _Boom(str(sentinel))
    with zipfile.ZipFile(path, "w") as zf:  # what np.savez(allow_pickle=True) would write
        with zf.open("x.npy", "w") as fh:
            np.save(fh, _gray(np.random.default_rng(6), 10))
        with zf.open("y.npy", "w") as fh:
            np.save(fh, obj, allow_pickle=True)
    msg = _one_line_error(path, "pickled object array")
    assert "'y'" in msg and not sentinel.exists()


def test_registered_as_a_builtin_kind(tmp_path):
    assert dataset_kinds()["npz"].usage == "npz:PATH"
    rows = {r["dataset"]: r for r in describe_datasets()}
    assert "npz:PATH" in rows and "chestmnist" in rows and "multi-label" in rows["chestmnist"]["source"]
    assert all(name in rows for name in info.MEDMNIST)
    with pytest.raises(MedbenchError, match="needs a path: use npz:PATH"):
        load_dataset("npz:")
    _medmnist_style(tmp_path / "t.npz", np.random.default_rng(7))
    with pytest.raises(MedbenchError, match="drop --task"):
        load_dataset(f"npz:{tmp_path / 't.npz'}", task="x")
    with pytest.raises(MedbenchError, match="ChestMNIST is multi-label"):
        load_dataset("chestmnist")


def test_runs_end_to_end(tmp_path):
    _medmnist_style(tmp_path / "run.npz", np.random.default_rng(8))
    res = api.run(f"npz:{tmp_path / 'run.npz'}", pipelines=["majority"], out=tmp_path / "out", log=None,
                  bootstrap_resamples=50, capture_native_logs=False)
    assert res.data["dataset"]["channels"] == "gray" and res.data["dataset"]["name"] == "run"
    assert not res.failed
