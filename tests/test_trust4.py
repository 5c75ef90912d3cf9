"""Trust, round 4 (issue 29): the new blocks (external, robustness) held to the old standard - datasets
that are the same data under another name, blocks recomputed and range-checked, one-class test splits,
case-distinct classes, dropped files recorded, chance-corrected robustness, history duplicates, suite
options for pipelines not run and the workers' native log lines - each on real behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medbench import api, api_suite, cli, corruptions, history, robustness
from medbench import suite as suite_mod
from medbench.core.errors import MedbenchError
from medbench.reports import robustness as report_robustness

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
RUN = ["run", "--image-size", "32", "--n-jobs", "1"]


# --- 25. a suite file's options for pipelines the command line leaves out ----------------------------

def test_shipped_suite_with_fewer_pipelines_drops_the_files_options(monkeypatch, shared_datasets: Path):
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(shared_datasets))
    suite = suite_mod.load(SUITES / "chest-xray.toml")
    for ds in suite.datasets:  # as `medbench suite ... --pipelines majority hog-svm sift-svm` does
        ds.pipelines = ["majority", "hog-svm", "sift-svm"]
    dropped = api_suite.drop_idle_options(suite)
    assert dropped == {ds.name: ["hog-xgboost.xgboost__n_jobs"] for ds in suite.datasets}
    for ds in suite.datasets:  # every dataset's run now plans (before: "pipeline 'hog-xgboost' is not in this run")
        specs, _ = api.resolve_options(api_suite.dataset_config(suite, ds, Path("unused")))
        assert [s.name for s in specs] == ["majority", "hog-svm", "sift-svm"]
    full = suite_mod.load(SUITES / "chest-xray.toml")  # the file as written keeps its option
    assert api_suite.drop_idle_options(full) == {}
    assert full.datasets[0].options == {"hog-xgboost": {"xgboost__n_jobs": "1"}}


def test_users_own_option_for_a_pipeline_not_run_is_still_refused(pneumonia_small):
    cfg = api.RunConfig(dataset="pneumoniamnist", pipelines=["majority"], options=["hog-xgboost.xgboost__n_jobs=1"])
    with pytest.raises(MedbenchError, match="pipeline 'hog-xgboost' is not in this run"):
        api.resolve_options(cfg)


def test_suite_run_with_fewer_pipelines_records_the_dropped_option(tmp_path: Path, make_image_folder, capsys):
    small = make_image_folder(20)
    suite = tmp_path / "s.toml"
    suite.write_text(f'[suite]\nname = "t"\npipelines = ["majority", "hog-xgboost"]\nimage_size = 32\n\n'
                     f'[suite.options.hog-xgboost]\nxgboost__n_jobs = 1\n\n'
                     f'[[datasets]]\nname = "small"\ndataset = "folder:{small}"\n', encoding="utf-8")
    assert cli.main(["suite", str(suite), "--pipelines", "majority",
                     "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "small: options for pipelines not in this run dropped: hog-xgboost.xgboost__n_jobs" in err
    doc = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert doc["datasets"][0]["status"] == "ok"
    assert doc["datasets"][0]["dropped_options"] == ["hog-xgboost.xgboost__n_jobs"]


# --- 11. the same stored run twice in the history index ----------------------------------------------

def test_history_index_with_a_duplicated_path_counts_the_run_once(tmp_path: Path):
    from test_history import _history, _version

    for i in range(3):
        assert _history("add", _version(i, tmp_path / "runs"), "--store", tmp_path / "store") == 0
    index_path = tmp_path / "store" / "index.json"
    index = json.loads(index_path.read_text())
    index["entries"] += [dict(index["entries"][0]), dict(index["entries"][1])]  # 3 runs -> 5 entries
    index_path.write_text(json.dumps(index))
    assert len(history.entries(tmp_path / "store")) == 3
    analysis = history.analyse(tmp_path / "store")
    assert [len(s["versions"]) for s in analysis["series"]] == [3]
    assert _history("add", _version(3, tmp_path / "runs"), "--store", tmp_path / "store") == 0
    assert len(json.loads(index_path.read_text())["entries"]) == 4  # rewritten without the duplicates


# --- 8. ROC-AUC kept of a pipeline at or below chance ------------------------------------------------

def _robust_job(pipeline: str, family: str, clean: float, corrupted: float) -> dict:
    rows = [{"severity": s, "metrics": {"roc_auc": corrupted, "accuracy": 0.5}} for s in corruptions.SEVERITIES]
    return {"job_id": f"{pipeline}__seed0", "pipeline": pipeline, "name": pipeline, "family": family, "seed": 0,
            "status": "ok", "robustness": {"seed": 0, "clean": {"roc_auc": clean, "accuracy": 0.5},
                                           "corruptions": {n: rows for n in corruptions.CORRUPTIONS}}}


def test_roc_auc_kept_is_chance_corrected_and_undefined_at_or_below_chance():
    jobs = [_robust_job("below", "classical", 0.436, 0.4935),  # a plain ratio: kept 1.132, "most robust"
            _robust_job("good", "deep", 0.9, 0.8),
            _robust_job("majority", "baseline", 0.5, 0.5)]
    block = robustness.summarize({"jobs": jobs})
    by = {p["pipeline"]: p for p in block["pipelines"]}
    assert by["good"]["mean_kept"] == pytest.approx((0.8 - 0.5) / (0.9 - 0.5))
    assert by["below"]["mean_kept"] is None and by["majority"]["mean_kept"] is None
    assert [p["pipeline"] for p in block["pipelines"]][0] == "good"  # the pipeline with skill ranks first
    assert set(block["families"]) == {"deep"}
    lines = "\n".join(report_robustness.section({"robustness": block}, []))
    assert "(ROC-AUC on the corrupted copy - 0.5) / (ROC-AUC on the clean test split - 0.5)" in lines
    assert "at or below chance" in lines
    row = next(line for line in lines.splitlines() if line.startswith("| below"))
    assert "1.13" not in row and "–" in row
