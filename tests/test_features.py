"""Feature extractors on real images: HOG, dense-SIFT bag of visual words, raw pixels, and the feature cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.features import cache
from medbench.features.hog import HOG
from medbench.features.pixels import Pixels
from medbench.features.sift import SIFTBoVW, grid_points


def hog_length(image_size: int, pixels_per_cell: int, cells_per_block: int, orientations: int) -> int:
    """The documented HOG size: (cells - block + 1)^2 blocks of block^2 cells of ``orientations`` bins."""
    cells = image_size // pixels_per_cell
    return (cells - cells_per_block + 1) ** 2 * cells_per_block ** 2 * orientations


@pytest.fixture(scope="module")
def mnist_images(pneumonia_small: Dataset) -> np.ndarray:
    """40 real 28x28 PneumoniaMNIST images (train)."""
    return pneumonia_small.images[:40]


@pytest.fixture(scope="module")
def xray_images(chest_xray_dir: Path) -> np.ndarray:
    """12 real 224x224 chest_xray images."""
    return load_dataset(f"folder:{chest_xray_dir / 'val'}").images[:12]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One BLAS/OpenMP thread: MiniBatchKMeans (SIFT codebook) spin-waits badly on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def cold_cache(tmp_path, monkeypatch):
    """A private, empty feature cache for this test, and zeroed hit/miss counters."""
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    cache.reset_stats()
    return tmp_path / "cache"


# ---------------------------------------------------------------- HOG


def test_hog_default_shape(xray_images, cold_cache):
    hog = HOG(n_jobs=1).fit(xray_images)
    out = hog.transform(xray_images)
    assert hog_length(64, 8, 2, 9) == 1764  # the docstring's number
    assert out.shape == (len(xray_images), 1764) == (len(xray_images), hog.n_features_out_)
    assert out.dtype == np.float32 and np.isfinite(out).all()


@pytest.mark.parametrize("ppc, cpb, orient", [(4, 2, 9), (7, 2, 9), (4, 3, 12)])
def test_hog_28px_shape(mnist_images, cold_cache, ppc, cpb, orient):
    hog = HOG(image_size=28, pixels_per_cell=ppc, cells_per_block=cpb, orientations=orient, n_jobs=1)
    out = hog.fit(mnist_images).transform(mnist_images)
    assert out.shape == (len(mnist_images), hog_length(28, ppc, cpb, orient)) == (len(mnist_images),
                                                                                   hog.n_features_out_)


def test_hog_rejects_too_few_cells():
    with pytest.raises(ValueError, match="cells_per_block"):
        HOG(image_size=28, pixels_per_cell=16, cells_per_block=2).fit(np.zeros((1, 28, 28), np.uint8))


def test_hog_deterministic_and_image_specific(mnist_images, cold_cache):
    hog = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(mnist_images)
    with cache.disabled():  # really compute twice
        a, b = hog.transform(mnist_images), hog.transform(mnist_images)
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], a[1])
    assert len({row.tobytes() for row in a}) == len(a)  # every image has its own descriptor


@pytest.mark.slow
def test_hog_parallel_equals_serial(pneumonia_small, cold_cache):
    images = pneumonia_small.images[:300]  # > one 256-image chunk: two worker processes
    with cache.disabled():
        serial = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(images).transform(images)
        parallel = HOG(image_size=28, pixels_per_cell=4, n_jobs=2).fit(images).transform(images)
    assert np.array_equal(serial, parallel)


def test_hog_cache_hit_and_disabled(mnist_images, cold_cache):
    hog = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(mnist_images)
    state = dict(vars(hog))
    first = hog.transform(mnist_images)
    assert cache.stats() == {"hits": 0, "misses": 1}
    assert len(list((cold_cache / "hog").glob("*.npy"))) == 1
    second = hog.transform(mnist_images)
    assert cache.stats() == {"hits": 1, "misses": 1}
    assert np.array_equal(first, second)
    with cache.disabled():
        third = hog.transform(mnist_images)
    assert cache.stats() == {"hits": 1, "misses": 1}  # no lookup at all
    assert np.array_equal(first, third)
    assert vars(hog) == state  # the cache's bookkeeping lives in cache.stats(), never on the estimator
    # the key covers the pixels and the parameters: other images or other settings miss
    hog.transform(mnist_images[:-1])
    HOG(image_size=28, pixels_per_cell=4, orientations=8, n_jobs=1).fit(mnist_images).transform(mnist_images)
    assert cache.stats() == {"hits": 1, "misses": 3}


def test_damaged_cache_entry_is_recomputed(mnist_images, cold_cache):
    hog = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(mnist_images)
    first = hog.transform(mnist_images)
    (entry,) = (cold_cache / "hog").glob("*.npy")
    entry.write_bytes(b"garbage")
    again = hog.transform(mnist_images)
    assert cache.stats() == {"hits": 0, "misses": 2} and np.array_equal(first, again)


def test_no_cache_environment_variable(mnist_images, cold_cache, monkeypatch):
    monkeypatch.setenv("MEDBENCH_NO_CACHE", "1")
    hog = HOG(image_size=28, pixels_per_cell=4, n_jobs=1).fit(mnist_images)
    hog.transform(mnist_images)
    hog.transform(mnist_images)
    assert cache.stats() == {"hits": 0, "misses": 0}
    assert not (cold_cache / "hog").exists()


# ---------------------------------------------------------------- SIFT bag of visual words


def test_sift_descriptors_shape(mnist_images, cold_cache):
    sift = SIFTBoVW(n_jobs=1)
    desc = sift.descriptors(mnist_images[:5])
    n_points = len(grid_points(64, 6, 16))
    assert n_points == 9 * 9  # centres 8, 14, ..., 56 on a 64 px image
    assert desc.shape == (5, n_points, 128) and desc.dtype == np.uint8
    assert desc.any(axis=(1, 2)).all()  # real images: non-zero descriptors


@pytest.fixture(scope="module")
def sift_fitted(pneumonia_small):
    """A small codebook (16 words) learnt on 60 train images only."""
    train = pneumonia_small.images[:60]
    return SIFTBoVW(n_words=16, random_state=0, n_jobs=1).fit(train), train


def test_sift_codebook_from_train_only(sift_fitted, pneumonia_small):
    sift, train = sift_fitted
    other = pneumonia_small.images[pneumonia_small.official_split == "test"][:30]  # never seen in fit
    centres = sift.codebook_.cluster_centers_.copy()
    assert centres.shape == (16, 128)
    out = sift.transform(other)
    assert np.array_equal(sift.codebook_.cluster_centers_, centres)  # transform learns nothing
    assert out.shape == (30, 16 * 5) and out.dtype == np.float32
    # a codebook learnt on the other images is a different one: fit really looks at its input only
    other_book = SIFTBoVW(n_words=16, random_state=0, n_jobs=1).fit(other).codebook_.cluster_centers_
    assert not np.allclose(np.sort(other_book, axis=0), np.sort(centres, axis=0))


def test_sift_histograms_are_hellinger_normalised(sift_fitted, pneumonia_small):
    sift, train = sift_fitted
    out = sift.transform(pneumonia_small.images[-20:])
    assert (out >= 0).all()
    blocks = out.reshape(len(out), 5, 16)  # level 0 (whole image) + 4 quadrants
    # each block is an L1-normalised histogram, square-rooted: its squares sum to 1
    np.testing.assert_allclose((blocks ** 2).sum(axis=2), 1.0, rtol=1e-5)
    # the whole-image histogram is the sum of the quadrants' counts
    counts = blocks ** 2  # per-block frequencies
    n_per_cell = np.bincount(sift._cells(), minlength=4)
    whole = (counts[:, 1:] * n_per_cell[None, :, None]).sum(axis=1) / n_per_cell.sum()
    np.testing.assert_allclose(counts[:, 0], whole, atol=1e-5)


def test_sift_without_pyramid(sift_fitted, pneumonia_small):
    sift, train = sift_fitted
    flat = SIFTBoVW(n_words=16, pyramid=False, random_state=0, n_jobs=1).fit(train)
    out = flat.transform(pneumonia_small.images[-5:])
    assert out.shape == (5, 16)
    np.testing.assert_allclose(out, sift.transform(pneumonia_small.images[-5:])[:, :16], atol=1e-6)


def test_sift_deterministic_for_fixed_random_state(sift_fitted, pneumonia_small):
    sift, train = sift_fitted
    again = SIFTBoVW(n_words=16, random_state=0, n_jobs=1).fit(train)
    assert np.array_equal(again.codebook_.cluster_centers_, sift.codebook_.cluster_centers_)
    x = pneumonia_small.images[-10:]
    assert np.array_equal(again.transform(x), sift.transform(x))


def test_sift_descriptors_cached(mnist_images, cold_cache):
    sift = SIFTBoVW(n_jobs=1)
    a = sift.descriptors(mnist_images[:8])
    b = sift.descriptors(mnist_images[:8])
    assert cache.stats() == {"hits": 1, "misses": 1} and np.array_equal(a, b)
    with cache.disabled():
        c = sift.descriptors(mnist_images[:8])
    assert cache.stats() == {"hits": 1, "misses": 1} and np.array_equal(a, c)
    assert vars(sift) == vars(SIFTBoVW(n_jobs=1))  # computing descriptors leaves no state behind


# ---------------------------------------------------------------- raw pixels


def test_pixels_native(mnist_images):
    out = Pixels().fit(mnist_images).transform(mnist_images)
    assert out.shape == (len(mnist_images), 28 * 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_allclose(out[3], mnist_images[3].ravel() / 255.0, rtol=1e-6)


def test_pixels_resized(xray_images):
    out = Pixels(image_size=16).fit_transform(xray_images)
    assert out.shape == (len(xray_images), 256)
    assert 0.0 <= out.min() and out.max() <= 1.0
    # area interpolation when shrinking: every output pixel averages its 14x14 source block
    blocks = xray_images[0].reshape(16, 14, 16, 14).mean(axis=(1, 3)) / 255.0
    np.testing.assert_allclose(out[0].reshape(16, 16), blocks, atol=1 / 255 + 1e-6)
