"""Tests for the history store and report (``medbench history add`` / ``report``): filing runs by machine and
version, the change-point search (a known step in one pipeline is found, and nothing else), the paired
test across the step, escaping of hostile names through history.md / history.html / headless Chromium,
and, marked slow, three real PneumoniaMNIST runs with a weakened XGBoost in the third version.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import browser
import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.commands import history as history_cmd
from medbench.core.errors import MedbenchError
from medbench.evaluation import stats as st
from medbench.metrics import gain
from medbench.reports import history as render
from medbench.stores import history

STEP_AT = 3  # versions #1-#3 at one level, #4-#6 at another
STRENGTHS = {  # hog-svm drops at version 4; cnn jitters slightly from version to version; majority is constant
    "hog-svm": [2.0, 2.0, 2.0, 1.2, 1.2, 1.2],
    "cnn": [1.2, 1.25, 1.15, 1.22, 1.18, 1.24],
}
HOSTILE = '<img src=x onerror=alert(1)>|`pipe`*$x$'


def _history(*argv) -> int:
    """``medbench history ...`` through the command module's own parser (as the CLI registers it)."""
    parser = argparse.ArgumentParser(prog="medbench")
    sub = parser.add_subparsers(dest="command", required=True)
    history_cmd.register(sub)
    args = parser.parse_args(["history", *map(str, argv)])
    return args.handler(args)


def _version(i: int, root: Path, *, names=("hog-svm", "cnn", "majority"), commit: str | None = None,
             env: dict | None = None) -> Path:
    fams = {"hog-svm": "classical", "cnn": "deep", "majority": "baseline", HOSTILE: "classical"}
    strengths = {"majority": [0.0] * 6, HOSTILE: STRENGTHS["hog-svm"], **STRENGTHS}
    res = synth.make(tuple((p, fams[p], strengths[p][i]) for p in names), n=200, n_resamples=None,
                     created=f"2026-01-0{i + 1}T10:00:00+0000",
                     environment={"git_commit": commit or f"{i + 1:x}" * 40, "git_dirty": False, "gpus": [],
                                  **(env or {})})
    return synth.write(res, root / f"run{i + 1}")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history")
    for i in range(6):
        assert _history("add", _version(i, root / "runs"), "--store", root / "store") == 0
    return root / "store"


def test_add_files_runs_by_machine_and_commit(store):
    index = json.loads((store / "index.json").read_text())
    assert index["schema"] == "medbench.history" and len(index["entries"]) == 6
    machines = {e["machine"] for e in index["entries"]}
    assert len(machines) == 1 and next(iter(machines)).startswith("test-cpu-x2-")
    assert [e["version"] for e in index["entries"]] == [f"{i:x}" * 12 for i in range(1, 7)]
    for e in index["entries"]:
        stored = json.loads((store / e["path"]).read_text())
        assert "statistics" not in stored and stored["history"]["version"] == e["version"]
        assert stored["jobs"][0]["predictions"]["y_true"]  # kept: paired tests need them
    assert not list(store.rglob("*.tmp"))


def test_add_replaces_a_rerun_and_separates_other_datasets(tmp_path, capsys):
    run = _version(0, tmp_path)
    assert _history("add", run, "--store", tmp_path / "s") == 0
    assert _history("add", run, "--store", tmp_path / "s") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"replaced {run} as 111111111111")
    other = json.loads((run / "results.json").read_text())
    other["dataset"]["spec"], other["dataset"]["name"] = "folder:/x", "xray"
    other["split"]["fingerprint"] = "0" * 64
    synth.write(other, tmp_path / "other")
    entry = history.add(tmp_path / "other", tmp_path / "s")
    assert entry["version"] == "111111111111--xray-00000000" and not entry["replaced"]
    assert len(history.entries(tmp_path / "s")) == 2
    dirty = _version(1, tmp_path / "d", env={"git_dirty": True})
    assert history.add(dirty, tmp_path / "s")["version"] == "222222222222-dirty-20260102T100000+0000"
    unknown = _version(2, tmp_path / "u", env={"git_commit": "unknown"})
    assert history.add(unknown, tmp_path / "s")["version"] == "20260103T100000+0000"
    assert history.add(unknown, tmp_path / "s", commit="v1.2.0-rc1")["version"] == "v1.2.0-rc1"


def test_index_is_rebuilt_when_lost_and_refused_when_broken(store, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    (copy / "index.json").unlink()
    assert [e["version"] for e in history.entries(copy)] == [e["version"] for e in history.entries(store)]
    (copy / "index.json").write_text('{"schema": "medbench.history", "schema_version": 1, "entries": [{}]}')
    with pytest.raises(MedbenchError, match=r"index.json: entries\[0\].machine: missing"):
        history.entries(copy)
    entry = json.loads((store / "index.json").read_text())["entries"][0]
    (copy / "index.json").write_text(json.dumps({"schema": "medbench.history", "schema_version": 1,
                                                 "entries": [{**entry, "path": "../../etc/results.json"}]}))
    with pytest.raises(MedbenchError, match=r"entries\[0\].path: '../../etc/results.json' does not have the expected"):
        history.analyse(copy)


@pytest.mark.parametrize("argv, message", [
    (["add", "{tmp}/nothing"], "does not exist"),
    (["add", "{run}", "--commit", "../escape"], "--commit '../escape': use 1 to 64 letters"),
    (["report", "--store", "{tmp}/none"], "no history store at"),
])
def test_bad_input_is_one_line(tmp_path, argv, message):
    run = _version(0, tmp_path)
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    with pytest.raises(MedbenchError) as info:
        _history(*argv, *(["--store", tmp_path / "s"] if argv[0] == "add" else []))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_penalty_is_the_ci_width():
    """h^2 for short histories (a step between segments of n1 and n2 versions is kept when it exceeds
    h sqrt(1/n1 + 1/n2)), floored at the tolerance, BIC-like 2 ln(n) (h / 1.96)^2 once larger."""
    assert st.penalty(0.05, 6, 0.01) == pytest.approx(0.05 ** 2)
    assert st.penalty(0.0, 6, 0.01) == pytest.approx(0.01 ** 2 / 2)
    assert st.penalty(0.05, 30, 0.01) == pytest.approx(0.05 ** 2 * 2 * math.log(30) / 1.96 ** 2,
                                                            rel=1e-3)
    pen = st.penalty(0.05, 6, 0.01)
    assert st.change_points([0.9, 0.9, 0.9, 0.83, 0.83, 0.83], pen) == [3]  # step 0.07 > 0.05 * sqrt(2/3)
    assert st.change_points([0.9, 0.9, 0.9, 0.87, 0.87, 0.87], pen) == []  # 0.03 < 0.041
    assert st.change_points([0.9, 0.93, 0.9, 0.93, 0.9, 0.93], pen) == []  # jitter within the CI
    # the last version alone: the step must exceed 0.05 * sqrt(1/5 + 1) = 0.0548
    assert st.change_points([0.9, 0.9, 0.9, 0.9, 0.9, 0.85], pen) == []
    assert st.change_points([0.9, 0.9, 0.9, 0.9, 0.9, 0.84], pen) == [5]


def test_report_finds_exactly_the_known_step(store, tmp_path, capsys):
    assert _history("report", "--store", store, "--out", tmp_path / "rep") == 0
    out = capsys.readouterr().out
    analysis = json.loads((tmp_path / "rep" / "history.json").read_text())
    (series,) = analysis["series"]
    assert [v["version"] for v in series["versions"]] == [f"{i:x}" * 12 for i in range(1, 7)]
    found = {(t["pipeline"], t["metric"], c["index"]) for t in series["tracks"] for c in t["change_points"]}
    assert {p for p, _, _ in found} == {"hog-svm"} and {k for _, _, k in found} == {STEP_AT}
    assert {"accuracy", "roc_auc"} <= {m for _, m, _ in found}
    # the weakened pipeline: every change is for the worse in its metric's direction (Brier rises) except that its
    # less extreme probabilities are better calibrated (ECE falls: an improvement, lower is better)
    assert len(series["regressions"]) + len(series["improvements"]) == len(found)
    assert all(gain(c["metric"], c["step"]) < 0 for c in series["regressions"])
    assert all(gain(c["metric"], c["step"]) > 0 for c in series["improvements"])
    assert {c["metric"] for c in series["improvements"]} <= {"ece"} and "brier" in {
        c["metric"] for c in series["regressions"]}
    by_metric = {r["metric"]: r for r in series["regressions"]}
    auc = by_metric["roc_auc"]
    assert (auc["version"], auc["previous"]) == ("4" * 12, "3" * 12) and auc["step"] < -0.05
    assert auc["test"] == "DeLong" and auc["p"] < 0.001
    acc = by_metric["accuracy"]
    assert acc["test"] == "McNemar" and acc["p"] < 0.05
    hog = next(t for t in series["tracks"] if t["pipeline"] == "hog-svm" and t["metric"] == "roc_auc")
    assert hog["values"][:3] == [hog["values"][0]] * 3 and hog["values"][3:] == [hog["values"][3]] * 3
    assert all(b[0] <= v <= b[1] for v, b in zip(hog["values"], hog["ci"]))
    assert auc["before"] == pytest.approx(hog["values"][0]) and auc["after"] == pytest.approx(hog["values"][3])
    md = (tmp_path / "rep" / "history.md").read_text()
    table = md.split("### Regressions", 1)[1].split("###", 1)[0]
    assert table.count("| hog-svm") == len(series["regressions"]) and "cnn" not in table and "majority" not in table
    assert "ROC-AUC" in table and f"#4 ` {'4' * 12} `" in table
    pngs = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert pngs == [render.figure_name(0)]  # one grid of small multiples, not one figure per metric
    assert f"{len(series['regressions'])} regressions in 6 runs" in out


def test_no_step_no_change(tmp_path):
    """The same six versions without hog-svm's drop: nothing is found."""
    root = tmp_path / "flat"
    for i in range(6):
        res = synth.make((("hog-svm", "classical", 2.0), ("cnn", "deep", STRENGTHS["cnn"][i])), n=200,
                         n_resamples=None, created=f"2026-01-0{i + 1}T10:00:00+0000",
                         environment={"git_commit": f"{i + 1:x}" * 40, "git_dirty": False})
        history.add(synth.write(res, root / f"r{i}"), root / "store")
    (series,) = history.analyse(root / "store")["series"]
    assert [c for t in series["tracks"] for c in t["change_points"]] == []


# ------------------------------------------------------------------------------ hostile names, browser
@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    for i in range(4):
        run = _version(i, root / "runs", names=(HOSTILE, "majority"))
        res = json.loads((run / "results.json").read_text())
        res["dataset"]["title"] = "Chest <script>alert(2)</script> | x"
        synth.write(res, run)
        history.add(run, root / "store", commit=f"v{i}")
    render.write(history.analyse(root / "store"), root / "report")
    return root / "report"


def test_hostile_names_are_escaped(hostile_report):
    md = (hostile_report / "history.md").read_text()
    page = (hostile_report / "history.html").read_text()
    assert "<img" not in md and "<script" not in md
    assert "<img src" not in page and "<script" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;" in page
    regressions = md.split("### Regressions", 1)[1].split("###", 1)[0]
    rows = [ln for ln in regressions.splitlines() if ln.startswith("| &lt;img")]
    assert rows and all(r.count("|") == 10 for r in rows)  # 9 columns: the name's | did not split a cell


def test_history_html_in_chromium(hostile_report):
    """Headless Chromium's DOM of history.html: the hostile names as text, no injected element, every figure."""
    dom = browser.dump_dom(hostile_report / "history.html")
    assert "<script" not in dom and "onerror=" not in dom.replace("onerror=alert(1)&gt;", "")
    imgs = dom.count("<img ")
    assert imgs == len(list((hostile_report / "figures").glob("*.png"))) == 1  # one grid for the series
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and "Chest &lt;script&gt;alert(2)&lt;/script&gt;" in dom


# ---------------------------------------------------------------------------------------- real runs
@pytest.mark.slow
def test_real_runs_history_finds_the_weakened_version(shared_datasets, tmp_path):
    """Three real PneumoniaMNIST versions (majority, HOG + tree, HOG + XGBoost): the third cuts XGBoost to
    2 rounds of depth 1. The history report finds a change in hog-xgboost at version 3, and nothing in
    the pipelines that did not change."""
    if not (shared_datasets / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {shared_datasets / 'pneumoniamnist.npz'}")
    common = ["--pipelines", "majority", "hog-tree", "hog-xgboost", "--option", "hog-xgboost.xgboost__n_jobs=1",
              "--bootstrap-resamples", "200"]
    strong = ["--option", "hog-xgboost.xgboost__n_estimators=40"]
    weak = ["--option", "hog-xgboost.xgboost__n_estimators=2", "--option", "hog-xgboost.xgboost__max_depth=1"]
    runs = []
    for i, opts in enumerate([strong, strong, weak]):
        out = tmp_path / f"v{i + 1}"
        if runs:  # the unchanged jobs are reused from the previous version's folder, as a rerun would
            shutil.copytree(runs[-1] / "jobs", out / "jobs")
        assert main(["run", "--out", str(out), *common, *opts]) == 0
        runs.append(out)
        assert _history("add", out, "--store", tmp_path / "store", "--commit", f"v{i + 1}") == 0
    assert _history("report", "--store", tmp_path / "store", "--out", tmp_path / "rep") == 0
    (series,) = json.loads((tmp_path / "rep" / "history.json").read_text())["series"]
    assert [v["version"] for v in series["versions"]] == ["v1", "v2", "v3"]
    found = {(c["pipeline"], c["index"]) for c in series["regressions"] + series["improvements"]}
    assert found == {("hog-xgboost", 2)}
    auc = next(r for r in series["regressions"] if r["metric"] == "roc_auc")
    assert auc["previous"] == "v2" and auc["test"] == "DeLong" and auc["p"] < 0.05
    assert (tmp_path / "rep" / "history.html").is_file()


def test_medbench_history_through_the_cli_and_the_env_store(tmp_path, monkeypatch, capsys):
    """`medbench history add/report` as the CLI runs them, the store from $MEDBENCH_HISTORY; errors are one line."""
    monkeypatch.setenv("MEDBENCH_HISTORY", str(tmp_path / "env-store"))
    for i in range(2):
        assert main(["history", "add", str(_version(i, tmp_path))]) == 0
    assert len(history.entries()) == 2 and (tmp_path / "env-store" / "index.json").is_file()
    assert main(["history", "report"]) == 0
    assert (tmp_path / "env-store" / "report" / "history.html").is_file()
    assert main(["history", "add", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medbench: error: ") and err.count("\n") == 1
