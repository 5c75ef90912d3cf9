"""Colour in medbench's image arrays: luminance, the gray test, and a colour-histogram transformer.

Images are ``uint8`` ``(..., H, W)`` (gray) or ``(..., H, W, 3)`` (RGB). :func:`to_luminance` is
Pillow's ITU-R 601-2 transform, bit for bit (``L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16``,
i.e. ``R*299/1000 + G*587/1000 + B*114/1000`` rounded), so an RGB array reduced here equals the same
pixels decoded to ``'L'`` by :mod:`medbench.datasets.images`. HOG and SIFT describe the luminance of
RGB input; :class:`ColourHistogram` describes what luminance throws away.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from medbench.features.resize import image_input_tags

#: Pillow's fixed-point ITU-R 601-2 weights (sum 65536).
_WEIGHTS = (19595, 38470, 7471)


def to_luminance(rgb: np.ndarray) -> np.ndarray:
    """``uint8 (..., 3)`` -> ``uint8 (...)`` luminance, exactly as Pillow's ``convert("L")``."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB pixels (last axis 3), got shape {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * _WEIGHTS[0] + g * _WEIGHTS[1] + b * _WEIGHTS[2] + 0x8000) >> 16).astype(np.uint8)


def luminance_of(img: np.ndarray) -> np.ndarray:
    """One image as gray: an ``(H, W, 3)`` image reduced by :func:`to_luminance`, a gray one as it is."""
    return to_luminance(img) if img.ndim == 3 and img.shape[-1] == 3 else img


def all_gray(rgb: np.ndarray, block: int = 256) -> bool:
    """True when every pixel of an ``(N, H, W, 3)`` stack has R == G == B (checked a block at a time)."""
    for start in range(0, len(rgb), block):
        part = rgb[start:start + block]
        if not (np.array_equal(part[..., 0], part[..., 1]) and np.array_equal(part[..., 1], part[..., 2])):
            return False
    return True


def colour_image_count(rgb: np.ndarray, block: int = 256) -> int:
    """How many images of an ``(N, H, W, 3)`` stack are not gray (some pixel with R, G, B not all equal)."""
    count = 0
    for start in range(0, len(rgb), block):
        part = rgb[start:start + block]
        same = (part[..., 0] == part[..., 1]) & (part[..., 1] == part[..., 2])
        count += int((~same.reshape(len(part), -1).all(axis=1)).sum())
    return count


class ColourHistogram(TransformerMixin, BaseEstimator):
    """Per-channel intensity histograms (``bins`` per channel, each L1-normalised), float32.

    RGB input ``(N, H, W, 3)`` gives ``3 * bins`` features (R, G, B); gray input ``(N, H, W)`` gives
    ``bins``. Stateless: ``fit`` only records the channel count, and ``transform`` refuses input with
    another one (a model fitted on colour cannot score gray images, and vice versa).
    """

    def __init__(self, bins: int = 16):
        self.bins = bins

    def _channels(self, X: np.ndarray) -> int:
        if X.ndim == 4 and X.shape[-1] == 3:
            return 3
        if X.ndim == 3:
            return 1
        raise ValueError(f"ColourHistogram takes (N, H, W) or (N, H, W, 3) images, got shape {X.shape}")

    def fit(self, X, y=None):
        if not isinstance(self.bins, int | np.integer) or not 2 <= self.bins <= 256:
            raise ValueError(f"ColourHistogram bins={self.bins!r}: expected an integer in [2, 256]")
        self.n_channels_ = self._channels(np.asarray(X))
        self.n_features_out_ = self.n_channels_ * int(self.bins)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        X = np.asarray(X)
        channels = self._channels(X)
        if channels != self.n_channels_:
            raise ValueError(f"ColourHistogram was fitted on {self.n_channels_}-channel images, got {channels}")
        flat = X.reshape(len(X), -1, channels).astype(np.int64)  # (N, pixels, C)
        width = 256 // int(self.bins) if 256 % int(self.bins) == 0 else None
        bins = flat // width if width else (flat * int(self.bins)) // 256  # bin index 0..bins-1
        offsets = np.arange(channels, dtype=np.int64) * int(self.bins)
        index = (bins + offsets).reshape(len(X), -1)
        out = np.zeros((len(X), self.n_features_out_), dtype=np.float64)
        rows = np.repeat(np.arange(len(X)), index.shape[1])
        np.add.at(out, (rows, index.ravel()), 1.0)
        out /= max(flat.shape[1], 1)
        return out.astype(np.float32)

    def __sklearn_tags__(self):
        return image_input_tags(super().__sklearn_tags__())
