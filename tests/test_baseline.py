"""Tests for the baseline store (``medbench baseline update|list|show``), run profiles, and the committed
baseline that ``tox -e regress`` compares against — on a real PneumoniaMNIST run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.core.paths import data_dir
from medbench.evaluation import tolerances
from medbench.evaluation.gate import compare
from medbench.models import profiles
from medbench.records import results as results_mod
from medbench.stores import baseline

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "baselines" / "pneumoniamnist-fast"


def _npz() -> Path:
    path = data_dir() / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"real data not found: {path} (set MEDBENCH_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real run through `medbench run --profile fast`, with --pipelines narrowing it to two quick ones."""
    _npz()
    out = tmp_path_factory.mktemp("bl") / "run"
    assert main(["run", "--profile", "fast", "--pipelines", "majority", "hog-xgboost", "--out", str(out),
                 "--option", "hog-xgboost.xgboost__n_estimators=5", "--bootstrap-resamples", "100"]) == 0
    return out


def test_profile_is_recorded_and_names_the_baseline(run):
    res = results_mod.load(run)
    assert res["config"]["profile"] == "fast"
    assert res["config"]["pipelines"] == ["majority", "hog-xgboost"]  # --pipelines wins over the profile
    assert baseline.default_name(res) == "pneumoniamnist-fast"


def test_update_writes_a_small_baseline_that_compares_clean(run, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["baseline", "update", str(run), "--name", "mine", "--store", str(store)]) == 0
    assert "wrote" in capsys.readouterr().out
    path = store / "mine" / "results.json"
    stored, source = results_mod.load(path), results_mod.load(run)
    assert path.stat().st_size < (run / "results.json").stat().st_size
    assert "path" not in stored["dataset"]["source"]
    assert stored["baseline"]["name"] == "mine" and stored["baseline"]["source"] == str(run)
    assert [j["metrics"] for j in stored["jobs"]] == [j["metrics"] for j in source["jobs"]]
    assert stored["jobs"][0]["predictions"] == source["jobs"][0]["predictions"]
    report = compare(stored, source, tolerances.defaults(), runtime=False)
    assert report["verdict"] == "pass"
    assert all(r["delta"] == 0 for r in report["metrics"] if r["delta"] is not None)
    # by name from the store, as tox -e regress does by path
    assert main(["compare", "mine", str(run), "--store", str(store), "--no-runtime", "--quiet",
                 "--json", str(tmp_path / "c.json")]) == 0


def test_list_and_show(run, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["baseline", "list", "--store", str(store)]) == 0
    assert "no baselines in" in capsys.readouterr().out
    baseline.update(run, store=store)
    assert main(["baseline", "list", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "pneumoniamnist-fast" in out and "pneumoniamnist" in out
    assert main(["baseline", "show", "pneumoniamnist-fast", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "hog-xgboost" in out and "majority" in out and "built-in defaults" in out
    assert main(["baseline", "show", "nope", "--store", str(store)]) == 2
    assert "no baseline 'nope'" in capsys.readouterr().err


def test_refuses_incomplete_runs_and_bad_names(run, tmp_path):
    res = results_mod.load(run)
    failed = json.loads(json.dumps(res))
    failed["jobs"][1].update(status="error", error="RuntimeError: out of memory")
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "results.json").write_text(json.dumps(failed))
    with pytest.raises(MedbenchError, match="failed job.*out of memory"):
        baseline.update(tmp_path / "failed", store=tmp_path / "s")
    partial = json.loads(json.dumps(res))
    partial["jobs"] = partial["jobs"][:1]
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "results.json").write_text(json.dumps(partial))
    with pytest.raises(MedbenchError, match="1 of 2 jobs"):
        baseline.update(tmp_path / "partial", store=tmp_path / "s")
    assert main(["baseline", "update", str(run), "--name", "../up", "--store", str(tmp_path / "s")]) == 2


def test_dumps_is_compact_json():
    obj = {"a": [1, -2.5e-07, None, True], "b": ["x, y", 'q"uote', "[z]"], "c": [[0.1, 0.9]], "d": [],
           "e": {"f": []}}
    text = baseline.dumps(obj)
    assert json.loads(text) == obj
    assert '"a": [1, -2.5e-07, null, true]' in text and '"b": ["x, y", "q\\"uote", "[z]"]' in text


def test_profiles_apply():
    args = argparse.Namespace(profile="fast", pipelines=["all"], option=["hog-svm.scale__with_mean=False"])
    profiles.apply(args)
    assert args.pipelines == list(profiles.PROFILES["fast"].pipelines)
    assert args.option[-1] == "hog-svm.scale__with_mean=False"
    explicit = argparse.Namespace(profile="fast", pipelines=["majority"], option=[])
    profiles.apply(explicit)
    assert explicit.pipelines == ["majority"]
    with pytest.raises(MedbenchError, match="unknown profile"):
        profiles.get("slow")


def test_committed_baseline_matches_the_fast_profile():
    """The regression baseline (tox -e regress) is complete, current and on today's data and split."""
    from medbench.datasets import load_dataset
    from medbench.datasets.splits import make_split

    _npz()
    pneumonia_full = load_dataset("pneumoniamnist")

    res = results_mod.load(COMMITTED)
    assert res["config"]["profile"] == "fast"
    assert [j["pipeline"] for j in res["jobs"]] == list(profiles.PROFILES["fast"].pipelines)
    assert all(j["status"] == "ok" for j in res["jobs"])
    assert res["dataset"]["fingerprint"] == pneumonia_full.fingerprint
    split = make_split(pneumonia_full, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert res["split"]["fingerprint"] == split.fingerprint(pneumonia_full)
    assert (COMMITTED / "results.json").stat().st_size < 400_000
    tolerances.load(COMMITTED / "tolerances.toml")  # parses
    assert baseline.entries(ROOT / "baselines")[0]["name"] == "pneumoniamnist-fast"
