"""Calibration and operating-point metrics (Brier, ECE, MCC, PPV, NPV) against hand-worked values, and the
direction of lower-is-better metrics wherever medbench judges or ranks (compare, history, suite, rank_key).

Every expected number below is worked out by hand in the comments (the independent reference); the
committed baseline (written before these metrics) checks the "new metrics are not judged" line on real data.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from medbench.evaluation import across as suite_analysis
from medbench.evaluation import gate as regression
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.evaluation import tolerances
from medbench.metrics import (
    METRICS,
    brier_score,
    classification_metrics,
    disagreement,
    expected_calibration_error,
    gain,
    mcc_from_confusion,
)
from medbench.records import results as results_mod
from medbench.records import view
from medbench.reports import calibration as cal_report
from medbench.reports import compare as render

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "baselines" / "pneumoniamnist-fast" / "results.json"

# Five binary images, P(positive) per image, positive class 1.
Y5 = np.array([1, 0, 1, 0, 1])
P5 = np.array([0.9, 0.2, 0.4, 0.7, 0.93])


def _binary(p_pos: np.ndarray) -> np.ndarray:
    return np.c_[1 - p_pos, p_pos]


def test_brier_hand_worked_binary_and_multiclass():
    # (0.1^2 + 0.2^2 + 0.6^2 + 0.7^2 + 0.07^2) / 5 = (0.01 + 0.04 + 0.36 + 0.49 + 0.0049) / 5 = 0.18098
    assert brier_score(Y5, _binary(P5)) == pytest.approx(0.18098, abs=1e-12)
    # three classes, halved sums per image: (0.25+0.09+0.04)/2 = 0.19, (0.01+0.81+0.64)/2 = 0.73,
    # (0.04+0.04+0.16)/2 = 0.12; mean 1.04 / 3
    y3 = np.array([0, 1, 2])
    p3 = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert brier_score(y3, p3) == pytest.approx(1.04 / 3, abs=1e-12)
    assert brier_score(y3, np.eye(3)) == 0.0 and brier_score(y3, np.eye(3)[[1, 2, 0]]) == 1.0  # range [0, 1]


def test_ece_hand_worked_top_label_15_bins():
    # top-label confidence 0.9, 0.8, 0.6, 0.7, 0.93; arg-max right for images 1, 2, 5 (P >= 0.5 picks class 1);
    # bins floor(15 c): 13, 12, 9, 10, 13. Bin 13 holds 0.9 and 0.93, both right: |1.83 - 2| = 0.17;
    # bin 12: |0.8 - 1| = 0.2; bin 9: |0.6 - 0| = 0.6; bin 10: |0.7 - 0| = 0.7. ECE = 1.67 / 5 = 0.334
    assert expected_calibration_error(Y5, _binary(P5)) == pytest.approx(0.334, abs=1e-12)
    # gaps of opposite sign cancel inside a bin: 0.62 wrong and 0.64 right share bin 9: |1.26 - 1| / 2 = 0.13
    assert expected_calibration_error(np.array([1, 1]), _binary(np.array([0.38, 0.64]))) == pytest.approx(0.13)
    # three classes: confidence 0.5 (right), 0.8 (wrong), 0.6 (right): 0.5 + 0.8 + 0.4 over 3
    y3 = np.array([0, 1, 2])
    p3 = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert expected_calibration_error(y3, p3) == pytest.approx(1.7 / 3, abs=1e-12)


def test_bootstrap_calibration_matches_the_point_estimate_and_reliability_bins():
    identity = np.arange(5)[None, :]
    boot = st.calibration_scores(Y5, _binary(P5), identity)
    assert boot["brier"][0] == pytest.approx(0.18098) and boot["ece"][0] == pytest.approx(0.334)
    rel = st.reliability(Y5, _binary(P5))
    assert rel["bins"] == 15 and sum(rel["count"]) == 5 and rel["count"][13] == 2
    assert rel["confidence"][13] == pytest.approx(0.915) and rel["accuracy"][13] == 1.0
    assert rel["accuracy"][9] == 0.0 and rel["confidence"][0] is None and rel["ece"] == pytest.approx(0.334)
    # resampling image 0 five times: Brier 0.01, ECE |0.9 - 1| = 0.1
    one = st.calibration_scores(Y5, _binary(P5), np.zeros((1, 5), dtype=int))
    assert one["brier"][0] == pytest.approx(0.01) and one["ece"][0] == pytest.approx(0.1)


def test_mcc_ppv_npv_against_hand_counts():
    # TP 40, FN 10, FP 5, TN 45 (positive class 1)
    y = np.array([1] * 50 + [0] * 50)
    pred = np.array([1] * 40 + [0] * 10 + [1] * 5 + [0] * 45)
    m = classification_metrics(y, pred, np.eye(2)[pred], ["normal", "pneumonia"], positive=1)
    assert m["ppv"] == pytest.approx(40 / 45) and m["npv"] == pytest.approx(45 / 55)
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (1800 - 50) / sqrt(45 * 50 * 50 * 55)
    assert m["mcc"] == pytest.approx(1750 / math.sqrt(45 * 50 * 50 * 55))
    # the bootstrap's confusion-matrix form gives the same on the identity resample
    cm = st.confusion_counts(y, pred, np.arange(100)[None, :], 2)
    boot = st.metrics_from_confusion(cm, positive=1)
    assert boot["mcc"][0] == pytest.approx(m["mcc"]) and boot["ppv"][0] == pytest.approx(40 / 45)
    # three classes, Gorodkin: counts [[3,1,0],[0,2,2],[1,0,3]]: c = 8, s = 12, t = (4,4,4), p = (4,3,5);
    # (8*12 - (16+12+20)) / sqrt((144 - 50)(144 - 48)) = 48 / sqrt(94 * 96)
    cm3 = np.array([[3, 1, 0], [0, 2, 2], [1, 0, 3]])
    assert float(mcc_from_confusion(cm3)) == pytest.approx(48 / math.sqrt(94 * 96))
    assert float(mcc_from_confusion(np.array([[5, 0], [0, 0]]))) == 0.0  # one class only: 0, as scikit-learn
    assert METRICS["mcc"].low == -1.0 and METRICS["ppv"].binary_only and not METRICS["mcc"].binary_only


def test_disagreement_covers_calibration_with_the_stored_precision():
    proba = _binary(np.array([0.12345678, 0.87654321, 0.5, 0.33333333]))
    y, pred = np.array([0, 1, 1, 0]), np.array([0, 1, 1, 0])
    metrics = classification_metrics(y, pred, proba, ["a", "b"], 1)
    stored = {"y_true": y.tolist(), "y_pred": pred.tolist(), "proba": np.round(proba, 6).tolist()}
    assert disagreement(metrics, stored, ["a", "b"], 1) is None  # measured at 6 decimals: recomputes exactly
    edited = {**metrics, "brier": metrics["brier"] + 1e-3}
    assert disagreement(edited, stored, ["a", "b"], 1).startswith("brier is ")
    edited = {**metrics, "ece": metrics["ece"] - 1e-3}
    assert disagreement(edited, stored, ["a", "b"], 1).startswith("ece is ")


# --- direction -------------------------------------------------------------------------------------------


def test_gain_and_catalogue_directions():
    assert not METRICS["brier"].higher_is_better and not METRICS["ece"].higher_is_better
    assert gain("brier", 0.05) == -0.05 and gain("roc_auc", 0.05) == 0.05


@pytest.mark.parametrize("mode", ["absolute", "significant"])
def test_compare_judges_brier_in_its_direction(mode):
    worse = regression.metric_row("p", 0, "brier", 0.10, 0.15, 0.01, mode=mode,
                                  paired={"test": "paired bootstrap", "p": 0.001})
    better = regression.metric_row("p", 0, "brier", 0.15, 0.10, 0.01, mode=mode,
                                   paired={"test": "paired bootstrap", "p": 0.001})
    small = regression.metric_row("p", 0, "brier", 0.100, 0.105, 0.01, mode=mode, paired={"test": "x", "p": 0.001})
    assert (worse["status"], worse["marker"]) == ("regression", "worse")
    assert (better["status"], better["marker"]) == ("improved", "better")
    assert small["status"] == "ok"
    noisy = regression.metric_row("p", 0, "brier", 0.10, 0.15, 0.01, mode=mode, paired={"test": "x", "p": 0.4})
    assert noisy["status"] == ("noise" if mode == "significant" else "regression")
    hard = regression.metric_row("p", 0, "ece", 0.02, 0.30, 0.01, mode="significant",
                                 paired={"test": "x", "p": 0.4}, hard=0.2)
    assert hard["beyond_hard"] and hard["status"] == "regression"


def _with_probabilities(job: dict, squeeze: float) -> dict:
    """The job with its stored probabilities pulled towards 1/2 by ``squeeze`` (same labels at 0.5: the ranking
    and the arg-max are unchanged, only the calibration moves) and its metrics recomputed."""
    job = copy.deepcopy(job)
    p = np.asarray(job["predictions"]["proba"], dtype=np.float64)
    p = np.round(0.5 + (p - 0.5) * squeeze, 6)
    job["predictions"]["proba"] = p.tolist()
    y = np.asarray(job["predictions"]["y_true"])
    pred = np.asarray(job["predictions"]["y_pred"])
    job["metrics"] = classification_metrics(y, pred, p, ["normal", "pneumonia"], 1)
    return job


def _real_run() -> dict:
    """The committed baseline (a real PneumoniaMNIST run), its jobs re-scored with today's metrics."""
    if not BASELINE.is_file():
        pytest.skip(f"no committed baseline at {BASELINE}")
    base = results_mod.load(BASELINE)
    new = copy.deepcopy(base)
    new.pop("statistics", None)
    for job in view.ok_jobs(new):
        job.update(_with_probabilities(job, 1.0))
    return base, new


#: A real PneumoniaMNIST run made before the calibration metrics existed (the gate's host-drift fixture).
OLD_RUN = Path(__file__).parent / "fixtures" / "gate" / "host-drift" / "base" / "results.json"


def test_compare_with_an_older_run_names_new_metrics_and_still_judges_the_rest():
    base = results_mod.load(OLD_RUN)
    assert all("brier" not in j["metrics"] for j in view.ok_jobs(base))  # made before they existed
    new = copy.deepcopy(base)
    new.pop("statistics", None)
    for job in view.ok_jobs(new):
        job.update(_with_probabilities(job, 1.0))
    report = regression.compare(base, new, tolerances.defaults(), runtime=False)
    line = [n for n in report["notes"] if n.startswith("new metrics, not judged")]
    assert len(line) == 1 and line[0].endswith(": brier, ece, mcc, ppv, npv, average_precision, lr_positive, "
                                               "lr_negative, log_loss, classwise_ece"), report["notes"]
    assert report["verdict"] == "pass" and report["summary"]["checks"] > 0
    rows = [r for r in report["metrics"] if r["metric"] == "brier"]
    assert rows and all(r["status"] == "n/a" and r["base"] is None for r in rows)
    # the other metrics are still judged: a lost accuracy is a regression even against that baseline
    broken = copy.deepcopy(new)
    view.ok_jobs(broken)[0]["metrics"]["accuracy"] = None
    assert regression.compare(base, broken, tolerances.defaults(), runtime=False)["verdict"] == "regression"


def test_a_significant_brier_rise_is_a_regression_and_a_fall_is_not():
    _, sharp = _real_run()
    job = next(j for j in view.ok_jobs(sharp) if j["pipeline"] == "hog-svm")
    flat = copy.deepcopy(sharp)
    for j in view.ok_jobs(flat):
        if j["pipeline"] == "hog-svm":
            j.update(_with_probabilities(j, 0.3))  # same labels, probabilities near 1/2: Brier rises
    flat_job = next(j for j in view.ok_jobs(flat) if j["pipeline"] == "hog-svm")
    assert flat_job["metrics"]["brier"] > job["metrics"]["brier"] + 0.05
    assert flat_job["metrics"]["accuracy"] == job["metrics"]["accuracy"]
    tol = tolerances.loads('[compare]\nmode = "significant"\n')
    worse = regression.compare(sharp, flat, tol, runtime=False)
    flagged = {(r["pipeline"], r["check"]) for r in worse["regressions"]}
    assert ("hog-svm", "brier") in flagged and ("hog-svm", "accuracy") not in flagged
    row = next(r for r in worse["metrics"] if (r["pipeline"], r["metric"]) == ("hog-svm", "brier"))
    assert row["test"] == "paired bootstrap" and row["p_holm"] < 0.05 and row["marker"] == "worse"
    better = regression.compare(flat, sharp, tol, runtime=False)
    assert not any(r["check"] == "brier" for r in better["regressions"])
    row = next(r for r in better["metrics"] if (r["pipeline"], r["metric"]) == ("hog-svm", "brier"))
    assert row["status"] == "improved" and row["marker"] == "better"


def test_rank_key_and_suite_ranks_follow_the_direction():
    low, high = {"brier": 0.08, "roc_auc": 0.9}, {"brier": 0.20, "roc_auc": 0.9}
    assert evaluation.rank_key(low, "a", first="brier") < evaluation.rank_key(high, "b", first="brier")
    assert evaluation.rank_key({"roc_auc": 0.95}, "a") < evaluation.rank_key({"roc_auc": 0.90}, "b")
    cells = {d: {"p": {"brier": {"value": 0.1}}, "q": {"brier": {"value": 0.3}}, "r": {"brier": {"value": 0.2}}}
             for d in ("d1", "d2")}
    rk = suite_analysis._ranks(["d1", "d2"], cells, ["p", "q", "r"], "brier")
    assert rk["pipelines"] == ["p", "r", "q"] and rk["mean"] == {"p": 1.0, "q": 3.0, "r": 2.0}
    cells_auc = {d: {"p": {"roc_auc": {"value": 0.1}}, "q": {"roc_auc": {"value": 0.3}}} for d in ("d1", "d2")}
    assert suite_analysis._ranks(["d1", "d2"], cells_auc, ["p", "q"], "roc_auc")["pipelines"] == ["q", "p"]


def test_report_marks_the_lowest_brier_as_best():
    assert cal_report.best_rows([0.2, 0.1, None, 0.1], "brier") == {1, 3}
    assert cal_report.best_rows([0.2, 0.1, None], "mcc") == {0}
    assert cal_report.best_rows([None], "ece") == set()


def test_compare_table_shows_a_brier_limit_as_a_rise():
    row = regression.metric_row("hog-svm", 0, "brier", 0.10, 0.15, 0.01)
    report = {"regressions": [regression._as_regression(row, "metric")]}
    (cells,) = render.regression_table(report, md=False)[1]
    assert cells[2:7] == ["Brier", "0.100", "0.150", "+0.050", "+0.01"]
