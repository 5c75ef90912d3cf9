"""Shared pieces of the timing micro-benchmarks: real PneumoniaMNIST slices and a one-thread switch."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.core.paths import data_dir


def _pneumonia_parts(n_train: int, n_val: int, n_test: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    path = data_dir() / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"real data not found: {path} (set MEDBENCH_DATA_DIR)")
    with np.load(path) as z:
        return {s: (z[f"{s}_images"][:n], z[f"{s}_labels"][:n].reshape(-1))
                for s, n in (("train", n_train), ("val", n_val), ("test", n_test))}


@pytest.fixture(scope="session")
def pneumonia_parts():
    """``pneumonia_parts(n_train, n_val, n_test)``: the first images and labels of each official
    PneumoniaMNIST split, as ``{split: (images, labels)}`` (skips when the data is absent)."""
    return _pneumonia_parts


@pytest.fixture(scope="module")
def one_thread():
    """Time one thread's work (OpenMP / BLAS pools and OpenCV at 1 thread): stable, comparable numbers."""
    import cv2
    from threadpoolctl import threadpool_limits

    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    with threadpool_limits(1):
        yield
    cv2.setNumThreads(old)
