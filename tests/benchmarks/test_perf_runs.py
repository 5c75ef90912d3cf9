"""End-to-end run timings (issue 30): each piece of work done once.

Through the CLI (``python -m medbench run``, a fresh process each, an empty cache of its own per test) on the
real PneumoniaMNIST, fast profile:

* the fast profile cold, then ``--external folder:<Kermany test folder>`` added to the finished run (same --out):
  the second run fits nothing (every record says ``model_origin: reused``); the wall times, their ratio and the
  feature time of each SIFT pipeline (the 2nd and 3rd reuse the 1st's fitted codebook + encoding) are kept in the
  benchmark's ``extra_info``;
* ``--robustness`` on a cold fast-profile run against the same run without it (ratio in ``extra_info``).

Minutes each on a laptop (``tox -e perf``; skipped without the shared data). The figures go in the README with
the machine they were measured on; nothing here asserts a wall time (only the SIFT feature-time share, which the
reuse makes a small fraction of a fit whatever the machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medbench.core.paths import data_dir

# whole runs: minutes each, beyond the suite-wide 900 s per-test timeout on a loaded machine
pytestmark = [pytest.mark.perf, pytest.mark.timeout(7200)]
FAST = ("--dataset", "pneumoniamnist", "--profile", "fast")


def _external() -> str:
    folder = data_dir() / "chest_xray" / "test"
    if not folder.is_dir() or not (data_dir() / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found under {data_dir()}")
    return f"folder:{folder}"


def _run(cache: Path, out: Path, *argv: str) -> float:
    """Wall seconds of one ``medbench run`` in a fresh process with its own cache."""
    env = {**os.environ, "MEDBENCH_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "medbench", "run", *FAST, *argv, "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    return wall


def _jobs(out: Path) -> dict[str, dict]:
    return {j["pipeline"]: j for j in json.loads((out / "results.json").read_text())["jobs"]}


def test_external_added_to_a_finished_fast_run(benchmark, tmp_path):
    ext = _external()
    cache, out = tmp_path / "cache", tmp_path / "out"
    cold = _run(cache, out)
    first = _jobs(out)
    sift = {p: first[p]["runtime"]["feature_time_s"] for p in ("sift-svm", "sift-tree", "sift-xgboost")}
    added = benchmark.pedantic(_run, args=(cache, out, "--external", ext), rounds=1, iterations=1)
    jobs = _jobs(out)
    assert all(j["model_origin"] == "reused" and j["external"] for j in jobs.values())  # nothing refitted
    benchmark.extra_info.update({
        "fast_cold_wall_s": round(cold, 1), "external_added_wall_s": round(added, 1),
        "external_added_over_cold": round(added / cold, 3),
        "sift_feature_time_s": {p: round(v, 2) for p, v in sift.items()},
        "sift_2nd_3rd_over_1st": [round(sift[p] / sift["sift-svm"], 4) for p in ("sift-tree", "sift-xgboost")],
        "cpus": os.cpu_count()})
    assert max(sift["sift-tree"], sift["sift-xgboost"]) < 0.1 * sift["sift-svm"]


def test_robustness_against_the_same_run_without(benchmark, tmp_path):
    _external()
    plain = _run(tmp_path / "cache-plain", tmp_path / "plain")
    robust = benchmark.pedantic(_run, args=(tmp_path / "cache-rob", tmp_path / "rob", "--robustness"),
                                rounds=1, iterations=1)
    assert all(j.get("robustness") for j in _jobs(tmp_path / "rob").values())
    benchmark.extra_info.update({"fast_cold_wall_s": round(plain, 1), "robustness_cold_wall_s": round(robust, 1),
                                 "robustness_over_plain": round(robust / plain, 3), "cpus": os.cpu_count()})
