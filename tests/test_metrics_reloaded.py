"""Metrics Reloaded's classification metrics (medbench.metrics_reloaded): each against hand arithmetic (in the
comments) and an independent computation (scikit-learn, plain Python), their bootstrap resamples, the regression
gate's handling of them, and one real PneumoniaMNIST subset end to end through the command line."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from data_paths import pneumonia_arrays
from sklearn.metrics import average_precision_score, log_loss

from medbench import metrics_reloaded as mr
from medbench.cli import main
from medbench.evaluation import gate as regression
from medbench.evaluation import paired, tolerances
from medbench.evaluation import stats as st
from medbench.metrics import HEADLINE, METRICS, classification_metrics, disagreement, gain
from medbench.records import results as results_mod
from medbench.records import view
from medbench.shift.external import entry_metrics

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "baselines" / "pneumoniamnist-fast"
NEW = ("average_precision", "sens_at_spec90", "sens_at_spec95", "lr_positive", "lr_negative", "log_loss",
       "classwise_ece")

# Five binary images, P(positive) per image, positive class 1.
Y5 = np.array([1, 0, 1, 0, 1])
P5 = np.array([0.9, 0.2, 0.4, 0.7, 0.93])


def _binary(p_pos) -> np.ndarray:
    p = np.asarray(p_pos, dtype=float)
    return np.c_[1 - p, p]


def test_catalogue_directions_and_ranges():
    assert all(m in METRICS and m in HEADLINE for m in NEW)
    assert [m for m in NEW if not METRICS[m].higher_is_better] == ["lr_negative", "log_loss", "classwise_ece"]
    assert gain("lr_negative", 0.1) == -0.1 and gain("lr_positive", 0.1) == 0.1
    assert {m for m in NEW if METRICS[m].binary_only} == {"sens_at_spec90", "sens_at_spec95", "lr_positive",
                                                          "lr_negative"}
    assert {m for m in NEW if math.isinf(METRICS[m].high)} == {"lr_positive", "lr_negative", "log_loss"}
    # class-conditional (stratified resamples under by-metric): the two sensitivities and the two ratios
    assert {m for m in NEW if m in st.CLASS_CONDITIONAL} == {"sens_at_spec90", "sens_at_spec95", "lr_positive",
                                                             "lr_negative"}


def test_average_precision_by_hand_and_against_scikit_learn():
    # by score: 0.93 (+), 0.9 (+), 0.7 (-), 0.4 (+), 0.2 (-); precision at each positive: 1/1, 2/2, 3/4;
    # AP = (1 + 1 + 0.75) / 3
    ap = mr.average_precision(Y5, _binary(P5), 2, 1)
    assert ap == pytest.approx(2.75 / 3, abs=1e-12)
    assert ap == pytest.approx(average_precision_score(Y5, P5), abs=1e-12)
    # positive class 0: scores 1 - p, positives the zeros: 0.8 (+), 0.6, 0.3 (+), 0.1, 0.07 -> (1 + 2/3) / 2
    assert mr.average_precision(Y5, _binary(P5), 2, 0) == pytest.approx((1 + 2 / 3) / 2, abs=1e-12)
    assert mr.average_precision(np.zeros(5, int), _binary(P5), 2, 1) is None  # no positive image
    # multi-class: one-vs-rest, macro over the classes present
    y3 = np.array([0, 1, 2, 2, 0, 1])
    p3 = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5],
                   [0.5, 0.4, 0.1]])
    want = np.mean([average_precision_score(y3 == k, p3[:, k]) for k in range(3)])
    assert mr.average_precision(y3, p3, 3) == pytest.approx(want, abs=1e-12)


def test_log_loss_by_hand_clipped_as_scikit_learn():
    # -mean(ln 0.9, ln 0.8, ln 0.4, ln 0.3, ln 0.93): the probability given to each image's true class
    hand = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.3) + math.log(0.93)) / 5
    assert mr.mean_log_loss(Y5, _binary(P5), 2) == pytest.approx(hand, abs=1e-12)
    assert mr.log_loss_per_image(Y5, _binary(P5)).mean() == pytest.approx(hand, abs=1e-12)
    assert hand == pytest.approx(log_loss(Y5, _binary(P5)), abs=1e-12)
    # a true class given probability 0 is clipped to float64's eps: -ln(2.22e-16) = 36.04
    eps = np.finfo(np.float64).eps
    assert mr.mean_log_loss(np.array([1]), np.array([[1.0, 0.0]]), 2) == pytest.approx(-math.log(eps), abs=1e-9)


def test_classwise_ece_by_hand_binary_and_multiclass():
    # class 1: P = 0.9, 0.2, 0.4, 0.7, 0.93 in bins 13, 3, 6, 10, 13 (of 15); gaps P - [y = 1]: bin 13
    # |-0.1 - 0.07| = 0.17, bin 3 0.2, bin 6 0.6, bin 10 0.7: 1.67 / 5 = 0.334; class 0 mirrors it (0.334)
    assert mr.classwise_ece(Y5, _binary(P5)) == pytest.approx(0.334, abs=1e-12)
    # three classes: class 0 gaps -0.5, 0.1, 0.2 (bins 7, 1, 3) -> 0.8 / 3; class 1: 0.3, -0.9, 0.2 -> 1.4 / 3;
    # class 2: 0.2, 0.8, -0.4 -> 1.4 / 3; mean (0.8 + 1.4 + 1.4) / 9 = 0.4
    y3 = np.array([0, 1, 2])
    p3 = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert mr.classwise_ece(y3, p3) == pytest.approx(0.4, abs=1e-12)


def test_threshold_at_specificity_chosen_on_validation_by_hand():
    # validation: negatives 0.05, 0.10, ..., 0.50; positives 0.30, 0.45, 0.55, 0.60, 0.90
    neg, pos = np.round(np.arange(1, 11) * 0.05, 2), np.array([0.30, 0.45, 0.55, 0.60, 0.90])
    y_val, p_val = np.r_[np.zeros(10, int), np.ones(5, int)], _binary(np.r_[neg, pos])
    at = mr.thresholds_at_specificity(y_val, p_val, 1)
    # spec >= 0.90 allows one false positive: the lowest such threshold is 0.50 (0.50 itself the one FP);
    # positives >= 0.50: 0.55, 0.60, 0.90 -> validation sensitivity 3/5
    assert at["sens_at_spec90"] == {"target": 0.9, "threshold": 0.5, "val_specificity": 0.9, "val_sensitivity": 0.6}
    # spec >= 0.95 allows none: the lowest score above every negative, 0.55; sensitivity 3/5 again
    assert at["sens_at_spec95"] == {"target": 0.95, "threshold": 0.55, "val_specificity": 1.0,
                                    "val_sensitivity": 0.6}
    assert mr.thresholds_at_specificity(np.ones(4, int), _binary([0.1, 0.2, 0.3, 0.4]), 1) == {}  # one class
    # on the test split, the sensitivity at the chosen threshold: positives 0.9, 0.4, 0.93 at >= 0.5 -> 2/3
    m = classification_metrics(Y5, (P5 >= 0.6).astype(int), _binary(P5), ["n", "p"], 1, at)
    assert m["sens_at_spec90"] == pytest.approx(2 / 3) and m["sens_at_spec95"] == pytest.approx(2 / 3)
    # without validation thresholds (an external set) it is not measured: null
    m = classification_metrics(Y5, (P5 >= 0.6).astype(int), _binary(P5), ["n", "p"], 1)
    assert m["sens_at_spec90"] is None and m["sens_at_spec95"] is None


def test_likelihood_ratios_by_hand_and_division_by_zero():
    # 6 positives, 4 negatives: TP 4, FN 2, TN 3, FP 1 -> sens 4/6, spec 3/4
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    pred = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    m = classification_metrics(y, pred, np.eye(2)[pred], ["n", "p"], 1)
    assert m["lr_positive"] == pytest.approx((4 / 6) / (1 / 4))  # 8/3
    assert m["lr_negative"] == pytest.approx((2 / 6) / (3 / 4))  # 4/9
    # no false positive: specificity 1, LR+ divides by zero -> null, with the reason; JSON without Infinity
    clean = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    m, undefined = entry_metrics(y, clean, np.eye(2)[clean], ["n", "p"], 1, "the test split")
    assert undefined == {}  # the set holds every class: nothing is undefined for want of one
    assert m["lr_positive"] is None and "specificity is 1" in mr.undefined_reasons(m, 2)["lr_positive"]
    assert m["lr_negative"] == pytest.approx((2 / 6) / 1)
    json.dumps(m, allow_nan=False)
    # every image called positive: specificity 0, LR- divides by zero
    m = classification_metrics(y, np.ones(10, int), np.eye(2)[np.ones(10, int)], ["n", "p"], 1)
    assert m["lr_negative"] is None and m["lr_positive"] == 1.0
    assert list(mr.undefined_reasons(m, 2)) == ["lr_negative"] and "specificity is 0" in mr.undefined_reasons(m, 2)[
        "lr_negative"]
    json.dumps(m, allow_nan=False)


def test_resamples_match_the_point_estimates_and_an_independent_average_precision():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 120)
    s = np.round(np.clip(0.35 * y + 0.65 * rng.random(120), 0, 1), 6)
    proba, pred = _binary(s), (s >= 0.5).astype(int)
    at = {"sens_at_spec90": {"target": 0.9, "threshold": 0.6}, "sens_at_spec95": {"target": 0.95, "threshold": 0.7}}
    point = classification_metrics(y, pred, proba, ["n", "p"], 1, at)
    whole = np.arange(120)[None, :]
    same = mr.resampled(y, pred, proba, 2, 1, whole, whole, at)
    assert set(same) == set(NEW)
    for m in NEW:
        assert same[m][0] == pytest.approx(point[m], abs=1e-12), m
    idx = rng.integers(0, 120, size=(5, 120))
    boot = mr.resampled(y, pred, proba, 2, 1, idx, idx, at)
    for b in range(5):  # scikit-learn on each resample itself
        assert boot["average_precision"][b] == pytest.approx(average_precision_score(y[idx[b]], s[idx[b]]), abs=1e-12)
        assert boot["log_loss"][b] == pytest.approx(log_loss(y[idx[b]], proba[idx[b]], labels=[0, 1]), abs=1e-12)
        assert boot["classwise_ece"][b] == pytest.approx(mr.classwise_ece(y[idx[b]], proba[idx[b]]), abs=1e-12)
    # multi-class
    y3 = rng.integers(0, 3, 90)
    p3 = np.round(rng.dirichlet([1, 1, 1], 90), 6)
    p3 = p3 / p3.sum(axis=1, keepdims=True)
    whole = np.arange(90)[None, :]
    point = classification_metrics(y3, p3.argmax(1), p3, ["a", "b", "c"])
    same = mr.resampled(y3, p3.argmax(1), p3, 3, None, whole, whole)
    assert set(same) == {"average_precision", "log_loss", "classwise_ece"}
    assert all(same[m][0] == pytest.approx(point[m], abs=1e-12) for m in same)
    # through the bootstrap: every new metric gets an interval around its estimate (ECE-like: basic interval)
    samples = st.bootstrap_metrics(y, pred, proba, 2, 1, 300, 0, at_specificity=at)
    point = classification_metrics(y, pred, proba, ["n", "p"], 1, at)
    for m in NEW:
        ci = st.metric_ci(m, samples[m], point[m])
        assert ci is not None and ci[0] <= point[m] <= ci[1], m


def test_stratified_resamples_keep_the_class_counts_for_the_ratios():
    y = np.r_[np.zeros(30, int), np.ones(20, int)]
    pred = np.r_[np.zeros(27, int), np.ones(3, int), np.ones(15, int), np.zeros(5, int)]
    samples = st.bootstrap_metrics(y, pred, np.eye(2)[pred], 2, 1, 200, 0)
    # LR+ = sens / (1 - spec) on the same (stratified) resamples as sensitivity and specificity; a resample
    # without a false positive divides by zero: +inf
    sens, spec = samples["sensitivity"], samples["specificity"]
    want = [x / (1 - c) if c < 1 else math.inf for x, c in zip(sens, spec)]
    np.testing.assert_allclose(samples["lr_positive"], want)
    assert np.isinf(samples["lr_positive"]).any()  # 3 false positives of 30: some resamples draw none
    np.testing.assert_allclose(samples["lr_negative"], (1 - sens) / spec)
    # the percentile interval (by-metric's): a finite bound, or none when the upper one falls among the infinite
    # resamples (by-metric-v2 reports the log-scale interval of the counts instead, tests/test_intervals.py)
    ci = st.metric_ci("lr_positive", samples["lr_positive"], 5.0, 0.95, "by-metric")
    share = np.isinf(samples["lr_positive"]).mean()
    assert (ci is None) == (share > 0.025) and (ci is None or all(map(math.isfinite, ci)))
    # the default method's fallback from the resamples alone: finite bounds or none, never an infinite bound
    ci = st.metric_ci("lr_positive", samples["lr_positive"], 5.0)
    assert ci is None or all(map(math.isfinite, ci))
    assert mr._ratio(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.5])).tolist()[1:] == [math.inf, 2.0]
    assert np.isnan(mr._ratio(np.array([0.0]), np.array([0.0])))[0]


def test_net_benefit_by_hand():
    y, score = np.array([1, 1, 0, 0]), np.array([0.9, 0.6, 0.7, 0.2])
    nb = mr.net_benefit(y, score, np.array([0.5, 0.8]), 1)
    # pt 0.5: treated 0.9, 0.6, 0.7 -> TP 2, FP 1 of 4: 2/4 - 1/4 * 1 = 0.25; treat all: 0.5 - 0.5 * 1 = 0
    # pt 0.8: treated 0.9 -> 1/4 - 0 = 0.25; treat all: 0.5 - 0.5 * 4 = -1.5
    np.testing.assert_allclose(nb["model"], [0.25, 0.25])
    np.testing.assert_allclose(nb["treat_all"], [0.0, -1.5])
    np.testing.assert_allclose(nb["treat_none"], [0.0, 0.0])


def test_disagreement_recomputes_the_new_metrics_with_the_stored_thresholds():
    at = {"sens_at_spec90": {"target": 0.9, "threshold": 0.5}}
    pred = (P5 >= 0.6).astype(int)
    stored = {"y_true": Y5.tolist(), "y_pred": pred.tolist(), "proba": _binary(P5).tolist()}
    metrics = classification_metrics(Y5, pred, _binary(P5), ["n", "p"], 1, at)
    assert disagreement(metrics, stored, ["n", "p"], 1, at) is None
    forged = {**metrics, "sens_at_spec90": 1.0}
    assert "sens_at_spec90 is 1.0" in disagreement(forged, stored, ["n", "p"], 1, at)
    assert "log_loss" in disagreement({**metrics, "log_loss": 0.1}, stored, ["n", "p"], 1, at)


def test_tolerances_star_leaves_the_unbounded_metrics_their_own_defaults():
    tol = tolerances.loads('[metrics]\n"*" = 0.02\n[hard]\n"*" = 0.10\n')  # valid: LR+ (0.5) is not reached
    assert tol.metric_tolerance("x", "average_precision") == 0.02
    assert tol.metric_tolerance("x", "lr_positive") == tolerances.DEFAULT_METRICS["lr_positive"]
    assert tol.hard_limit("x", "log_loss") == math.inf and tol.hard_limit("x", "classwise_ece") == 0.10
    assert tolerances.loads("[metrics]\nlr_positive = 1.0\n").metric_tolerance("x", "lr_positive") == 1.0


# ------------------------------------------------------------------ real data: the committed baseline, the CLI

def _rescored_baseline() -> tuple[dict, dict]:
    base = results_mod.load(BASELINE / "results.json")
    new = copy.deepcopy(base)
    new.pop("statistics", None)
    names, pos = view.class_names(base), view.positive_index(base)
    for job in view.ok_jobs(new):
        p = job["predictions"]
        job["metrics"], _ = entry_metrics(np.asarray(p["y_true"]), np.asarray(p["y_pred"]), np.asarray(p["proba"]),
                                          names, pos, "the test split", (job.get("threshold") or {}).get("at_specificity"))
    return base, new


def _without_new_metrics(res: dict, pipelines: tuple[str, ...] | None = None) -> dict:
    """``res`` as a medbench before Metrics Reloaded's set wrote it (the keys absent, not null), for every job
    or only ``pipelines``'."""
    res = copy.deepcopy(res)
    res.pop("statistics", None)
    for job in view.ok_jobs(res):
        if pipelines is None or job["pipeline"] in pipelines:
            job["metrics"] = {m: v for m, v in job["metrics"].items() if m not in NEW}
    return res


def _gate(tmp_path: Path, base: dict | Path, new: dict, capsys) -> tuple[int, dict, str]:
    paths = []
    for name, res in (("base", base), ("new", new)):
        if isinstance(res, Path):
            paths.append(res)
            continue
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        (tmp_path / name / "results.json").write_text(json.dumps(res))
        paths.append(tmp_path / name)
    tmp_path.mkdir(parents=True, exist_ok=True)
    status = main(["compare", str(paths[0]), str(paths[1]), "--no-runtime", "--json", str(tmp_path / "c.json")])
    return status, json.loads((tmp_path / "c.json").read_text()), capsys.readouterr().out


def test_a_baseline_written_before_the_new_metrics_compares_cleanly(tmp_path, capsys):
    """A baseline made before Metrics Reloaded's set, against NEW, the same real predictions scored with today's
    metrics (with the baseline's own tolerances): PASS, the new metrics "not in baseline" (n/a, named in a
    note), never a failure."""
    base, new = _rescored_baseline()
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tolerances.toml").write_text((BASELINE / "tolerances.toml").read_text())
    status, report, out = _gate(tmp_path, _without_new_metrics(base), new, capsys)
    assert status == 0, out
    note = next(n for n in report["notes"] if n.startswith("new metrics, not judged"))
    assert all(m in note for m in ("average_precision", "lr_positive", "log_loss", "classwise_ece"))
    rows = [r for r in report["metrics"] if r["metric"] in NEW]
    assert rows and all(r["status"] == "n/a" and r["base"] is None for r in rows)


def test_a_run_of_a_medbench_without_the_new_metrics_is_not_a_regression_of_them(tmp_path, capsys):
    """The mirror: the committed baseline (it has the new metrics) against a run whose medbench did not compute
    them (no job records the keys): PASS, those metrics named as not computed and never judged; the committed
    baseline against its own rescored predictions: PASS with every new metric judged. A job that lost one of them
    while the others kept it is still a regression ("no value in NEW")."""
    _, new = _rescored_baseline()
    status, report, out = _gate(tmp_path / "a", BASELINE, _without_new_metrics(new), capsys)
    assert status == 0, out
    assert any("does not compute, not judged" in n and "average_precision" in n for n in report["notes"])
    assert all(r["status"] == "n/a" for r in report["metrics"] if r["metric"] in NEW)
    status, report, out = _gate(tmp_path / "b", BASELINE, new, capsys)
    assert status == 0, out
    judged = {r["metric"] for r in report["metrics"] if r["metric"] in NEW and r["status"] != "n/a"}
    assert judged == set(NEW)
    status, report, out = _gate(tmp_path / "c", BASELINE, _without_new_metrics(new, ("hog-svm",)), capsys)
    assert status == 1 and "hog-svm seed 0 AP has no value in NEW" in out


def test_a_likelihood_ratio_that_divides_by_zero_is_not_a_lost_value():
    """LR+ of a real job whose specificity becomes 1 (no false positive): null with a reason in NEW, which the
    gate shows as n/a with that reason rather than "newly failed"."""
    base = _rescored_baseline()[1]
    new = copy.deepcopy(base)
    names, pos = view.class_names(new), view.positive_index(new)
    job = next(j for j in view.ok_jobs(new) if j["pipeline"] == "hog-svm")
    p = job["predictions"]
    y, proba = np.asarray(p["y_true"]), np.asarray(p["proba"])
    p["y_pred"] = np.where(y == pos, p["y_pred"], 1 - pos).tolist()  # every negative called negative: spec 1
    job["metrics"], _ = entry_metrics(y, np.asarray(p["y_pred"]), proba, names, pos, "the test split",
                                      (job.get("threshold") or {}).get("at_specificity"))
    job["metric_notes"] = mr.undefined_reasons(job["metrics"], 2)  # as the runner records it
    assert job["metrics"]["lr_positive"] is None and "divides by zero" in job["metric_notes"]["lr_positive"]
    report = regression.compare(base, new, tolerances.defaults(), runtime=False)
    row = next(r for r in report["metrics"] if (r["pipeline"], r["metric"]) == ("hog-svm", "lr_positive"))
    assert row["status"] == "n/a" and row["marker"] == "" and "specificity is 1" in row["undefined"]
    assert not any(r.get("metric") == "lr_positive" for r in report["regressions"])


@pytest.fixture(scope="module")
def small_npz(shared_datasets, tmp_path_factory) -> str:
    """240 train / 120 val / 120 test real PneumoniaMNIST images (official split kept) as an ``npz:`` dataset."""
    small = pneumonia_arrays(shared_datasets, {"train": 240, "val": 120, "test": 120})
    path = tmp_path_factory.mktemp("reloaded") / "pneumonia-small.npz"
    np.savez(path, **{f"{s}_{k}": v for s, (x, y) in small.items() for k, v in (("images", x), ("labels", y))})
    return f"npz:{path}"


@pytest.mark.slow
def test_real_runs_carry_the_new_metrics_into_results_report_and_compare(small_npz, tmp_path, capsys):
    """Two real runs (majority, hog-svm; the second with a stronger SVM penalty) through `medbench run`: every new
    metric in results.json with its interval, the validation thresholds recorded, the report's Metrics Reloaded
    table and decision curve, and `medbench compare` with a paired bootstrap row for each."""
    common = ["run", "--dataset", small_npz, "--pipelines", "majority", "hog-svm", "--image-size", "28",
              "--n-jobs", "1", "--bootstrap-resamples", "200", "--no-gallery"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*common, "--out", str(a)]) == 0
    assert main([*common, "--out", str(b), "--option", "hog-svm.svm__C=0.01"]) == 0
    capsys.readouterr()
    res = results_mod.load(a / "results.json")
    for job in view.ok_jobs(res):
        ci = res["statistics"]["jobs"][view.record_id(job)]["metrics_ci"]
        block = job["threshold"]["at_specificity"]
        assert set(block) == {"sens_at_spec90", "sens_at_spec95"}
        assert all(e["val_specificity"] >= e["target"] for e in block.values())
        for m in NEW:
            assert m in job["metrics"], (job["pipeline"], m)
            if job["metrics"][m] is None:  # only a ratio dividing by zero, and it says why
                assert m in mr.LIKELIHOOD_RATIOS and "divides by zero" in job["metric_notes"][m]
                assert "undefined" not in job  # the test split holds every class
            else:
                assert ci[m] is not None and ci[m][0] <= ci[m][1], (job["pipeline"], m)
    svm = next(j for j in view.ok_jobs(res) if j["pipeline"] == "hog-svm")
    p = svm["predictions"]  # independent: scikit-learn on the stored predictions
    assert svm["metrics"]["average_precision"] == pytest.approx(
        average_precision_score(np.asarray(p["y_true"]) == 1, np.asarray(p["proba"])[:, 1]), abs=1e-9)
    assert svm["metrics"]["log_loss"] == pytest.approx(log_loss(p["y_true"], p["proba"], labels=[0, 1]), abs=1e-4)
    report = (a / "report.md").read_text()
    assert "## Metrics Reloaded (test split)" in report and "Sens@Spec90" in report and "Class-wise ECE ↓" in report
    assert "Threshold for specificity ≥ 0.90 (validation)" in report
    assert "figures/decision_curve.png" in report and (a / "figures" / "decision_curve.png").stat().st_size > 5000
    status = main(["compare", str(a), str(b), "--no-runtime", "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert status in (0, 1) and "Metrics Reloaded: NEW (change vs BASE)" in out
    rows = json.loads((tmp_path / "c.json").read_text())["metrics"]
    for m in ("average_precision", "sens_at_spec90", "log_loss", "classwise_ece"):
        row = next(r for r in rows if (r["pipeline"], r["metric"]) == ("hog-svm", m))
        assert row["test"] == "paired bootstrap" and row["p"] is not None and row["new_ci"] is not None
    boot = paired.Bootstraps(2, 1, 200)
    assert "sens_at_spec95" in boot.of(view.JobView(svm).predictions)
