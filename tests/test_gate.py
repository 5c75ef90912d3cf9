"""The regression gate: tolerance *and* significance, or a hard limit whatever the p-value; the locked
environment the baseline was made in; and the gate on real runs in both directions.

The real-run fixtures in ``tests/fixtures/gate/`` are results.json files medbench wrote (commands in
``tests/fixtures/gate/README.md``): the fast profile run with the newest OpenCV the project allows (drift
that is not a regression) and the fast profile with a deliberately weakened HOG-XGBoost (a regression).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from medbench import cli
from medbench.core.errors import MedbenchError
from medbench.evaluation import gate as regression
from medbench.evaluation import tolerances
from medbench.records import results as results_mod

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "baselines" / "pneumoniamnist-fast"
LOCK = ROOT / "requirements" / "lock.txt"
FIXTURES = Path(__file__).with_name("fixtures") / "gate"


# ------------------------------------------------------------------------------------- hard limits
def _row(delta: float, p: float, *, tolerance: float = 0.01, hard: float = 0.05, mode: str = "significant"):
    return regression.metric_row("sift-svm", 0, "specificity", 0.80, 0.80 + delta, tolerance, mode=mode,
                                 paired={"test": "McNemar", "p": p}, hard=hard)


@pytest.mark.parametrize(("delta", "p", "status", "beyond"), [
    (-0.005, 0.9, "ok", False),           # within the tolerance
    (-0.03, 0.2, "noise", False),         # beyond the tolerance, not significant, within the hard limit
    (-0.03, 0.001, "regression", False),  # beyond the tolerance and significant
    (-0.06, 0.2, "regression", True),     # beyond the hard limit: fails although p = 0.2
    (-0.05, 0.2, "noise", False),         # exactly the hard limit passes
    (+0.06, 0.2, "improved", False),
])
def test_hard_limit_fails_whatever_the_p_value(delta, p, status, beyond):
    row = _row(delta, p)
    assert (row["status"], row["beyond_hard"]) == (status, beyond)
    assert row["hard_limit"] == 0.05
    if beyond:
        assert row["marker"] == "worse" and "beyond the hard limit 0.05" in regression.noise_text(row)


def test_hard_limit_survives_holm_and_absolute_mode():
    rows = [_row(-0.06, 0.01), _row(-0.03, 0.01)]
    rows[1]["pipeline"] = "hog-svm"
    # three more pipelines with large p: Holm lifts the two small p-values above alpha
    rows += [_row(0.0, 0.9) for _ in range(3)]
    for i, r in enumerate(rows[2:]):
        r["pipeline"] = f"other{i}"
    regression.holm_over_pipelines(rows, lambda r: 0.01, 0.05)
    assert rows[1]["p_holm"] >= 0.05 and rows[1]["status"] == "noise"
    assert rows[0]["p_holm"] >= 0.05 and rows[0]["status"] == "regression"  # the hard limit still fails it
    absolute = _row(-0.03, 0.9, mode="absolute")
    assert absolute["status"] == "regression" and not absolute["beyond_hard"]


def test_hard_limits_parse_per_metric_and_per_pipeline():
    tol = tolerances.loads("""
        [compare]
        mode = "significant"
        [metrics]
        "*" = 0.01
        specificity = 0.02
        [hard]
        "*" = 0.05
        specificity = 0.12
        [pipelines.cnn]
        metrics = { "*" = 0.08 }
        hard = { "*" = 0.15 }
    """, "t.toml")
    assert tol.hard_limit("hog-svm", "accuracy") == 0.05
    assert tol.hard_limit("hog-svm", "specificity") == 0.12
    assert tol.hard_limit("cnn", "specificity") == 0.15  # the pipeline's "*" wins over the global metric
    assert tolerances.defaults().hard_limit("hog-svm", "accuracy") == float("inf")
    assert tol.to_dict()["hard"] == {"*": 0.05, "specificity": 0.12}
    assert tol.to_dict()["pipelines"]["cnn"]["hard"] == {"*": 0.15}


@pytest.mark.parametrize(("text", "message"), [
    ('[hard]\naccuracy = 0.005', "hard limit of accuracy for every pipeline (0.005) is below its tolerance (0.01)"),
    ('[pipelines.cnn]\nmetrics = { "*" = 0.08 }\n[hard]\n"*" = 0.05',
     "hard limit of accuracy for pipeline cnn (0.05) is below its tolerance (0.08)"),
    ('[hard]\nacuracy = 0.1', "acuracy"),
    ('[hard]\n"*" = -0.1', "hard"),
])
def test_bad_hard_limits_are_one_line_errors(text, message):
    with pytest.raises(MedbenchError) as err:
        tolerances.loads(text, "bad.toml")
    assert message in str(err.value) and "bad.toml" in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------- the baseline's gate
def test_baseline_declares_the_gate():
    tol = tolerances.load(BASELINE / "tolerances.toml")
    assert tol.mode == "significant" and tol.alpha == 0.05 and tol.missing == "fail"
    assert not tol.runtime_check  # CI machines differ: runtime is benchmarked, not gated
    for metric in ("accuracy", "roc_auc", "sensitivity", "specificity"):
        for pipeline in ("hog-svm", "sift-svm", "cnn"):
            hard, allowed = tol.hard_limit(pipeline, metric), tol.metric_tolerance(pipeline, metric)
            assert allowed <= hard < 1, (pipeline, metric)  # every metric has a finite hard limit


def test_baseline_was_made_in_the_locked_environment():
    """The baseline's results.json records the digest of the lock it was made with: refreshing the lock
    without regenerating the baseline (or the other way round) fails here."""
    base = json.loads((BASELINE / "results.json").read_text(encoding="utf-8"))
    lines = [line.split("#")[0].strip() for line in LOCK.read_text(encoding="utf-8").splitlines()]
    pins = sorted(" ".join(line.split()) for line in lines if line)
    assert len(pins) > 100 and all("==" in p for p in pins)
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()
    assert base["environment"].get("lock_digest") == digest, (
        "baselines/pneumoniamnist-fast was not made with requirements/lock.txt: run `tox -e regress` and "
        "`medbench baseline update results/regress-fast` after `tox -e lock`")
    pins = dict(line.split("==", 1) for line in LOCK.read_text(encoding="utf-8").splitlines()
                if "==" in line and not line.startswith("#") and "python_full_version >= '3.12'" not in line)
    for lib, version in base["environment"]["libraries"].items():
        if lib in pins:
            assert pins[lib].split(" ;")[0].strip() == version, lib


def test_every_tox_environment_installs_from_the_lock():
    import configparser
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    assert "PIP_CONSTRAINT = {tox_root}/requirements/lock.txt" in ini["testenv"]["set_env"]
    assert "--extra mutants" in ini["testenv:lock"]["commands"]  # every extra stays in the lock
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c requirements/lock.txt tox" in ci and "MEDBENCH_STRICT_SKIPS=1" in ci


# ---------------------------------------------------------------------------- real runs, both ways
def _compare(capsys, new: Path, tmp_path: Path) -> tuple[int, dict, str]:
    status = cli.main(["compare", str(BASELINE), str(new), "--no-runtime", "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    return status, json.loads((tmp_path / "c.json").read_text(encoding="utf-8")), out


def test_host_drift_passes_the_gate_and_failed_the_absolute_one(capsys, tmp_path):
    """The drift that turned CI red, on real runs: the old baseline (made on one host) and the same fast
    profile rerun on another host with every recorded library version identical. Eight metrics drop by more
    than their tolerance; none is significant after Holm, none beyond a hard limit: the baseline's gate
    passes (exit 0), the old absolute tolerances failed (exit 1)."""
    drift = FIXTURES / "host-drift"
    base, new = results_mod.load(drift / "base" / "results.json"), results_mod.load(drift / "new" / "results.json")
    assert base["environment"]["libraries"] == new["environment"]["libraries"]  # the host moved, not a library
    gate = tolerances.load(BASELINE / "tolerances.toml")
    report = regression.compare(regression.with_statistics(base), regression.with_statistics(new), gate,
                                runtime=False)
    assert report["exit_status"] == 0 and report["verdict"] == "pass"
    moved = [r for r in report["metrics"] if r["status"] == "noise"]
    assert len(moved) == 8 and all(r["p_holm"] >= 0.05 and not r["beyond_hard"] for r in moved)
    spec = next(r for r in moved if (r["pipeline"], r["metric"]) == ("sift-svm", "specificity"))
    assert spec["delta"] == pytest.approx(0.684 - 0.756, abs=0.002) and spec["test"] == "McNemar (negative images)"
    status = cli.main(["compare", str(drift / "base"), str(drift / "new"), "--no-runtime", "--tolerances",
                       str(drift / "absolute-tolerances.toml"), "--json", str(tmp_path / "old.json")])
    old = json.loads((tmp_path / "old.json").read_text(encoding="utf-8"))
    assert status == 1 and len(old["regressions"]) == 8 and "REGRESSION: 8 of 56" in capsys.readouterr().out


def test_newest_opencv_passes_the_gate(capsys, tmp_path):
    """The fast profile run by ``tox -e drift`` (the newest versions pyproject allows: OpenCV 5.1 instead
    of the lock's 5.0) against the committed baseline: exit 0 (measured: no metric moved at all)."""
    fixture = FIXTURES / "opencv-drift" / "results.json"
    new = results_mod.load(fixture)
    base = results_mod.load(BASELINE / "results.json")
    moved = {d["label"]: d for d in regression.environment_differences(base, new)}
    assert moved["opencv-python-headless"]["base"].startswith("5.0")
    assert moved["opencv-python-headless"]["new"].startswith("5.1")
    status, report, out = _compare(capsys, fixture, tmp_path)
    assert status == 0 and report["verdict"] == "pass", out
    assert "gate: a drop fails when beyond its tolerance and significant" in out


def test_weakened_pipeline_fails_the_gate(capsys, tmp_path):
    """The fast profile with ``--option hog-xgboost.xgboost__n_estimators=3``: a real, significant drop of
    that pipeline only: exit 1, and every regression is HOG-XGBoost's."""
    status, report, out = _compare(capsys, FIXTURES / "weakened-hog-xgboost" / "results.json", tmp_path)
    assert status == 1 and report["verdict"] == "regression", out
    assert {r["pipeline"] for r in report["regressions"]} == {"hog-xgboost"}
    auc = next(r for r in report["metrics"] if r["pipeline"] == "hog-xgboost" and r["metric"] == "roc_auc")
    assert auc["status"] == "regression" and auc["test"] == "DeLong" and auc["p_holm"] < 1e-3
    assert "REGRESSION" in out and "hog-xgboost" in out


def test_tolerances_naming_a_pipeline_no_run_has_are_refused(tmp_path, capsys):
    import synthetic_results as synth
    run = synth.write(synth.make(), tmp_path / "run")
    (tmp_path / "t.toml").write_text('[pipelines.nosuch]\nmetrics = { roc_auc = 0.02 }\n', encoding="utf-8")
    status = cli.main(["compare", str(run), str(run), "--tolerances", str(tmp_path / "t.toml")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "[pipelines.nosuch] names a pipeline neither run has" in err
    assert "cnn, hog-svm, majority" in err and len(err.splitlines()) == 1


def test_compare_names_the_cpu_when_hosts_differ():
    base = results_mod.load(BASELINE / "results.json")
    new = json.loads(json.dumps(base))
    new["environment"]["cpu_id"] = "family 26 model 2; avx2 avx512f"
    diffs = {d["label"]: d for d in regression.environment_differences(base, new)}
    assert diffs["CPU family / SIMD"]["new"] == "family 26 model 2; avx2 avx512f"
