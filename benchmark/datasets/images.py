"""Decoding image files to medbench's canonical representation (8-bit gray or RGB, ``image_size`` square), in
parallel, bounded (a per-file pixel limit) and cached on disk (memory-mapped, digest-checked).

:func:`decode_many` decodes files on threads; :func:`load_images` adds the on-disk cache, keyed on the files'
identities, the options, this module's source and the image libraries. The exact rules (modes, luminance,
bit-depth stretch, resize filter, the cache entry's three files) are in the documentation
(``docs/image-decoding.md``); bump ``REPRESENTATION_VERSION`` if any rule changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from PIL import Image, ImageChops, ImageOps
from tqdm.auto import tqdm

from medbench.core import cachekeys, readfile, tempfiles
from medbench.core.atomic import write_bytes, write_json
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir
from medbench.core.warn import warn
from medbench.core.workers import resolve_n_jobs

REPRESENTATION_VERSION = 1
DEFAULT_IMAGE_SIZE = 224
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 4096
#: Pillow's default ``Image.MAX_IMAGE_PIXELS`` (about a 9,459 x 9,459 image).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".tif", ".tiff"})
CACHE_NAMESPACE = "images"
HASH_CHUNK = 64 * 2**20  # bytes hashed per step when checking a cache entry
#: What ``channels`` may be: ``auto`` keeps colour only when some file has it.
CHANNEL_CHOICES = ("auto", "gray", "rgb")
CACHE_CODE = ("medbench.datasets.images",)
_NUMERIC_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_BLOCK_PIXELS = 1 << 20  # rows per block of a numeric stretch: about this many pixels
_LUT_MAX_RANGE = 1 << 16


class UnreadableImage(MedbenchError):
    """A file that is not a decodable image (corrupt, truncated, unsupported, missing or too large)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def is_image_file(name: str) -> bool:
    """True for a non-hidden file name with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


# ---------------------------------------------------------------- parameters


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_image_size(image_size: Any) -> int:
    """``image_size`` as an int in ``MIN_IMAGE_SIZE..MAX_IMAGE_SIZE``; else a one-line error naming it."""
    if not _is_int(image_size):
        raise MedbenchError(f"image size {image_size!r} must be a whole number of pixels (an integer such as 64, "
                            f"not {image_size!r}), from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} (--image-size)")
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise MedbenchError(f"image size {image_size!r} is out of range: images are resized to a square of "
                            f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels (--image-size)")
    return int(image_size)


def check_max_pixels(max_pixels: Any) -> int:
    """``max_pixels`` (``None``: :data:`DEFAULT_MAX_IMAGE_PIXELS`) as a positive int; else a one-line error."""
    if max_pixels is None:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not _is_int(max_pixels) or max_pixels < 1:
        raise MedbenchError(f"image pixel limit {max_pixels!r} is not a positive whole number (--max-image-pixels)")
    return int(max_pixels)


def check_channels(channels: Any) -> str:
    """``channels`` as one of :data:`CHANNEL_CHOICES` (any case); else a one-line error naming it."""
    value = channels.strip().lower() if isinstance(channels, str) else channels
    if value not in CHANNEL_CHOICES:
        raise MedbenchError(f"channels {channels!r} is not one of {', '.join(CHANNEL_CHOICES)} (--channels)")
    return value


# ---------------------------------------------------------------- one image


_pillow_lock = threading.Lock()
_pillow_depth = 0
_pillow_saved_limit: int | None = None


@contextlib.contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Switch Pillow's process-wide decompression-bomb check off while medbench decodes (each decode
    applies its own ``max_pixels`` first, before any pixel data is read) and restore it afterwards.
    Re-entrant and thread-safe: the setting comes back when the last decode in flight ends."""
    global _pillow_depth, _pillow_saved_limit
    with _pillow_lock:
        if _pillow_depth == 0:
            _pillow_saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _pillow_depth += 1
    try:
        yield
    finally:
        with _pillow_lock:
            _pillow_depth -= 1
            if _pillow_depth == 0:
                Image.MAX_IMAGE_PIXELS = _pillow_saved_limit


def _row_blocks(shape: tuple[int, ...]) -> Iterator[slice]:
    rows = max(1, _BLOCK_PIXELS // max(1, shape[1]))
    for start in range(0, shape[0], rows):
        yield slice(start, start + rows)


def _range_of(a: np.ndarray) -> tuple[float, float]:
    """min, max of ``a``; non-finite float values count as 0 when there are any (as if replaced by 0)."""
    lo, hi = np.min(a), np.max(a)
    if a.dtype.kind != "f" or (np.isfinite(lo) and np.isfinite(hi)):
        return (int(lo), int(hi)) if a.dtype.kind in "ui" else (float(lo), float(hi))
    lo, hi = np.inf, -np.inf
    for rows in _row_blocks(a.shape):
        block = np.nan_to_num(a[rows], nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return lo, hi


def stretch_to_uint8(a: np.ndarray) -> np.ndarray:
    """Rescale a 2-D numeric array linearly from its min..max to 0..255 (``rint``), block by block.

    Bit-for-bit the same as ``np.rint((a.astype(float64) - lo) * (255.0 / (hi - lo))).astype(uint8)``
    (non-finite values as 0; a constant array gives 0), without any full-size float64 temporary:
    integer ranges of up to 65,536 values go through a lookup table.
    """
    if a.ndim != 2:
        raise ValueError(f"unexpected array shape {a.shape}")
    out = np.zeros(a.shape, dtype=np.uint8)
    if a.size == 0:
        return out
    lo, hi = _range_of(a)
    if hi <= lo:
        return out
    scale = 255.0 / (hi - lo)
    if a.dtype.kind in "ui" and hi - lo < _LUT_MAX_RANGE:
        lut = np.rint(np.arange(hi - lo + 1, dtype=np.float64) * scale).astype(np.uint8)
        offset = a.dtype.type(lo)
        for rows in _row_blocks(a.shape):
            out[rows] = lut[a[rows] - offset]  # a >= lo: never wraps
        return out
    for rows in _row_blocks(a.shape):
        block = a[rows].astype(np.float64)
        if block.dtype.kind == "f":
            np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        out[rows] = np.rint((block - lo) * scale).astype(np.uint8)
    return out


def to_gray8(im: Image.Image) -> Image.Image:
    """Convert a Pillow image of any mode to 8-bit ``'L'`` by the rules in the module docstring."""
    if im.mode == "L":
        return im
    if im.mode in _NUMERIC_MODES:
        a = np.asarray(im)
        if a.ndim != 2:
            raise ValueError(f"unexpected array shape {a.shape} for mode {im.mode}")
        return Image.fromarray(stretch_to_uint8(a))
    if im.mode != "RGB":
        im = im.convert("RGB")  # drops alpha, expands palettes, converts CMYK / YCbCr / bilevel
    return im.convert("L")


def _has_colour(rgb: Image.Image) -> bool:
    """True when an ``'RGB'`` image's channels differ anywhere (compared in C, no NumPy copy)."""
    r, g, b = rgb.split()
    return ImageChops.difference(r, g).getbbox() is not None or ImageChops.difference(g, b).getbbox() is not None


def to_channels(im: Image.Image, channels: str) -> tuple[Image.Image, bool]:
    """``(image in 'L' (channels="gray") or 'RGB' (channels="rgb"), whether the source has colour)``.

    The gray result is :func:`to_gray8`'s, pixel for pixel (colour modes go through RGB the same way).
    """
    if im.mode == "L" or im.mode in _NUMERIC_MODES:
        gray = to_gray8(im)
        return (gray if channels == "gray" else gray.convert("RGB")), False
    rgb = im if im.mode == "RGB" else im.convert("RGB")  # drops alpha, expands palettes, converts CMYK / ...
    colour = _has_colour(rgb)
    return (rgb.convert("L") if channels == "gray" else rgb), colour


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    return (f"{width}x{height} = {width * height:,} pixels exceeds the {max_pixels:,}-pixel limit; "
            f"raise it with --max-image-pixels")


def decode_image(path: str | os.PathLike, image_size: int = DEFAULT_IMAGE_SIZE, *,
                 max_pixels: int | None = None, channels: str = "gray") -> np.ndarray:
    """Decode one file to an ``(image_size, image_size)`` ``uint8`` array (``channels="gray"``) or an
    ``(image_size, image_size, 3)`` one (``"rgb"``); raise :class:`UnreadableImage`."""
    return decode_image_and_colour(path, image_size, max_pixels=max_pixels, channels=channels)[0]


def decode_image_and_colour(path: str | os.PathLike, image_size: int = DEFAULT_IMAGE_SIZE, *,
                            max_pixels: int | None = None, channels: str = "gray") -> tuple[np.ndarray, bool]:
    """:func:`decode_image` and whether the file has colour (see the module docstring)."""
    if channels not in ("gray", "rgb"):
        raise ValueError(f"decode_image: channels must be gray or rgb, got {channels!r}")
    limit = check_max_pixels(max_pixels)
    if not readfile.is_regular(path) and os.path.lexists(path):  # Pillow would block on a FIFO, read a device
        raise UnreadableImage(path, "not a regular file (a FIFO, device or folder)")
    with _own_pixel_limit():
        try:
            with Image.open(path) as im:
                width, height = im.size
                if width * height > limit:  # header only so far: refuse before decoding anything
                    raise UnreadableImage(path, too_large_reason(width, height, limit))
                im.load()  # decode now: truncated or corrupt data fails here, not later
                try:
                    im = ImageOps.exif_transpose(im)
                except Exception:  # noqa: BLE001 - a broken EXIF block must not make the pixels unusable
                    pass
                im, colour = to_channels(im, channels)
                if im.size != (image_size, image_size):
                    im = im.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=3.0)
                return np.asarray(im, dtype=np.uint8).copy(), colour
        except UnreadableImage:
            raise
        except FileNotFoundError as exc:
            raise UnreadableImage(path, "file not found") from exc
        except Image.DecompressionBombError as exc:  # a nested frame or plugin check: same refusal
            raise UnreadableImage(path, f"image too large ({exc}); raise the limit with --max-image-pixels") from exc
        except Image.UnidentifiedImageError as exc:
            raise UnreadableImage(path, "not a recognised image format") from exc
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - Pillow's parsers raise many types on corrupt input
            raise UnreadableImage(path, f"{type(exc).__name__}: {exc}".strip().rstrip(":")) from exc


# ---------------------------------------------------------------- many images


def _decode_or_reason(path: str, image_size: int, max_pixels: int, channels: str) -> tuple[np.ndarray, bool] | str:
    try:
        return decode_image_and_colour(path, image_size, max_pixels=max_pixels, channels=channels)
    except UnreadableImage as exc:
        return exc.reason


def _shape(n: int, image_size: int, channels: str) -> tuple[int, ...]:
    return (n, image_size, image_size, 3) if channels == "rgb" else (n, image_size, image_size)


def _decode_into(out: np.ndarray, paths: Sequence[str], image_size: int, desc: str | None, n_jobs: Any,
                 max_pixels: int, channels: str = "gray") -> tuple[np.ndarray, list[str], np.ndarray]:
    """Decode ``paths[i]`` into ``out[i]`` on ``n_jobs`` threads; return (ok mask, reasons ("" where ok),
    colour mask). Rows of failed files are left as they are (zeros in a fresh array)."""
    n = len(paths)
    ok = np.zeros(n, dtype=bool)
    colour = np.zeros(n, dtype=bool)
    reasons = [""] * n
    if n == 0:
        return ok, reasons, colour
    jobs = min(resolve_n_jobs(n_jobs), n)
    with _own_pixel_limit():
        if jobs == 1:
            results: Any = (_decode_or_reason(p, image_size, max_pixels, channels) for p in paths)
        else:
            results = Parallel(n_jobs=jobs, backend="threading", return_as="generator", batch_size=32)(
                delayed(_decode_or_reason)(p, image_size, max_pixels, channels) for p in paths
            )
        bar = tqdm(results, total=n, desc=desc or "decoding images", unit="img", file=sys.stderr,
                   disable=n < 200, leave=False)
        for i, res in enumerate(bar):
            if isinstance(res, str):
                reasons[i] = res
            else:
                out[i], colour[i] = res
                ok[i] = True
    return ok, reasons, colour


def _decode_fresh(strs: Sequence[str], image_size: int, desc: str | None, n_jobs: Any, limit: int,
                  channels: str) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    images = np.zeros(_shape(len(strs), image_size, channels), dtype=np.uint8)
    ok, reasons, colour = _decode_into(images, strs, image_size, desc, n_jobs, limit, channels)
    return images, ok, reasons, colour


def decode_many(paths: Sequence[str | os.PathLike], image_size: int = DEFAULT_IMAGE_SIZE, *,
                desc: str | None = None, n_jobs: int | None = None, max_pixels: int | None = None,
                channels: str = "gray") -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Decode many files on ``n_jobs`` threads (default: every core) with a progress bar.

    Returns ``(images, failures)``: ``images`` is ``(N_ok, S, S)`` (``channels="gray"``) or
    ``(N_ok, S, S, 3)`` (``"rgb"``; ``"auto"``: RGB only when some file has colour) ``uint8``
    holding the files that decoded, in input order; ``failures`` lists ``(path, reason)`` for the
    others (also in order).
    """
    image_size = check_image_size(image_size)
    channels = check_channels(channels)
    limit = check_max_pixels(max_pixels)
    strs = [str(p) for p in paths]
    images, ok, reasons, colour = _decode_fresh(strs, image_size, desc, n_jobs, limit,
                                                "rgb" if channels == "rgb" else "gray")
    if channels == "auto" and colour.any():
        images, ok, reasons, _ = _decode_fresh(strs, image_size, desc, n_jobs, limit, "rgb")
    failures = [(p, r) for p, r, good in zip(strs, reasons, ok, strict=True) if not good]
    return (images if ok.all() else images[ok]), failures


# ---------------------------------------------------------------- the cache


def file_identity(path: str | os.PathLike) -> str:
    """``dev:ino:size:mtime_ns:ctime_ns`` of a file, or ``"absent"``: what makes a file *this* file."""
    try:
        st = os.stat(path)
    except OSError:
        return "absent"
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def cache_inputs(root: str | os.PathLike, rel_paths: Sequence[str], image_size: int,
                 max_pixels: int | None = None, channels: str = "gray") -> dict[str, Any]:
    """The key inputs of the cache entry for ``root/rel`` files in this order (see the module docstring)."""
    root = Path(root).resolve()
    h = hashlib.sha256()
    for rel in rel_paths:
        h.update(f"{rel}\x1f{file_identity(root / rel)}\x1e".encode())
    return cachekeys.key_inputs(
        CACHE_NAMESPACE, code=CACHE_CODE, libs=cachekeys.LIBS_IMAGE,
        representation=REPRESENTATION_VERSION, root=str(root), image_size=image_size, channels=channels,
        max_pixels=check_max_pixels(max_pixels), n_files=len(rel_paths), files_sha256=h.hexdigest(),
    )


Entry = tuple[np.ndarray, np.ndarray, list[str], np.ndarray]  # images, ok mask, reasons, colour mask


def _entry_paths(key: str, image_size: int, channels: str = "gray") -> tuple[Path, Path, Path]:
    suffix = "-rgb" if channels == "rgb" else ""
    stem = cache_dir() / CACHE_NAMESPACE / f"{key[:32]}-{image_size}px{suffix}"
    return stem.with_suffix(".npy"), stem.with_suffix(".status.npz"), stem.with_suffix(".json")


def _read_entry(key: str, inputs: dict[str, Any], n: int, image_size: int, channels: str = "gray") -> Entry | None:
    npy, status, side = _entry_paths(key, image_size, channels)
    try:
        if json.loads(readfile.read_bytes(side, "cache sidecar", cap="sidecar")) != json.loads(cachekeys.canonical(inputs)):
            return None
        if not (readfile.is_regular(npy) and readfile.is_regular(status)):
            return None  # a FIFO or device planted in the cache is never opened (it could block)
        images = np.load(npy, mmap_mode="r", allow_pickle=False)
        with np.load(status, allow_pickle=False) as z:
            failed, why = z["failed"].astype(np.int64), z["reasons"].tolist()
            coloured = z["colour"].astype(np.int64)
            stored, sealed = str(z["sha256"]), str(z["entry_sha256"])
    except (OSError, KeyError, ValueError, EOFError, RecursionError, MedbenchError):  # absent, damaged, no digest
        return None
    if images.shape != _shape(n, image_size, channels) or images.dtype != np.uint8 or len(failed) != len(why):
        return None
    if pixels_sha256(images) != stored or entry_sha256(stored, failed, why, coloured) != sealed:
        warn(f"image cache {npy} does not match its SHA-256 (edited, replaced or damaged); "
             f"decoding the images again")
        return None
    for rows in (failed, coloured):
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            return None
    ok = np.ones(n, dtype=bool)
    ok[failed] = False
    colour = np.zeros(n, dtype=bool)
    colour[coloured] = True
    reasons = [""] * n
    for i, r in zip(failed.tolist(), why, strict=True):
        reasons[i] = str(r)
    return images, ok, reasons, colour


def entry_sha256(pixels: str, failed: Any, reasons: Any, colour: Any) -> str:
    """SHA-256 over an image cache entry's status (which rows failed and why, which have colour) and its
    pixels' digest: status.npz is covered too, not only the pixels."""
    return cachekeys.digest({"pixels": str(pixels), "failed": [int(i) for i in failed],
                             "reasons": [str(r) for r in reasons], "colour": [int(i) for i in colour]})


def entry_intact(npy: Path) -> bool:
    """Whether the image cache entry ``npy`` (and its status.npz) still match their stored digests: the
    check a run makes before it reuses the entry (for ``medbench cache info``)."""
    try:
        images = np.load(npy, mmap_mode="r", allow_pickle=False)
        with np.load(Path(str(npy)[:-len(".npy")] + ".status.npz"), allow_pickle=False) as z:
            stored, sealed = str(z["sha256"]), str(z["entry_sha256"])
            parts = (z["failed"].astype(np.int64), z["reasons"].tolist(), z["colour"].astype(np.int64))
    except (OSError, KeyError, ValueError, EOFError):
        return False
    return pixels_sha256(images) == stored and entry_sha256(stored, *parts) == sealed


def pixels_sha256(images: np.ndarray) -> str:
    """SHA-256 of an image cache entry's pixels, read through its memory map (no copy)."""
    h = hashlib.sha256()
    flat = images.reshape(-1)  # a C-contiguous map: a view
    for start in range(0, flat.size, HASH_CHUNK):
        h.update(flat[start:start + HASH_CHUNK].data)
    return h.hexdigest()


def _reserve(path: str, nbytes: int) -> None:
    """Allocate the file's blocks now, so a full disk fails here (OSError), not as SIGBUS mid-decode."""
    if hasattr(os, "posix_fallocate") and nbytes > 0:
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, nbytes)
        finally:
            os.close(fd)


def _decode_to_entry(key: str, inputs: dict[str, Any], full: Sequence[str], image_size: int, desc: str | None,
                     n_jobs: Any, max_pixels: int, channels: str = "gray") -> Entry | None:
    """Decode straight into a memory-mapped temporary ``.npy``, write the status and key sidecars, rename
    it into place and map it back read-only. ``None`` (after a warning) when the cache cannot be written."""
    npy, status, side = _entry_paths(key, image_size, channels)
    shape = _shape(len(full), image_size, channels)
    tmp = None
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        tempfiles.sweep(npy.parent)  # what a killed decode left behind (kill -9 leaves its .tmp)
        fd, tmp = tempfile.mkstemp(dir=npy.parent, prefix=f".{npy.name}.", suffix=".tmp")
        os.close(fd)
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _reserve(tmp, os.path.getsize(tmp))
    except OSError as exc:  # a cache is an optimisation: never fail a run because it cannot be written
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        warn(f"could not write image cache in {npy.parent} ({exc}); "
             f"images will be decoded again next time")
        return None
    try:
        with tempfiles.held(tmp):  # a sweep by another process leaves this file alone while it is written
            ok, reasons, colour = _decode_into(out, full, image_size, desc, n_jobs, max_pixels, channels)
        out.flush()
        digest = pixels_sha256(out)  # stored with the entry, checked on every read
        del out  # unmap: the entry is read back through a fresh read-only mapping
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        failed = np.flatnonzero(~ok)
        buf = io.BytesIO()
        why = [reasons[i] for i in failed]
        np.savez(buf, failed=failed, reasons=np.array(why, dtype=str), colour=np.flatnonzero(colour),
                 sha256=np.array(digest),
                 entry_sha256=np.array(entry_sha256(digest, failed, why, np.flatnonzero(colour))))
        write_bytes(status, buf.getvalue())
        write_json(side, inputs)
        os.replace(tmp, npy)  # last: an entry whose .npy exists is complete
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        warn(f"could not write image cache {npy} ({exc}); "
             f"images will be decoded again next time")
        return None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return np.load(npy, mmap_mode="r", allow_pickle=False), ok, reasons, colour


def _load_entry(root: Path, rel_paths: list[str], image_size: int, desc: str | None, use_cache: bool,
                n_jobs: Any, limit: int, channels: str) -> Entry:
    """The cached (or, cache off or unwritable, freshly decoded) entry for these files in this order."""
    full = [str(root / rel) for rel in rel_paths]
    entry = None
    if use_cache and rel_paths:
        inputs = cache_inputs(root, rel_paths, image_size, limit, channels)
        key = cachekeys.digest(inputs)
        entry = _read_entry(key, inputs, len(rel_paths), image_size, channels)
        if entry is None:
            entry = _decode_to_entry(key, inputs, full, image_size, desc, n_jobs, limit, channels)
    return entry if entry is not None else _decode_fresh(full, image_size, desc, n_jobs, limit, channels)


def load_images(root: str | os.PathLike, rel_paths: Sequence[str], image_size: int = DEFAULT_IMAGE_SIZE, *,
                desc: str | None = None, use_cache: bool = True, n_jobs: int | None = None,
                max_pixels: int | None = None, channels: str = "gray") -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Like :func:`decode_many` for ``root/rel`` files, with the decoded result cached on disk.

    ``rel_paths`` must be unique. Returns ``(images, failures)`` with ``images`` holding the files that
    decoded, in the order of ``rel_paths``, and ``failures`` listing ``(rel_path, reason)``. When every
    file decoded and the cache is on, ``images`` is a read-only memory map of the cache entry (no copy).
    A second call for the same, unchanged files in the same order reads the cache instead of decoding.
    ``channels``: ``gray`` ``(N, S, S)``, ``rgb`` ``(N, S, S, 3)``, or ``auto``: the gray entry, unless a
    file that decoded has colour, then the RGB one (each cached under its own key).
    """
    image_size = check_image_size(image_size)
    channels = check_channels(channels)
    limit = check_max_pixels(max_pixels)
    rel_paths = [str(r) for r in rel_paths]
    if len(set(rel_paths)) != len(rel_paths):
        raise ValueError("load_images: rel_paths must be unique")
    root = Path(root).resolve()
    first = "rgb" if channels == "rgb" else "gray"
    images, ok, reasons, colour = _load_entry(root, rel_paths, image_size, desc, use_cache, n_jobs, limit, first)
    if channels == "auto" and (colour & ok).any():
        images, ok, reasons, _ = _load_entry(root, rel_paths, image_size, desc, use_cache, n_jobs, limit, "rgb")
    failures = [(rel, r) for rel, r, good in zip(rel_paths, reasons, ok, strict=True) if not good]
    return (images if ok.all() else images[ok]), failures
