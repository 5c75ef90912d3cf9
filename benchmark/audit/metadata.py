"""What a file says about itself besides the anatomy, read cheaply: format, colour mode, bit depth, original
size and aspect from the header (Pillow opens a file without decoding its pixels), plus the border /
padding fraction and whether the pixels have colour, from the decoded images the dataset already holds.

Datasets with no files (``npz:``, MedMNIST) have only the pixel-derived properties: :func:`file_root` is
None for them and :func:`read` says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Bits per pixel of each Pillow mode.
BIT_DEPTH = {"1": 1, "L": 8, "P": 8, "LA": 16, "PA": 16, "RGB": 24, "RGBA": 32, "CMYK": 32, "YCbCr": 24,
             "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": 32}
#: A border row or column is padding when its pixel values span fewer than this many levels.
UNIFORM_RANGE = 10
NUMERIC = ("width", "height", "aspect", "bit_depth", "border_fraction", "colour")
CATEGORICAL = ("format", "mode")
_CHUNK = 512


def file_root(ds: Any) -> Path | None:
    """The folder the dataset's ids are relative to, when its images are files (else None)."""
    for key in ("images", "path"):
        root = ds.source.get(key) if isinstance(ds.source, dict) else None
        if root and Path(root).is_dir() and len(ds.ids) and (Path(root) / str(ds.ids[0])).is_file():
            return Path(root)
    return None


def header(path: Path) -> dict[str, Any]:
    """Format, mode, bit depth, width, height and aspect from the file's header (no pixel decoding)."""
    try:
        with Image.open(path) as im:
            w, h, mode, fmt = im.width, im.height, im.mode, im.format or "unknown"
    except Exception:  # noqa: BLE001 - an unreadable file is the loader's to report; here it is "unknown"
        return {"format": "unreadable", "mode": "unknown", "bit_depth": 0, "width": 0, "height": 0, "aspect": 0.0}
    return {"format": fmt, "mode": mode, "bit_depth": BIT_DEPTH.get(mode, 0), "width": w, "height": h,
            "aspect": round(w / h, 4) if h else 0.0}


def _leading(uniform: np.ndarray) -> np.ndarray:
    """Per row of ``uniform`` (N, L) bools: how many leading entries are True."""
    return np.cumprod(uniform, axis=1).sum(axis=1)


def border_fraction(images: np.ndarray) -> np.ndarray:
    """Share of each image's area in uniform border rows / columns (padding, letterboxing), ``(N,)``."""
    out = np.zeros(len(images))
    for start in range(0, len(images), _CHUNK):
        x = np.asarray(images[start:start + _CHUNK])
        if x.ndim == 4:
            x = x.mean(axis=3, dtype=np.float32)
        n, h, w = x.shape
        rows = (x.max(axis=2).astype(np.int16) - x.min(axis=2)) < UNIFORM_RANGE
        cols = (x.max(axis=1).astype(np.int16) - x.min(axis=1)) < UNIFORM_RANGE
        top, bottom = _leading(rows), _leading(rows[:, ::-1])
        left, right = _leading(cols), _leading(cols[:, ::-1])
        inner_h = np.clip(h - top - bottom, 0, h)
        inner_w = np.clip(w - left - right, 0, w)
        out[start:start + n] = 1 - (inner_h * inner_w) / (h * w)
    return np.round(out, 4)


def has_colour(images: np.ndarray) -> np.ndarray | None:
    """Per image, whether its channels differ anywhere (RGB datasets); None for a gray dataset."""
    if images.ndim != 4:
        return None
    out = np.zeros(len(images), dtype=bool)
    for start in range(0, len(images), _CHUNK):
        x = np.asarray(images[start:start + _CHUNK])
        out[start:start + len(x)] = ((x[..., 0] != x[..., 1]) | (x[..., 1] != x[..., 2])).any(axis=(1, 2))
    return out


def read(ds: Any) -> tuple[dict[str, np.ndarray], str | None]:
    """``({property: (N,) values}, note)``: header properties for file datasets, pixel ones for all; the
    note says what is missing and why (None when everything could be read)."""
    props: dict[str, np.ndarray] = {"border_fraction": border_fraction(ds.images)}
    colour = has_colour(ds.images)
    note = None
    root = file_root(ds)
    if root is None:
        note = ("this dataset holds arrays, not files: file format, colour mode, bit depth and original size are "
                "unknown here (only the border fraction is measured)")
    else:
        rows = [header(root / str(i)) for i in ds.ids.tolist()]
        for key in ("format", "mode"):
            props[key] = np.array([r[key] for r in rows], dtype=object)
        for key in ("bit_depth", "width", "height", "aspect"):
            props[key] = np.array([r[key] for r in rows], dtype=np.float64)
    if colour is not None:  # a gray dataset has no pixel colour to measure (its files' mode is above)
        props["colour"] = colour.astype(np.float64)
    return props, note
