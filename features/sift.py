"""Dense SIFT bag-of-visual-words features (OpenCV SIFT + MiniBatchKMeans), as a transformer.

Input: ``uint8`` images ``(N, H, W)``, or RGB ``(N, H, W, 3)``, described by their luminance
(ITU-R 601-2, :func:`medbench.features.colour.to_luminance`). Each image is resized to
``image_size`` x ``image_size`` (default 64) and SIFT descriptors (OpenCV, 128-D) are computed on a
dense grid of keypoints every ``step`` pixels with diameter ``patch_size`` (dense sampling: detectors find too few keypoints on
28 px images). ``fit`` learns a codebook of ``n_words`` visual words with MiniBatchKMeans on at most
``max_descriptors`` descriptors sampled from the *training* images only. ``transform`` assigns each
descriptor to its nearest word and builds a spatial-pyramid histogram (level 0: whole image;
level 1: 2x2 quadrants when ``pyramid=True``), each block L1-normalised, then square-rooted
(Hellinger kernel). Output size: ``n_words * (5 if pyramid else 1)``. Descriptors are cached on disk
by image content (see :mod:`medbench.features.cache`; hits and misses are counted there, in
``cache.stats()``) and computed on all cores. ``transform`` before ``fit`` raises ``NotFittedError``
and never changes the estimator; the input is declared to scikit-learn as a 3-D image array.
"""

from __future__ import annotations

from functools import partial

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils.validation import check_is_fitted

from medbench.core.storage import stored_as
from medbench.features import cache
from medbench.features.colour import luminance_of
from medbench.features.parallel import map_images
from medbench.features.resize import image_input_tags, to_size


def grid_points(image_size: int, step: int, patch_size: int) -> np.ndarray:
    """Keypoint centres (x, y) of the dense grid, kept at least half a patch inside the image."""
    half = patch_size / 2
    coords = np.arange(half, image_size - half + 1e-6, step)
    if len(coords) == 0:
        raise ValueError(f"SIFT patch_size={patch_size} does not fit in image_size={image_size}")
    xx, yy = np.meshgrid(coords, coords)
    return np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)


def _sift_one(img: np.ndarray, *, image_size: int, step: int, patch_size: int) -> np.ndarray:
    sift = cv2.SIFT_create()
    kps = [cv2.KeyPoint(float(x), float(y), float(patch_size)) for x, y in grid_points(image_size, step, patch_size)]
    _, desc = sift.compute(to_size(luminance_of(img), image_size), kps)
    # OpenCV scales SIFT descriptors to 0..255 integers; uint8 storage is lossless and 4x smaller.
    return np.clip(np.round(desc), 0, 255).astype(np.uint8)


@stored_as("skops")
class SIFTBoVW(TransformerMixin, BaseEstimator):
    """Dense-SIFT bag of visual words with an optional 2x2 spatial pyramid."""

    def __init__(self, n_words: int = 256, image_size: int = 64, step: int = 6, patch_size: int = 16,
                 pyramid: bool = True, max_descriptors: int = 200_000, random_state: int | None = 0,
                 n_jobs: int = -1):
        self.n_words = n_words
        self.image_size = image_size
        self.step = step
        self.patch_size = patch_size
        self.pyramid = pyramid
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.n_jobs = n_jobs

    def descriptors(self, X: np.ndarray) -> np.ndarray:
        """Dense SIFT descriptors, shape ``(N, n_points, 128)`` uint8 (cached by content)."""
        params = {"image_size": self.image_size, "step": self.step, "patch_size": self.patch_size}
        fn = partial(_sift_one, **params)
        desc, _ = cache.cached_array(
            "sift", np.asarray(X), params, lambda: map_images(fn, np.asarray(X), n_jobs=self.n_jobs,
                                                                          desc="SIFT")
        )
        return desc

    def fit(self, X, y=None):
        desc = self.descriptors(X)
        flat = desc.reshape(-1, desc.shape[-1])
        rng = np.random.default_rng(self.random_state)
        if len(flat) > self.max_descriptors:
            flat = flat[rng.choice(len(flat), self.max_descriptors, replace=False)]
        self.codebook_ = MiniBatchKMeans(
            n_clusters=self.n_words, random_state=self.random_state, batch_size=4096, n_init=3,
        ).fit(flat.astype(np.float32))
        self.points_ = grid_points(self.image_size, self.step, self.patch_size)
        return self

    def _cells(self) -> np.ndarray:
        """Spatial-pyramid cell index (0..3) of each grid point (level 1); level 0 is implicit."""
        half = self.image_size / 2
        return (self.points_[:, 0] >= half).astype(int) + 2 * (self.points_[:, 1] >= half).astype(int)

    def transform(self, X):
        check_is_fitted(self, ("codebook_", "points_"))
        desc = self.descriptors(X)
        n, p, d = desc.shape
        words = self.codebook_.predict(desc.reshape(-1, d).astype(np.float32)).reshape(n, p)
        blocks = [self._histograms(words, np.zeros(p, dtype=int), 1)]
        if self.pyramid:
            blocks.append(self._histograms(words, self._cells(), 4))
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def __sklearn_tags__(self):
        return image_input_tags(super().__sklearn_tags__())

    def _histograms(self, words: np.ndarray, cells: np.ndarray, n_cells: int) -> np.ndarray:
        n = len(words)
        idx = cells[None, :] * self.n_words + words  # (n, p) bin index within the image
        hist = np.zeros((n, n_cells * self.n_words), dtype=np.float32)
        np.add.at(hist, (np.repeat(np.arange(n), words.shape[1]), idx.ravel()), 1.0)
        hist = hist.reshape(n, n_cells, self.n_words)
        hist /= np.maximum(hist.sum(axis=2, keepdims=True), 1.0)
        return np.sqrt(hist).reshape(n, -1)
