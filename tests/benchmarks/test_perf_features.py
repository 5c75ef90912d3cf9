"""Timing micro-benchmarks of the feature hot paths (pytest-benchmark): HOG and dense SIFT per image,
the HOG transformer on a batch, and bag-of-visual-words encoding of a batch.

Real PneumoniaMNIST images (skipped when the data is absent). The normal test run disables
benchmarks (each body runs once); ``tox -e perf`` times them. Caches are off: these time the work.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans

from medbench.features import cache
from medbench.features.hog import HOG, _hog_one
from medbench.features.resize import to_size
from medbench.features.sift import SIFTBoVW, _sift_one, grid_points

pytestmark = pytest.mark.perf
BATCH = 64


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Every benchmark in this module times one thread's work."""


@pytest.fixture(scope="module")
def images(pneumonia_parts) -> np.ndarray:
    return np.ascontiguousarray(pneumonia_parts(0, 0, BATCH)["test"][0])


@pytest.fixture(scope="module")
def bovw(images) -> tuple[SIFTBoVW, np.ndarray]:
    """A SIFT bag of words with the pipeline's settings (256 words, 2x2 pyramid) and the batch's
    descriptors; its codebook is a quick 10-iteration k-means of the batch (encoding cost is the same)."""
    model = SIFTBoVW(n_words=256, n_jobs=1, random_state=0)
    with cache.disabled():
        desc = model.descriptors(images)
    flat = desc.reshape(-1, desc.shape[-1]).astype(np.float32)
    model.codebook_ = MiniBatchKMeans(n_clusters=256, n_init=1, max_iter=10, batch_size=4096,
                                      random_state=0).fit(flat)
    model.points_ = grid_points(model.image_size, model.step, model.patch_size)
    return model, desc


def test_hog_per_image_28px(benchmark, images):
    """HOG as the MedMNIST pipelines use it: native 28 px, 4 px cells (1296 features)."""
    out = benchmark(_hog_one, images[0], image_size=28, orientations=9, pixels_per_cell=4, cells_per_block=2)
    assert out.shape == (1296,)


def test_hog_per_image_224px(benchmark, images):
    """HOG as folder datasets use it: a 224 px image described at 64 px, 8 px cells (1764 features)."""
    big = to_size(images[0], 224)
    out = benchmark(_hog_one, big, image_size=64, orientations=9, pixels_per_cell=8, cells_per_block=2)
    assert out.shape == (1764,)


def test_hog_transform_batch(benchmark, images):
    """The HOG transformer on a batch of 64 images, one process, cache off."""
    hog = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(images)
    with cache.disabled():
        out = benchmark(hog.transform, images)
    assert out.shape == (BATCH, 1296)


def test_sift_per_image(benchmark, images):
    """Dense SIFT of one image (64 px, 16 px patches every 6 px: 81 descriptors)."""
    out = benchmark(_sift_one, images[0], image_size=64, step=6, patch_size=16)
    assert out.shape == (81, 128)


def test_bovw_encoding_batch(benchmark, bovw, images):
    """Bag-of-words encoding of 64 images' descriptors: nearest word + 2x2 spatial-pyramid histograms."""
    model, desc = bovw
    model.descriptors = lambda X: desc  # time the encoding only (descriptors precomputed)
    try:
        out = benchmark(model.transform, images)
    finally:
        del model.descriptors
    assert out.shape == (BATCH, 256 * 5)
