"""Wall time of the chest X-ray suite on a Dask LocalCluster (`processes:2`) against `local` (perf, slow).

The suite is suites/chest-xray.toml with its quick classical pipelines (majority, HOG + SVM / tree; the CNN
left out: its TensorFlow thread pool makes a 2-core comparison about thread contention, not scheduling). Image decoding is warmed
first and features are computed afresh in both runs (MEDBENCH_NO_CACHE=1), so the two timings cover the
same work. Run with `tox -e perf -- -k dask` (or pytest -m perf tests/benchmarks/test_dask_suite.py -s);
it prints both wall times and their ratio.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import medbench

pytest.importorskip("dask.distributed")
SUITE = Path(__file__).resolve().parents[2] / "suites" / "chest-xray.toml"
PIPELINES = '["majority", "hog-svm", "hog-tree"]'


@pytest.mark.perf
@pytest.mark.slow
def test_processes_vs_local_wall_time(tmp_path, monkeypatch, shared_datasets):
    text = SUITE.read_text().replace(
        'pipelines = ["majority", "hog-svm", "hog-tree", "hog-xgboost", "sift-svm", "cnn"]', f"pipelines = {PIPELINES}")
    assert PIPELINES in text, "suites/chest-xray.toml changed: update this benchmark's pipeline list"
    suite = tmp_path / "suite.toml"
    suite.write_text(text.replace("[suite]", "[suite]\nbootstrap_resamples = 200", 1))
    medbench.run_suite(suite, tmp_path / "warm", log=None)  # decode and cache every image once
    monkeypatch.setenv("MEDBENCH_NO_CACHE", "1")
    wall = {}
    for scheduler in ("local", "processes:2"):
        t0 = time.perf_counter()
        doc = medbench.run_suite(suite, tmp_path / scheduler.replace(":", "-"), fresh=True, log=None,
                                 scheduler=scheduler)
        wall[scheduler] = time.perf_counter() - t0
        assert all(d["status"] == "ok" and not d.get("failed_jobs") for d in doc["datasets"]), doc["datasets"]
    ratio = wall["processes:2"] / wall["local"]
    print(f"\nchest-xray suite ({PIPELINES}): local {wall['local']:.1f} s, processes:2 "
          f"{wall['processes:2']:.1f} s, ratio {ratio:.2f}")
