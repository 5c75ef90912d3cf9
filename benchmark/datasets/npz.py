"""Image arrays from a NumPy ``.npz`` archive: the MedMNIST files and ``npz:PATH`` (the user's own).

Layouts (:func:`read_npz`):

* MedMNIST-style: ``train_images`` / ``train_labels`` and ``test_images`` / ``test_labels``, optionally
  ``val_images`` / ``val_labels`` (the official split; without ``val_`` medbench carves validation
  from train);
* ``x`` / ``y``: every image, no official split.

Optional ``class_names``: a 1-D string array naming labels ``0 .. K-1`` (without it the classes are
the label values, as text). Other keys are ignored and listed in ``problems["ignored_keys"]``.

Arrays: images ``(N, H, W)`` (gray), ``(N, H, W, 1)``, ``(N, H, W, 3)`` (RGB) or ``(N, H, W, 4)``
(RGBA: alpha dropped, as the image decoder does), channels last, ``H, W >= 8``, the same size and
channels in every split. ``uint8`` is used as is; ``bool`` becomes 0 / 255; other integer and float
dtypes are stretched per image from its min..max to 0..255 exactly as the decoder does for 16-bit /
float files (:func:`medbench.datasets.images.stretch_to_uint8`; an RGB image is stretched jointly over
its channels, so its hues survive). Labels ``(N,)`` or ``(N, 1)``, non-negative integers up to 2**31 - 1 (or floats
holding whole numbers); ``(N, K)`` multi-label arrays are refused. With ``class_names``, every named
class must have images (a name no label uses is refused, not run as an empty class). Before
anything is decompressed, the ``.npy`` headers' shapes and dtypes are checked against
``--max-image-pixels`` per image and the memory available in all (a decompression bomb is refused). Nothing is ever unpickled
(``allow_pickle=False``): an object array is refused by name. Every problem is one line naming the
file and the key.

Channels (:func:`apply_channels`): ``gray`` reduces RGB to ITU-R 601-2 luminance (Pillow's formula,
:func:`medbench.features.colour.to_luminance`); ``rgb`` repeats gray into three channels; ``auto``
keeps RGB only when the arrays have colour (for MedMNIST: when the set is a colour set).
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from medbench.core.errors import MedbenchError
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.derived import positive_class_index
from medbench.datasets.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIZE,
    check_channels,
    stretch_to_uint8,
)
from medbench.datasets.spec import DatasetKind, DatasetSpec, path_kind_row
from medbench.features.colour import all_gray, to_luminance

_SPLIT_KEY = re.compile(r"^(train|val|test)_(images|labels)$")
MAX_LABEL = 2**31 - 1
CLASS_NAMES_KEY = "class_names"
TITLE = "NumPy .npz arrays"
GROUP_SOURCE = "none (the .npz holds no patient ids: each image is its own group)"


@dataclass
class NpzArrays:
    """What :func:`read_npz` found: per split (``None`` for the x / y layout) ``(images, labels)``."""

    parts: dict[str | None, tuple[np.ndarray, np.ndarray]]
    class_names: list[str] | None
    layout: str
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def has_colour(self) -> bool:
        return any(x.ndim == 4 and not all_gray(x) for x, _ in self.parts.values())


def _fail(path: Path, problem: str) -> MedbenchError:
    return MedbenchError(f"npz file {path}: {problem}")


def _read_key(npz: Any, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise _fail(path, f"array {key!r} is a pickled object array; medbench never unpickles data files: "
                              f"save plain numeric arrays (np.savez with uint8 images and integer labels)") from None
        raise _fail(path, f"array {key!r} cannot be read ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise _fail(path, f"array {key!r} is damaged ({type(exc).__name__}: {exc}); save the file again") from None


def images_to_uint8(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Images of an accepted shape and dtype as ``uint8`` ``(N, H, W)`` / ``(N, H, W, 3)`` (see module docstring)."""
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        x = x[..., 0] if x.shape[-1] == 1 else x[..., :3]
    elif x.ndim == 4 and x.shape[1] in (1, 3, 4):
        raise _fail(path, f"{key!r} has shape {x.shape}, which looks channels-first; store images as "
                          f"(N, H, W) or (N, H, W, 3)")
    if x.ndim not in (3, 4):
        raise _fail(path, f"{key!r} has shape {x.shape}; expected images (N, H, W) or (N, H, W, 3)")
    if len(x) == 0:
        raise _fail(path, f"{key!r} holds no images")
    if min(x.shape[1:3]) < MIN_IMAGE_SIZE:
        raise _fail(path, f"{key!r} images are {x.shape[1]}x{x.shape[2]}; medbench needs at least "
                          f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}")
    kind = x.dtype.kind
    if x.dtype == np.uint8:
        return x
    if kind == "b":
        return x.astype(np.uint8) * np.uint8(255)
    if kind not in "uif":
        raise _fail(path, f"{key!r} has dtype {x.dtype}; images must be numbers (uint8, other integers or floats)")
    out = np.empty(x.shape, dtype=np.uint8)
    for i, img in enumerate(x):  # per image, min..max -> 0..255, as the decoder stretches 16-bit / float files
        out[i] = stretch_to_uint8(img.reshape(img.shape[0], -1)).reshape(img.shape)
    return out


def labels_to_int(y: np.ndarray, n: int, path: Path, key: str) -> np.ndarray:
    """``(N,)`` / ``(N, 1)`` non-negative whole-number labels as int64; else a one-line error."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise _fail(path, f"{key!r} has shape {y.shape}; expected one label per image, (N,) or (N, 1) "
                          f"(multi-label (N, K) arrays are not supported)")
    if len(y) != n:
        raise _fail(path, f"{key!r} has {len(y)} labels for {n} images")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise _fail(path, f"{key!r} holds non-integer labels; labels must be class indices 0, 1, 2, ...")
    elif y.dtype.kind not in "ui":
        raise _fail(path, f"{key!r} has dtype {y.dtype}; labels must be integers (class indices)")
    if len(y) and y.dtype.kind in "uf" and y.max() > MAX_LABEL:  # before int64 would wrap it round
        raise _fail(path, f"{key!r} holds label {int(y.max())}, too large for a class index (at most {MAX_LABEL})")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise _fail(path, f"{key!r} holds negative labels; labels must be class indices 0, 1, 2, ...")
    return y


def _class_names(npz: Any, path: Path) -> list[str] | None:
    if CLASS_NAMES_KEY not in npz.files:
        return None
    names = _read_key(npz, CLASS_NAMES_KEY, path)
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) < 2:
        raise _fail(path, f"{CLASS_NAMES_KEY!r} must be a 1-D array of at least 2 strings, got "
                          f"{names.dtype} {names.shape}")
    out = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    if len(set(out)) != len(out) or any(not n.strip() for n in out):
        raise _fail(path, f"{CLASS_NAMES_KEY!r} must hold distinct, non-empty names")
    return out


def _header(npz: Any, key: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an array member declares in its ``.npy`` header, read without decompressing its data."""
    try:
        with npz.zip.open(f"{key}.npy") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                shape, _, dtype = np.lib.format._read_array_header(handle, version)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise _fail(path, f"array {key!r} has a damaged header ({type(exc).__name__}: {exc}); save the file again") \
            from None
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _check_declared(npz: Any, keys: list[str], path: Path, max_pixels: int | None, max_bytes: int | None) -> None:
    """Refuse, before any data is decompressed, arrays whose declared images exceed ``max_pixels`` each or
    whose declared sizes add up to more than ``max_bytes`` (default: the memory available now)."""
    max_pixels = DEFAULT_MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    max_bytes = int(psutil.virtual_memory().available) if max_bytes is None else max_bytes
    total = 0
    for key in keys:
        shape, dtype = _header(npz, key, path)
        total += peak_bytes(key, shape, dtype)
        if key == "x" or key.endswith("_images"):
            pixels = math.prod(shape[1:3]) if len(shape) >= 3 else 0
            if pixels > max_pixels:
                raise _fail(path, f"{key!r} declares {shape[1]}x{shape[2]} images ({pixels:,} pixels each), above "
                                  f"the limit of {max_pixels:,} (--max-image-pixels)")
        if total > max_bytes:
            raise _fail(path, f"loading its arrays needs {total / 2**30:,.1f} GiB (up to {key!r}: shape {shape}, "
                              f"{dtype}, with the copies loading makes), more than the {max_bytes / 2**30:,.1f} GiB "
                              f"of memory available; refusing to decompress it")


def peak_bytes(key: str, shape: tuple[int, ...], dtype: np.dtype) -> int:
    """The memory loading array ``key`` (declared ``shape``, ``dtype``) holds at its peak, every copy counted:
    the decompressed array itself, its ``uint8`` conversion (images of another dtype; labels become int64),
    and the image copy :func:`load_npz` makes when it applies the channels and joins the splits (at most
    3 channels per pixel)."""
    raw = math.prod(shape) * dtype.itemsize
    n = shape[0] if shape else 1
    if key == "x" or key.endswith("_images"):
        channels = 3 if len(shape) == 4 and shape[-1] not in (1,) else 1
        final = math.prod(shape[:3]) * channels if len(shape) >= 3 else raw
        return raw + (0 if dtype == np.uint8 else final) + final
    return raw + n * 8


def read_npz(path: str | os.PathLike, *, max_image_pixels: int | None = None,
             max_bytes: int | None = None) -> NpzArrays:
    """Read and check an ``.npz`` (layouts and rules in the module docstring).

    Before any array is decompressed, the shapes and dtypes its ``.npy`` headers declare are checked:
    an image above ``max_image_pixels`` (default Pillow's limit) or arrays adding up to more than
    ``max_bytes`` (default: the memory available now) are a one-line error, so a small file cannot
    expand into all the memory there is (a decompression bomb)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MedbenchError(f"npz file {path} does not exist" if not path.exists()
                            else f"npz path {path} is not a file; pass the .npz file itself")
    if not zipfile.is_zipfile(path):
        raise _fail(path, "is not an .npz archive (not a zip file); save it with numpy.savez or savez_compressed")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"cannot be opened as an .npz archive ({exc})") from None
    with npz:
        keys = set(npz.files)
        split_keys = {k for k in keys if _SPLIT_KEY.match(k)}
        if split_keys and keys & {"x", "y"}:
            raise _fail(path, "has both train_/val_/test_ arrays and x / y; keep one layout")
        if split_keys:
            layout = "medmnist"
            wanted = [s for s in SPLITS if f"{s}_images" in keys or f"{s}_labels" in keys]
            for s in ("train", "test"):
                if s not in wanted:
                    raise _fail(path, f"has no {s}_images / {s}_labels; the MedMNIST layout needs train_ and test_ "
                                      f"arrays (val_ is optional), or store everything as x / y")
            for s in wanted:
                for k in (f"{s}_images", f"{s}_labels"):
                    if k not in keys:
                        raise _fail(path, f"has {s} arrays but no {k!r}")
            names = {s: (f"{s}_images", f"{s}_labels") for s in wanted}
        elif {"x", "y"} <= keys:
            layout, names = "x/y", {None: ("x", "y")}
        else:
            found = ", ".join(sorted(keys)) or "no arrays"
            raise _fail(path, f"has {found}; expected train_images / train_labels / test_images / test_labels "
                              f"(and optional val_...) or x / y")
        _check_declared(npz, [k for pair in names.values() for k in pair], path, max_image_pixels, max_bytes)
        parts: dict[str | None, tuple[np.ndarray, np.ndarray]] = {}
        for split, (xk, yk) in names.items():
            x = images_to_uint8(_read_key(npz, xk, path), path, xk)
            parts[split] = (x, labels_to_int(_read_key(npz, yk, path), len(x), path, yk))
        class_names = _class_names(npz, path)
        used = {k for pair in names.values() for k in pair} | {CLASS_NAMES_KEY}
        ignored = sorted(keys - used)
    shapes = {s: x.shape[1:] for s, (x, _) in parts.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{s or 'x'} {'x'.join(map(str, v))}" for s, v in shapes.items())
        raise _fail(path, f"splits differ in image size or channels ({listed}); store them at one size")
    notes: dict[str, Any] = {"ignored_keys": ignored} if ignored else {}
    return NpzArrays(parts, class_names, layout, notes)


def apply_channels(x: np.ndarray, channels: str) -> np.ndarray:
    """Images as ``gray`` (RGB reduced to luminance) or ``rgb`` (gray repeated to 3 channels)."""
    if channels == "gray":
        return to_luminance(x) if x.ndim == 4 else x
    return x if x.ndim == 4 else np.repeat(x[..., None], 3, axis=-1)


def resolve_channels(channels: str, source_is_colour: bool) -> str:
    """``auto`` -> ``rgb`` for a colour source, else ``gray``; ``gray`` / ``rgb`` as given."""
    channels = check_channels(channels)
    if channels == "auto":
        return "rgb" if source_is_colour else "gray"
    return channels


def _labels_and_names(arrays: NpzArrays, path: Path) -> tuple[list[np.ndarray], list[str]]:
    ys = [y for _, y in arrays.parts.values()]
    values = np.unique(np.concatenate(ys))
    if arrays.class_names is not None:
        if values.max() >= len(arrays.class_names):
            raise _fail(path, f"label {int(values.max())} has no entry in {CLASS_NAMES_KEY!r} "
                              f"({len(arrays.class_names)} names)")
        empty = [i for i in range(len(arrays.class_names)) if i not in set(values.tolist())]
        if empty:  # a class without images cannot be trained or scored (and one class is no classification)
            listed = ", ".join(f"{arrays.class_names[i]!r} (label {i})" for i in empty[:5])
            raise _fail(path, f"{CLASS_NAMES_KEY!r} names {len(arrays.class_names)} classes but no image has "
                              f"{'class' if len(empty) == 1 else 'classes'} {listed}; drop the unused names "
                              f"(labels 0..K-1 must each have images)")
        return ys, arrays.class_names
    if len(values) < 2:
        raise _fail(path, f"every image has label {int(values[0])}; a classification needs at least 2 classes")
    return [np.searchsorted(values, y).astype(np.int64) for y in ys], [str(int(v)) for v in values]


def load_npz(path: str | os.PathLike, *, spec: str | None = None, channels: str = "auto",
             max_image_pixels: int | None = None) -> Dataset:
    """Load ``npz:PATH`` (see the module docstring): the official split if the file has one."""
    path = Path(path).expanduser()
    arrays = read_npz(path, max_image_pixels=max_image_pixels)
    chosen = resolve_channels(channels, arrays.has_colour)
    ys, class_names = _labels_and_names(arrays, path.resolve())
    images, ids, split = [], [], []
    for (s, (x, _)) in arrays.parts.items():
        images.append(apply_channels(x, chosen))
        width = max(5, len(str(len(x))))
        prefix = f"{s}/" if s is not None else ""
        ids.extend(f"{prefix}{i:0{width}d}" for i in range(len(x)))
        split.extend([s] * len(x))
    name = path.stem
    return Dataset(
        name=name,
        spec=spec or f"npz:{path}",
        title=f"{TITLE} {name}",
        class_names=class_names,
        images=np.concatenate(images) if len(images) > 1 else images[0],
        labels=np.concatenate(ys),
        ids=np.array(ids),
        groups=np.array(ids),
        official_split=np.array(split) if arrays.layout == "medmnist" else None,
        positive_class=positive_class_index(class_names),
        task="binary" if len(class_names) == 2 else "multiclass",
        source={"path": str(path.resolve()), "layout": arrays.layout,
                "class_names": "from the file" if arrays.class_names else "label values"},
        problems=dict(arrays.notes),
        group_source=GROUP_SOURCE,
    )


def _load_kind(spec: DatasetSpec, *, max_image_pixels: int, **_: Any) -> Dataset:
    if spec.task is not None:
        raise MedbenchError("npz datasets have one task (their labels); drop --task")
    return load_npz(spec.path, spec=spec.text, channels=spec.channels,  # arrays keep their size: no image_size
                    max_image_pixels=max_image_pixels)


DATASET_KINDS = [DatasetKind("npz", _load_kind, path_kind_row(
    "npz", title=TITLE, classes="label values (or the file's class_names)",
    split="official (train_/val_/test_ arrays) if present, else seeded stratified split",
    source="Your own .npz: MedMNIST-style keys train_images / train_labels, test_... and optional val_... "
           "(official split), or x / y (no split); images (N,H,W) or (N,H,W,3), labels (N,) or (N,1); optional "
           "class_names. No checksum (your file); never unpickled."), order=20)]
