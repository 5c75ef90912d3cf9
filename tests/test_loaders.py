"""Tests for the image decoder, the folder loader and the CoronaHack loader, on the real shared data."""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from data_paths import shared_datasets_path
from PIL import Image, ImageOps

from medbench.core.errors import MedbenchError
from medbench.datasets import images as images_mod
from medbench.datasets import load_dataset
from medbench.datasets.coronahack import load_coronahack
from medbench.datasets.derived import patient_id
from medbench.datasets.folder import load_folder
from medbench.datasets.images import UnreadableImage, decode_image, decode_many, load_images

SHARED = shared_datasets_path()  # the one place that knows where the shared data lives (data_paths.py)
CHEST = SHARED / "chest_xray"
CORONA = SHARED / "coronahack"
needs_chest = pytest.mark.skipif(not CHEST.is_dir(), reason=f"real data not found: {CHEST} (set MEDBENCH_SHARED)")
needs_corona = pytest.mark.skipif(not CORONA.is_dir(), reason=f"real data not found: {CORONA} (set MEDBENCH_SHARED)")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own decode cache: never touch the user's."""
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))


def _real_files(split: str, cls: str, n: int) -> list[Path]:
    return sorted((CHEST / split / cls).glob("*.jpeg"))[:n]


@pytest.fixture
def split_folder(tmp_path) -> Path:
    """train/ and test/ (no val/) with a few real chest_xray JPEGs per class."""
    root = tmp_path / "mini_xray"
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("NORMAL", "PNEUMONIA"):
            (root / split / cls).mkdir(parents=True)
            for f in _real_files(split, cls, n):
                shutil.copy(f, root / split / cls / f.name)
    return root


@pytest.fixture
def flat_folder(tmp_path) -> Path:
    root = tmp_path / "flat"
    for cls in ("NORMAL", "PNEUMONIA"):
        (root / cls).mkdir(parents=True)
        for f in _real_files("train", cls, 3):
            shutil.copy(f, root / cls / f.name)
    (root / "NORMAL" / "notes.txt").write_text("not an image")
    (root / "NORMAL" / ".DS_Store").write_bytes(b"\0\0")
    (root / "README.md").write_text("hello")
    return root


@pytest.fixture
def xray() -> Image.Image:
    """A real X-ray as 8-bit L, contrast-stretched to span exactly 0..255."""
    with Image.open(_real_files("train", "PNEUMONIA", 1)[0]) as im:
        return ImageOps.autocontrast(im.convert("L"), cutoff=0)


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize("name, expected", [
    ("person1000_bacteria_2931.jpeg", "person1000"),
    ("person1000_virus_1681.jpeg", "person1000"),
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("IM-0011-0001-0002.jpeg", "IM-0011"),
    ("NORMAL2-IM-0588-0001.jpeg", "NORMAL2-IM-0588"),
    ("train/NORMAL/NORMAL2-IM-0173-0001-0001.jpeg", "NORMAL2-IM-0173"),
    ("COVID19_10.jpg", None),
    ("1-s2.0-S0929664620300449-gr2_lrg-a.jpg", None),
])
def test_patient_id(name, expected):
    assert patient_id(name) == expected


@needs_chest
def test_mixed_formats_decode_alike(tmp_path, xray):
    rgb = Image.merge("RGB", [xray] * 3)
    rgba = rgb.copy()
    rgba.putalpha(255)
    files = {
        "l.png": xray,
        "rgb.png": rgb,
        "rgba.png": rgba,
        "p.png": xray.convert("P"),
        "big_rgb.jpg": rgb.resize((448, 400), Image.Resampling.BICUBIC),
        "small.bmp": xray.resize((150, 170), Image.Resampling.BICUBIC),
        "tall.tif": xray.resize((224, 300), Image.Resampling.BICUBIC),
    }
    for name, im in files.items():
        im.save(tmp_path / name, **({"quality": 95} if name.endswith(".jpg") else {}))
    wide = (np.asarray(xray, dtype=np.uint16) * 257).astype(np.uint16)  # 0..65535, 16-bit
    Image.fromarray(wide).save(tmp_path / "sixteen.png")
    with Image.open(tmp_path / "sixteen.png") as im:
        assert im.mode.startswith("I")  # really stored as 16-bit
    decoded = {name: decode_image(tmp_path / name, 64) for name in [*files, "sixteen.png"]}
    for name, arr in decoded.items():
        assert arr.shape == (64, 64) and arr.dtype == np.uint8, name
    ref = decoded["l.png"].astype(int)
    assert np.array_equal(decoded["rgb.png"], decoded["l.png"])  # equal channels -> same luminance
    assert np.array_equal(decoded["rgba.png"], decoded["l.png"])  # opaque alpha is dropped
    assert np.abs(decoded["sixteen.png"].astype(int) - ref).max() <= 1
    for name in ("p.png", "big_rgb.jpg", "small.bmp", "tall.tif"):
        assert np.abs(decoded[name].astype(int) - ref).mean() < 8, name


def test_numeric_modes_rescale(tmp_path):
    ramp = np.linspace(1000, 3000, 32 * 32).reshape(32, 32)
    Image.fromarray(ramp.astype(np.uint16)).save(tmp_path / "ramp16.png")
    Image.fromarray(ramp.astype(np.float32), mode="F").save(tmp_path / "rampf.tif")
    Image.fromarray(np.full((32, 32), 777, dtype=np.uint16)).save(tmp_path / "flat16.png")
    for name in ("ramp16.png", "rampf.tif"):
        arr = decode_image(tmp_path / name, 32)
        assert arr.min() == 0 and arr.max() == 255, name
    assert not decode_image(tmp_path / "flat16.png", 32).any()  # constant image -> 0


def test_exif_orientation_applied(tmp_path):
    a = np.zeros((20, 40), dtype=np.uint8)
    a[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(a).save(tmp_path / "o.png", exif=exif)
    arr = decode_image(tmp_path / "o.png", 40)
    assert arr[:10].mean() > 200 and arr[-10:].mean() < 50  # left half became the top half


@needs_chest
def test_unreadable_files(tmp_path):
    real = _real_files("train", "NORMAL", 1)[0].read_bytes()
    (tmp_path / "trunc.jpeg").write_bytes(real[: len(real) // 2])
    (tmp_path / "junk.png").write_bytes(b"this is not a png at all" * 10)
    for name in ("trunc.jpeg", "junk.png", "absent.png"):
        with pytest.raises(UnreadableImage) as exc:
            decode_image(tmp_path / name, 32)
        assert isinstance(exc.value, MedbenchError) and name in str(exc.value)
    (tmp_path / "ok.jpeg").write_bytes(real)
    arr, failures = decode_many([tmp_path / n for n in ("trunc.jpeg", "ok.jpeg", "junk.png")], 32)
    assert arr.shape == (1, 32, 32)
    assert [Path(p).name for p, _ in failures] == ["trunc.jpeg", "junk.png"]


# ---------------------------------------------------------------- folder loader


@needs_chest
def test_folder_split_layout(split_folder):
    ds = load_dataset(f"folder:{split_folder}", image_size=32)
    assert ds.name == "mini_xray" and ds.class_names == ["NORMAL", "PNEUMONIA"]
    assert ds.positive_class == 1 and ds.task == "binary"
    assert ds.images.shape == (10, 32, 32) and ds.images.dtype == np.uint8
    assert set(ds.official_split.tolist()) == {"train", "test"}
    assert ds.class_counts() == {"NORMAL": 5, "PNEUMONIA": 5}
    assert ds.card()["official_split_counts"]["train"] == {"NORMAL": 3, "PNEUMONIA": 3}
    first = _real_files("train", "NORMAL", 1)[0].name
    assert ds.ids[0] == f"train/NORMAL/{first}"
    for i, g in zip(ds.ids, ds.groups, strict=True):
        assert g == patient_id(i) and g
    assert ds.group_source.startswith("file name")
    assert ds.problems == {}
    assert ds.images.std() > 10  # real pixels, not zeros


@needs_chest
def test_folder_flat_layout(flat_folder):
    ds = load_folder(flat_folder, spec="folder:x", image_size=48)
    assert ds.official_split is None
    assert ds.images.shape == (6, 48, 48)
    assert ds.ids[0].startswith("NORMAL/") and "/" in ds.ids[-1]
    assert ds.problems["ignored_files"]["count"] == 2  # notes.txt and README.md; .DS_Store is hidden
    assert set(ds.problems["ignored_files"]["files"]) == {"NORMAL/notes.txt", "README.md"}


@needs_chest
def test_folder_class_mismatch_noted(split_folder):
    shutil.rmtree(split_folder / "test" / "PNEUMONIA")
    ds = load_folder(split_folder, image_size=16)
    assert ds.class_names == ["NORMAL", "PNEUMONIA"]
    assert "PNEUMONIA" in ds.problems["class_mismatch"][0]


def test_folder_errors(tmp_path):
    with pytest.raises(MedbenchError, match="does not exist"):
        load_folder(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(MedbenchError, match="not a folder"):
        load_folder(tmp_path / "file.txt")
    (tmp_path / "noclass").mkdir()
    with pytest.raises(MedbenchError, match="no class folders"):
        load_folder(tmp_path / "noclass")
    one = tmp_path / "one" / "A"
    one.mkdir(parents=True)
    Image.new("L", (8, 8)).save(one / "a.png")
    with pytest.raises(MedbenchError, match="at least 2"):
        load_folder(tmp_path / "one")


@needs_chest
def test_folder_empty_class(split_folder):
    (split_folder / "train" / "EXTRA").mkdir()
    with pytest.raises(MedbenchError, match=r"empty class folder .*train/EXTRA: add images or remove the folder"):
        load_folder(split_folder)


@needs_chest
def test_folder_corrupt_files(split_folder, capsys):
    real = next((split_folder / "train" / "NORMAL").iterdir()).read_bytes()
    (split_folder / "train" / "NORMAL" / "broken.jpeg").write_bytes(real[:300])
    (split_folder / "test" / "PNEUMONIA" / "junk.png").write_bytes(b"\x89PNG garbage" * 5)
    with pytest.raises(MedbenchError) as exc:
        load_folder(split_folder, image_size=16)
    msg = str(exc.value)
    assert "2 unreadable" in msg and "broken.jpeg" in msg and "--allow-missing" in msg and "\n" not in msg
    ds = load_folder(split_folder, image_size=16, allow_missing=True)
    assert len(ds) == 10
    bad = ds.problems["unreadable"]
    assert bad["count"] == 2 and bad["per_label"] == {"NORMAL": 1, "PNEUMONIA": 1}
    assert any("broken.jpeg" in f for f in bad["files"])
    assert "warning" in capsys.readouterr().err


@needs_chest
def test_folder_never_drops_a_class(split_folder):
    for cls in ("NORMAL",):
        for split in ("train", "test"):
            for f in (split_folder / split / cls).iterdir():
                f.write_bytes(b"garbage")
    with pytest.raises(MedbenchError, match="NORMAL"):
        load_folder(split_folder, image_size=16, allow_missing=True)


@needs_chest
def test_decode_cache_hit(split_folder, tmp_path, monkeypatch):
    first = load_folder(split_folder, image_size=24)
    cached = list((tmp_path / "cache" / "images").glob("*.npy"))
    assert len(cached) == 1
    assert cached[0].with_suffix(".json").is_file() and cached[0].with_suffix(".status.npz").is_file()

    def boom(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(images_mod, "_decode_into", boom)
    second = load_folder(split_folder, image_size=24)
    assert np.array_equal(first.images, second.images) and first.fingerprint == second.fingerprint
    assert isinstance(second.images, np.memmap) and not second.images.flags.writeable  # mapped, not copied
    monkeypatch.undo()
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    rels = first.ids.tolist()
    rev, _ = load_images(split_folder, rels[::-1], 24)  # another order: its own entry, the right pixels
    assert np.array_equal(rev, first.images[::-1])
    assert len(list((tmp_path / "cache" / "images").glob("*.npy"))) == 2
    target = split_folder / rels[0]
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # a changed file is a new key
    load_folder(split_folder, image_size=24)
    assert len(list((tmp_path / "cache" / "images").glob("*.npy"))) == 3


@needs_chest
@pytest.mark.slow
def test_full_chest_xray():
    ds = load_dataset(f"folder:{CHEST}", image_size=64)
    counts = ds.card()["official_split_counts"]
    assert counts == {
        "train": {"NORMAL": 1341, "PNEUMONIA": 3875},
        "val": {"NORMAL": 8, "PNEUMONIA": 8},
        "test": {"NORMAL": 234, "PNEUMONIA": 390},
    }
    assert ds.images.shape == (5856, 64, 64) and ds.positive_class == 1
    assert ds.problems == {}
    assert all(patient_id(i) for i in ds.ids)


# ---------------------------------------------------------------- CoronaHack


@needs_corona
@pytest.mark.slow
def test_full_coronahack():
    spec = f"coronahack:{CORONA}"
    with pytest.raises(MedbenchError) as exc:
        load_dataset(spec, image_size=64)
    msg = str(exc.value)
    for part in ("290 of 6197", "Chest_xray_Corona_Metadata.csv", "pneumonia: 290", "COVID-19: 290",
                 "--allow-missing"):
        assert part in msg, (part, msg)
    assert "\n" not in msg

    ds = load_dataset(spec, image_size=64, allow_missing=True)
    assert ds.name == "coronahack-pneumonia" and ds.class_names == ["normal", "pneumonia"]
    assert ds.positive_class == 1 and ds.images.shape == (5907, 64, 64)
    assert ds.class_counts() == {"normal": 1576, "pneumonia": 4331}
    missing = ds.problems["missing"]
    assert missing["count"] == 290 and missing["per_label"] == {"pneumonia": 290}
    assert missing["per_category"] == {"COVID-19": 290}
    assert set(ds.official_split.tolist()) == {"train", "test"}
    assert ds.ids[0].startswith("train/") and ds.ids[-1].startswith("test/")
    assert "excluded" not in ds.problems and "unreadable" not in ds.problems

    et = load_dataset(spec, task="etiology", image_size=64, allow_missing=True)
    assert et.class_names == ["normal", "bacteria", "virus"] and et.task == "multiclass"
    assert et.class_counts() == {"normal": 1576, "bacteria": 2777, "virus": 1552}
    assert et.problems["excluded"]["per_value"] == {"Stress-Smoking": 2}
    assert et.problems["missing"]["per_label"] == {"virus": 290}


def test_coronahack_unknown_task(tmp_path):
    with pytest.raises(MedbenchError, match="pneumonia, etiology"):
        load_coronahack(tmp_path, task="covid")


def test_coronahack_missing_csv(tmp_path):
    with pytest.raises(MedbenchError, match="Chest_xray_Corona_Metadata.csv not found"):
        load_coronahack(tmp_path)


@pytest.fixture
def mini_corona(tmp_path) -> Path:
    """A small real subset in the single-level layout: 4 normal, 4 bacteria, 2 virus, 2 COVID-19 (present)."""
    src_dir = CORONA / "Coronahack-Chest-XRay-Dataset" / "Coronahack-Chest-XRay-Dataset"
    with open(CORONA / "Chest_xray_Corona_Metadata.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    col = {c: i for i, c in enumerate(header)}
    want = {("Normal", ""): 4, ("bacteria", ""): 4, ("Virus", ""): 2, ("Virus", "COVID-19"): 2}
    picked = []
    for r in body:
        key = (r[col["Label_1_Virus_category"]] or r[col["Label"]], r[col["Label_2_Virus_category"]])
        src = src_dir / r[col["Dataset_type"]].lower() / r[col["X_ray_image_name"]]
        if want.get(key, 0) > 0 and src.exists():
            want[key] -= 1
            picked.append((r, src))
    root = tmp_path / "corona"
    for r, src in picked:
        dst = root / "Coronahack-Chest-XRay-Dataset" / r[col["Dataset_type"]].lower() / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + [r for r, _ in picked])
    (root / "Chest_xray_Corona_Metadata.csv").write_text(buf.getvalue())
    return root


@needs_corona
def test_coronahack_single_level_and_unreadable(mini_corona, capsys):
    ds = load_coronahack(mini_corona, image_size=32)
    assert ds.class_counts() == {"normal": 4, "pneumonia": 8}
    assert ds.source["fine_categories"]["pneumonia"]["COVID-19"] == 2
    covid = [i for i in ds.ids if patient_id(i) is None]
    assert len(covid) == 2 and all(g == i for i, g in zip(ds.ids, ds.groups, strict=True) if patient_id(i) is None)
    (mini_corona / "Coronahack-Chest-XRay-Dataset" / covid[0]).write_bytes(b"garbage")
    with pytest.raises(MedbenchError, match="1 unreadable image file.*COVID-19: 1.*--allow-missing"):
        load_coronahack(mini_corona, image_size=32)
    ds = load_coronahack(mini_corona, image_size=32, allow_missing=True)
    assert len(ds) == 11 and ds.problems["unreadable"]["per_category"] == {"COVID-19": 1}
    assert "warning" in capsys.readouterr().err


@needs_corona
def test_coronahack_never_drops_a_class(mini_corona):
    folder = mini_corona / "Coronahack-Chest-XRay-Dataset"
    for f in folder.rglob("*"):
        if f.is_file() and (f.name.startswith("IM-") or f.name.startswith("NORMAL")):
            f.unlink()
    with pytest.raises(MedbenchError, match="missing"):
        load_coronahack(mini_corona, image_size=32)
    with pytest.raises(MedbenchError, match="no image of class 'normal'"):
        load_coronahack(mini_corona, image_size=32, allow_missing=True)


# ---------------------------------------------------------------- colour (--channels)


def _colour_folder(root: Path, *, tinted: int = 4) -> Path:
    """Two classes of real X-rays (RGB files, equal channels); ``tinted`` of class 'b' get a red tint."""
    xray_files = _real_files("train", "NORMAL", 4) + _real_files("train", "PNEUMONIA", 4)
    for i, f in enumerate(xray_files):
        cls = "a" if i < 4 else "b"
        (root / cls).mkdir(parents=True, exist_ok=True)
        with Image.open(f) as im:
            rgb = np.asarray(im.convert("RGB").resize((40, 40))).copy()
        if cls == "b" and i - 4 < tinted:
            rgb[..., 0] = np.clip(rgb[..., 0].astype(int) + 60, 0, 255)
        Image.fromarray(rgb).save(root / cls / f"{i}.png")
    return root


@needs_chest
def test_gray_folder_under_auto_is_exactly_the_gray_decode(split_folder):
    auto = load_folder(split_folder, image_size=32)
    gray = load_folder(split_folder, image_size=32, channels="gray")
    assert auto.channels == "gray" and auto.fingerprint == gray.fingerprint
    fresh, _ = decode_many([split_folder / i for i in auto.ids], 32)  # the decoder's gray, uncached
    assert np.array_equal(auto.images, fresh)
    rgb = load_folder(split_folder, image_size=32, channels="rgb")
    assert rgb.images.shape == (len(auto), 32, 32, 3) and rgb.card()["channels"] == "rgb"
    assert np.array_equal(rgb.images[..., 0], auto.images) and rgb.source["colour_images"] == 0


@needs_chest
def test_colour_folder_is_rgb_under_auto_and_luminance_under_gray(tmp_path, capsys):
    root = _colour_folder(tmp_path / "tint")
    ds = load_dataset(f"folder:{root}", image_size=40)
    assert ds.channels == "rgb" and ds.images.shape == (8, 40, 40, 3) and ds.source["colour_images"] == 4
    assert "4 of 8 images have colour" in capsys.readouterr().err  # a minority: the user is told
    with Image.open(root / "b" / "4.png") as im:
        expected_rgb, expected_l = np.asarray(im), np.asarray(im.convert("L"))
    assert np.array_equal(ds.images[list(ds.ids).index("b/4.png")], expected_rgb)
    gray = load_dataset(f"folder:{root}", image_size=40, channels="gray")
    assert gray.channels == "gray" and np.array_equal(gray.images[list(gray.ids).index("b/4.png")], expected_l)
    entries = sorted(p.name for p in (tmp_path / "cache" / "images").glob("*.npy"))
    assert len(entries) == 2 and sum(n.endswith("-rgb.npy") for n in entries) == 1  # one entry per channels


@needs_chest
def test_cached_rgb_entry_is_read_back_memory_mapped(tmp_path, monkeypatch):
    root = _colour_folder(tmp_path / "tint", tinted=3)
    first = load_dataset(f"folder:{root}", image_size=24)  # auto: decoded gray (colour found), then rgb

    def boom(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(images_mod, "_decode_into", boom)
    for channels in ("rgb", "auto"):  # auto: the gray entry records the colour, then the rgb entry
        again = load_dataset(f"folder:{root}", image_size=24, channels=channels)
        assert isinstance(again.images, np.memmap) and again.fingerprint == first.fingerprint
    assert load_dataset(f"folder:{root}", image_size=24, channels="gray").channels == "gray"


@needs_chest
def test_rgb_decode_of_every_mode(tmp_path, xray):
    xray.convert("P").save(tmp_path / "p.png")
    xray.convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.asarray(xray).astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    for name in ("p.png", "rgba.png", "sixteen.png"):
        rgb = decode_image(tmp_path / name, 32, channels="rgb")
        gray = decode_image(tmp_path / name, 32)
        assert rgb.shape == (32, 32, 3) and np.array_equal(rgb[..., 0], gray) and np.array_equal(rgb[..., 2], gray)
    arr, _ = decode_many([tmp_path / "p.png"], 32, channels="auto")
    assert arr.shape == (1, 32, 32)  # a gray palette is gray


@needs_corona
@pytest.mark.slow
def test_coronahack_stays_gray_under_auto():
    ds = load_dataset(f"coronahack:{CORONA}", image_size=32, allow_missing=True)
    assert ds.channels == "gray"
