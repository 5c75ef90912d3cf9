"""Histogram-of-oriented-gradients features (scikit-image), as a scikit-learn transformer.

Input: ``uint8`` images ``(N, H, W)``, or RGB ``(N, H, W, 3)``, described by their luminance
(ITU-R 601-2, :func:`medbench.features.colour.to_luminance`: the same gray the image decoder makes).
Each image is resized to ``image_size`` x ``image_size`` (default 64; area interpolation when
shrinking, bilinear when enlarging) and described by
``skimage.feature.hog`` with ``orientations`` bins, ``pixels_per_cell`` square cells and
``cells_per_block`` square blocks, L2-Hys block normalisation and a square-root (gamma) transform.
With the defaults (64 px, 8 px cells, 2x2 blocks, 9 bins) that is 7*7*2*2*9 = 1764 features.
Features are cached on disk by content (see :mod:`medbench.features.cache`; hits and misses are
counted there, in ``cache.stats()``, not on the estimator) and computed on all cores. ``fit`` checks
the parameters and records ``n_features_out_``; ``transform`` before ``fit`` raises
``NotFittedError`` and never changes the estimator. The input is declared to scikit-learn as a 3-D
image array (``__sklearn_tags__``), not a 2-D feature table.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from skimage.feature import hog
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from medbench.core.storage import stored_as
from medbench.features import cache
from medbench.features.colour import luminance_of
from medbench.features.parallel import map_images
from medbench.features.resize import image_input_tags, to_size


def _hog_one(img: np.ndarray, *, image_size: int, orientations: int, pixels_per_cell: int,
             cells_per_block: int) -> np.ndarray:
    return hog(
        to_size(luminance_of(img), image_size),
        orientations=orientations,
        pixels_per_cell=(pixels_per_cell, pixels_per_cell),
        cells_per_block=(cells_per_block, cells_per_block),
        block_norm="L2-Hys",
        transform_sqrt=True,
        feature_vector=True,
    ).astype(np.float32)


@stored_as("skops")
class HOG(TransformerMixin, BaseEstimator):
    """HOG descriptor of each image; stateless (``fit`` learns nothing)."""

    def __init__(self, image_size: int = 64, orientations: int = 9, pixels_per_cell: int = 8,
                 cells_per_block: int = 2, n_jobs: int = -1):
        self.image_size = image_size
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.n_jobs = n_jobs

    def _params(self) -> dict:
        return {"image_size": self.image_size, "orientations": self.orientations,
                "pixels_per_cell": self.pixels_per_cell, "cells_per_block": self.cells_per_block}

    def fit(self, X, y=None):
        cells = self.image_size // self.pixels_per_cell
        if cells < self.cells_per_block:
            raise ValueError(f"HOG image_size={self.image_size} gives {cells} cells per side, "
                             f"fewer than cells_per_block={self.cells_per_block}")
        self.n_features_out_ = (cells - self.cells_per_block + 1) ** 2 * self.cells_per_block ** 2 * self.orientations
        return self

    def glyph(self, img: np.ndarray) -> np.ndarray:
        """The HOG glyph image of one image (``skimage.feature.hog(..., visualize=True)`` with this step's
        own parameters, on the luminance at ``image_size``): what the descriptor sees, scaled to [0, 1]."""
        p = self._params()
        _, picture = hog(to_size(luminance_of(img), p["image_size"]), orientations=p["orientations"],
                         pixels_per_cell=(p["pixels_per_cell"],) * 2, cells_per_block=(p["cells_per_block"],) * 2,
                         block_norm="L2-Hys", transform_sqrt=True, feature_vector=True, visualize=True)
        peak = float(picture.max())
        return (picture / peak if peak > 0 else picture).astype(np.float32)

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        X = np.asarray(X)
        fn = partial(_hog_one, **self._params())
        feats, _ = cache.cached_array(
            "hog", X, self._params(), lambda: map_images(fn, X, n_jobs=self.n_jobs, desc="HOG")
        )
        return feats

    def __sklearn_tags__(self):
        return image_input_tags(super().__sklearn_tags__())
