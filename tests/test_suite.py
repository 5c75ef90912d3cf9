"""Benchmark suites: suite-file errors (one line naming file and field), the analysis across datasets on
synthetic results with known answers (ranks, Friedman, Nemenyi's critical difference against Demšar's
table, classical-vs-deep wins that need a significant paired test, the too-few-datasets path), the
report's escaping, and one real suite run on small image folders."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import synthetic_results as synth
from scipy import stats as sps

from medbench import api_suite, cli
from medbench.commands import suite as suite_cmd
from medbench.core.errors import MedbenchError
from medbench.evaluation import across as suite_analysis
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.models import registry
from medbench.records import results as results_mod
from medbench.records import schemas
from medbench.reports import suite as suite_report
from medbench.running import suitefile as suite_mod

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"

MINIMAL = """
[[datasets]]
dataset = "pneumoniamnist"
"""


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(MedbenchError) as exc:
        suite_mod.load(path)
    message = str(exc.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


# --- the suite file ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "field", "words"), [
    ('[[datasets]]\ndataset = "pneumoniamnist"\n\n[[datasets]]\ndataset = "folder:x"\nalow_missing = true\n',
     "datasets[1].alow_missing", "is not a known key"),
    ('[suite]\nseeds = "0"\n' + MINIMAL, "suite.seeds", "must be an array"),
    ('[suite]\nseeds = [0, 0]\n' + MINIMAL, "suite.seeds", "duplicate"),
    ('[suite]\nimage_size = 4\n' + MINIMAL, "suite.image_size", "out of range"),
    ('[[datasets]]\ntask = "etiology"\n', "datasets[0].dataset", "missing (required)"),
    ('[analysis]\nmetric = "accuracy"\n' + MINIMAL, "analysis.metric", "'roc_auc'"),
    ('[analysis]\nalpha = 0\n' + MINIMAL, "analysis.alpha", "out of range"),
    ('[suite]\ntitle = "x"\n', "datasets", "missing (required)"),
    ('[sweet]\n' + MINIMAL, "sweet", "is not a known key"),
    ('[[datasets]]\ndataset = "folder:a"\n[[datasets]]\ndataset = "folder:b/a"\n', "datasets[1]",
     "'a' is the name of datasets[0] too"),
    ('[[datasets]]\nname = "x"\ndataset = "folder:a"\n[[datasets]]\nname = "x"\ndataset = "folder:b"\n',
     "datasets[1].name", "is the name of datasets[0] too"),
    ('[[datasets]]\nname = "../up"\ndataset = "folder:a"\n', "datasets[0].name", "does not have the expected form"),
    ('[[datasets]]\ndataset = "folder:${MEDBENCH_TEST_UNSET_VARIABLE}/x"\n', "datasets[0].dataset",
     "${MEDBENCH_TEST_UNSET_VARIABLE}: only ${MEDBENCH_DATA_DIR} is expanded"),
    ('[[datasets]]\ndataset = "folder:"\n', "datasets[0].dataset", "has no path"),
])
def test_suite_file_errors_name_file_and_field(tmp_path, monkeypatch, text, field, words):
    monkeypatch.delenv("MEDBENCH_TEST_UNSET_VARIABLE", raising=False)
    message = _error(_write(tmp_path, text))
    assert f": {field}:" in message, message
    assert words in message, message


def test_unreadable_suite_files(tmp_path):
    assert "is not valid TOML" in _error(_write(tmp_path, "[suite\nname = 1\n"))
    assert "does not exist" in _error(tmp_path / "nope.toml")
    assert "is a folder" in _error(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[suite]\ntitle = "caf\xe9"\n')
    assert "not UTF-8" in _error(bad)


def test_paths_are_relative_to_the_suite_file_and_variables_expand(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data))
    text = """
[suite]
pipelines = ["majority", "hog-svm"]
seeds = [0, 1]
[suite.options.hog-svm]
C = 5
gamma = "scale"

[[datasets]]
dataset = "folder:images/set-a"
[[datasets]]
dataset = "coronahack:${MEDBENCH_DATA_DIR}/coronahack"
task = "etiology"
allow_missing = true
seeds = [3]
[datasets.options.hog-svm]
C = 10
[[datasets]]
name = "third"
dataset = "folder:/srv/xrays/x"
"""
    (tmp_path / "sub").mkdir()
    s = suite_mod.load(_write(tmp_path / "sub", text))
    a, b, c = s.datasets
    assert s.name == "s" and s.title == "s" and s.metric == "roc_auc" and s.alpha == 0.05
    assert a.dataset == f"folder:{tmp_path / 'sub' / 'images' / 'set-a'}" and a.name == "set-a"
    assert a.written == "folder:images/set-a"
    assert b.dataset == f"coronahack:{data / 'coronahack'}" and b.name == "coronahack-etiology"
    assert b.task == "etiology" and b.allow_missing and not a.allow_missing
    assert (a.seeds, b.seeds) == ([0, 1], [3])
    assert a.pipelines == b.pipelines == ["majority", "hog-svm"]
    # option values as the command line gives them; the dataset's options win key by key
    assert a.options == {"hog-svm": {"C": "5", "gamma": "scale"}}
    assert b.options == {"hog-svm": {"C": "10", "gamma": "scale"}}
    assert c.dataset == "folder:/srv/xrays/x" and c.name == "third"
    with pytest.raises(MedbenchError, match=r"datasets\[0\]\.dataset: .*images/set-a does not exist"):
        suite_mod.check_paths(s)


@pytest.mark.parametrize("name", ["chest-xray.toml", "smoke.toml"])
def test_shipped_suites_are_valid(name, monkeypatch, tmp_path):
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(tmp_path))
    s = suite_mod.load(SUITES / name)
    assert s.name == Path(name).stem
    for ds in s.datasets:  # every pipeline and option is known, as run_suite checks before running
        registry.validate_options(registry.resolve(ds.pipelines), ds.options)
    if name == "chest-xray.toml":
        assert [d.name for d in s.datasets] == ["pneumoniamnist", "kermany", "coronahack-pneumonia",
                                                "coronahack-etiology"]
        assert s.datasets[1].dataset == f"folder:{tmp_path / 'chest_xray'}"
        assert all(d.allow_missing for d in s.datasets[2:])
        assert "not independent" in s.note


# --- Nemenyi and Friedman against hand-computed values ----------------------------------------------

def test_nemenyi_critical_values_match_demsar_table():
    # Demšar (2006), Table 5(a): q_0.05 for k = 2..10
    table = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    assert [st.nemenyi_q(k) for k in range(2, 11)] == pytest.approx(table, abs=1e-3)  # table: 3 digits
    # CD for k = 3 pipelines on N = 5 datasets: 2.343 * sqrt(3 * 4 / (6 * 5))
    assert st.critical_difference(3, 5) == pytest.approx(2.343 * math.sqrt(12 / 30), abs=1e-3)
    assert st.critical_difference(3, 5) == pytest.approx(1.482, abs=1e-3)
    assert st.nemenyi_q(3, alpha=0.10) == pytest.approx(2.052, abs=1e-3)  # Table 5(b)


def test_friedman_statistic_by_hand():
    # ranks per dataset (1 = best): R = (1.2, 2.0, 2.8); chi2 = 12N/(k(k+1)) (sum R^2 - k(k+1)^2/4) = 6.4
    ranks = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3], [1, 2, 3]], dtype=float)
    scores = 1.0 - ranks / 10  # higher score = better rank
    fr = st.friedman(scores)
    assert fr["chi2"] == pytest.approx(6.4)
    assert fr["p_chi2"] == pytest.approx(math.exp(-6.4 / 2))  # chi-square, 2 df
    assert fr["F"] == pytest.approx(4 * 6.4 / (5 * 2 - 6.4))  # Iman-Davenport
    assert (fr["df1"], fr["df2"]) == (2, 8)
    assert fr["p"] == pytest.approx(sps.f.sf(4 * 6.4 / 3.6, 2, 8))
    tie = st.friedman(np.ones((5, 3)))
    assert tie["chi2"] == 0 and tie["p"] == 1.0


# --- the analysis on synthetic results --------------------------------------------------------------

DOMINANT = (("hog-svm", "classical", 3.0), ("cnn", "deep", 0.8), ("majority", "baseline", 0.0))


def _runs(n_datasets: int, pipelines=DOMINANT, **kw) -> list[tuple[str, dict]]:
    """Synthetic datasets; each gets its own number of test images, hence its own random scores."""
    runs = []
    for i in range(n_datasets):
        res = synth.make(pipelines=pipelines, n=60 + 8 * i, n_resamples=200, spec=f"synthetic-{i}",
                         title=f"Synthetic {i}", **kw)
        res["dataset"]["fingerprint"] = f"{i:064d}"
        runs.append((f"set{i}", res))
    return runs


def test_a_pipeline_best_on_every_dataset_ranks_first_and_friedman_rejects():
    a = suite_analysis.analyse(_runs(5))
    auc = {p: [a["cells"][p][f"set{i}"]["roc_auc"]["value"] for i in range(5)] for p, _, _ in DOMINANT}
    assert all(s > c > 0.5 for s, c in zip(auc["hog-svm"], auc["cnn"])), auc  # the premise
    assert a["ranks"]["pipelines"] == ["hog-svm", "cnn", "majority"]
    assert a["ranks"]["mean"] == {"hog-svm": 1.0, "cnn": 2.0, "majority": 3.0}
    om = a["omnibus"]
    assert om["status"] == "ok" and om["test"] == "Friedman" and om["n_datasets"] == 5 and om["k"] == 3
    assert om["chi2"] == pytest.approx(10.0)  # complete agreement: chi2 = N (k - 1)
    assert om["p_chi2"] == pytest.approx(math.exp(-5))
    assert om["F"] is None and om["p"] == 0.0 and om["significant"]
    post = a["posthoc"]
    assert post["cd"] == pytest.approx(st.critical_difference(3, 5))
    sig = {(p["better"], p["worse"]): p["significant"] for p in post["pairs"]}
    assert sig == {("hog-svm", "cnn"): False, ("hog-svm", "majority"): True, ("cnn", "majority"): False}
    assert post["cliques"] == [["hog-svm", "cnn"], ["cnn", "majority"]]
    assert any("hog-svm is better than majority" in line for line in a["verdict"])
    json.dumps(a, allow_nan=False)  # suite.json is strict JSON


def test_ranks_follow_the_scores_per_dataset():
    pipes = (("hog-svm", "classical", 1.0), ("hog-tree", "classical", 1.1), ("cnn", "deep", 0.9),
             ("majority", "baseline", 0.0))
    a = suite_analysis.analyse(_runs(6, pipes), metric="balanced_accuracy")
    names = [p for p, _, _ in pipes]
    for i in range(6):
        vals = [a["cells"][p][f"set{i}"]["balanced_accuracy"]["value"] for p in names]
        expected = sps.rankdata([-v for v in vals])
        assert [a["ranks"]["per_dataset"][f"set{i}"][p] for p in names] == list(expected)
    means = {p: np.mean([a["ranks"]["per_dataset"][f"set{i}"][p] for i in range(6)]) for p in names}
    assert a["ranks"]["mean"] == pytest.approx(means)
    assert a["ranks"]["pipelines"] == sorted(names, key=lambda p: means[p])


@pytest.mark.parametrize("n", [1, 3, 4])
def test_too_few_datasets_gives_no_p_value(n):
    a = suite_analysis.analyse(_runs(n))
    om = a["omnibus"]
    assert om["status"] == "too_few_datasets" and not om["significant"] and "p" not in om
    assert a["posthoc"] is None
    assert f"only {n} dataset" in om["reason"] and f"from {suite_analysis.MIN_DATASETS} on" in om["reason"]
    across = a["classical_vs_deep"]["across"]
    assert across["status"] == "too_few_datasets" and across["p"] is None
    assert a["ranks"]["mean"]["hog-svm"] == 1.0  # ranks are still given
    assert any(line.startswith("No test across datasets") for line in a["verdict"])
    assert not any("p =" in line or "p <" in line for line in a["verdict"])


def test_two_pipelines_use_wilcoxon():
    a = suite_analysis.analyse(_runs(6, DOMINANT[:2]))
    om = a["omnibus"]
    assert om["test"] == "Wilcoxon signed-rank" and a["posthoc"] is None
    assert om["p"] == pytest.approx(2 / 2 ** 6)  # exact: all six differences the same way


def test_classical_vs_deep_win_needs_a_significant_paired_test():
    close = (("hog-svm", "classical", 1.0), ("cnn", "deep", 0.98), ("majority", "baseline", 0.0))
    clear = suite_analysis.analyse(_runs(5))
    tight = suite_analysis.analyse(_runs(5, close))
    for a in (clear, tight):
        for row in a["classical_vs_deep"]["rows"]:
            assert row["test"] == "DeLong"
            expected = "tie" if row["p"] >= 0.05 else ("win" if row["diff"] > 0 else "loss")
            assert row["outcome"] == expected, row
    assert clear["classical_vs_deep"]["counts"]["win"] == 5
    tight_rows = tight["classical_vs_deep"]["rows"]
    assert any(r["outcome"] == "tie" and r["diff"] > 0 for r in tight_rows)  # higher, but not a win
    c = tight["classical_vs_deep"]["counts"]
    assert c["win"] + c["tie"] + c["loss"] == 5


def test_paired_test_read_from_statistics_matches_a_recomputed_delong():
    name, res = _runs(1)[0]
    stats = evaluation.statistics(res)
    stored = suite_analysis.paired(res, stats, "cnn", "hog-svm", "roc_auc")  # stored: hog-svm is the reference
    assert any(c["a_pipeline"] == "cnn" and c["b_pipeline"] == "hog-svm" for c in stats["comparisons"])
    job = {j["pipeline"]: j for j in res["jobs"]}
    y = np.asarray(job["cnn"]["predictions"]["y_true"])
    d = st.delong(y == 1, np.asarray(job["cnn"]["predictions"]["proba"])[:, 1],
                  np.asarray(job["hog-svm"]["predictions"]["proba"])[:, 1])
    assert stored["p"] == pytest.approx(d["p"]) and stored["diff"] == pytest.approx(d["diff"])
    turned = suite_analysis.paired(res, stats, "hog-svm", "cnn", "roc_auc")
    assert turned["diff"] == pytest.approx(-stored["diff"]) and turned["p"] == stored["p"]
    # a pair the statistics do not hold (neither is the reference): DeLong from the predictions
    fresh = suite_analysis.paired(res, stats, "cnn", "majority", "roc_auc")
    assert not any({c["a_pipeline"], c["b_pipeline"]} == {"cnn", "majority"} for c in stats["comparisons"])
    d2 = st.delong(y == 1, np.asarray(job["cnn"]["predictions"]["proba"])[:, 1],
                   np.asarray(job["majority"]["predictions"]["proba"])[:, 1])
    assert fresh["test"] == "DeLong" and fresh["p"] == pytest.approx(d2["p"])


def test_several_seeds_need_every_seed_significant():
    runs = _runs(2, seeds=(0, 1))
    a = suite_analysis.analyse(runs)
    for (_name, res), row in zip(runs, a["classical_vs_deep"]["rows"]):
        t = suite_analysis.paired(res, evaluation.statistics(res), row["classical"], row["deep"], "roc_auc")
        assert [s["seed"] for s in t["per_seed"]] == [0, 1]
        assert row["p"] == max(s["p"] for s in t["per_seed"])
        assert row["diff"] == pytest.approx(np.mean([s["diff"] for s in t["per_seed"]]))
    cell = a["cells"]["hog-svm"]["set0"]["roc_auc"]
    assert cell["ci"] is None and cell["sd"] is not None  # mean ± sd over seeds, no single-job CI


def test_multiclass_datasets_use_the_paired_bootstrap():
    a = suite_analysis.analyse(_runs(2, class_names=("normal", "bacteria", "virus")))
    assert {r["test"] for r in a["classical_vs_deep"]["rows"]} == {"paired bootstrap"}


def test_a_pipeline_missing_on_one_dataset_is_not_ranked():
    runs = _runs(5)
    runs[2][1]["jobs"] = [j for j in runs[2][1]["jobs"] if j["pipeline"] != "cnn"]
    runs[2][1].pop("statistics")
    runs[3][1]["jobs"] = [j if j["pipeline"] != "majority" else
                          {"pipeline": "majority", "seed": 0, "family": "baseline", "status": "error", "error": "boom"}
                          for j in runs[3][1]["jobs"]]
    runs[3][1].pop("statistics")
    a = suite_analysis.analyse(runs)
    assert a["ranks"]["pipelines"] == ["hog-svm"]
    excluded = {x["pipeline"]: x["reason"] for x in a["ranks"]["excluded"]}
    assert "set2 (not run)" in excluded["cnn"] and "set3 (failed)" in excluded["majority"]
    assert a["omnibus"]["status"] == "too_few_pipelines"
    assert a["cells"]["majority"]["set3"]["status"] == "failed"


def test_same_data_twice_is_flagged():
    runs = _runs(2)
    runs[1][1]["dataset"]["fingerprint"] = runs[0][1]["dataset"]["fingerprint"]
    a = suite_analysis.analyse(runs)
    assert a["shared_data"] == [["set0", "set1"]]
    assert any("not independent" in line for line in a["verdict"])


# --- the report ----------------------------------------------------------------------------------------

def test_report_escapes_names_and_draws_the_cd_diagram(tmp_path):
    pipes = (("hog-svm", "classical", 3.0), ("cnn<img src=x>|", "deep", 0.8), ("majority", "baseline", 0.0))
    a = suite_analysis.analyse(_runs(5, pipes))
    s = suite_mod.Suite(name="esc", title="Title <script>alert(1)</script>", file="s.toml", datasets=[],
                        note="a | b <b>bold</b>")
    doc = json.loads(json.dumps(suite_analysis.document(s, a, [])))
    suite_report.write_suite_report(doc, tmp_path)
    page = (tmp_path / "suite.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;" in page and "cnn&lt;img src=x&gt;" in page
    md = (tmp_path / "suite.md").read_text(encoding="utf-8")
    assert "cnn&lt;img src=x&gt;&#124;" in md  # a table cell stays one cell
    assert "CD = 1.482 ranks" in md.replace("critical difference ", "")
    assert (tmp_path / "figures" / "cd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "report.html" in page and "report.md" not in page  # links follow the page's format


# --- running ----------------------------------------------------------------------------------------

def _suite_command(argv: list[str]) -> int:
    """``medbench ARGV`` through the real CLI (its parser, command list and error handling)."""
    assert suite_cmd in cli.COMMAND_MODULES
    return cli.main(argv)


def test_a_dataset_that_cannot_run_is_recorded_and_the_suite_goes_on(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    suite_file = _write(tmp_path, '[suite]\npipelines = ["majority"]\n[[datasets]]\ndataset = "folder:empty"\n')
    assert _suite_command(["suite", str(suite_file), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "medbench: error: empty: no class folders" in err
    doc = json.loads((tmp_path / "out" / "suite.json").read_text(encoding="utf-8"))
    assert doc["datasets"][0]["status"] == "error" and "no class folders" in doc["datasets"][0]["error"]
    assert doc["analysis"]["failed_datasets"][0]["name"] == "empty"
    md = (tmp_path / "out" / "suite.md").read_text(encoding="utf-8")
    assert "**empty: no results.** no class folders" in md
    assert api_suite.report_suite(tmp_path / "out").read_text(encoding="utf-8") == md


def test_bad_input_is_refused_before_anything_runs(tmp_path):
    bad_option = _write(tmp_path, '[suite]\npipelines = ["hog-svm"]\n[suite.options.hog-svm]\nnot_a_param = 1\n'
                                  '[[datasets]]\ndataset = "pneumoniamnist"\n')
    with pytest.raises(MedbenchError, match=r"s\.toml: datasets\[0\]: pneumoniamnist: .*not_a_param"):
        api_suite.run_suite(bad_option, tmp_path / "out")
    missing = _write(tmp_path, '[[datasets]]\ndataset = "folder:no-such-folder"\n', "m.toml")
    with pytest.raises(MedbenchError, match=r"m\.toml: datasets\[0\]\.dataset: .*no-such-folder does not exist"):
        api_suite.run_suite(missing, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(MedbenchError, match="has no suite.json: not a suite folder"):
        api_suite.report_suite(tmp_path)


# --- one real suite --------------------------------------------------------------------------------------

def _window(folder: Path, start: int, n: int) -> None:
    """Keep images start .. start + n - 1 (sorted) of each class folder: distinct, overlapping subsets."""
    for cls in folder.iterdir():
        for i, f in enumerate(sorted(cls.iterdir())):
            if not start <= i < start + n:
                f.unlink()


@pytest.mark.slow
def test_smoke_suite_end_to_end(tmp_path, make_image_folder):
    for i, name in enumerate("abc"):
        _window(make_image_folder(20 + 6 * i, name=f"smoke-data/{name}"), 6 * i, 20)
    text = (SUITES / "smoke.toml").read_text(encoding="utf-8")
    text = text.replace('title = "Smoke suite: three small chest X-ray folders"',
                        'title = "Smoke <b>suite</b> & co"')
    suite_file = _write(tmp_path, text, "smoke.toml")
    out = tmp_path / "out"
    lines: list[str] = []
    doc = api_suite.run_suite(suite_file, out, log=lines.append)
    assert [d["status"] for d in doc["datasets"]] == ["ok"] * 3
    stored = json.loads((out / "suite.json").read_text(encoding="utf-8"))
    schemas.validate(stored, suite_analysis.SUITE_JSON_SCHEMA, "suite.json")
    assert stored["analysis"] == json.loads(json.dumps(doc["analysis"]))
    a = doc["analysis"]
    assert [d["name"] for d in a["datasets"]] == ["a", "b", "c"]
    assert len({d["fingerprint"] for d in a["datasets"]}) == 3 and a["shared_data"] == []
    for name in "abc":  # the suite's table is each dataset's own results
        res = results_mod.load(out / name)
        assert res["config"]["image_size"] == 32
        for job in res["jobs"]:
            assert a["cells"][job["pipeline"]][name]["roc_auc"]["value"] == job["metrics"]["roc_auc"]
    assert a["omnibus"]["status"] == "too_few_datasets"
    md = (out / "suite.md").read_text(encoding="utf-8")
    for needle in ("## Verdict", "## Ranks by ROC-AUC", "No test: only 3 datasets", "[report](a/report.md)",
                   "| hog-svm", "| majority", "figures/cd.png"):
        assert needle in md, needle
    page = (out / "suite.html").read_text(encoding="utf-8")
    assert "Smoke &lt;b&gt;suite&lt;/b&gt; &amp; co" in page and "<b>suite</b>" not in page
    assert (out / "figures" / "cd.png").is_file()
    # rebuilt from the results.json files alone: the same report
    shutil.move(out / "suite.md", tmp_path / "first.md")
    assert api_suite.is_suite_dir(out) and api_suite.report_suite(out) == out / "suite.md"
    assert (out / "suite.md").read_text(encoding="utf-8") == md
    # a second run resumes every job
    again: list[str] = []
    api_suite.run_suite(suite_file, out, log=again.append)
    job_lines = [x for x in again if " seed 0: " in x]
    assert len(job_lines) == 9 and all("(cached)" in x for x in job_lines), job_lines


@pytest.mark.slow  # ~6 s alone: two runs, reports and figures
def test_suite_command_end_to_end_through_the_cli(tmp_path, make_image_folder, capsys):
    """``medbench suite FILE --out DIR`` through :func:`medbench.cli.main`: two tiny folders, the quick
    pipelines; exit 0, every job run, the per-dataset results and the suite report written; a second call
    resumes every job."""
    for i, name in enumerate("ab"):
        _window(make_image_folder(14 + 4 * i, name=f"tiny/{name}"), 4 * i, 14)
    suite_file = _write(tmp_path, '''[suite]
name = "tiny"
title = "Tiny CLI suite"
pipelines = ["majority", "hog-tree"]
seeds = [0]
image_size = 16
bootstrap_resamples = 30

[[datasets]]
name = "a"
dataset = "folder:tiny/a"

[[datasets]]
name = "b"
dataset = "folder:tiny/b"
''', "tiny.toml")
    out = tmp_path / "out"
    capsys.readouterr()
    assert cli.main(["suite", str(suite_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "error" not in err.lower(), err
    doc = json.loads((out / "suite.json").read_text(encoding="utf-8"))
    schemas.validate(doc, suite_analysis.SUITE_JSON_SCHEMA, "suite.json")
    assert [(d["name"], d["status"]) for d in doc["datasets"]] == [("a", "ok"), ("b", "ok")]
    for name in "ab":
        res = results_mod.load(out / name)
        assert sorted((j["pipeline"], j["status"]) for j in res["jobs"]) == [("hog-tree", "ok"), ("majority", "ok")]
        assert res["config"]["image_size"] == 16 and (out / name / "report.md").is_file()
        for job in res["jobs"]:
            assert doc["analysis"]["cells"][job["pipeline"]][name]["roc_auc"]["value"] == job["metrics"]["roc_auc"]
    md = (out / "suite.md").read_text(encoding="utf-8")
    assert "Tiny CLI suite" in md and "[report](a/report.md)" in md and "| hog-tree" in md
    assert (out / "suite.html").is_file()
    assert cli.main(["suite", str(suite_file), "--out", str(out)]) == 0  # resumed: every job cached
    again = capsys.readouterr().err
    jobs = [line for line in again.splitlines() if " seed 0: " in line]
    assert len(jobs) == 4 and all("(cached)" in line for line in jobs), again
