"""Numbers you can trust from the dataset layer: the decoded-image cache never confuses two folders,
decoding is bounded (pixel limit, no float64 full-size copies, n_jobs), one handler for unusable files,
honest groups and labels, checked image sizes, and dataset-kind plugins (entry points)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import struct
import sys
import threading
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbench.core.errors import MedbenchError
from medbench.datasets import describe_datasets, load_dataset
from medbench.datasets import images as images_mod
from medbench.datasets.coronahack import load_coronahack
from medbench.datasets.dataset import Dataset
from medbench.datasets.failures import handle_failures
from medbench.datasets.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    UnreadableImage,
    cache_inputs,
    decode_image,
    stretch_to_uint8,
    to_gray8,
)
from medbench.datasets.splits import make_split


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))


def _noise_folder(root: Path, seed: int, n_per_class: int = 6, size: int = 40) -> Path:
    """``root/{NORMAL,PNEUMONIA}/img00N.bmp`` of seeded noise: BMP, so every file has the same byte size."""
    rng = np.random.default_rng(seed)
    for cls in ("NORMAL", "PNEUMONIA"):
        (root / cls).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root / cls / f"img{i:03d}.bmp")
    return root


# ---------------------------------------------------------------- item 1: two folders that look the same


def test_two_folders_with_same_names_sizes_and_mtimes_are_not_confused(tmp_path):
    a = _noise_folder(tmp_path / "a" / "xray", seed=1)
    b = _noise_folder(tmp_path / "b" / "xray", seed=2)  # same names, same sizes, other pixels
    for f in a.rglob("*.bmp"):
        twin = b / f.relative_to(a)
        assert twin.stat().st_size == f.stat().st_size
        shutil.copystat(f, twin)  # what cp -p / rsync -a / tar / shutil.copy2 do to times
        assert twin.stat().st_mtime_ns == f.stat().st_mtime_ns
    ds_a = load_dataset(f"folder:{a}", image_size=32)
    ds_b = load_dataset(f"folder:{b}", image_size=32)
    assert not np.array_equal(ds_a.images, ds_b.images), "the second folder got the first folder's pixels"
    assert ds_a.fingerprint != ds_b.fingerprint
    fresh_b, _ = images_mod.decode_many([b / i for i in ds_b.ids], 32)
    assert np.array_equal(ds_b.images, fresh_b)  # the pixels are the folder's own


def test_a_file_rewritten_in_place_with_its_old_mtime_is_decoded_again(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=3)
    first = load_dataset(f"folder:{root}", image_size=32)
    target = root / first.ids[0]
    st = target.stat()
    Image.fromarray(np.full((40, 40), 7, dtype=np.uint8)).save(target)  # same size (BMP), new pixels
    import os

    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back; ctime cannot be
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    again = load_dataset(f"folder:{root}", image_size=32)
    assert (again.images[0] == 7).all() and again.fingerprint != first.fingerprint


def test_cache_entry_stores_its_key_inputs(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=4)
    ds = load_dataset(f"folder:{root}", image_size=32)
    sides = list((tmp_path / "cache" / "images").glob("*.json"))
    assert len(sides) == 1
    stored = json.loads(sides[0].read_text())
    assert stored == json.loads(json.dumps(cache_inputs(root, ds.ids.tolist(), 32)))
    assert stored["kind"] == "images" and stored["params"]["root"] == str(root.resolve())
    assert stored["code"]["modules"] == ["medbench.datasets.images"] and "pillow" in stored["libraries"]
    assert sides[0].with_suffix(".npy").is_file()


# ---------------------------------------------------------------- item 2: memory-mapped cache, hashed in place


def test_cached_images_are_a_read_only_memmap_that_loaders_and_splits_accept(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=5, n_per_class=30)
    cold = load_dataset(f"folder:{root}", image_size=16)
    warm = load_dataset(f"folder:{root}", image_size=16)
    for ds in (cold, warm):
        assert isinstance(ds.images, np.memmap) and not ds.images.flags.writeable
    in_memory = Dataset(**{**{f: getattr(warm, f) for f in warm.__dataclass_fields__}, "images": np.array(warm.images)})
    assert warm.fingerprint == cold.fingerprint == in_memory.fingerprint
    split = make_split(warm, seed=0)
    assert len(split.train) + len(split.val) + len(split.test) == len(warm)
    assert warm.images[split.train].flags.writeable  # indexing gives a private copy


def test_fingerprint_is_the_same_sha256_stream_as_before(pneumonia_small: Dataset):
    ds = pneumonia_small
    h = hashlib.sha256()  # the fingerprint's definition, with the full-copy .tobytes() it used to make
    h.update("\x1f".join(ds.class_names).encode())
    h.update("\x1e".join(ds.ids.tolist()).encode())
    h.update(np.ascontiguousarray(ds.labels, dtype=np.int64).tobytes())
    h.update(str(ds.images.shape).encode())
    h.update(np.ascontiguousarray(ds.images).tobytes())
    assert ds.fingerprint == h.hexdigest()
    flipped = Dataset(**{**{f: getattr(ds, f) for f in ds.__dataclass_fields__}, "images": ds.images[:, :, ::-1]})
    h2 = hashlib.sha256()
    h2.update("\x1f".join(ds.class_names).encode())
    h2.update("\x1e".join(ds.ids.tolist()).encode())
    h2.update(np.ascontiguousarray(ds.labels, dtype=np.int64).tobytes())
    h2.update(str(ds.images.shape).encode())
    h2.update(np.ascontiguousarray(ds.images[:, :, ::-1]).tobytes())
    assert flipped.fingerprint == h2.hexdigest()  # a non-contiguous view hashes its logical pixels


@pytest.mark.parametrize("damage", ["truncate", "drop_status", "edit_key"])
def test_a_damaged_cache_entry_is_decoded_again(tmp_path, damage):
    root = _noise_folder(tmp_path / "x", seed=20)
    first = load_dataset(f"folder:{root}", image_size=16)
    pixels, fingerprint = np.array(first.images), first.fingerprint  # a private copy: the map is about to break
    del first
    npy = next((tmp_path / "cache" / "images").glob("*.npy"))
    if damage == "truncate":
        npy.write_bytes(npy.read_bytes()[:300])
    elif damage == "drop_status":
        npy.with_suffix(".status.npz").unlink()
    else:  # a sidecar that does not describe this entry: never trusted
        side = npy.with_suffix(".json")
        side.write_text(side.read_text().replace(str(root.resolve()), "/elsewhere"))
    again = load_dataset(f"folder:{root}", image_size=16)
    assert np.array_equal(again.images, pixels) and again.fingerprint == fingerprint


def test_an_unwritable_cache_only_costs_a_warning(tmp_path, monkeypatch, capsys):
    root = _noise_folder(tmp_path / "x", seed=21)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(blocker))
    ds = load_dataset(f"folder:{root}", image_size=16)
    assert len(ds) == 12 and ds.images.flags.writeable  # decoded in memory instead
    assert "could not write image cache" in capsys.readouterr().err


# ---------------------------------------------------------------- item 3: bounded decoding


def _old_stretch(a: np.ndarray) -> np.ndarray:
    """The float64 stretch medbench used before (kept here as the reference for bit-identical output)."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(np.min(a)), float(np.max(a))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(np.min(a)), float(np.max(a))
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    return np.rint((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


@pytest.mark.parametrize("case", ["u16", "u16-full", "i32-narrow", "i32-wide", "f32", "f32-nan", "constant"])
def test_stretch_is_bit_identical_to_the_float64_formula(case):
    rng = np.random.default_rng(0)
    a = {
        "u16": rng.integers(1000, 40000, (67, 53)).astype(np.uint16),
        "u16-full": np.concatenate([rng.integers(0, 65536, (3000, 700)), [[0] * 700, [65535] * 700]]).astype(np.uint16),
        "i32-narrow": rng.integers(-500, 3000, (40, 41)).astype(np.int32),
        "i32-wide": rng.integers(-2**31, 2**31 - 1, (40, 41), dtype=np.int64).astype(np.int32),
        "f32": rng.normal(0, 1000, (30, 31)).astype(np.float32),
        "f32-nan": np.where(rng.random((30, 31)) < 0.1, np.nan, rng.normal(5, 2, (30, 31))).astype(np.float32),
        "constant": np.full((9, 9), 777, dtype=np.uint16),
    }[case]
    if case == "f32-nan":
        a[0, 0], a[1, 1] = np.inf, -np.inf
    assert np.array_equal(stretch_to_uint8(a), _old_stretch(a))


def test_small_16_bit_png_decodes_exactly_as_before(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(300, 52000, (48, 48)).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as im:
        assert im.mode.startswith("I;16")
        assert np.array_equal(np.asarray(to_gray8(im)), _old_stretch(a))
    assert np.array_equal(decode_image(tmp_path / "s.png", 48), _old_stretch(a))  # no resize at 48


def test_large_16_bit_png_makes_no_float64_copies(tmp_path):
    side = 2000
    ramp = (np.arange(side * side, dtype=np.uint32) % 50000 + 100).astype(np.uint16).reshape(side, side)
    Image.fromarray(ramp).save(tmp_path / "big.png", compress_level=1)
    tracemalloc.start()
    try:
        out = decode_image(tmp_path / "big.png", 64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (64, 64) and out.max() > out.min()
    # the float64 stretch held 3 full-size float64 arrays (24 bytes / pixel); one would be 8
    assert peak / (side * side) < 8, f"{peak / side / side:.1f} bytes per pixel at peak"


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (16-bit grey) with a tiny, truncated body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_a_clear_per_file_refusal(tmp_path):
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)  # 400 M pixels: Pillow itself would raise
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(UnreadableImage) as exc:
        decode_image(bomb, 32)
    assert exc.value.reason == ("20000x20000 = 400,000,000 pixels exceeds the 89,478,485-pixel limit; "
                                "raise it with --max-image-pixels")
    assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's global setting is left as it was
    with pytest.raises(UnreadableImage) as exc:  # a raised limit lets it through to the decoder (truncated here)
        decode_image(bomb, 32, max_pixels=500_000_000)
    assert "limit" not in exc.value.reason
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8)).save(small)
    with pytest.raises(UnreadableImage, match="30x20 = 600 pixels exceeds the 599-pixel limit"):
        decode_image(small, 16, max_pixels=599)
    assert decode_image(small, 16, max_pixels=600).shape == (16, 16)
    assert DEFAULT_MAX_IMAGE_PIXELS == 89_478_485


def test_pixel_limit_through_load_dataset(tmp_path, capsys):
    root = _noise_folder(tmp_path / "x", seed=6)
    _png_header_only(root / "NORMAL" / "huge.png", 12000, 12000)
    with pytest.raises(MedbenchError) as exc:
        load_dataset(f"folder:{root}", image_size=16)
    msg = str(exc.value)
    assert "1 unreadable image file(s)" in msg and "NORMAL/huge.png" in msg and "\n" not in msg
    assert "exceeds the 89,478,485-pixel limit; raise it with --max-image-pixels" in msg
    ds = load_dataset(f"folder:{root}", image_size=16, allow_missing=True)
    assert len(ds) == 12 and ds.problems["unreadable"]["per_label"] == {"NORMAL": 1}
    with pytest.raises(MedbenchError, match="exceeds the 1,000-pixel limit"):
        load_dataset(f"folder:{root}", image_size=16, max_image_pixels=1000)
    with pytest.raises(MedbenchError, match="pixel limit 0 is not a positive whole number"):
        load_dataset(f"folder:{root}", image_size=16, max_image_pixels=0)


@pytest.mark.parametrize("n_jobs, most", [(1, 1), (2, 2)])
def test_decoding_respects_n_jobs(tmp_path, monkeypatch, n_jobs, most):
    root = _noise_folder(tmp_path / "x", seed=7, n_per_class=40)
    threads: set[int] = set()
    real = images_mod.decode_image_and_colour

    def counting(*args, **kwargs):
        threads.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(images_mod, "decode_image_and_colour", counting)
    ds = load_dataset(f"folder:{root}", image_size=16, n_jobs=n_jobs)
    assert len(ds) == 80 and 1 <= len(threads) <= most
    if n_jobs == 1:
        assert threads == {threading.get_ident()}  # decoded on the calling thread, no pool


def test_n_jobs_zero_is_refused(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=8)
    with pytest.raises(MedbenchError, match="n_jobs 0"):
        load_dataset(f"folder:{root}", image_size=16, n_jobs=0)


# ---------------------------------------------------------------- item 4: one handler for unusable files


def test_one_failure_handler_for_every_loader(capsys):
    failures = [("a/1.png", "file not found"), ("b/2.png", "not a recognised image format")]
    labels = {"a/1.png": "A", "b/2.png": "B"}
    with pytest.raises(MedbenchError) as exc:
        handle_failures(failures, kind="missing", where="in /data", label_of=labels, allow_missing=False,
                        problems={}, out_of=10, prefix="x: ")
    assert str(exc.value) == ("x: 2 of 10 missing image file(s) in /data (A: 1, B: 1; first: a/1.png (file not "
                              "found); b/2.png (not a recognised image format)); restore them, or pass "
                              "--allow-missing to run without them")
    problems: dict = {}
    dropped = handle_failures(failures, kind="unreadable", where="in /data", label_of=labels, allow_missing=True,
                              problems=problems)
    assert dropped == {"a/1.png", "b/2.png"}
    assert problems["unreadable"] == {"count": 2, "per_label": {"A": 1, "B": 1},
                                      "files": ["a/1.png: file not found", "b/2.png: not a recognised image format"]}
    assert capsys.readouterr().err == ("medbench: warning: skipping 2 unreadable image file(s) in /data "
                                       "(A: 1, B: 1) (--allow-missing)\n")
    assert handle_failures([], kind="missing", where="", label_of={}, allow_missing=False, problems={}) == set()


# ---------------------------------------------------------------- item 6: groups


def test_images_without_patient_ids_are_each_their_own_group(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=9)  # NORMAL/img000.bmp and PNEUMONIA/img000.bmp, ...
    ds = load_dataset(f"folder:{root}", image_size=16)
    assert len(set(ds.groups.tolist())) == len(ds)
    assert ds.groups.tolist() == ds.ids.tolist()
    assert "each image is its own group" in ds.group_source


def test_kermany_names_are_grouped_by_patient(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=10, n_per_class=1)
    for name in ("person7_bacteria_1.bmp", "person7_virus_2.bmp"):
        shutil.copy(root / "PNEUMONIA" / "img000.bmp", root / "PNEUMONIA" / name)
    ds = load_dataset(f"folder:{root}", image_size=16)
    groups = dict(zip(ds.ids.tolist(), ds.groups.tolist(), strict=True))
    assert groups["PNEUMONIA/person7_bacteria_1.bmp"] == groups["PNEUMONIA/person7_virus_2.bmp"] == "person7"
    assert groups["NORMAL/img000.bmp"] == "NORMAL/img000.bmp"


# ---------------------------------------------------------------- item 7: CoronaHack etiology labels


def _corona(root: Path, rows: list[dict[str, str]]) -> Path:
    header = ["", "X_ray_image_name", "Label", "Dataset_type", "Label_2_Virus_category", "Label_1_Virus_category"]
    rng = np.random.default_rng(11)
    for r in rows:
        folder = root / "Coronahack-Chest-XRay-Dataset" / r["Dataset_type"].lower()
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(folder / r["X_ray_image_name"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header)
    writer.writeheader()
    writer.writerows({"": str(i), **r} for i, r in enumerate(rows))
    (root / "Chest_xray_Corona_Metadata.csv").write_text(buf.getvalue())
    return root


def _row(name: str, label: str, cat1: str = "", cat2: str = "", split: str = "TRAIN") -> dict[str, str]:
    return {"X_ray_image_name": name, "Label": label, "Dataset_type": split, "Label_2_Virus_category": cat2,
            "Label_1_Virus_category": cat1}


def test_etiology_never_labels_an_uncategorised_pneumonia_normal(tmp_path, capsys):
    rows = [_row(f"n{i}.png", "Normal") for i in range(3)]
    rows += [_row(f"b{i}.png", "Pnemonia", "bacteria") for i in range(3)]
    rows += [_row(f"v{i}.png", "Pnemonia", "Virus") for i in range(3)]
    rows += [_row("unknown.png", "Pnemonia", ""), _row("ards.png", "Pnemonia", "Stress-Smoking", "ARDS")]
    root = _corona(tmp_path / "corona", rows)
    ds = load_coronahack(root, task="etiology", image_size=16)
    assert ds.class_counts() == {"normal": 3, "bacteria": 3, "virus": 3}
    assert "train/unknown.png" not in ds.ids.tolist()
    excluded = ds.problems["excluded"]
    assert excluded["count"] == 2
    assert excluded["per_value"] == {"(empty) with Label Pnemonia": 1, "Stress-Smoking": 1}
    err = capsys.readouterr().err
    assert "excluding 2 row(s) of Chest_xray_Corona_Metadata.csv that fit no class of task 'etiology'" in err
    pneumonia = load_coronahack(root, task="pneumonia", image_size=16)  # the binary task keeps them all
    assert pneumonia.class_counts() == {"normal": 3, "pneumonia": 8} and "excluded" not in pneumonia.problems


# ---------------------------------------------------------------- item 8: image size


@pytest.mark.parametrize("size", [0, -3, 7, 4097, 100000, 2.5, True])
def test_absurd_image_sizes_are_one_line_errors(tmp_path, size):
    root = _noise_folder(tmp_path / "x", seed=12, n_per_class=2)
    with pytest.raises(MedbenchError) as exc:
        load_dataset(f"folder:{root}", image_size=size)
    if isinstance(size, int) and not isinstance(size, bool):
        expected = f"image size {size!r} is out of range: images are resized to a square of 8 to 4096 pixels"
    else:  # not a whole number at all: said so, not called "out of range"
        expected = f"image size {size!r} must be a whole number of pixels"
    assert str(exc.value).startswith(expected) and "\n" not in str(exc.value)


def test_edge_image_sizes_are_accepted(tmp_path):
    root = _noise_folder(tmp_path / "x", seed=13, n_per_class=2)
    assert load_dataset(f"folder:{root}", image_size=8).image_shape == (8, 8)


# ---------------------------------------------------------------- item 9: dataset-kind plugins


PLUGIN_SOURCE = '''
"""A toy dataset kind for medbench's tests."""
from medbench.datasets.folder import load_folder

CALLS = []


def load(path, *, spec, task, image_size, allow_missing, **kw):
    """Toy folders, renamed.

    Longer description.
    """
    CALLS.append({"path": path, "spec": spec, "task": task, "image_size": image_size,
                  "allow_missing": allow_missing, **kw})
    ds = load_folder(path, spec=spec, image_size=image_size or 16)
    ds.name = "toy-" + ds.name
    return ds


def not_a_dataset(path, **kw):
    return 42
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch) -> Path:
    """A real installed distribution (a ``.dist-info`` on sys.path) with entry points in ``medbench.datasets``."""
    site = tmp_path / "site"
    dist = site / "medbench_toy_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: medbench-toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[medbench.datasets]\n"
        "toy = medbench_toy_plugin:load\n"
        "broken = medbench_toy_broken:load\n"
        "folder = medbench_toy_plugin:load\n"
        "wrong = medbench_toy_plugin:not_a_dataset\n"
    )
    (site / "medbench_toy_plugin.py").write_text(PLUGIN_SOURCE)
    (site / "medbench_toy_broken.py").write_text("raise ImportError('needs a library that is not installed')\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in ("medbench_toy_plugin", "medbench_toy_broken"):
        sys.modules.pop(name, None)


def test_plugin_kind_is_loaded_and_listed(plugins, tmp_path, capsys):
    root = _noise_folder(tmp_path / "x", seed=14, n_per_class=2)
    ds = load_dataset(f"toy:{root}", image_size=24, n_jobs=1)
    assert ds.name == "toy-x" and ds.image_shape == (24, 24) and len(ds) == 4
    import medbench_toy_plugin

    call = medbench_toy_plugin.CALLS[-1]
    assert call == {"path": str(root), "spec": f"toy:{root}", "task": None, "image_size": 24,
                    "allow_missing": False, "n_jobs": 1, "max_image_pixels": DEFAULT_MAX_IMAGE_PIXELS,
                    "channels": "auto"}
    rows = {r["dataset"]: r for r in describe_datasets()}
    assert rows["toy:PATH"]["title"] == "Toy folders, renamed."
    assert "medbench-toy-plugin" in rows["toy:PATH"]["source"]
    assert "broken:PATH" not in rows
    err = capsys.readouterr().err
    assert ("medbench: warning: dataset plugin 'broken' (medbench_toy_broken:load) could not be loaded "
            "(ImportError: needs a library that is not installed); ignoring it") in err
    assert "dataset plugin 'folder' (medbench_toy_plugin:load) is ignored: folder is a built-in" in err
    assert all(line.startswith("medbench: warning: ") for line in err.splitlines())


def test_builtin_kind_wins_over_a_plugin_of_the_same_name(plugins, tmp_path):
    root = _noise_folder(tmp_path / "x", seed=15, n_per_class=2)
    ds = load_dataset(f"folder:{root}", image_size=16)
    assert ds.name == "x"  # the built-in loader, not the toy one
    assert "medbench_toy_plugin" not in sys.modules


def test_broken_or_wrong_plugins_are_one_line_errors(plugins, tmp_path, capsys):
    with pytest.raises(MedbenchError, match="unknown dataset 'broken:/x'; known datasets: .*toy:PATH"):
        load_dataset("broken:/x")
    assert "could not be loaded" in capsys.readouterr().err
    root = _noise_folder(tmp_path / "x", seed=16, n_per_class=2)
    with pytest.raises(MedbenchError, match="dataset plugin 'wrong' .* returned int, not a medbench Dataset"):
        load_dataset(f"wrong:{root}")
