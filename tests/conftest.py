"""Shared fixtures for medbench's tests (all on the real data in ``../shared/datasets``).

Environment, for the whole session (autouse, restored afterwards):

* ``MEDBENCH_CACHE_DIR`` points at a fresh temporary folder (see ``medbench_cache_dir``), so tests never
  read or write the user's caches and every CI run starts cold; ``MEDBENCH_NO_CACHE`` is unset.
* ``MEDBENCH_DATA_DIR`` points at the shared datasets folder (when it exists), so
  ``load_dataset("pneumoniamnist")`` uses the verified local file and never downloads.

Fixtures (names are stable: other test modules rely on them):

``shared_datasets`` (session)
    Path of the shared datasets folder: ``<project>/../shared/datasets``, or ``$MEDBENCH_SHARED``.
    Skips the test, with the path in the reason, when the folder is absent.
``chest_xray_dir`` (session)
    ``shared_datasets / "chest_xray"`` (Kermany layout ``{train,val,test}/{NORMAL,PNEUMONIA}``); skips if absent.
``medbench_cache_dir`` (session)
    The session's ``MEDBENCH_CACHE_DIR`` (a ``Path``). A test that needs a cold cache of its own sets
    ``monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path))`` instead.
``pneumonia_full`` (session)
    The whole real PneumoniaMNIST :class:`~medbench.datasets.dataset.Dataset` (5,856 images, 28x28,
    official split), loaded through ``load_dataset("pneumoniamnist")``.
``pneumonia_small`` (session)
    A real, small PneumoniaMNIST Dataset: the first 300 train / 100 val / 150 test images of the official
    split (ids, labels and ``official_split`` kept), for fast pipeline tests. Do not mutate it.
``pneumonia_small_split`` (session)
    Its :class:`~medbench.datasets.splits.Split` (``make_split``: the official one, 300 / 100 / 150).
``make_image_folder`` (function)
    Factory ``make_image_folder(n_per_class, *, layout="flat" | "split", name="xray", splits=...)``
    that copies real chest_xray JPEGs into ``tmp_path/name`` and returns the folder: ``flat`` gives
    ``NORMAL/`` and ``PNEUMONIA/`` with the first ``n_per_class`` train images of each class (sorted
    names, so several images share a patient id); ``split`` gives ``train/`` and ``test/`` (or the
    folders named in ``splits``) with ``n_per_class`` images per class each.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from data_paths import shared_datasets_path

from medbench.datasets.dataset import SPLITS, Dataset

pytest_plugins = ["strict_skips"]  # CI: a skip not listed in tests/allowed_skips.txt fails the run

SMALL_COUNTS = {"train": 300, "val": 100, "test": 150}


@pytest.fixture(scope="session")
def medbench_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("medbench-cache")


@pytest.fixture(scope="session", autouse=True)
def _medbench_session_env(medbench_cache_dir: Path) -> Iterator[None]:
    """Session-wide environment: private cache dir, data dir on the shared datasets."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDBENCH_CACHE_DIR", str(medbench_cache_dir))
        mp.delenv("MEDBENCH_NO_CACHE", raising=False)
        shared = shared_datasets_path()
        if shared.is_dir():
            mp.setenv("MEDBENCH_DATA_DIR", str(shared))
        yield


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = shared_datasets_path()
    if not path.is_dir():
        pytest.skip(f"real data not found: {path} (put ../shared/datasets beside the project or set MEDBENCH_SHARED)")
    return path


@pytest.fixture(scope="session")
def chest_xray_dir(shared_datasets: Path) -> Path:
    path = shared_datasets / "chest_xray"
    if not path.is_dir():
        pytest.skip(f"real data not found: {path}")
    return path


@pytest.fixture(scope="session")
def pneumonia_full(shared_datasets: Path) -> Dataset:
    if not (shared_datasets / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {shared_datasets / 'pneumoniamnist.npz'}")
    from medbench.datasets import load_dataset

    return load_dataset("pneumoniamnist")


@pytest.fixture(scope="session")
def pneumonia_small(pneumonia_full: Dataset) -> Dataset:
    full = pneumonia_full
    idx = np.concatenate([np.flatnonzero(full.official_split == s)[:SMALL_COUNTS[s]] for s in SPLITS])
    return Dataset(
        name="pneumoniamnist_small",
        spec="pneumoniamnist (first 300 train / 100 val / 150 test)",
        title=f"{full.title}, small subset",
        class_names=list(full.class_names),
        images=full.images[idx].copy(),
        labels=full.labels[idx].copy(),
        ids=full.ids[idx].copy(),
        groups=full.groups[idx].copy(),
        official_split=full.official_split[idx].copy(),
        positive_class=full.positive_class,
        task=full.task,
        source=dict(full.source),
        group_source=full.group_source,
    )


@pytest.fixture(scope="session")
def pneumonia_small_split(pneumonia_small: Dataset):
    from medbench.datasets.splits import make_split

    split = make_split(pneumonia_small, seed=0)
    assert split.method == "official", split.method
    return split


def _copy_first(src: Path, dst: Path, n: int) -> None:
    files = sorted(src.glob("*.jpeg"))[:n]
    if len(files) < n:
        pytest.skip(f"{src} has only {len(files)} images, {n} needed")
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dst / f.name)


@pytest.fixture
def make_image_folder(tmp_path: Path, chest_xray_dir: Path) -> Callable[..., Path]:
    def make(n_per_class: int, *, layout: str = "flat", name: str = "xray",
             splits: tuple[str, ...] = ("train", "test"), classes: tuple[str, ...] = ("NORMAL", "PNEUMONIA")) -> Path:
        root = tmp_path / name
        if root.exists():
            raise ValueError(f"{root} exists already: pass another name")
        for cls in classes:
            if layout == "flat":
                _copy_first(chest_xray_dir / "train" / cls, root / cls, n_per_class)
            elif layout == "split":
                for s in splits:
                    _copy_first(chest_xray_dir / s / cls, root / s / cls, n_per_class)
            else:
                raise ValueError(f"layout must be 'flat' or 'split', not {layout!r}")
        return root

    return make
