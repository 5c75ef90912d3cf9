"""Where the tests find the shared real data (the one place that knows; fixtures in conftest.py use it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def shared_datasets_path() -> Path:
    """Where the shared datasets live: ``$MEDBENCH_SHARED`` or ``<project>/../shared/datasets``."""
    env = os.environ.get("MEDBENCH_SHARED")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def pneumonia_arrays(shared_datasets: Path, take: dict[str, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The first ``take[split]`` real PneumoniaMNIST images and labels of each official split (skips the
    test when the file is absent)."""
    path = shared_datasets / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"real data not found: {path}")
    with np.load(path) as d:
        return {s: (d[f"{s}_images"][:n], d[f"{s}_labels"][:n].ravel().astype(int)) for s, n in take.items()}
