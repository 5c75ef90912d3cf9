"""Tests for ``medbench compare``: matching, tolerances, noise, runtime ratios, exit codes, markdown.

The comparisons run on real PneumoniaMNIST runs made once per session (majority, hog-tree and a
20-round hog-xgboost: two fresh runs of the same code, one with hog-xgboost weakened to 2 rounds,
one with two seeds, one on a different split); a few edge cases edit copies of those results.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medbench import results as results_mod
from medbench import tolerances
from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.core.paths import data_dir
from medbench.reports import compare as cmp

PIPES = ["majority", "hog-tree", "hog-xgboost"]
# Options keeping the session's runs quick on 2 cores: a 20-round one-thread XGBoost, a tree on 20% of
# the features.
XGB = "hog-xgboost.xgboost__n_estimators=20"
WEAK = "hog-xgboost.xgboost__n_estimators=2"
FAST = ("--option", "hog-tree.tree__max_features=0.2", "--option", "hog-xgboost.xgboost__n_jobs=1")


def _run(out: Path, *args: str, reuse_from: Path | None = None) -> Path:
    if reuse_from is not None:  # a version where only some jobs changed: the others are reused
        shutil.copytree(reuse_from / "jobs", out / "jobs")
    assert main(["run", "--out", str(out), *args]) == 0
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Real runs (conftest.py gives the session a cold feature cache and, with ../shared, the data dir)."""
    if not (data_dir() / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {data_dir() / 'pneumoniamnist.npz'} (set MEDBENCH_DATA_DIR)")
    root = tmp_path_factory.mktemp("runs")
    out = {"a": _run(root / "a", "--pipelines", *PIPES, "--option", XGB, *FAST)}
    out["b"] = _run(root / "b", "--pipelines", *PIPES, "--option", XGB, *FAST)  # fresh: same code, same data
    out["weak"] = _run(root / "weak", "--pipelines", *PIPES, "--option", WEAK, *FAST, reuse_from=out["a"])
    out["seeds"] = _run(root / "seeds", "--pipelines", "majority", "hog-xgboost", "--seeds", "0", "1",
                        "--option", XGB, reuse_from=out["a"])
    out["other_split"] = _run(root / "other_split", "--pipelines", "majority",
                              "--split-manifest", str(_other_split(root)))
    return out


def _other_split(root: Path) -> Path:
    """A real, valid split manifest differing from the official split: 20 test images moved to train."""
    from medbench.datasets import load_dataset
    from medbench.splits import Split, make_split, save_manifest

    ds = load_dataset("pneumoniamnist")
    s = make_split(ds, seed=0, val_fraction=0.1, test_fraction=0.2)
    other = Split(np.sort(np.concatenate([s.train, s.test[:20]])), s.val, s.test[20:], "edited", 0, [])
    return save_manifest(ds, other, root / "other_split.json")


def _edited(src: Path, dest: Path, edit) -> Path:
    res = results_mod.load(src)
    edit(res)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "results.json").write_text(json.dumps(res))
    return dest


def _job(res: dict, pipeline: str, seed: int = 0) -> dict:
    return next(j for j in res["jobs"] if j["pipeline"] == pipeline and j["seed"] == seed)


def _compare(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------------------- real runs, CLI
def test_same_version_compares_clean(runs, tmp_path, capsys):
    status, out, _ = _compare(capsys, runs["a"], runs["b"], "--no-runtime", "--json", tmp_path / "c.json")
    assert status == 0, out
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["verdict"] == "pass" and report["regressions"] == []
    assert {r["pipeline"] for r in report["metrics"]} == set(PIPES)
    assert all(r["delta"] == 0 for r in report["metrics"] if r["delta"] is not None)  # bit-identical metrics
    assert out.startswith("medbench compare: PASS")


def test_weakened_pipeline_is_flagged(runs, tmp_path, capsys):
    status, out, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--json", tmp_path / "c.json")
    assert status == 1
    report = json.loads((tmp_path / "c.json").read_text())
    flagged = {(r["pipeline"], r["check"]) for r in report["regressions"]}
    assert {p for p, _ in flagged} == {"hog-xgboost"}
    assert ("hog-xgboost", "roc_auc") in flagged
    for r in report["regressions"]:
        assert r["change"] < -r["allowed"]
    untouched = [r for r in report["metrics"] if r["pipeline"] != "hog-xgboost"]
    assert untouched and all(r["status"] == "ok" and r["delta"] == 0 for r in untouched)
    assert any("options differ" in n and "xgboost__n_estimators=2" in n for n in report["notes"])
    assert out.startswith("medbench compare: REGRESSION")
    regression_block = out.split("Regressions", 1)[1].split("\n\n", 1)[0]
    assert "hog-xgboost" in regression_block and "hog-tree" not in regression_block


def test_markdown_report(runs, tmp_path, capsys):
    status, _, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--markdown", tmp_path / "c.md",
                            "--json", tmp_path / "c.json")
    md = (tmp_path / "c.md").read_text()
    lines = md.splitlines()
    assert status == 1 and lines[0].startswith("### medbench compare: ❌ regression")
    assert md.index("**Regressions**") < md.index("<details>")  # regressions first, details folded
    table = md.split("**Regressions**", 1)[1].split("<details>", 1)[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| hog-")]
    report = json.loads((tmp_path / "c.json").read_text())
    assert len(rows) == len(report["regressions"]) and all(r.startswith("| hog-xgboost") for r in rows)
    assert "ROC-AUC" in table and "−" in table  # typographic minus for drops
    assert len(lines) < 60
    status, _, _ = _compare(capsys, runs["a"], runs["b"], "--no-runtime", "--markdown", tmp_path / "ok.md",
                            "--json", tmp_path / "ok.json")
    ok = (tmp_path / "ok.md").read_text()
    assert status == 0 and ok.startswith("### medbench compare: ✅ no regression")
    assert "**Regressions**" not in ok


def test_default_outputs_and_baseline_dir_tolerances(runs, tmp_path, capsys):
    new = tmp_path / "new"
    shutil.copytree(runs["weak"], new)
    base = tmp_path / "base"
    shutil.copytree(runs["a"], base)
    (base / "tolerances.toml").write_text('[pipelines.hog-xgboost.metrics]\n"*" = inf\n')
    status, out, err = _compare(capsys, base, new, "--no-runtime")  # tolerances.toml beside BASE is used
    assert status == 0, out
    assert (new / "compare.json").is_file() and f"wrote {new / 'compare.json'}" in err
    assert str(base / "tolerances.toml") in out


def test_refuses_other_split(runs, tmp_path, capsys):
    status, out, err = _compare(capsys, runs["a"], runs["other_split"])
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "split fingerprints differ" in err and "--force" in err
    status, out, _ = _compare(capsys, runs["a"], runs["other_split"], "--force", "--no-runtime",
                              "--markdown", tmp_path / "f.md", "--json", tmp_path / "f.json")
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["forced"] and report["problems"] and "FORCED" in out
    assert "FORCED" in (tmp_path / "f.md").read_text().splitlines()[0]
    assert status == 1  # hog-tree and hog-xgboost are not in that run: missing counts as a regression


def test_refuses_other_split_of_one_seed(runs, tmp_path, capsys):
    def resplit(res):  # --resplit-per-seed: seed 1's jobs were scored on another split
        for job in res["jobs"]:
            if job["seed"] == 1:
                job["split_fingerprint"] = "e" * 64
    other = _edited(runs["seeds"], tmp_path / "resplit", resplit)
    status, _, err = _compare(capsys, runs["seeds"], other)
    assert status == 2 and "split fingerprints of seed 1 differ" in err


def test_refuses_other_dataset(runs, tmp_path, capsys):
    def edit(res):
        res["dataset"]["spec"] = "folder:/data/xray"
        res["dataset"]["fingerprint"] = "0" * 64
    other = _edited(runs["b"], tmp_path / "other", edit)
    status, _, err = _compare(capsys, runs["a"], other)
    assert status == 2 and "datasets differ" in err and "dataset fingerprints differ" in err


def test_missing_and_failed_pipelines(runs, tmp_path, capsys):
    def drop_tree(res):
        res["jobs"] = [j for j in res["jobs"] if j["pipeline"] != "hog-tree"]
    fewer = _edited(runs["b"], tmp_path / "fewer", drop_tree)
    status, out, _ = _compare(capsys, runs["a"], fewer, "--no-runtime", "--json", tmp_path / "m.json")
    report = json.loads((tmp_path / "m.json").read_text())
    assert status == 1
    assert [(r["pipeline"], r["check"]) for r in report["regressions"]] == [("hog-tree", "missing")]
    toml = tmp_path / "warn.toml"
    toml.write_text('[pipelines.hog-tree]\nmissing = "warn"\n')
    status, out, _ = _compare(capsys, runs["a"], fewer, "--no-runtime", "--tolerances", toml)
    assert status == 0 and "WARNING: hog-tree seed 0: missing in" in out
    status, out, _ = _compare(capsys, fewer, runs["a"], "--no-runtime")  # only in NEW: a note
    assert status == 0 and "NOTE: hog-tree: only in" in out

    def fail_xgb(res):
        job = _job(res, "hog-xgboost")
        job.clear()
        job.update(pipeline="hog-xgboost", seed=0, status="error", error="ValueError: boom")
    failed = _edited(runs["b"], tmp_path / "failed", fail_xgb)
    status, out, _ = _compare(capsys, runs["a"], failed, "--no-runtime")
    assert status == 1 and "failed in" in out and "boom" in out


def test_runtime_ratios(runs, tmp_path, capsys):
    def base_times(res):
        _job(res, "hog-xgboost")["runtime"]["fit_time_s"] = 10.0  # above the 1 s noise floor

    def slower(res):
        base_times(res)
        _job(res, "hog-xgboost")["runtime"]["fit_time_s"] = 30.0
        _job(res, "majority")["runtime"]["fit_time_s"] *= 10  # far below the noise floor: not judged
    same = _edited(runs["a"], tmp_path / "base", base_times)
    slow = _edited(runs["a"], tmp_path / "slow", slower)
    status, out, _ = _compare(capsys, same, slow, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert status == 1
    assert [(r["pipeline"], r["check"]) for r in report["regressions"]] == [("hog-xgboost", "fit_time_s")]
    assert report["regressions"][0]["change"] == pytest.approx(3.0)
    maj = next(r for r in report["runtime"] if r["pipeline"] == "majority" and r["key"] == "fit_time_s")
    assert maj["status"] == "ok" and not maj["judged"] and "noise floor" in maj["reason"]
    assert "x3.00 X" in out
    assert _compare(capsys, same, slow, "--no-runtime")[0] == 0
    off = tmp_path / "off.toml"
    off.write_text("[runtime]\ncheck = false\n")
    assert _compare(capsys, same, slow, "--tolerances", off)[0] == 0
    loose = tmp_path / "loose.toml"
    loose.write_text("[pipelines.hog-xgboost.runtime]\nfit_time_s = 4.0\n")
    assert _compare(capsys, same, slow, "--tolerances", loose)[0] == 0


def test_several_seeds_judged_on_the_mean(runs, tmp_path, capsys):
    seeds = runs["seeds"]
    status, _, _ = _compare(capsys, seeds, seeds, "--no-runtime", "--json", tmp_path / "s.json")
    report = json.loads((tmp_path / "s.json").read_text())
    assert status == 0
    rows = [r for r in report["metrics"] if r["pipeline"] == "hog-xgboost" and r["metric"] == "accuracy"]
    assert [(r["seed"], r["judged"]) for r in rows] == [(0, False), (1, False), ("mean", True)]

    def drop_seed1(res):
        _job(res, "hog-xgboost", 1)["metrics"]["accuracy"] -= 0.015
    worse = _edited(runs["seeds"], tmp_path / "worse", drop_seed1)
    status, out, _ = _compare(capsys, runs["seeds"], worse, "--no-runtime", "--json", tmp_path / "w.json")
    report = json.loads((tmp_path / "w.json").read_text())
    by_seed = {r["seed"]: r for r in report["metrics"]
               if r["pipeline"] == "hog-xgboost" and r["metric"] == "accuracy"}
    assert status == 0 and by_seed[1]["status"] == "drop"
    assert by_seed["mean"]["delta"] == pytest.approx(-0.0075)
    each = tmp_path / "each.toml"
    each.write_text('[compare]\nseeds = "each"\n')
    assert _compare(capsys, runs["seeds"], worse, "--no-runtime", "--tolerances", each)[0] == 1


def test_confidence_intervals_when_present(runs, tmp_path, capsys):
    base = cmp.with_statistics(results_mod.load(runs["a"]))
    new = cmp.with_statistics(results_mod.load(runs["weak"]))
    if "statistics" not in base:
        pytest.skip("this medbench computes no confidence intervals")
    report = cmp.compare(base, new, tolerances.defaults(), runtime=False)
    rows = [r for r in report["metrics"] if r["pipeline"] == "hog-xgboost"]
    assert all(r["base_ci"] and r["ci_overlap"] is not None for r in rows if r["base"] is not None)
    sig = tolerances.defaults()
    sig.mode = "significant"
    report_sig = cmp.compare(base, new, sig, runtime=False)
    for r in report_sig["metrics"]:
        if r["status"] == "regression":
            assert r["ci_overlap"] is False
        if r["status"] == "noise":
            assert r["ci_overlap"] is True and r["delta"] < -r["tolerance"]
    assert len(report_sig["regressions"]) <= len(report["regressions"])
    status, out, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--significant-only")
    assert status == report_sig["exit_status"] and "mode significant" in out


def test_exit_status_of_the_command(runs, tmp_path):
    def medbench(*args):
        return subprocess.run([sys.executable, "-m", "medbench", "compare", *map(str, args), "--quiet",
                               "--json", str(tmp_path / "x.json")], capture_output=True, text=True)
    ok = medbench(runs["a"], runs["b"], "--no-runtime")
    bad = medbench(runs["a"], runs["weak"], "--no-runtime")
    usage = medbench(runs["a"], tmp_path / "nowhere")
    assert (ok.returncode, bad.returncode, usage.returncode) == (0, 1, 2)
    assert ok.stdout.startswith("medbench compare: PASS")
    assert bad.stdout.startswith("medbench compare: REGRESSION")
    assert "does not exist" in usage.stderr


# ------------------------------------------------------------------------- judgement, unit level
def test_metric_row_statuses():
    assert cmp.metric_row("p", 0, "accuracy", 0.90, 0.89, 0.01)["status"] == "ok"  # exactly the tolerance
    assert cmp.metric_row("p", 0, "accuracy", 0.90, 0.85, 0.01)["status"] == "regression"
    assert cmp.metric_row("p", 0, "accuracy", 0.90, 0.85, 0.01, judged=False)["status"] == "drop"
    assert cmp.metric_row("p", 0, "accuracy", 0.80, 0.90, 0.01)["status"] == "improved"
    assert cmp.metric_row("p", 0, "roc_auc", None, 0.9, 0.01)["status"] == "n/a"
    assert cmp.metric_row("p", 0, "accuracy", 0.9, 0.5, math.inf)["status"] == "ok"
    wide = cmp.metric_row("p", 0, "accuracy", 0.90, 0.87, 0.01, (0.86, 0.93), (0.83, 0.90), "significant")
    apart = cmp.metric_row("p", 0, "accuracy", 0.90, 0.80, 0.01, (0.88, 0.92), (0.77, 0.83), "significant")
    assert (wide["status"], wide["ci_overlap"]) == ("noise", True)
    assert (apart["status"], apart["ci_overlap"]) == ("regression", False)
    absolute = cmp.metric_row("p", 0, "accuracy", 0.90, 0.87, 0.01, (0.86, 0.93), (0.83, 0.90))
    assert absolute["status"] == "regression"  # absolute mode: overlapping CIs are reported, not excused


def test_ci_shapes_and_seed_interval():
    job = {"pipeline": "p", "seed": 0, "job_id": "p__seed0", "metrics": {}}
    stats = {"statistics": {"jobs": {"p__seed0": {"metrics_ci": {"accuracy": [0.8, 0.9]}}}}}
    assert cmp.job_ci(stats, job, "accuracy") == (0.8, 0.9)
    assert cmp.job_ci({}, {**job, "metrics_ci": {"f1": {"low": 0.1, "high": 0.2}}}, "f1") == (0.1, 0.2)
    assert cmp.job_ci({}, job, "accuracy") is None
    lo, hi = cmp.seed_interval([0.80, 0.82, 0.84])
    assert lo < 0.82 < hi and hi - 0.82 == pytest.approx(0.82 - lo)
    assert cmp.seed_interval([0.8]) is None


def test_runtime_row():
    r = cmp.runtime_row("p", 0, "latency_ms_per_image", 1.0, 2.0, 1.5, 0.05)
    assert (r["ratio"], r["slowdown"], r["status"], r["judged"]) == (2.0, 2.0, "regression", True)
    r = cmp.runtime_row("p", 0, "throughput_img_per_s", 1000, 500, 1.5, 20000)
    assert (r["ratio"], r["slowdown"], r["status"]) == (0.5, 2.0, "regression")
    assert cmp.runtime_row("p", 0, "fit_time_s", 0.01, 0.5, 1.5, 1.0)["status"] == "ok"  # below the floor
    assert cmp.runtime_row("p", 0, "fit_time_s", 2, 5, 1.5, 1.0, check=False)["status"] == "slower"
    assert cmp.runtime_row("p", 0, "fit_time_s", 10, 5, 1.5, 1.0)["status"] == "faster"
    assert cmp.runtime_row("p", 0, "fit_time_s", 10, 12, 1.5, 1.0, check=False)["judged"] is False


def test_compare_in_process_refuses_and_forces(runs):
    a = results_mod.load(runs["a"])
    b = copy.deepcopy(a)
    b["split"]["fingerprint"] = "f" * 64
    with pytest.raises(MedbenchError, match="split fingerprints differ"):
        cmp.compare(a, b, tolerances.defaults())
    report = cmp.compare(a, b, tolerances.defaults(), force=True, runtime=False)
    assert report["forced"] and report["verdict"] == "pass" and report["notes"][0].startswith("FORCED")


# ------------------------------------------------------------------------------------ tolerances
def test_tolerance_defaults():
    tol = tolerances.defaults()
    assert tol.metric_tolerance("any", "accuracy") == 0.01
    assert tol.metric_tolerance("any", "sensitivity") == 0.02
    assert tol.runtime_limit("any", "latency_ms_per_image") == 1.5
    assert (tol.mode, tol.missing, tol.seeds, tol.runtime_check) == ("absolute", "fail", "mean", True)


def test_tolerance_file_and_overrides():
    documented = tolerances.__doc__.split("::", 1)[1].split('"""')[0]
    tol = tolerances.loads(documented, "doc")
    assert tol.metric_tolerance("hog-svm", "accuracy") == 0.01
    assert tol.metric_tolerance("hog-xgboost", "roc_auc") == 0.02
    assert tol.metric_tolerance("hog-xgboost", "accuracy") == 0.01  # falls back to the global table
    assert tol.runtime_limit("hog-xgboost", "fit_time_s") == 2.0
    assert tol.missing_policy("hog-xgboost") == "warn" and tol.missing_policy("hog-svm") == "fail"
    assert tol.floors["fit_time_s"] == 1.0
    tol = tolerances.loads('[metrics]\n"*" = 0.05\nroc_auc = 0.001\n[pipelines.x.metrics]\n"*" = inf\n'
                           '[pipelines.x]\nmode = "significant"\n')
    assert tol.metric_tolerance("y", "f1") == 0.05 and tol.metric_tolerance("y", "roc_auc") == 0.001
    assert math.isinf(tol.metric_tolerance("x", "roc_auc"))
    assert tol.mode_for("x") == "significant" and tol.mode_for("y") == "absolute"
    assert json.dumps(tol.to_dict())  # JSON-able (inf as null)


@pytest.mark.parametrize("text, message", [
    ("[metrics]\naccuracyy = 0.01\n", "metrics.accuracyy is not a known key"),
    ("[metrics]\naccuracy = -0.01\n", "must be >= 0"),
    ("[metrics]\naccuracy = 'a lot'\n", "must be a number"),
    ("[runtime]\nfit_time_s = 0.5\n", "slowdown ratio"),
    ("[runtime]\ncheck = 1\n", "true or false"),
    ("[compare]\nmode = 'strict'\n", "compare.mode must be one of"),
    ("[compare]\nmissing = 'ignore'\n", "compare.missing must be one of"),
    ("[pipelines.hog-svm]\ntolerance = 1\n", "pipelines.hog-svm.tolerance is not a known key"),
    ("[thresholds]\n", "thresholds is not a known key"),
    ("[metrics\n", "is not valid TOML"),
])
def test_tolerance_errors(text, message):
    with pytest.raises(MedbenchError, match=message.replace(".", r"\.").replace("(", r"\(")):
        tolerances.loads(text, "t.toml")


def test_bad_tolerance_file_is_a_usage_error(runs, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[metrics]\nacc = 0.01\n")
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", bad)
    assert status == 2 and "metrics.acc is not a known key" in err
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", tmp_path / "none.toml")
    assert status == 2 and "cannot read tolerances file" in err
