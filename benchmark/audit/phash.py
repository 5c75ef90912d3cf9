"""A DCT perceptual hash (pHash) of many images at once, and Hamming distances between hashes.

The hash is the standard pHash (the construction of the ``imagehash`` library's ``phash``): the image as
grayscale (Pillow's ITU-R 601-2 luminance for RGB), resized to 32 x 32 (Pillow ``BILINEAR``, which widens
its filter to the scale factor when shrinking, after an integer box reduction: ``reducing_gap=2``),
a 2-D type-II DCT (``scipy.fft.dctn``, orthonormal), its top-left 8 x 8 low-frequency block, each of the
64 coefficients compared with their median: 64 bits, packed into one ``uint64`` (row-major, first
coefficient in the most significant bit). Two images are near-duplicates when the Hamming distance of
their hashes is at most :data:`HAMMING_THRESHOLD`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image
from scipy.fft import dctn

#: Largest Hamming distance (of 64 bits) at which two images count as near-duplicates.
HAMMING_THRESHOLD = 4
HASH_SIZE = 8
IMAGE_SIZE = 32
_CHUNK = 256  # images converted per step (bounds the memory a memory-mapped dataset costs)
_CELLS = 1 << 22  # distances computed per step (about 32 MiB of XORs), whatever the set sizes


def _gray32(image: np.ndarray) -> np.ndarray:
    """A ``(32, 32)`` float gray thumbnail of one ``(H, W)`` or ``(H, W, 3)`` uint8 image (Pillow, in C)."""
    im = Image.fromarray(image)
    if im.mode != "L":
        im = im.convert("L")
    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.float64)


def hash_bits(small: np.ndarray) -> np.ndarray:
    """``(N, 64)`` bool pHash bits of ``(N, 32, 32)`` gray images (float)."""
    coeffs = dctn(small, type=2, norm="ortho", axes=(1, 2))[:, :HASH_SIZE, :HASH_SIZE].reshape(len(small), -1)
    return coeffs > np.median(coeffs, axis=1, keepdims=True)


def pack(bits: np.ndarray) -> np.ndarray:
    """``(N, 64)`` bools -> ``(N,)`` uint64, first bit most significant."""
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8").ravel().astype(np.uint64)


def phash(images: np.ndarray) -> np.ndarray:
    """``(N,)`` uint64 pHashes of ``(N, H, W)`` or ``(N, H, W, 3)`` uint8 images (a memory map is read a
    chunk at a time)."""
    out = np.zeros(len(images), dtype=np.uint64)
    for start in range(0, len(images), _CHUNK):
        chunk = np.asarray(images[start:start + _CHUNK])
        if len(chunk):
            out[start:start + len(chunk)] = pack(hash_bits(np.stack([_gray32(im) for im in chunk])))
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise (broadcast) Hamming distance between uint64 hashes."""
    return np.bitwise_count(np.bitwise_xor(a, b))


def close_pairs(a: np.ndarray, b: np.ndarray | None = None, threshold: int = HAMMING_THRESHOLD
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(i, j, distance)`` arrays of the pairs within ``threshold``: ``a[i]`` vs ``b[j]`` (or, when ``b`` is
    None, ``a[i]`` vs ``a[j]`` with ``i < j``), by XOR and bit count (``numpy.bitwise_count``) on blocks of
    rows (about four million distances at a time): no N x M matrix is held. The work grows as N x M (about a
    second for 6,000 x 6,000 images)."""
    same = b is None
    b = a if same else b
    block = max(1, min(len(a), _CELLS // max(1, len(b))))
    for start in range(0, len(a), block):
        rows = a[start:start + block]
        first = start if same else 0  # a set against itself: only the columns from this block on
        d = hamming(rows[:, None], b[None, first:])
        i, j = np.nonzero(d <= threshold)
        dist = d[i, j]
        i, j = i + start, j + first
        if same:
            keep = i < j
            i, j, dist = i[keep], j[keep], dist[keep]
        yield i, j, dist
