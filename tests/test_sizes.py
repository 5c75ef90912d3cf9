"""MedMNIST+ sizes (``pneumoniamnist@64/@128/@224``): the MD5 table, the offline error, the MD5 check on a
generated file in the official key layout, and that file run through the documented ``npz:PATH`` route.

The real MedMNIST+ files are not here (no internet), so a 64 px file is generated from the real 28 px
PneumoniaMNIST images (upsampled 28 -> 64 by nearest neighbour) in the official key layout. Its MD5 cannot be the published one, and the test says so: the verified
``pneumoniamnist@64`` route refuses it by name, and ``npz:PATH`` (the user's own file) runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_paths import pneumonia_arrays

from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.datasets import describe_datasets, info, load_dataset
from medbench.datasets.sizes import MEDMNIST_PLUS_MD5, SIZES, size_facts

TAKE = {"train": 200, "val": 100, "test": 100}


def _upsample(x: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of (N, 28, 28) to (N, size, size)."""
    idx = (np.arange(size) * x.shape[1]) // size
    return x[:, idx][:, :, idx]


@pytest.fixture
def generated_64(shared_datasets: Path, tmp_path: Path) -> Path:
    """``pneumoniamnist_64.npz`` in the official key layout, from real images, in its own data folder."""
    arrays = pneumonia_arrays(shared_datasets, TAKE)
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "pneumoniamnist_64.npz"
    np.savez(path, **{f"{s}_images": _upsample(x, 64) for s, (x, _) in arrays.items()},
             **{f"{s}_labels": y.reshape(-1, 1) for s, (_, y) in arrays.items()})
    return path


def test_every_2d_set_has_three_sizes_with_md5s():
    assert set(MEDMNIST_PLUS_MD5) == set(info.MEDMNIST)
    for name, by_size in MEDMNIST_PLUS_MD5.items():
        assert sorted(by_size) == list(SIZES)
        for size, md5 in by_size.items():
            assert re.fullmatch(r"[0-9a-f]{32}", md5), (name, size)
            facts = size_facts(name, size)
            assert facts["file"] == f"{name}_{size}.npz" and facts["md5"] == md5
            assert facts["url"].startswith(info.MEDMNIST_URL + facts["file"])
            assert facts["image_size"] == size and facts["n_samples"] == info.MEDMNIST[name]["n_samples"]
    assert size_facts("pneumoniamnist", 224)["md5"] == "d6a3c71de1b945ea11211b03746c1fe1"
    assert len({md5 for s in MEDMNIST_PLUS_MD5.values() for md5 in s.values()}) == 3 * len(MEDMNIST_PLUS_MD5)


def test_sizes_are_not_listed_as_datasets_of_their_own():
    names = [r["dataset"] for r in describe_datasets()]
    assert "pneumoniamnist" in names and not any("@" in n for n in names)


@pytest.mark.parametrize("spec,expected", [
    ("pneumoniamnist@32", "publishes no 32 px file of pneumoniamnist with a known MD5"),
    ("pneumoniamnist@big", "the size after @ must be a number of pixels"),
])
def test_unknown_size_is_refused_in_one_line(spec, expected, capsys):
    assert main(["run", "--dataset", spec, "--pipelines", "majority"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medbench: error: ") and expected in err and "\n" not in err


def test_offline_224_names_file_md5_and_folder(tmp_path: Path):
    """A subprocess whose HTTPS proxy is a closed local port: the download fails at once, as offline."""
    empty = tmp_path / "data"
    env = {**os.environ, "MEDBENCH_DATA_DIR": str(empty), "https_proxy": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}
    proc = subprocess.run([sys.executable, "-m", "medbench", "run", "--dataset", "pneumoniamnist@224",
                           "--pipelines", "majority", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medbench: error: pneumoniamnist_224.npz is not in ")
    assert "d6a3c71de1b945ea11211b03746c1fe1" in lines[0] and str(empty / "pneumoniamnist_224.npz") in lines[0]
    assert "Traceback" not in proc.stderr and not (empty / "pneumoniamnist_224.npz").exists()


def test_generated_file_is_refused_by_its_md5(generated_64: Path, monkeypatch):
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(generated_64.parent))
    with pytest.raises(MedbenchError) as err:
        load_dataset("pneumoniamnist@64")
    text = str(err.value)
    assert str(generated_64) in text and "expected 8f4eceb4ccffa70c672198ea285246c6" in text
    assert f"npz:{generated_64}" in text


def test_generated_file_runs_as_npz(generated_64: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    rc = main(["run", "--dataset", f"npz:{generated_64}", "--pipelines", "majority", "hog-svm", "--n-jobs", "1",
               "--no-gallery", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    data = json.loads((out / "results.json").read_text())
    assert data["split"]["method"] == "official"
    assert {r["pipeline"] for r in data["jobs"]} == {"majority", "hog-svm"}
    ds = load_dataset(f"npz:{generated_64}")
    assert ds.images.shape[1:3] == (64, 64) and ds.official_split is not None


def test_real_28px_file_unchanged(shared_datasets: Path):
    ds = load_dataset("pneumoniamnist")
    assert ds.images.shape == (5856, 28, 28) and ds.source["md5"] == info.MEDMNIST["pneumoniamnist"]["md5"]
    assert size_facts("pneumoniamnist", 28) == info.MEDMNIST["pneumoniamnist"]
