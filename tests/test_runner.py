"""The job runner (cached, atomic job records; errors recorded, not raised) and results.json / metrics.csv,
on the real small PneumoniaMNIST subset."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from medbench.core import atomic
from medbench.core.errors import MedbenchError
from medbench.core.profiling import environment
from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split, save_manifest
from medbench.metrics import HEADLINE
from medbench.records import results as results_mod
from medbench.running.runner import Job, job_path, run_job


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with threadpool_limits(limits=1):
        yield


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_run_job_writes_record_atomically_and_reuses_it(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                                        tmp_path: Path):
    ds, split = pneumonia_small, pneumonia_small_split
    job = Job("hog-tree", seed=0)
    first = run_job(ds, split, job, tmp_path, n_jobs=1)
    assert first["status"] == "ok" and first["cached"] is False
    path = job_path(tmp_path, job)
    assert path == tmp_path / "jobs" / "hog-tree__seed0.json"
    assert _files(tmp_path / "jobs") == ["hog-tree__seed0.json"]  # no temporary file left
    on_disk = json.loads(path.read_text())
    assert on_disk == {k: v for k, v in first.items() if k not in ("cached", "cache_reason")}
    assert first["cache_reason"] == "not run before"
    assert on_disk["split_fingerprint"] == split.fingerprint(ds)
    assert on_disk["dataset_fingerprint"] == ds.fingerprint
    assert on_disk["key"] == job.key(ds, split.fingerprint(ds))

    second = run_job(ds, split, job, tmp_path, n_jobs=1)
    assert second["cached"] is True and second["cache_reason"] == "same inputs"
    assert second["metrics"] == first["metrics"] and second["predictions"] == first["predictions"]
    assert second["finished"] == first["finished"]  # the same record, not a re-run

    third = run_job(ds, split, job, tmp_path, n_jobs=1, reuse=False)  # --fresh
    assert third["cached"] is False and third["finished"] >= first["finished"]


def test_changed_seed_or_option_runs_again(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path):
    ds, split = pneumonia_small, pneumonia_small_split
    base = run_job(ds, split, Job("majority", seed=0), tmp_path)
    assert base["status"] == "ok"
    other_seed = run_job(ds, split, Job("majority", seed=1), tmp_path)
    assert other_seed["cached"] is False and other_seed["key"] != base["key"]
    assert _files(tmp_path / "jobs") == ["majority__seed0.json", "majority__seed1.json"]
    opt = Job("majority", seed=0, options={"pixels__image_size": "4"})
    with_option = run_job(ds, split, opt, tmp_path)
    assert with_option["status"] == "ok", with_option.get("error")
    assert with_option["cached"] is False and with_option["key"] != base["key"]
    assert with_option["options"] == {"pixels__image_size": "4"}
    assert run_job(ds, split, opt, tmp_path)["cached"] is True


def test_job_key_covers_dataset_split_pipeline_seed_options(pneumonia_small: Dataset):
    ds = pneumonia_small
    key = Job("hog-svm", 0).key(ds, "f" * 64)
    images = ds.images.copy()
    images[0, 0, 0] ^= 1  # one pixel of one image
    changed = dataclasses.replace(ds, images=images)
    assert Job("hog-svm", 0).key(changed, "f" * 64) != key
    assert Job("hog-svm", 0).key(ds, "e" * 64) != key
    assert Job("hog-tree", 0).key(ds, "f" * 64) != key
    assert Job("hog-svm", 1).key(ds, "f" * 64) != key
    assert Job("hog-svm", 0, {"svm__C": "3"}).key(ds, "f" * 64) != key
    assert Job("hog-svm", 0).key(ds, "f" * 64) == key


def test_damaged_job_file_is_run_again(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path):
    job = Job("majority")
    path = job_path(tmp_path, job)
    path.parent.mkdir(parents=True)
    path.write_text('{"key": "trunc')  # e.g. a file cut short by a crash (not written by run_job)
    rec = run_job(pneumonia_small, pneumonia_small_split, job, tmp_path)
    assert rec["status"] == "ok" and rec["cached"] is False
    assert json.loads(path.read_text())["key"] == rec["key"]


def test_failed_write_leaves_previous_record_intact(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ds, split = pneumonia_small, pneumonia_small_split
    job = Job("majority")
    run_job(ds, split, job, tmp_path)
    before = job_path(tmp_path, job).read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        run_job(ds, split, job, tmp_path, reuse=False)
    assert job_path(tmp_path, job).read_bytes() == before  # old record whole, not half-overwritten
    assert _files(tmp_path / "jobs") == ["majority__seed0.json"]  # temporary file removed


def test_unknown_option_is_refused_before_the_job_runs(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                                       tmp_path: Path):
    job = Job("majority", options={"bogus__param": "1"})
    with pytest.raises(MedbenchError, match=r"majority\.bogus__param=1: 'bogus__param' is not a parameter"):
        run_job(pneumonia_small, pneumonia_small_split, job, tmp_path)
    assert not job_path(tmp_path, job).exists()


def test_error_record_is_never_reused(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path):
    job = Job("majority", options={"pixels__image_size": "'big'"})  # fails inside fit
    first = run_job(pneumonia_small, pneumonia_small_split, job, tmp_path)
    assert first["status"] == "error" and first["family"] == "baseline"  # the report needs no registry
    again = run_job(pneumonia_small, pneumonia_small_split, job, tmp_path)
    assert again["cached"] is False and again["cache_reason"] == "the earlier attempt failed"


def test_crash_in_pipeline_is_recorded_with_traceback(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                                      tmp_path: Path):
    job = Job("majority", options={"pixels__image_size": "'big'"})  # a string where an int is needed
    rec = run_job(pneumonia_small, pneumonia_small_split, job, tmp_path)
    assert rec["status"] == "error"
    assert rec["error"].startswith("TypeError: ")
    assert "Traceback" in rec["traceback"]


def test_unknown_pipeline_is_refused(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path):
    with pytest.raises(MedbenchError, match="unknown pipeline 'no-such-pipeline'; known pipelines: majority"):
        run_job(pneumonia_small, pneumonia_small_split, Job("no-such-pipeline"), tmp_path)


# ---------------------------------------------------------------- results.json and metrics.csv


@pytest.fixture
def run_records(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path) -> list[dict]:
    ds, split = pneumonia_small, pneumonia_small_split
    jobs = [Job("majority"), Job("hog-tree"), Job("majority", 1, {"pixels__image_size": "'big'"})]
    return [run_job(ds, split, j, tmp_path, n_jobs=1) for j in jobs]


def _assemble(ds: Dataset, split: Split, records: list[dict]) -> dict:
    manifest = split.manifest(ds)
    return results_mod.assemble(
        config={"dataset": ds.spec, "pipelines": [r["pipeline"] for r in records]},
        dataset=ds.card(),
        split={k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")},
        environment=environment(), jobs=records, command="medbench run --pipelines majority hog-tree")


def test_results_json_and_metrics_csv(pneumonia_small: Dataset, pneumonia_small_split: Split, run_records,
                                      tmp_path: Path):
    res = _assemble(pneumonia_small, pneumonia_small_split, run_records)
    out = tmp_path / "out"
    path = results_mod.write(res, out)
    assert path == out / "results.json"
    assert _files(out) == ["metrics.csv", "results.json"]
    data = json.loads(path.read_text())
    assert data["schema"] == results_mod.SCHEMA == "medbench.results"
    assert data["schema_version"] == results_mod.SCHEMA_VERSION
    assert data["split"]["fingerprint"] == pneumonia_small_split.fingerprint(pneumonia_small)
    assert data["dataset"]["fingerprint"] == pneumonia_small.fingerprint
    assert [j["status"] for j in data["jobs"]] == ["ok", "ok", "error"]
    assert all("cached" not in j and "traceback" not in j for j in data["jobs"])
    assert results_mod.load(out) == data  # folder or file
    assert results_mod.load(path) == data

    rows = list(csv.DictReader(io.StringIO((out / "metrics.csv").read_text())))
    assert len(rows) == len(run_records)
    assert [r["pipeline"] for r in rows] == ["majority", "hog-tree", "majority"]
    assert set(HEADLINE) <= set(rows[0])
    for row, rec in zip(rows[:2], run_records[:2]):
        for m in HEADLINE:  # an undefined metric (a likelihood ratio dividing by zero) is an empty cell
            assert row[m] == "" if rec["metrics"][m] is None else float(row[m]) == pytest.approx(rec["metrics"][m],
                                                                                                  abs=1e-6)
        assert float(row["threshold"]) == pytest.approx(rec["threshold"]["threshold"], abs=1e-6)
    assert rows[2]["status"] == "error" and rows[2]["accuracy"] == ""


@pytest.mark.parametrize("content, match", [
    ('{"jobs": []}', "not a medbench results file"),
    ('[1, 2, 3]', "not a medbench results file"),
    ('{"schema": "something.else"}', "not a medbench results file"),
    ("not json at all", "not readable JSON"),
])
def test_results_load_refuses_other_json(tmp_path: Path, content: str, match: str):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(MedbenchError, match=match):
        results_mod.load(path)


def test_results_load_refuses_job_and_manifest_files(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                                     run_records, tmp_path: Path):
    with pytest.raises(MedbenchError, match="not a medbench results file"):
        results_mod.load(tmp_path / "jobs" / "majority__seed0.json")
    manifest = save_manifest(pneumonia_small, pneumonia_small_split, tmp_path / "split.json")
    with pytest.raises(MedbenchError, match="not a medbench results file"):
        results_mod.load(manifest)


def test_results_load_refuses_newer_schema(tmp_path: Path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": results_mod.SCHEMA, "schema_version": results_mod.SCHEMA_VERSION + 1}))
    with pytest.raises(MedbenchError, match="upgrade medbench"):
        results_mod.load(path)


def test_results_load_missing(tmp_path: Path):
    with pytest.raises(MedbenchError, match="does not exist"):
        results_mod.load(tmp_path)


def test_records_are_json_clean(run_records):
    # numpy scalars never leak into records: they are plain JSON values
    text = json.dumps([{k: v for k, v in r.items() if k != "traceback"} for r in run_records])
    assert json.loads(text)[1]["metrics"]["n"] == run_records[1]["metrics"]["n"]
    proba = np.array(run_records[1]["predictions"]["proba"])
    assert proba.dtype == float
