"""Decoding image files to medbench's canonical representation, in parallel and cached on disk.

The canonical representation of one image (bump ``REPRESENTATION_VERSION`` if any rule changes):

1. The file is opened with Pillow (first frame of multi-frame files) and its EXIF orientation
   is applied (``ImageOps.exif_transpose``; an unparsable EXIF block is ignored).
2. It becomes 8-bit single-channel ``'L'``:

   - ``L`` is kept as is; ``1`` (bilevel) becomes 0 / 255.
   - Colour and palette modes (``RGB``, ``RGBA``, ``P``, ``PA``, ``LA``, ``CMYK``, ``YCbCr``, ...) are
     converted to RGB and then to luminance with Pillow's ITU-R 601-2 transform
     ``L = R * 299/1000 + G * 587/1000 + B * 114/1000``. Alpha is *dropped*, not composited: the
     colour channels are used as stored, whatever their transparency (for an opaque image this is
     the same as compositing on any background).
   - 16-bit, 32-bit integer and float images (``I;16*``, ``I``, ``F``) are rescaled linearly to
     0..255 by the image's own minimum..maximum and rounded; a constant image becomes all 0.
     8-bit images are never rescaled.
3. It is resized to ``image_size`` x ``image_size`` *without* keeping the aspect ratio (as the
   public 224x224 chest_xray copy was made) with ``Image.resize(..., Image.Resampling.BILINEAR,
   reducing_gap=3.0)``: Pillow's bilinear filter widened to the scale factor (so downscaling
   averages every source pixel, no aliasing), preceded by an integer box reduction while the
   image is more than 3x the target (Pillow documents this as indistinguishable from plain
   resampling, and it is much faster for large originals). Images already at the target size
   are left untouched.

The result is a ``(image_size, image_size)`` ``uint8`` array. A file that cannot be decoded raises
:class:`UnreadableImage`. :func:`decode_many` decodes many files on all cores (threads: Pillow
releases the GIL while decoding and resizing) with a progress bar; :func:`load_images` adds an
on-disk cache under ``cache_dir()/"images"`` keyed by the files' relative paths, sizes and
modification times, the image size and ``REPRESENTATION_VERSION``.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from medbench.core.atomic import write_bytes
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir

REPRESENTATION_VERSION = 1
DEFAULT_IMAGE_SIZE = 224
IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".tif", ".tiff"})
_NUMERIC_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


class UnreadableImage(MedbenchError):
    """A file that is not a decodable image (corrupt, truncated, unsupported or missing)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def is_image_file(name: str) -> bool:
    """True for a non-hidden file name with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def to_gray8(im: Image.Image) -> Image.Image:
    """Convert a Pillow image of any mode to 8-bit ``'L'`` by the rules in the module docstring."""
    if im.mode == "L":
        return im
    if im.mode in _NUMERIC_MODES:
        a = np.asarray(im, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"unexpected array shape {a.shape} for mode {im.mode}")
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            lo, hi = float(np.min(a)), float(np.max(a))
        if hi <= lo:
            out = np.zeros(a.shape, dtype=np.uint8)
        else:
            out = np.rint((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)
        return Image.fromarray(out, mode="L")
    if im.mode != "RGB":
        im = im.convert("RGB")  # drops alpha, expands palettes, converts CMYK / YCbCr / bilevel
    return im.convert("L")


def decode_image(path: str | os.PathLike, image_size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Decode one file to an ``(image_size, image_size)`` ``uint8`` array; raise :class:`UnreadableImage`."""
    try:
        with Image.open(path) as im:
            im.load()  # decode now: truncated or corrupt data fails here, not later
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # noqa: BLE001 - a broken EXIF block must not make the pixels unusable
                pass
            im = to_gray8(im)
            if im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=3.0)
            return np.asarray(im, dtype=np.uint8).copy()
    except FileNotFoundError as exc:
        raise UnreadableImage(path, "file not found") from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(path, f"image too large ({exc})") from exc
    except Image.UnidentifiedImageError as exc:
        raise UnreadableImage(path, "not a recognised image format") from exc
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's parsers raise many types on corrupt input
        raise UnreadableImage(path, f"{type(exc).__name__}: {exc}".strip().rstrip(":")) from exc


def _decode_or_reason(path: str, image_size: int) -> np.ndarray | str:
    try:
        return decode_image(path, image_size)
    except UnreadableImage as exc:
        return exc.reason


def _decode_all(paths: Sequence[str], image_size: int, desc: str | None,
                n_jobs: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode every path: (images with zero rows for failures, ok mask, reasons ("" where ok))."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n = len(paths)
    images = np.zeros((n, image_size, image_size), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    reasons = [""] * n
    if n == 0:
        return images, ok, reasons
    jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    results = Parallel(n_jobs=min(jobs, n), backend="threading", return_as="generator", batch_size=32)(
        delayed(_decode_or_reason)(p, image_size) for p in paths
    )
    bar = tqdm(results, total=n, desc=desc or "decoding images", unit="img", file=sys.stderr,
               disable=n < 200, leave=False)
    for i, res in enumerate(bar):
        if isinstance(res, str):
            reasons[i] = res
        else:
            images[i] = res
            ok[i] = True
    return images, ok, reasons


def decode_many(paths: Sequence[str | os.PathLike], image_size: int = DEFAULT_IMAGE_SIZE, *,
                desc: str | None = None, n_jobs: int = -1) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Decode many files in parallel (threads, all cores by default) with a progress bar.

    Returns ``(images, failures)``: ``images`` is ``(N_ok, S, S)`` ``uint8`` holding the files that
    decoded, in input order; ``failures`` lists ``(path, reason)`` for the others (also in order).
    """
    strs = [str(p) for p in paths]
    images, ok, reasons = _decode_all(strs, image_size, desc, n_jobs)
    failures = [(p, r) for p, r, good in zip(strs, reasons, ok, strict=True) if not good]
    return images[ok], failures


def cache_key(root: str | os.PathLike, rel_paths: Sequence[str], image_size: int) -> str:
    """SHA-256 over (sorted relative paths, sizes, mtimes in ns, image size, representation version)."""
    h = hashlib.sha256(f"medbench-images v{REPRESENTATION_VERSION} size={image_size}\n".encode())
    for rel in sorted(set(rel_paths)):
        try:
            st = os.stat(os.path.join(root, rel))
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        h.update(f"{rel}\x1f{size}\x1f{mtime}\x1e".encode())
    return h.hexdigest()


def _cache_path(key: str, image_size: int) -> Path:
    return cache_dir() / "images" / f"{key}-{image_size}px.npz"


def _read_cache(path: Path, n: int, image_size: int) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            images, ok, reasons = z["images"], z["ok"], z["reasons"].tolist()
    except (OSError, KeyError, ValueError, EOFError):  # absent or damaged: rebuild it
        return None
    if images.shape != (n, image_size, image_size) or images.dtype != np.uint8 or len(ok) != n:
        return None
    return images, ok.astype(bool), [str(r) for r in reasons]


def _write_cache(path: Path, images: np.ndarray, ok: np.ndarray, reasons: list[str]) -> None:
    buf = io.BytesIO()
    np.savez(buf, images=images, ok=ok, reasons=np.array(reasons, dtype=str))
    try:
        write_bytes(path, buf.getvalue())
    except OSError as exc:  # a cache is an optimisation: never fail a run because it cannot be written
        print(f"medbench: warning: could not write image cache {path} ({exc}); "
              f"images will be decoded again next time", file=sys.stderr)


def load_images(root: str | os.PathLike, rel_paths: Sequence[str], image_size: int = DEFAULT_IMAGE_SIZE, *,
                desc: str | None = None, use_cache: bool = True) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Like :func:`decode_many` for ``root/rel`` files, with the decoded result cached on disk.

    ``rel_paths`` must be unique. Returns ``(images, failures)`` with ``images`` holding the files
    that decoded, in the order of ``rel_paths``, and ``failures`` listing ``(rel_path, reason)``.
    A second call for unchanged files reads the cache instead of decoding.
    """
    rel_paths = [str(r) for r in rel_paths]
    if len(set(rel_paths)) != len(rel_paths):
        raise ValueError("load_images: rel_paths must be unique")
    order = sorted(range(len(rel_paths)), key=rel_paths.__getitem__)
    sorted_rel = [rel_paths[i] for i in order]
    cached = None
    path = None
    if use_cache:
        path = _cache_path(cache_key(root, sorted_rel, image_size), image_size)
        cached = _read_cache(path, len(sorted_rel), image_size)
    if cached is None:
        full = [os.path.join(root, rel) for rel in sorted_rel]
        cached = _decode_all(full, image_size, desc, -1)
        if path is not None:
            _write_cache(path, *cached)
    images_sorted, ok_sorted, reasons_sorted = cached
    if order == list(range(len(order))):  # already sorted: no reordering copy
        failures = [(rel, r) for rel, r, good in zip(sorted_rel, reasons_sorted, ok_sorted, strict=True) if not good]
        return (images_sorted if ok_sorted.all() else images_sorted[ok_sorted]), failures
    # back from sorted order to the caller's order
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    ok = ok_sorted[inverse] if len(order) else ok_sorted
    images = images_sorted[inverse[ok]] if len(order) else images_sorted
    failures = [(rel_paths[i], reasons_sorted[inverse[i]]) for i in range(len(rel_paths)) if not ok[i]]
    return images, failures
