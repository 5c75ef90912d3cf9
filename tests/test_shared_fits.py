"""Each piece of work done once (issue 30 items 1-2), on real images.

* Fitted prefixes: the SIFT pipelines share one fitted codebook + encoding (models.prefix_cache): the second
  SIFT pipeline's record says it reused the prefix, and its predictions equal a cold fit's; a damaged entry is
  refitted, never used; ``medbench cache info`` lists the entries.
* Scoring without refitting: ``--external`` / ``--robustness`` added to a finished run (same --out) fit nothing
  (the records say the model was reused, the job key is the model's), and the external results equal those of a
  run made with ``--external`` from scratch in an empty cache. A score the cache lacks with no kept model refits.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medbench.cli import main
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.splits import make_split
from medbench.running import runner

COUNTS = {"train": 120, "val": 40, "test": 60}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def tiny(pneumonia_full: Dataset) -> Dataset:
    full = pneumonia_full
    idx = np.concatenate([np.flatnonzero(full.official_split == s)[:COUNTS[s]] for s in SPLITS])
    return Dataset(name="pneumoniamnist_tiny", spec="pneumoniamnist (first 120 train / 40 val / 60 test)",
                   title=full.title, class_names=list(full.class_names), images=full.images[idx].copy(),
                   labels=full.labels[idx].copy(), ids=full.ids[idx].copy(), groups=full.groups[idx].copy(),
                   official_split=full.official_split[idx].copy(), positive_class=full.positive_class,
                   task=full.task, source=dict(full.source), group_source=full.group_source)


SMALL_SIFT = {"n_words": "16", "step": "12", "max_descriptors": "4000"}  # a small codebook: the sharing, not the features, is tested


def _job(ds, split, pipeline, out, **kw):
    options = SMALL_SIFT if pipeline.startswith("sift") else {}
    return runner.run_job(ds, split, runner.Job(pipeline, 0, options), out, n_jobs=1, gallery=False, **kw)


def test_the_sift_pipelines_share_one_fitted_codebook(tiny, tmp_path, fresh_cache, capsys):
    from medbench.stores import cacheinfo

    split = make_split(tiny, seed=0)
    first = _job(tiny, split, "sift-svm", tmp_path / "a")
    assert first["status"] == "ok", first.get("error")
    assert first["runtime"]["prefix_cache"]["reused"] is False
    second = _job(tiny, split, "sift-tree", tmp_path / "a")
    assert second["runtime"]["prefix_cache"] == {**first["runtime"]["prefix_cache"], "reused": True}
    assert second["runtime"]["feature_cache"] == {"hits": 0, "misses": 0}  # not even the descriptors were read
    # a cold fit of the same pipeline (prefix entries gone; the descriptors may come from their own cache)
    shutil.rmtree(fresh_cache / "prefix")
    cold = _job(tiny, split, "sift-tree", tmp_path / "a", reuse=False)
    assert cold["runtime"]["prefix_cache"]["reused"] is False
    assert cold["predictions"] == second["predictions"] and cold["metrics"] == second["metrics"]
    # listed, current, by `medbench cache info`
    rows = {r["cache"]: r for r in cacheinfo.store_entries()}
    assert rows["prefix"]["entries"] == 1 and rows["prefix"]["current"] == 1
    assert rows["fitted"]["current"] >= 2  # the fitted job pipelines kept for later scoring
    # a damaged transformed split is never used: warned, refitted, same predictions
    npy = next((fresh_cache / "prefix").glob("*-train.npy"))
    data = bytearray(npy.read_bytes())
    data[-4:] = b"\x00\x00\x80\x7f"
    npy.write_bytes(bytes(data))
    assert {r["cache"]: r for r in cacheinfo.store_entries()}["prefix"]["stale"] == 1
    capsys.readouterr()
    again = _job(tiny, split, "sift-xgboost", tmp_path / "a")
    assert again["runtime"]["prefix_cache"]["reused"] is False
    assert "does not match its SHA-256" in capsys.readouterr().err
    third = _job(tiny, split, "sift-xgboost", tmp_path / "a", reuse=False)
    assert third["runtime"]["prefix_cache"]["reused"] is True and third["predictions"] == again["predictions"]


def test_an_other_seed_or_other_training_data_is_not_shared(tiny, tmp_path, fresh_cache):
    from sklearn.pipeline import Pipeline

    from medbench.features.hog import HOG
    from medbench.models import prefix_cache

    split = make_split(tiny, seed=0)
    a = _job(tiny, split, "hog-svm", tmp_path / "a")
    b = runner.run_job(tiny, split, runner.Job("hog-tree", 1), tmp_path / "a", n_jobs=1, gallery=False)
    assert b["runtime"]["prefix_cache"]["reused"] is False
    assert b["runtime"]["prefix_cache"]["key"] != a["runtime"]["prefix_cache"]["key"]
    assert _job(tiny, split, "hog-tree", tmp_path / "a")["runtime"]["prefix_cache"]["reused"] is True
    X = {s: tiny.images[split.indices(s)] for s in ("train", "val", "test")}
    y = tiny.labels[split.indices("train")]

    def fit(pipe):
        return lambda: (pipe.fit(X["train"], y), {s: pipe.transform(v) for s, v in X.items()})

    pipe = Pipeline([("hog", HOG(image_size=28, pixels_per_cell=4, n_jobs=1))])
    first = prefix_cache.fit_transform(pipe, X, y, 0, fit(pipe))[2]
    assert prefix_cache.fit_transform(pipe, X, y, 0, fit(pipe))[2]["reused"] is True
    other = {**X, "train": X["train"][1:]}  # one training image fewer: another entry
    info = prefix_cache.fit_transform(pipe, other, y[1:], 0, lambda: (pipe.fit(other["train"], y[1:]), other))[2]
    assert info["reused"] is False and info["key"] != first["key"]
    pipe2 = Pipeline([("hog", HOG(image_size=28, pixels_per_cell=7, n_jobs=1))])  # another parameter
    assert prefix_cache.fit_transform(pipe2, X, y, 0, fit(pipe2))[2]["reused"] is False


# --- scoring without refitting, through the CLI -------------------------------------------------------

ARGS = ("--pipelines", "majority", "hog-svm", "--image-size", "32", "--n-jobs", "1", "--no-gallery",
        "--bootstrap-resamples", "200")


def _run(out: Path, *argv: str) -> dict:
    assert main(["run", "--dataset", *argv, *ARGS, "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())


def _jobs(res: dict) -> dict[str, dict]:
    return {j["pipeline"]: j for j in res["jobs"]}


@pytest.fixture
def kermany_sets(make_image_folder, chest_xray_dir, tmp_path) -> tuple[Path, Path]:
    data = make_image_folder(30, layout="split", name="K")
    ext = tmp_path / "X"  # other Kermany test images than the dataset's
    for cls in ("NORMAL", "PNEUMONIA"):
        (ext / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "test" / cls).glob("*.jpeg"))[-20:]:
            shutil.copy2(f, ext / cls / f.name)
    return data, ext


def test_external_added_to_a_finished_run_fits_nothing(kermany_sets, tmp_path, monkeypatch, capsys):
    data, ext = kermany_sets
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache-a"))
    out = tmp_path / "out"
    first = _jobs(_run(out, f"folder:{data}"))
    assert all(j["model_origin"] == "fitted" and "external" not in j for j in first.values())
    res = _run(out, f"folder:{data}", "--external", f"folder:{ext}")
    added = _jobs(res)
    for name, job in added.items():
        assert job["model_origin"] == "reused" and job["key"] == first[name]["key"]  # the model's key
        assert job["runtime"] == first[name]["runtime"] and job["predictions"] == first[name]["predictions"]
        assert job["external"][0]["n"] == 40
    assert res["external"][0]["dataset"] == f"folder:{ext}"
    on_disk = json.loads((out / "jobs" / "hog-svm__seed0.json").read_text())
    assert on_disk["model_origin"] == "reused" and on_disk["external"][0]["n"] == 40
    # the same run again: reused as it is
    again = _jobs(_run(out, f"folder:{data}", "--external", f"folder:{ext}"))
    assert {n: j["finished"] for n, j in again.items()} == {n: j["finished"] for n, j in added.items()}
    # from scratch, in an empty cache and another folder: the same external results
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache-b"))
    scratch = _jobs(_run(tmp_path / "scratch", f"folder:{data}", "--external", f"folder:{ext}"))
    for name, job in scratch.items():
        assert job["model_origin"] == "fitted" and job["key"] == added[name]["key"]
        assert job["external"] == added[name]["external"]
    # --robustness added to the finished run: reused too; then both dropped again: the plain record back
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache-a"))
    rob = _jobs(_run(out, f"folder:{data}", "--robustness"))
    assert all(j["model_origin"] == "reused" and "robustness" in j and "external" not in j for j in rob.values())
    plain = _jobs(_run(out, f"folder:{data}"))
    assert all("robustness" not in j and "external" not in j and j["model_origin"] == "reused"
               for j in plain.values())
    assert {n: j["metrics"] for n, j in plain.items()} == {n: j["metrics"] for n, j in first.items()}
    capsys.readouterr()


def test_a_score_with_no_kept_model_refits(kermany_sets, tmp_path, monkeypatch):
    data, ext = kermany_sets
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(cache))
    out = tmp_path / "out"
    _run(out, f"folder:{data}")
    shutil.rmtree(cache / "fitted")  # the kept models gone: the scores cannot be made without a fit
    res = _jobs(_run(out, f"folder:{data}", "--external", f"folder:{ext}"))
    assert all(j["model_origin"] == "fitted" and j["external"][0]["n"] == 40 for j in res.values())
    # a kept model that does not verify is not used either
    step = sorted((cache / "fitted").glob("*/steps/*"))[0]
    raw = bytearray(step.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    step.write_bytes(bytes(raw))
    res = _jobs(_run(out, f"folder:{data}", "--robustness"))
    assert sorted(j["model_origin"] for j in res.values()) == ["fitted", "reused"]


def test_corrupted_copies_are_featurised_once_per_featuriser(tiny, tmp_path, fresh_cache, monkeypatch):
    from medbench.shift import presets, scores_cache
    from medbench.shift.plan import Shift

    split = make_split(tiny, seed=0)

    def robustness(pipeline: str, out: Path) -> dict:
        planned = runner.plan_job(tiny, split, runner.Job(pipeline, 0), out, 1, gallery=False,
                                  shift=Shift(robustness=presets.resolve(presets.DEFAULT)))
        record = runner.execute(tiny, split, planned, 1)
        assert record["status"] == "ok", record.get("error")
        return record["robustness"]

    scores_cache._shared.clear()
    robustness("hog-svm", tmp_path / "a")
    featurised = list(scores_cache._shared)
    assert featurised  # one entry per corrupted batch, under the fitted HOG + scaler's digest
    shared = robustness("hog-tree", tmp_path / "a")  # the same fitted prefix (models.prefix_cache)
    assert list(scores_cache._shared) == featurised  # nothing featurised again
    # the same numbers as without any cache or sharing
    monkeypatch.setenv("MEDBENCH_NO_CACHE", "1")
    scores_cache._shared.clear()
    assert robustness("hog-tree", tmp_path / "b") == shared and not scores_cache._shared
