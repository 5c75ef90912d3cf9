"""Tests for ``medbench compare``: matching, tolerances, noise, runtime ratios, vanished numbers, exit codes,
markdown.

Most comparisons run on small synthetic results (tests/synthetic_results.py: predictions drawn per
pipeline and seed, metrics and statistics computed by medbench from them), so they take seconds; one
end-to-end test compares two real PneumoniaMNIST runs (marked slow).
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.evaluation import gate as regression
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import stats as st
from medbench.evaluation import tolerances
from medbench.metrics import gain
from medbench.records import results as results_mod
from medbench.reports import compare as render

WEAK = (("hog-svm", "classical", 0.6), ("cnn", "deep", 1.2), ("majority", "baseline", 0.0))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "a": synth.write(synth.make(), root / "a"),
        "b": synth.write(synth.make(), root / "b"),  # the same code again: identical numbers
        "weak": synth.write(synth.make(WEAK), root / "weak"),  # hog-svm weakened, the others untouched
        "seeds": synth.write(synth.make(seeds=(0, 1)), root / "seeds"),
    }


def _edited(src: Path, dest: Path, edit) -> Path:
    res = json.loads((src / "results.json").read_text())
    edit(res)
    return synth.write(res, dest)


def _compare(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------------------- the verdict
def test_same_results_compare_clean(runs, tmp_path, capsys):
    status, out, _ = _compare(capsys, runs["a"], runs["b"], "--no-runtime", "--json", tmp_path / "c.json")
    assert status == 0, out
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["verdict"] == "pass" and report["regressions"] == []
    assert {r["pipeline"] for r in report["metrics"]} == {"hog-svm", "cnn", "majority"}
    assert all(r["delta"] == 0 for r in report["metrics"] if r["delta"] is not None)
    # 3 pipelines x 19 binary metrics, one seed, less the majority floor's LR+ (specificity 1: undefined)
    assert report["summary"]["checks"] == 3 * 19 - 1
    assert out.startswith("medbench compare: PASS: no regression (56 checks on 3 pipelines)")


def test_weakened_pipeline_is_flagged(runs, tmp_path, capsys):
    status, out, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--json", tmp_path / "c.json")
    assert status == 1
    report = json.loads((tmp_path / "c.json").read_text())
    flagged = {(r["pipeline"], r["check"]) for r in report["regressions"]}
    assert {p for p, _ in flagged} == {"hog-svm"} and ("hog-svm", "roc_auc") in flagged
    for r in report["regressions"]:
        assert gain(r["check"], r["change"]) < -r["allowed"]  # a drop in the metric's direction
    untouched = [r for r in report["metrics"] if r["pipeline"] != "hog-svm"]
    assert untouched and all(r["status"] == "ok" and r["delta"] == 0 for r in untouched
                             if (r["pipeline"], r["metric"]) != ("majority", "lr_positive"))  # undefined in both
    assert out.startswith("medbench compare: REGRESSION")
    regression_block = out.split("Regressions", 1)[1].split("\n\n", 1)[0]
    assert "hog-svm" in regression_block and "cnn" not in regression_block


def test_markdown_report(runs, tmp_path, capsys):
    status, _, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--markdown", tmp_path / "c.md",
                            "--json", tmp_path / "c.json")
    md = (tmp_path / "c.md").read_text()
    lines = md.splitlines()
    assert status == 1 and lines[0].startswith("### medbench compare: ❌ regression")
    assert md.index("**Regressions**") < md.index("<details>")  # regressions first, details folded
    table = md.split("**Regressions**", 1)[1].split("<details>", 1)[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| hog-") or ln.startswith("| cnn")]
    report = json.loads((tmp_path / "c.json").read_text())
    assert len(rows) == len(report["regressions"]) and all(r.startswith("| hog-svm") for r in rows)
    assert "ROC-AUC" in table and "−" in table  # typographic minus for drops
    status, _, _ = _compare(capsys, runs["a"], runs["b"], "--no-runtime", "--markdown", tmp_path / "ok.md",
                            "--json", tmp_path / "ok.json")
    ok = (tmp_path / "ok.md").read_text()
    assert status == 0 and ok.startswith("### medbench compare: ✅ no regression")
    assert "**Regressions**" not in ok


VANISH = {
    "removed": lambda m: m.pop("accuracy"),
    "null": lambda m: m.update(accuracy=None),
    "nan": lambda m: m.update(accuracy=math.nan),
    "inf": lambda m: m.update(accuracy=math.inf),
}


@pytest.mark.parametrize("how", sorted(VANISH))
def test_a_metric_that_vanishes_in_new_is_a_regression(runs, tmp_path, capsys, how):
    new = _edited(runs["a"], tmp_path / how, lambda res: VANISH[how](synth.find(res, "cnn")["metrics"]))
    if how == "inf":  # as JSON spells it: a literal too large for a double
        path = new / "results.json"
        path.write_text(path.read_text().replace("Infinity", "1e309"))
    status, out, _ = _compare(capsys, runs["a"], new, "--no-runtime", "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert status == 1, out
    assert [(r["pipeline"], r["seed"], r["check"]) for r in report["regressions"]] == [("cnn", 0, "accuracy")]
    assert out.splitlines()[0] == ("medbench compare: REGRESSION: 1 of 56 checks failed "
                                   "(cnn seed 0 Accuracy has no value in NEW)")


def test_roc_auc_null_in_new_is_a_regression(runs, tmp_path, capsys):
    new = _edited(runs["a"], tmp_path / "auc", lambda res: synth.find(res, "hog-svm")["metrics"].update(roc_auc=None))
    status, out, _ = _compare(capsys, runs["a"], new, "--no-runtime")
    assert status == 1 and "hog-svm seed 0 ROC-AUC has no value in NEW" in out.splitlines()[0]
    # the other way round (BASE undefined, NEW defined) is nothing to judge
    status, _, _ = _compare(capsys, new, runs["a"], "--no-runtime")
    assert status == 0


def test_vanished_seed_is_named_once_with_several_seeds(runs, tmp_path, capsys):
    new = _edited(runs["seeds"], tmp_path / "s", lambda res: synth.find(res, "cnn", 1)["metrics"].pop("macro_f1"))
    status, _, _ = _compare(capsys, runs["seeds"], new, "--no-runtime", "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert status == 1
    assert [(r["pipeline"], r["seed"], r["check"]) for r in report["regressions"]] == [("cnn", 1, "macro_f1")]


def test_inf_tolerance_is_announced_not_silently_applied(runs, tmp_path, capsys):
    base = tmp_path / "base"
    shutil.copytree(runs["a"], base)
    (base / "tolerances.toml").write_text('[pipelines.hog-svm.metrics]\n"*" = inf\n')
    new = tmp_path / "new"
    shutil.copytree(runs["weak"], new)
    status, out, err = _compare(capsys, base, new, "--no-runtime")  # tolerances.toml beside BASE is used
    assert status == 0, out
    assert out.splitlines()[0] == ("medbench compare: PASS: no regression (37 checks on 3 pipelines) "
                                   "(tolerance for hog-svm every metric is inf: not checked)")
    assert (new / "compare.json").is_file() and f"wrote {new / 'compare.json'}" in err
    assert str(base / "tolerances.toml") in out
    one = tmp_path / "one.toml"
    one.write_text("[pipelines.hog-svm.metrics]\naccuracy = inf\n")
    status, out, _ = _compare(capsys, runs["a"], runs["weak"], "--no-runtime", "--tolerances", one)
    assert status == 1 and "(tolerance for hog-svm accuracy is inf: not checked)" in out.splitlines()[0]


# ------------------------------------------------------------------------------- refusals, issues
def test_refuses_other_split_unless_forced(runs, tmp_path, capsys):
    other = _edited(runs["b"], tmp_path / "other", lambda res: res["split"].update(fingerprint="e" * 64))
    status, out, err = _compare(capsys, runs["a"], other)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "split fingerprints differ" in err and "--force" in err
    status, out, _ = _compare(capsys, runs["a"], other, "--force", "--no-runtime", "--markdown", tmp_path / "f.md",
                              "--json", tmp_path / "f.json")
    report = json.loads((tmp_path / "f.json").read_text())
    assert status == 0 and report["forced"] and report["problems"] and "FORCED" in out
    assert "FORCED" in (tmp_path / "f.md").read_text().splitlines()[0]


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
    fewer = _edited(runs["b"], tmp_path / "fewer",
                    lambda res: res.update(jobs=[j for j in res["jobs"] if j["pipeline"] != "cnn"]))
    status, out, _ = _compare(capsys, runs["a"], fewer, "--no-runtime", "--json", tmp_path / "m.json")
    report = json.loads((tmp_path / "m.json").read_text())
    assert status == 1
    assert [(r["pipeline"], r["check"]) for r in report["regressions"]] == [("cnn", "missing")]
    toml = tmp_path / "warn.toml"
    toml.write_text('[pipelines.cnn]\nmissing = "warn"\n')
    status, out, _ = _compare(capsys, runs["a"], fewer, "--no-runtime", "--tolerances", toml)
    assert status == 0 and "WARNING: cnn seed 0: missing in" in out
    status, out, _ = _compare(capsys, fewer, runs["a"], "--no-runtime")  # only in NEW: a note
    assert status == 0 and "NOTE: cnn: only in" in out

    def fail_cnn(res):
        job = synth.find(res, "cnn")
        job.clear()
        job.update(pipeline="cnn", seed=0, family="deep", status="error", error="ValueError: boom")
    failed = _edited(runs["b"], tmp_path / "failed", fail_cnn)
    status, out, _ = _compare(capsys, runs["a"], failed, "--no-runtime")
    assert status == 1 and "failed in" in out and "boom" in out


def test_runtime_ratios(runs, tmp_path, capsys):
    def slower(res):
        synth.find(res, "hog-svm")["runtime"]["fit_time_s"] *= 3  # 4 s -> 12 s: above the 1 s noise floor
        synth.find(res, "majority")["runtime"]["latency_ms_per_image"] = 0.04  # 0.5 ms -> below the floor
    base = _edited(runs["a"], tmp_path / "base",
                   lambda res: synth.find(res, "majority")["runtime"].update(latency_ms_per_image=0.01))
    slow = _edited(base, tmp_path / "slow", slower)
    status, out, _ = _compare(capsys, base, slow, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert status == 1
    assert [(r["pipeline"], r["check"]) for r in report["regressions"]] == [("hog-svm", "fit_time_s")]
    assert report["regressions"][0]["change"] == pytest.approx(3.0)
    maj = next(r for r in report["runtime"] if r["pipeline"] == "majority" and r["key"] == "latency_ms_per_image")
    assert maj["ratio"] == pytest.approx(4.0) and maj["status"] == "ok" and "noise floor" in maj["reason"]
    assert "x3.00 X" in out
    assert _compare(capsys, base, slow, "--no-runtime")[0] == 0
    off = tmp_path / "off.toml"
    off.write_text("[runtime]\ncheck = false\n")
    assert _compare(capsys, base, slow, "--tolerances", off)[0] == 0
    loose = tmp_path / "loose.toml"
    loose.write_text("[pipelines.hog-svm.runtime]\nfit_time_s = 4.0\n")
    assert _compare(capsys, base, slow, "--tolerances", loose)[0] == 0


def test_several_seeds_judged_on_the_mean(runs, tmp_path, capsys):
    seeds = runs["seeds"]
    status, _, _ = _compare(capsys, seeds, seeds, "--no-runtime", "--json", tmp_path / "s.json")
    report = json.loads((tmp_path / "s.json").read_text())
    assert status == 0
    rows = [r for r in report["metrics"] if r["pipeline"] == "cnn" and r["metric"] == "accuracy"]
    assert [(r["seed"], r["judged"]) for r in rows] == [(0, False), (1, False), ("mean", True)]
    worse = _edited(seeds, tmp_path / "worse", lambda res: synth.find(res, "cnn", 1)["metrics"].update(
        accuracy=synth.find(res, "cnn", 1)["metrics"]["accuracy"] - 0.015))
    status, _, _ = _compare(capsys, seeds, worse, "--no-runtime", "--json", tmp_path / "w.json")
    report = json.loads((tmp_path / "w.json").read_text())
    by_seed = {r["seed"]: r for r in report["metrics"] if r["pipeline"] == "cnn" and r["metric"] == "accuracy"}
    assert status == 0 and by_seed[1]["status"] == "drop"
    assert by_seed["mean"]["delta"] == pytest.approx(-0.0075)
    each = tmp_path / "each.toml"
    each.write_text('[compare]\nseeds = "each"\n')
    assert _compare(capsys, seeds, worse, "--no-runtime", "--tolerances", each)[0] == 1


def test_confidence_intervals_and_significant_mode(runs, tmp_path, capsys):
    slight = synth.write(synth.make((("hog-svm", "classical", 1.1), *WEAK[1:])), tmp_path / "slight")
    base = regression.with_statistics(results_mod.load(runs["a"]))
    new = regression.with_statistics(results_mod.load(slight))
    report = regression.compare(base, new, tolerances.defaults(), runtime=False)
    rows = [r for r in report["metrics"] if r["pipeline"] == "hog-svm"]
    for r in rows:  # the CIs are the stored ones, statistics.jobs[<id>].metrics_ci
        assert r["base_ci"] == base["statistics"]["jobs"]["hog-svm__seed0"]["metrics_ci"][r["metric"]]
        assert r["p"] is not None and r["test"], r  # same test images: every metric has a paired test
    sig = tolerances.defaults()
    sig.mode = "significant"
    report_sig = regression.compare(base, new, sig, runtime=False)
    statuses = {r["status"] for r in report_sig["metrics"] if r["pipeline"] == "hog-svm"}
    assert statuses & {"noise"} and statuses & {"regression"}  # 60 test images: some drops are not significant
    for r in report_sig["metrics"]:
        if r["status"] == "regression":
            assert r["p_holm"] < sig.alpha and r["marker"] == "worse"
        if r["status"] == "noise":
            assert r["p_holm"] >= sig.alpha and gain(r["metric"], r["delta"]) < -r["tolerance"] and r["marker"] == "not significant"
    assert len(report_sig["regressions"]) < len(report["regressions"])
    assert not any("no paired tests" in n for n in report_sig["notes"])  # they were paired: no fallback note
    status, out, _ = _compare(capsys, runs["a"], slight, "--no-runtime", "--significant-only")
    assert status == report_sig["exit_status"] and "mode significant" in out
    # without stored predictions there is no paired test: significant mode falls back on CI overlap
    bare = [copy.deepcopy(base), copy.deepcopy(new)]
    for res in bare:
        for job in res["jobs"]:
            job.pop("predictions")
    fallback = regression.compare(*bare, sig, runtime=False)
    for r in fallback["metrics"]:
        assert r["p"] is None and r["test"] == "none (no stored test predictions)"
        if r["status"] == "regression":
            assert r["ci_overlap"] is False
        if r["status"] == "noise":
            assert r["ci_overlap"] is True
    assert any("confidence-interval overlap" in n for n in fallback["notes"])
    # and without confidence intervals either: significant mode falls back to absolute, and says so
    for res in bare:
        res.pop("statistics", None)
    bare_report = regression.compare(*bare, sig, runtime=False)
    assert all(r["p"] is None and r["ci_overlap"] is None for r in bare_report["metrics"])
    assert any("'significant' mode falls back to 'absolute'" in n for n in bare_report["notes"])


@pytest.mark.parametrize("stripped", [("hog-svm", "cnn", "majority"), ("hog-svm",)])
def test_the_ci_overlap_note_follows_the_one_pipeline_in_significant_mode(runs, tmp_path, stripped):
    """Global mode absolute, hog-svm alone significant; hog-svm has no stored predictions (so no paired test),
    the others (absolute mode) may have theirs: the note on hog-svm's evidence is still given."""
    slight = synth.write(synth.make((("hog-svm", "classical", 1.1), *WEAK[1:])), tmp_path / "slight")
    runs_ = [regression.with_statistics(results_mod.load(r)) for r in (runs["a"], slight)]
    for res in runs_:
        for job in res["jobs"]:
            if job["pipeline"] in stripped:
                job.pop("predictions")
    tol = tolerances.loads('[pipelines.hog-svm]\nmode = "significant"\n', "one-significant")
    report = regression.compare(*runs_, tol, runtime=False)
    modes = {r["pipeline"]: r["mode"] for r in report["metrics"]}
    assert modes == {"hog-svm": "significant", "cnn": "absolute", "majority": "absolute"}
    assert all(r["p"] is None for r in report["metrics"] if r["pipeline"] == "hog-svm")
    assert any(r["p"] is not None for r in report["metrics"]) == (len(stripped) == 1)
    assert any("'significant' mode uses confidence-interval overlap" in n for n in report["notes"])


def test_pipeline_issues_and_job_notes_say_what_happened(runs, tmp_path):
    """The words of the pipeline table and the notes, checked against what was edited into the runs."""
    def base_edit(res):
        job = synth.find(res, "majority")
        job.clear()
        job.update(pipeline="majority", seed=0, family="baseline", status="error", error="MemoryError: base")
        synth.find(res, "hog-svm")["name"] = "hog-svm"

    def new_edit(res):
        job = synth.find(res, "cnn")
        job.clear()
        job.update(pipeline="cnn", seed=0, family="deep", status="error", error="ValueError: " + "x" * 300)
        synth.find(res, "hog-svm")["name"] = "hog-svm-renamed"

    base = results_mod.load(_edited(runs["a"], tmp_path / "base", base_edit))
    new = results_mod.load(_edited(runs["a"], tmp_path / "new", new_edit))
    report = regression.compare(base, new, tolerances.defaults(), runtime=False)
    issues = {r["pipeline"]: r for r in report["pipelines"]}
    # checks: the judged metrics and the failed cnn; the fixed majority is a note, not a check
    judged = sum(r["judged"] and r["status"] != "n/a" and r["tolerance"] is not None for r in report["metrics"])
    assert report["summary"]["checks"] == judged + 1
    # the error is cut at 160 characters
    assert issues["cnn"]["detail"] == "failed in NEW: " + ("ValueError: " + "x" * 300)[:160]
    assert (issues["majority"]["detail"], issues["majority"]["marker"]) == ("failed in BASE; ok in NEW", "fixed")
    again = regression.compare(base, base, tolerances.defaults(), runtime=False)
    fixed_not = [r for r in again["pipelines"] if r["pipeline"] == "majority"]
    assert [(r["detail"], r["marker"]) for r in fixed_not] == [("failed in BASE; still failing in NEW", "")]
    # each run is described from its own environment section
    for side, res in (("base", base), ("new", new)):
        env = res["environment"]
        assert (report[side]["python"], report[side]["libraries"]) == (env["python"], env["libraries"])
        assert report[side]["libraries"] == {"numpy": "2"} and report[side]["machine"].startswith("test CPU")
    # the report says what it is: readers of compare.json key on these two (the version moves with the format)
    assert (report["schema"], report["schema_version"]) == ("medbench.compare", 2)
    # options: the same in both runs, no note (the runs' jobs carry none, then hog-svm's C=10 in both)
    assert not [n for n in report["notes"] if "options differ" in n]
    with_c = [_edited(runs["a"], tmp_path / f"c{i}", lambda res: synth.find(res, "hog-svm").update(
        options={"C": "10"})) for i in range(2)]
    same = regression.compare(*map(results_mod.load, with_c), tolerances.defaults(), runtime=False)
    assert not [n for n in same["notes"] if "options differ" in n]
    assert not [n for n in same["notes"] if "ran as" in n]  # equal names read from two files are the same
    assert same["comparable"] is True and same["forced"] is False and same["problems"] == []
    # a job that ran under another name is noted; the same name is not
    renamed = [n for n in report["notes"] if "ran as" in n]
    assert renamed == ["hog-svm seed 0: ran as 'hog-svm' in BASE and 'hog-svm-renamed' in NEW"]
    assert not [n for n in again["notes"] if "ran as" in n]
    back = regression.compare(new, base, tolerances.defaults(), runtime=False)  # the names sort the other way
    assert [n for n in back["notes"] if "ran as" in n] == [
        "hog-svm seed 0: ran as 'hog-svm-renamed' in BASE and 'hog-svm' in NEW"]
    # medbench's own version is its own line, not a library difference (the key read from JSON, not a literal)
    libs = [json.loads(json.dumps({**res, "environment": {**res["environment"], "libraries": {
        "numpy": "2", "medbench": version}}})) for res, version in ((base, "0.1"), (new, "0.2"))]
    assert not [d for d in regression.environment_differences(*libs) if d["key"].startswith("libraries.")]
    # a tolerance section naming pipelines neither run has: the first of them, in order, is named
    tol = tolerances.loads('[pipelines.zz-net]\nmode = "significant"\n[pipelines.aa-net]\nmode = "significant"\n',
                           "two-unknown.toml")
    with pytest.raises(MedbenchError, match=re.escape("two-unknown.toml: [pipelines.aa-net] names a pipeline")):
        regression.compare(base, new, tol, runtime=False)


def test_without_a_paired_test_or_intervals_a_change_counts_as_real():
    row = {"p": None, "p_holm": None}
    assert [regression._significant({**row, "ci_overlap": o}, 0.05) for o in (True, False, None)] == [
        False, True, True]


def test_environment_lists_are_shown_as_text():
    diffs = regression.environment_differences({"environment": {"gpus": ["GPU A", "GPU B"]}},
                                               {"environment": {"gpus": []}})
    assert [(d["base"], d["new"]) for d in diffs if d["key"] == "gpus"] == [("GPU A, GPU B", "none")]


def test_a_pipeline_missing_under_warn_is_no_check_and_seeds_mean_read_from_a_file_is_the_mean(runs, tmp_path):
    def drop(res):
        res["jobs"] = [j for j in res["jobs"] if j["pipeline"] != "cnn"]
    without = results_mod.load(_edited(runs["a"], tmp_path / "without", drop))
    warn = tolerances.loads('[compare]\nmissing = "warn"\n', "warn.toml")
    report = regression.compare(results_mod.load(runs["a"]), without, warn, runtime=False)
    assert [(r["pipeline"], r["status"]) for r in report["pipelines"]] == [("cnn", "warning")]
    judged = sum(r["judged"] and r["status"] != "n/a" and r["tolerance"] is not None for r in report["metrics"])
    assert report["verdict"] == "pass" and report["summary"]["checks"] == judged  # a warning is not a check
    fail = tolerances.loads('[compare]\nmissing = "fail"\n', "fail.toml")  # "fail" read from TOML
    failed = regression.compare(results_mod.load(runs["a"]), without, fail, runtime=False)
    assert [(r["pipeline"], r["status"]) for r in failed["pipelines"]] == [("cnn", "regression")]
    assert failed["summary"]["checks"] == judged + 1
    seeds = results_mod.load(runs["seeds"])
    mean = tolerances.loads('[compare]\nseeds = "mean"\n', "mean.toml")  # a string read from TOML
    rows = regression.compare(seeds, seeds, mean, runtime=False)["metrics"]
    assert {(r["seed"], r["judged"]) for r in rows if r["pipeline"] == "cnn" and r["metric"] == "accuracy"} == {
        (0, False), (1, False), ("mean", True)}


def test_markers_of_improvements_depend_on_the_mode():
    row = {"vanished": False, "status": "improved", "mode": "significant", "p": 0.2, "p_holm": 0.2,
           "ci_overlap": True}
    assert regression.marker(row, 0.05) == "not significant"
    assert regression.marker({**row, "p": 0.01, "p_holm": 0.01}, 0.05) == "better"
    assert regression.marker({**row, "mode": "absolute"}, 0.05) == "better"


def test_seeds_only_in_new_are_noted_and_seeds_only_in_base_are_not(runs):
    seeds, one = results_mod.load(runs["seeds"]), results_mod.load(runs["a"])
    only_new = regression.compare(one, seeds, tolerances.defaults(), runtime=False, force=True)
    only_base = regression.compare(seeds, one, tolerances.defaults(), runtime=False, force=True)
    assert {r["detail"] for r in only_new["pipelines"] if r["kind"] == "seeds"} == {"seeds [1] only in NEW"}
    assert not [r for r in only_base["pipelines"] if r["kind"] == "seeds"]


def test_noise_text_shows_holm_only_when_it_changed_p():
    row = {"vanished": False, "p": 0.01, "p_holm": 0.03, "test": "McNemar", "ci_overlap": None}
    assert regression.noise_text(row) == "McNemar p=0.01, Holm 0.03"
    assert regression.noise_text({**row, "p_holm": 0.01}) == "McNemar p=0.01"
    assert regression.noise_text({**row, "p_holm": None}) == "McNemar p=0.01"
    # no paired test: the CI evidence
    for overlap, words in ((True, "CIs overlap"), (False, "CIs apart"), (None, "no CI")):
        assert regression.noise_text({**row, "p": None, "p_holm": None, "ci_overlap": overlap}) == words


def _job_from(pipeline: str, y, pred, proba, seed: int = 0) -> dict:
    """A job record scored on the given test predictions (metrics computed by medbench)."""
    from medbench.metrics import classification_metrics

    job = synth.job(pipeline, seed, "classical", 1.0, synth.BINARY, len(y), 1)
    proba = [[1 - p, p] for p in proba]
    job["metrics"] = classification_metrics(np.asarray(y), np.asarray(pred), np.asarray(proba), list(synth.BINARY), 1)
    job["predictions"] = {"ids": [f"img{i}" for i in range(len(y))], "y_true": list(y), "y_pred": list(pred),
                          "proba": proba}
    return job


def test_paired_tests_hand_worked():
    """30 images (10 negative, 20 positive). BASE gets all right; NEW gets 6 positives and 2 negatives
    wrong: McNemar b = 8, c = 0, exact p = 2 * 0.5**8; on the positives only b = 6: p = 2 * 0.5**6; on the
    negatives b = 2: p = 2 * 0.5**2 = 0.5. ROC-AUC goes through DeLong on the same scores."""
    y = [0] * 10 + [1] * 20
    base = _job_from("p", y, y, [0.2] * 10 + [0.8] * 20)
    new_pred = [1, 1] + [0] * 8 + [0] * 6 + [1] * 14
    new_score = [0.6, 0.7] + [0.3] * 8 + [0.4] * 6 + [0.9] * 14
    new = _job_from("p", y, new_pred, new_score)
    out = evaluation_paired.paired_tests([base], [new], ["accuracy", "sensitivity", "specificity", "roc_auc", "f1"], 2, 1,
                                  n_resamples=200, seed=0)
    t = out["tests"]
    assert out["paired"] and t["accuracy"]["test"] == "McNemar" and (t["accuracy"]["b"], t["accuracy"]["c"]) == (8, 0)
    assert t["accuracy"]["p"] == pytest.approx(2 * 0.5 ** 8)
    assert t["sensitivity"]["p"] == pytest.approx(2 * 0.5 ** 6) and t["sensitivity"]["b"] == 6
    assert t["specificity"]["p"] == pytest.approx(0.5) and t["specificity"]["b"] == 2
    is_pos = np.asarray(y) == 1
    expected = st.delong(is_pos, np.asarray([0.2] * 10 + [0.8] * 20), np.asarray(new_score))["p"]
    assert t["roc_auc"]["test"] == "DeLong" and t["roc_auc"]["p"] == pytest.approx(expected)
    assert t["f1"]["test"] == "paired bootstrap" and 0 <= t["f1"]["p"] < 0.05  # F1 0.97 -> 1.0 ... every resample
    # other test images: no paired test, and the reason is given
    moved = copy.deepcopy(new)
    moved["predictions"]["ids"][0] = "elsewhere"
    assert evaluation_paired.paired_tests([base], [moved], ["accuracy"], 2, 1) == {
        "paired": False, "reason": "scored on different test images"}


def test_holm_over_pipelines_decides_significant_mode():
    """Two pipelines each drop accuracy by 0.1 with raw McNemar p = 0.0195 (b = 7, c = 1: 2 * 9/256 ... )
    and 0.0391: Holm makes them 0.039 and 0.039 - both below 0.05; a third pipeline's p of 0.5 takes
    the family to 0.0586 / 0.0781 / 0.5, and then neither drop is significant."""
    def row(pipe, p):
        return regression.metric_row(pipe, 0, "accuracy", 0.9, 0.8, 0.01, mode="significant",
                                     paired={"test": "McNemar", "p": p})
    two = [row("a", 0.01953125), row("b", 0.0390625)]
    regression.holm_over_pipelines(two, lambda r: 0.01, 0.05)
    assert [r["p_holm"] for r in two] == pytest.approx([0.0390625, 0.0390625])
    assert [r["status"] for r in two] == ["regression", "regression"]
    three = [row("a", 0.01953125), row("b", 0.0390625), row("c", 0.5)]
    regression.holm_over_pipelines(three, lambda r: 0.01, 0.05)
    assert [r["p_holm"] for r in three] == pytest.approx([0.05859375, 0.078125, 0.5])
    assert [(r["status"], r["marker"]) for r in three] == [("noise", "not significant")] * 3
    absolute = regression.metric_row("a", 0, "accuracy", 0.9, 0.8, 0.01, paired={"test": "McNemar", "p": 0.5})
    assert (absolute["status"], absolute["marker"]) == ("regression", "worse")  # absolute mode: p is shown only


def test_markers(runs, tmp_path, capsys):
    """asv-style markers: worse / better / not significant on metric rows, newly failed and fixed on jobs."""
    def fail(res, pipe):
        job = synth.find(res, pipe)
        job.clear()
        job.update(pipeline=pipe, seed=0, family="deep", status="error", error="ValueError: boom")
    broken = _edited(runs["a"], tmp_path / "broken", lambda res: fail(res, "cnn"))
    report = regression.compare(results_mod.load(runs["a"]), results_mod.load(broken), tolerances.defaults(),
                                runtime=False)
    assert [(r["pipeline"], r["marker"]) for r in report["pipelines"]] == [("cnn", "newly failed")]
    back = regression.compare(results_mod.load(broken), results_mod.load(runs["a"]), tolerances.defaults(),
                              runtime=False)
    assert [(r["pipeline"], r["marker"]) for r in back["pipelines"]] == [("cnn", "fixed")]
    weak = regression.compare(regression.with_statistics(results_mod.load(runs["a"])),
                              regression.with_statistics(results_mod.load(runs["weak"])), tolerances.defaults(),
                              runtime=False)
    worse = {r["marker"] for r in weak["metrics"] if r["pipeline"] == "hog-svm" and r["status"] == "regression"}
    assert worse == {"worse"}
    better = regression.compare(results_mod.load(runs["weak"]), results_mod.load(runs["a"]), tolerances.defaults(),
                                runtime=False)
    assert {r["marker"] for r in better["metrics"] if r["status"] == "improved"} == {"better"}
    assert all(r["marker"] == "" for r in better["metrics"] if r["pipeline"] != "hog-svm")
    status, out, _ = _compare(capsys, runs["a"], broken, "--no-runtime")
    assert "newly failed" in out or " !" in out


# ------------------------------------------------------------------------ environments and runtime
def _with_env(src: Path, dest: Path, **env) -> Path:
    return _edited(src, dest, lambda res: res["environment"].update(env))


def test_causes_are_printed_first_then_the_environment(runs, tmp_path, capsys):
    base = _with_env(runs["a"], tmp_path / "base", git_commit="a" * 40, git_dirty=False, gpus=[])
    new = _with_env(runs["a"], tmp_path / "new", git_commit="b" * 40, git_dirty=True, gpus=[],
                    libraries={"numpy": "3"})
    status, out, _ = _compare(capsys, base, new, "--json", tmp_path / "c.json", "--markdown", tmp_path / "c.md")
    report = json.loads((tmp_path / "c.json").read_text())
    assert status == 0
    diffs = {d["key"]: (d["base"], d["new"]) for d in report["environment"]["differences"]}
    assert diffs == {"git_commit": ("a" * 40, "b" * 40), "git_dirty": ("no", "yes"), "libraries.numpy": ("2", "3")}
    lines = out.splitlines()
    assert lines[1:4] == ["causes: 2 differences in what ran (BASE -> NEW)",
                          "  code: git commit: aaaaaaaaaaaa -> bbbbbbbbbbbb", "  code: dirty tree: no -> yes"]
    env = lines.index("environment: 1 other difference (BASE -> NEW)")
    assert env > 4 and lines[env + 1] == "  numpy: 2 -> 3"
    assert "causes: 2 differences" in (tmp_path / "c.md").read_text().splitlines()[2]
    status, out, _ = _compare(capsys, base, base)
    assert out.splitlines()[1] == "causes: no option or code difference recorded between BASE and NEW"
    assert "environment: otherwise identical (libraries, machine)" in out.splitlines()


def test_what_only_one_run_recorded_is_named_once_not_listed_as_differences(runs, tmp_path, capsys):
    """A run made outside tox and outside a git clone (a pip-installed medbench) records no lock digest and
    no dirty flag: compare names them once as not recorded, and lists neither as a cause or a difference."""
    base = _with_env(runs["a"], tmp_path / "base", git_commit="a" * 40, git_dirty=False, lock_digest="c" * 64)
    new = _with_env(runs["a"], tmp_path / "new", git_commit="b" * 40, git_dirty=None, lock_digest=None)
    status, out, _ = _compare(capsys, base, new, "--markdown", tmp_path / "c.md", "--json", tmp_path / "c.json")
    lines = out.splitlines()
    assert status == 0
    assert lines[1:3] == ["causes: 1 difference in what ran (BASE -> NEW)",
                          "  code: git commit: aaaaaaaaaaaa -> bbbbbbbbbbbb"]
    assert "not recorded by NEW (cannot be compared): dirty tree, lock file pins" in lines
    assert not any("-> not recorded" in line for line in lines)
    assert "not recorded by NEW (cannot be compared): dirty tree, lock file pins" in (tmp_path / "c.md").read_text()
    # compare.json keeps every entry, recorded or not
    keys = {d["key"] for d in json.loads((tmp_path / "c.json").read_text())["environment"]["differences"]}
    assert {"git_dirty", "lock_digest"} <= keys


def test_option_differences_lead_and_a_missing_deep_job_is_no_difference(runs, tmp_path, capsys):
    """The cause of a regression (other options) is the first thing said; NEW without a deep job records no
    deep-model device, which is not an environment difference."""
    def weaken(res):
        synth.find(res, "hog-svm").update(options={"C": "0.001"})
        res["jobs"] = [j for j in res["jobs"] if j["pipeline"] != "cnn"]
        res["environment"].pop("deep", None)
    base = _with_env(runs["weak"], tmp_path / "base", deep={"device": "cpu", "backend": "tensorflow"})
    new = _edited(runs["weak"], tmp_path / "new", weaken)
    status, out, _ = _compare(capsys, base, new, "--no-runtime", "--markdown", tmp_path / "c.md")
    lines = out.splitlines()
    assert lines[1] == "causes: 1 difference in what ran (BASE -> NEW)"
    assert lines[2].startswith("  options: hog-svm seed 0: options differ") and "C=0.001" in lines[2]
    assert "deep-model device" not in out and "not recorded" not in out
    assert sum("options differ" in line for line in lines) == 1  # said once, as a cause, not again as a note
    md = (tmp_path / "c.md").read_text().splitlines()
    assert md[2].startswith("causes: 1 difference") and "options differ" in md[3]


def test_runtime_judged_only_on_the_same_machine(runs, tmp_path, capsys):
    base = _with_env(runs["a"], tmp_path / "base", gpus=[])
    slow = _edited(base, tmp_path / "slow", lambda res: synth.find(res, "hog-svm")["runtime"].update(
        fit_time_s=synth.find(res, "hog-svm")["runtime"]["fit_time_s"] * 3))
    gpu = _with_env(slow, tmp_path / "gpu", gpus=["NVIDIA H100 80GB HBM3"])
    other_cpu = _with_env(slow, tmp_path / "cpu", cpu="Other CPU", cpu_count=16)
    assert _compare(capsys, base, slow)[0] == 1  # same machine: the 3x slower fit is a regression
    same = regression.compare(results_mod.load(base), results_mod.load(slow), tolerances.defaults())
    assert same["runtime_reason"].startswith("runtime judged: same machine (test CPU")
    slower = [r for r in same["regressions"] if r["kind"] == "runtime"]
    assert slower and all(r["pipeline"] == "hog-svm" and r["vanished"] is False for r in slower)
    for other in (gpu, other_cpu):
        status, out, _ = _compare(capsys, base, other, "--json", tmp_path / "c.json")
        report = json.loads((tmp_path / "c.json").read_text())
        assert status == 0 and not report["runtime_judged"] and "the machines differ" in report["runtime_reason"]
        assert "--force-runtime" in out and "x3.00" in out
    assert "GPUs" not in json.loads((tmp_path / "c.json").read_text())["runtime_reason"]
    report = regression.compare(results_mod.load(base), results_mod.load(other_cpu), tolerances.defaults(),
                                force_runtime=True)
    assert report["exit_status"] == 1 and report["runtime_judged"]
    # the Python API's default is the CLI's: other machines, runtime not judged
    assert not regression.compare(results_mod.load(base), results_mod.load(other_cpu),
                                  tolerances.defaults())["runtime_judged"]
    assert "although the machines differ (CPU test CPU vs Other CPU; core count 2 vs 16)" in report["runtime_reason"]
    # a GPU list recorded by one run only (an older results.json) is no difference
    assert not regression.compare(results_mod.load(runs["a"]), results_mod.load(
        _with_env(runs["a"], tmp_path / "nogpu", gpus=[])), tolerances.defaults())["environment"]["machine_differences"]


def test_compare_in_process_refuses_and_forces(runs):
    a = results_mod.load(runs["a"])
    b = copy.deepcopy(a)
    b["split"]["fingerprint"] = "f" * 64
    with pytest.raises(MedbenchError, match="split fingerprints differ"):
        regression.compare(a, b, tolerances.defaults())
    report = regression.compare(a, b, tolerances.defaults(), force=True, runtime=False)
    assert report["forced"] and report["verdict"] == "pass" and report["notes"][0].startswith("FORCED")
    assert render.verdict_line(report).endswith("- FORCED comparison of different data/splits")


# ------------------------------------------------------------------------- judgement, unit level
def test_metric_row_statuses():
    assert regression.metric_row("p", 0, "accuracy", 0.90, 0.89, 0.01)["status"] == "ok"  # exactly the tolerance
    assert regression.metric_row("p", 0, "accuracy", 0.90, 0.85, 0.01)["status"] == "regression"
    assert regression.metric_row("p", 0, "accuracy", 0.90, 0.85, 0.01, judged=False)["status"] == "drop"
    assert regression.metric_row("p", 0, "accuracy", 0.80, 0.90, 0.01)["status"] == "improved"
    assert regression.metric_row("p", 0, "roc_auc", None, 0.9, 0.01)["status"] == "n/a"
    assert regression.metric_row("p", 0, "accuracy", 0.9, 0.5, math.inf)["status"] == "ok"
    for gone in (None, math.nan, math.inf, -math.inf, "0.9"):
        row = regression.metric_row("p", 0, "accuracy", 0.9, gone, math.inf, judged=False)
        assert (row["status"], row["vanished"], row["judged"]) == ("regression", True, True), gone
    assert regression.metric_row("p", "mean", "accuracy", 0.9, None, 0.01)["status"] == "n/a"  # the seed's row says
    wide = regression.metric_row("p", 0, "accuracy", 0.90, 0.87, 0.01, (0.86, 0.93), (0.83, 0.90), "significant")
    apart = regression.metric_row("p", 0, "accuracy", 0.90, 0.80, 0.01, (0.88, 0.92), (0.77, 0.83), "significant")
    assert (wide["status"], wide["ci_overlap"]) == ("noise", True)
    assert (apart["status"], apart["ci_overlap"]) == ("regression", False)
    absolute = regression.metric_row("p", 0, "accuracy", 0.90, 0.87, 0.01, (0.86, 0.93), (0.83, 0.90))
    assert absolute["status"] == "regression"  # absolute mode: overlapping CIs are reported, not excused


def test_job_ci_reads_only_the_documented_shape():
    job = {"pipeline": "p", "seed": 0, "metrics": {}, "metrics_ci": {"accuracy": [0.1, 0.2]}}
    res = {"statistics": {"jobs": {"p__seed0": {"metrics_ci": {"accuracy": [0.8, 0.9], "roc_auc": None}}}}}
    assert regression.job_ci(res, job, "accuracy") == (0.8, 0.9)
    assert regression.job_ci(res, job, "roc_auc") is None
    assert regression.job_ci({}, job, "accuracy") is None  # a CI kept on the job is not a documented shape


def test_runtime_row():
    r = regression.runtime_row("p", 0, "latency_ms_per_image", 1.0, 2.0, 1.5, 0.05)
    assert (r["ratio"], r["slowdown"], r["status"], r["judged"]) == (2.0, 2.0, "regression", True)
    r = regression.runtime_row("p", 0, "throughput_img_per_s", 1000, 500, 1.5, 20000)
    assert (r["ratio"], r["slowdown"], r["status"]) == (0.5, 2.0, "regression")
    assert regression.runtime_row("p", 0, "fit_time_s", 0.01, 0.5, 1.5, 1.0)["status"] == "ok"  # below the floor
    assert regression.runtime_row("p", 0, "fit_time_s", 2, 5, 1.5, 1.0, check=False)["status"] == "slower"
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 5, 1.5, 1.0)["status"] == "faster"
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 12, 1.5, 1.0, check=False)["judged"] is False
    assert regression.runtime_row("p", 0, "fit_time_s", 10, math.inf, 1.5, 1.0)["status"] == "n/a"
    # a zero figure is no measurement: no ratio (not x0 faster)
    zero = regression.runtime_row("p", 0, "fit_time_s", 10, 0, 1.5, 1.0)
    assert (zero["status"], zero["ratio"]) == ("n/a", None)
    # higher-is-better throughput is "fast" (timer noise) only when both runs are above the floor
    floor = regression.runtime_row("p", 0, "throughput_img_per_s", 40000, 20000, 1.5, 20000)
    assert (floor["judged"], floor["status"]) == (True, "regression")  # NEW exactly at the floor: judged
    assert regression.runtime_row("p", 0, "throughput_img_per_s", 40000, 30000, 1.5, 20000)["status"] == "ok"
    assert regression.runtime_row("p", 0, "throughput_img_per_s", 80000, 30000, 1.5, 20000)["reason"] == \
        "below noise floor (20000)"


def test_a_rise_within_the_tolerance_is_ok_not_improved():
    assert regression.metric_row("p", 0, "accuracy", 0.80, 0.81, 0.02)["status"] == "ok"
    assert regression.metric_row("p", 0, "accuracy", 0.80, 0.82, 0.02)["status"] == "ok"  # exactly the tolerance
    assert regression.metric_row("p", 0, "accuracy", 0.80, 0.83, 0.02)["status"] == "improved"
    assert regression.metric_row("p", 0, "brier", 0.20, 0.19, 0.02)["status"] == "ok"  # lower is better


def test_environment_differences_of_libraries_and_partly_recorded_values():
    base = {"medbench_version": "1", "environment": {"libraries": {"keras": "3.0", "numpy": "2", "medbench": "1"},
                                                     "deep": {"backend": "jax", "device": None}}}
    new = {"medbench_version": "1", "environment": {"libraries": {"keras": "3.1", "numpy": "2", "medbench": "2"},
                                                    "deep": {"backend": "jax", "device": "gpu"}}}
    diffs = {d["key"]: (d["base"], d["new"]) for d in regression.environment_differences(base, new)}
    # keras sorts before "medbench" and is compared; medbench's own version is the medbench_version line
    assert diffs == {"libraries.keras": ("3.0", "3.1"), "deep": ("jax", "jax gpu")}
    new["environment"]["libraries"]["jax"] = "0.4"  # recorded by one run only
    diffs = {d["key"]: (d["base"], d["new"]) for d in regression.environment_differences(base, new)}
    assert diffs["libraries.jax"] == (None, "0.4")


def test_marker_counts_count_each_marked_row_once(runs):
    weak = regression.compare(regression.with_statistics(results_mod.load(runs["a"])),
                              regression.with_statistics(results_mod.load(runs["weak"])), tolerances.defaults(),
                              runtime=False)
    marked = [r["marker"] for r in [*weak["metrics"], *weak["runtime"], *weak["pipelines"]] if r["marker"]]
    assert marked and weak["summary"]["markers"] == {m: marked.count(m) for m in set(marked)}


def test_runtime_rows_of_several_seeds_say_where_runtime_is_judged(runs):
    report = regression.compare(results_mod.load(runs["seeds"]), results_mod.load(runs["seeds"]),
                                tolerances.defaults())
    reasons = {(r["seed"] == "mean", r["reason"]) for r in report["runtime"] if not r["judged"]}
    assert (False, "judged on the mean over seeds") in reasons
    assert all(r["judged"] or r["reason"] != "seeds judged one by one" for r in report["runtime"])


# ------------------------------------------------------------------------------------ tolerances
def test_tolerance_defaults():
    tol = tolerances.defaults()
    assert tol.metric_tolerance("any", "accuracy") == 0.01
    assert tol.metric_tolerance("any", "sensitivity") == 0.02
    assert tol.runtime_limit("any", "latency_ms_per_image") == 1.5
    assert (tol.mode, tol.missing, tol.seeds, tol.runtime_check) == ("absolute", "fail", "mean", True)
    assert tol.unchecked() == []


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
                           '[pipelines.x]\nmode = "significant"\n[runtime]\nfit_time_s = inf\n')
    assert tol.metric_tolerance("y", "f1") == 0.05 and tol.metric_tolerance("y", "roc_auc") == 0.001
    assert math.isinf(tol.metric_tolerance("x", "roc_auc"))
    assert tol.mode_for("x") == "significant" and tol.mode_for("y") == "absolute"
    assert tol.unchecked() == ["fit_time_s", "x every metric"]
    assert tol.alpha == 0.05 and tolerances.loads("[compare]\nalpha = 0.01\n").alpha == 0.01
    assert json.dumps(tol.to_dict())  # JSON-able (inf as null)


@pytest.mark.parametrize("text, message", [
    ("[metrics]\naccuracyy = 0.01\n", "t.toml: metrics.accuracyy: is not a known key"),
    ("[metrics]\naccuracy = -0.01\n", "t.toml: metrics.accuracy: -0.01 is out of range: must be >= 0"),
    ("[metrics]\naccuracy = 'a lot'\n", "t.toml: metrics.accuracy: must be a number, got a string 'a lot'"),
    ("[metrics]\naccuracy = nan\n", "t.toml: metrics.accuracy: must be a number, got nan"),
    ("[runtime]\nfit_time_s = 0.5\n", "t.toml: runtime.fit_time_s: 0.5 is out of range: must be >= 1 (a slowdown"),
    ("[runtime]\ncheck = 1\n", "t.toml: runtime.check: must be a boolean"),
    ("[runtime.floor]\nfit_time_s = inf\n", "t.toml: runtime.floor.fit_time_s: must be a finite number"),
    ("[compare]\nmode = 'strict'\n", "t.toml: compare.mode: must be 'absolute' or 'significant', got 'strict'"),
    ("[compare]\nmissing = 'ignore'\n", "t.toml: compare.missing: must be 'fail' or 'warn'"),
    ("[compare]\nalpha = 1.5\n", "t.toml: compare.alpha: 1.5 is out of range: must be between 0 and 1"),
    ("[compare]\nalpha = 0\n", "t.toml: compare.alpha: 0 is out of range: must be between 0 and 1"),
    ("[pipelines.hog-svm]\ntolerance = 1\n", "t.toml: pipelines.hog-svm.tolerance: is not a known key"),
    ("[pipelines]\nhog-svm = 1\n", "t.toml: pipelines.hog-svm: must be an object, got an integer 1"),
    ("[thresholds]\n", "t.toml: thresholds: is not a known key"),
    ("[metrics\n", "t.toml is not valid TOML"),
])
def test_tolerance_errors(text, message):
    with pytest.raises(MedbenchError) as info:
        tolerances.loads(text, "t.toml")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_bad_tolerance_files_are_usage_errors(runs, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[metrics]\nacc = 0.01\n")
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", bad)
    assert status == 2 and f"{bad}: metrics.acc: is not a known key" in err
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", tmp_path / "none.toml")
    assert status == 2 and f"tolerances file (UTF-8 TOML) {tmp_path / 'none.toml'} does not exist" in err
    latin = tmp_path / "latin.toml"
    latin.write_bytes("# tolérance\n[metrics]\naccuracy = 0.01\n".encode("latin-1"))
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", latin)
    assert status == 2 and err.startswith(f"medbench: error: {latin}: not UTF-8") and err.count("\n") == 1
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    status, _, err = _compare(capsys, runs["a"], runs["b"], "--tolerances", deep)
    assert status == 2 and err.startswith(f"medbench: error: {deep}") and err.count("\n") == 1


# ------------------------------------------------------------------------ real runs, end to end
@pytest.mark.slow
def test_real_runs_end_to_end(shared_datasets, tmp_path):
    """Two real PneumoniaMNIST runs (majority and a 20-round XGBoost on HOG features), then the same with
    XGBoost cut to 2 rounds (the majority job reused): `medbench compare` as a subprocess flags exactly
    hog-xgboost, and passes the run against itself."""
    if not (shared_datasets / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {shared_datasets / 'pneumoniamnist.npz'}")
    common = ["--pipelines", "majority", "hog-xgboost", "--option", "hog-xgboost.xgboost__n_jobs=1",
              "--bootstrap-resamples", "200"]
    a, weak = tmp_path / "a", tmp_path / "weak"
    assert main(["run", "--out", str(a), *common, "--option", "hog-xgboost.xgboost__n_estimators=20"]) == 0
    shutil.copytree(a / "jobs", weak / "jobs")
    assert main(["run", "--out", str(weak), *common, "--option", "hog-xgboost.xgboost__n_estimators=2"]) == 0

    def medbench(*args):
        return subprocess.run([sys.executable, "-m", "medbench", "compare", *map(str, args), "--no-runtime",
                               "--json", str(tmp_path / "c.json")], capture_output=True, text=True)
    same, bad = medbench(a, a), medbench(a, weak)
    assert (same.returncode, bad.returncode) == (0, 1), same.stderr + bad.stderr
    assert same.stdout.startswith("medbench compare: PASS")
    report = json.loads((tmp_path / "c.json").read_text())
    assert {r["pipeline"] for r in report["regressions"]} == {"hog-xgboost"}
    assert all(r["delta"] == 0 or r["base"] is r["new"] is None  # (a likelihood ratio undefined in both)
               for r in report["metrics"] if r["pipeline"] == "majority")
    assert any("options differ" in n and "xgboost__n_estimators=2" in n for n in report["notes"])


def test_force_runtime_on_the_command_line(runs, tmp_path, capsys):
    base = _with_env(runs["a"], tmp_path / "base", gpus=[])
    slow = _edited(base, tmp_path / "slow", lambda res: synth.find(res, "hog-svm")["runtime"].update(
        fit_time_s=synth.find(res, "hog-svm")["runtime"]["fit_time_s"] * 3))
    other = _with_env(slow, tmp_path / "other", cpu="Other CPU")
    assert _compare(capsys, base, other)[0] == 0
    status, out, _ = _compare(capsys, base, other, "--force-runtime")
    assert status == 1 and "runtime judged although the machines differ (CPU test CPU vs Other CPU)" in out


def test_ci_overlap_touching_apart_and_either_side():
    row = lambda b_ci, n_ci: regression.metric_row("p", 0, "accuracy", 0.9, 0.8, 0.01, b_ci, n_ci)  # noqa: E731
    assert row((0.85, 0.95), (0.75, 0.85))["ci_overlap"] is True  # touching counts as overlapping
    assert row((0.75, 0.85), (0.85, 0.95))["ci_overlap"] is True
    assert row((0.86, 0.95), (0.75, 0.85))["ci_overlap"] is False
    assert row((0.75, 0.85), (0.86, 0.95))["ci_overlap"] is False  # NEW's interval wholly above


def test_a_drop_beyond_the_hard_limit_is_worse_even_unjudged_and_not_significant():
    row = regression.metric_row("p", 0, "accuracy", 0.90, 0.80, 0.01, (0.70, 0.99), (0.65, 0.95), "significant",
                                judged=False, hard=0.05)
    assert (row["status"], row["beyond_hard"], row["marker"]) == ("drop", True, "worse")


def test_runtime_ratio_edges():
    r = regression.runtime_row("p", 0, "throughput_img_per_s", 1000, 400, 1.5, 20000)
    assert r["slowdown"] == pytest.approx(2.5)  # 1 / 0.4, not rounded down
    # faster only beyond 1 / limit: 10 s -> 8 s with limit 1.5 (1 / 1.5 = 0.667) is within the noise band
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 8, 1.5, 1.0)["status"] == "ok"
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 6, 1.5, 1.0)["status"] == "faster"
    # no base figure (0): nothing to divide by, not judged
    assert regression.runtime_row("p", 0, "fit_time_s", 0.0, 5.0, 1.5, 1.0)["status"] == "n/a"
    # one side below the floor, the other above it: judged (fit 0.5 s -> 5 s; throughput 2000/s -> 500/s)
    assert regression.runtime_row("p", 0, "fit_time_s", 0.5, 5.0, 1.5, 1.0)["status"] == "regression"
    assert regression.runtime_row("p", 0, "throughput_img_per_s", 2000, 500, 1.5, 1000.0)["status"] == "regression"
    # NEW exactly on the floor is not below it: fit 0.5 s -> 1 s with the floor at 1 s is judged (x2)
    assert regression.runtime_row("p", 0, "fit_time_s", 0.5, 1.0, 1.5, 1.0)["status"] == "regression"
    assert regression.runtime_row("p", 0, "throughput_img_per_s", 500, 2000, 1.5, 1000.0)["status"] == "faster"
    # exactly at the limit is within it: fit 10 s -> 15 s with limit 1.5
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 15, 1.5, 1.0)["status"] == "ok"
    assert regression.runtime_row("p", 0, "fit_time_s", 10, 15.1, 1.5, 1.0)["status"] == "regression"
    # the noise floor: only figures strictly on its noisy side (both of them) are timer noise; one exactly on
    # the floor is judged (fit 1 s -> 0.5 s, throughput 1000/s -> 2000/s, each with its floor at the base)
    for key, base, new, floor in (("fit_time_s", 1.0, 0.5, 1.0), ("throughput_img_per_s", 1000, 2000, 1000.0),
                                  ("fit_time_s", 10.0, 0.5, 1.0)):  # the last: only NEW below the floor
        r = regression.runtime_row("p", 0, key, base, new, 1.5, floor)
        assert (r["judged"], r["reason"], r["status"]) == (True, None, "faster"), key


def test_compatibility_messages_and_seeds_in_one_run_only():
    base = {"dataset": {"spec": "d", "fingerprint": "f" * 64, "class_names": ["a", "b"]},
            "split": {"fingerprint": "0123456789abX" + "0" * 51},
            "jobs": [{"seed": 0, "split_fingerprint": "s0"}, {"seed": 1, "split_fingerprint": "s1"}]}
    new = copy.deepcopy(base)
    new["jobs"] = [{"seed": 0, "split_fingerprint": "s0"}]  # seed 1 not run again: nothing to compare for it
    assert regression.compatibility(base, new) == []
    new["split"]["fingerprint"] = "0123456789abY" + "0" * 51
    assert regression.compatibility(base, new) == ["split fingerprints differ (0123456789ab vs 0123456789ab)"]
    new["split"] = base["split"]
    for split in ("r0", "t0"):  # one seed's own split, sorting before and after the base's
        new["jobs"] = [{"seed": 0, "split_fingerprint": split}]
        assert regression.compatibility(base, new) == [f"split fingerprints of seed 0 differ (s0 vs {split})"]
    new["jobs"] = base["jobs"]
    for spec in ("c", "e"):  # sorting before and after the base's
        new["dataset"] = {**base["dataset"], "spec": spec}
        assert regression.compatibility(base, new) == [f"datasets differ ('d' vs '{spec}')"]
    for fingerprint in ("e" * 64, "g" * 64):  # sorting before and after the base's
        new["dataset"] = {**base["dataset"], "fingerprint": fingerprint}
        assert regression.compatibility(base, new) == [f"dataset fingerprints differ (ffffffffffff vs "
                                                       f"{fingerprint[:12]})"]
    for names in (["a", "c"], ["0", "b"]):  # sorting after and before the base's names
        new["dataset"] = {**base["dataset"], "class_names": names}
        assert regression.compatibility(base, new) == [f"class names differ (['a', 'b'] vs {names})"]


@pytest.mark.parametrize("runtime_dropped, other_checks", [(False, 37 + 8), (True, 37 + 7)])
def test_checks_count_judged_metrics_runtimes_and_failed_pipelines(runs, tmp_path, runtime_dropped, other_checks):
    def fail(res):
        job = synth.find(res, "cnn")
        job.clear()
        job.update(pipeline="cnn", seed=0, family="deep", status="error", error="ValueError: boom")
        if runtime_dropped:  # one runtime figure fewer: an odd count of other checks (the sum, not a parity)
            del synth.find(res, "hog-svm")["runtime"]["fit_time_s"]
    broken = results_mod.load(_edited(runs["a"], tmp_path / "broken", fail))
    report = regression.compare(results_mod.load(runs["a"]), broken, tolerances.defaults())
    metrics = sum(r["judged"] and r["status"] != "n/a" and r["tolerance"] is not None for r in report["metrics"])
    runtime = sum(r["judged"] for r in report["runtime"])
    # 2 surviving pipelines x 19 binary metrics less the majority floor's undefined LR+; 4 judged runtime figures
    # each (fewer when one is missing)
    assert (metrics, runtime) == (37, other_checks - 37)
    assert report["summary"]["checks"] == metrics + runtime + 1  # + the failed cnn
    failed = [r for r in report["regressions"] if r["kind"] == "pipeline"]
    assert [(r["pipeline"], r["check"], r["vanished"]) for r in failed] == [("cnn", "failed", False)]


def test_jobs_run_with_other_options_are_noted(runs, tmp_path):
    other = _edited(runs["a"], tmp_path / "other", lambda res: synth.find(res, "hog-svm").update(options={"C": "10"}))
    report = regression.compare(results_mod.load(runs["a"]), results_mod.load(other), tolerances.defaults(),
                                runtime=False)
    assert any(n.startswith("hog-svm seed 0: options differ") and "C=10" in n for n in report["notes"])
    same = regression.compare(results_mod.load(runs["a"]), results_mod.load(runs["b"]), tolerances.defaults(),
                              runtime=False)
    assert not any("options differ" in n for n in same["notes"])
