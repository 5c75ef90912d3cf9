"""medbench.evaluation.stats against hand-worked and textbook cases, and the statistics section of results.

Expected values are literals derived by hand in the comments (cross-checked once with scipy:
``scipy.stats.binomtest``, ``scipy.stats.chi2.sf``, ``scipy.stats.norm.sf``).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import scipy.stats as sps
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score, roc_auc_score

from medbench import metrics as mt
from medbench.evaluation import intervals
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.metrics import classification_metrics

# --- bootstrap -------------------------------------------------------------------------------


def test_stratified_indices_keep_class_counts_and_are_seeded():
    y = np.array([0, 1, 1, 0, 1, 2, 2, 1])
    idx = st.stratified_indices(y, 200, seed=3)
    assert idx.shape == (200, 8)
    # columns are grouped by class: 2 zeros, 4 ones, 2 twos in every resample
    assert (y[idx] == np.array([0, 0, 1, 1, 1, 1, 2, 2])).all()
    assert np.array_equal(idx, st.stratified_indices(y, 200, seed=3))
    assert not np.array_equal(idx, st.stratified_indices(y, 200, seed=4))


def test_bootstrap_metrics_match_sklearn_on_every_resample():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    score = np.clip(0.35 * y + rng.normal(0.4, 0.25, 120), 0, 1).round(2)  # rounded: ties on purpose
    proba = np.column_stack([1 - score, score])
    pred = (score >= 0.5).astype(int)
    boot = st.bootstrap_metrics(y, pred, proba, n_classes=2, positive=1, n_resamples=40, seed=7, method="stratified")
    for b, i in enumerate(st.stratified_indices(y, 40, seed=7)):
        yt, yp = y[i], pred[i]
        assert boot["accuracy"][b] == pytest.approx(np.mean(yt == yp), abs=1e-12)
        assert boot["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(yt, yp), abs=1e-12)
        assert boot["sensitivity"][b] == pytest.approx(recall_score(yt, yp, pos_label=1), abs=1e-12)
        assert boot["specificity"][b] == pytest.approx(recall_score(yt, yp, pos_label=0), abs=1e-12)
        assert boot["f1"][b] == pytest.approx(f1_score(yt, yp, zero_division=0), abs=1e-12)
        assert boot["macro_f1"][b] == pytest.approx(f1_score(yt, yp, average="macro", zero_division=0), abs=1e-12)
        assert boot["roc_auc"][b] == pytest.approx(roc_auc_score(yt, score[i]), abs=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_by_metric_bootstrap_resamples_class_conditional_metrics_stratified_and_the_rest_ordinarily(n_classes):
    """ci_method by-metric-v2 (the default; its resampling is by-metric's): sensitivity, specificity, balanced accuracy and ROC-AUC on the
    stratified resamples, every other headline metric on the ordinary ones (n draws from all n images, seeded),
    each matching scikit-learn / medbench.metrics on its resample."""
    from sklearn.metrics import matthews_corrcoef, precision_score

    rng = np.random.default_rng(5)
    y = rng.integers(0, n_classes, 90)
    proba = rng.dirichlet(np.ones(n_classes), 90) + np.eye(n_classes)[y] * 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(1)
    pos = 1 if n_classes == 2 else None
    boot = st.bootstrap_metrics(y, pred, proba, n_classes, pos, n_resamples=12, seed=3)
    assert st.CI_METHOD == "by-metric-v2"
    plain, strat = st.ordinary_indices(90, 12, 3), st.stratified_indices(y, 12, 3)
    assert not np.array_equal(np.bincount(y[plain[0]], minlength=n_classes), np.bincount(y, minlength=n_classes)) \
        or not np.array_equal(np.bincount(y[plain[1]], minlength=n_classes), np.bincount(y, minlength=n_classes))
    assert np.array_equal(plain, st.ordinary_indices(90, 12, 3))
    for b in range(12):
        i, j = plain[b], strat[b]
        assert boot["accuracy"][b] == pytest.approx(np.mean(y[i] == pred[i]), abs=1e-12)
        assert boot["mcc"][b] == pytest.approx(matthews_corrcoef(y[i], pred[i]), abs=1e-12)
        assert boot["macro_f1"][b] == pytest.approx(f1_score(y[i], pred[i], average="macro", zero_division=0),
                                                    abs=1e-12)
        assert boot["brier"][b] == pytest.approx(mt.calibration_metrics(y[i], proba[i])["brier"], abs=1e-12)
        assert boot["ece"][b] == pytest.approx(mt.calibration_metrics(y[i], proba[i])["ece"], abs=1e-12)
        assert boot["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(y[j], pred[j]), abs=1e-12)
        assert boot["roc_auc"][b] == pytest.approx(mt.roc_auc(y[j], proba[j], n_classes, pos), abs=1e-12)
        if n_classes == 2:
            assert boot["ppv"][b] == pytest.approx(precision_score(y[i], pred[i], zero_division=0), abs=1e-12)
            assert boot["f1"][b] == pytest.approx(f1_score(y[i], pred[i], zero_division=0), abs=1e-12)
            assert boot["sensitivity"][b] == pytest.approx(recall_score(y[j], pred[j]), abs=1e-12)
            assert boot["specificity"][b] == pytest.approx(recall_score(y[j], pred[j], pos_label=0), abs=1e-12)
    with pytest.raises(ValueError, match="unknown bootstrap method"):
        st.bootstrap_metrics(y, pred, proba, n_classes, pos, 5, 0, method="bca")


def test_ece_interval_under_by_metric_is_the_basic_one():
    """The ECE's by-metric interval reflects the percentile interval about the estimate (2 t - q_hi, 2 t - q_lo),
    clipped to [0, 1]; every other metric (and every metric under stratified) keeps the percentile interval."""
    samples = np.arange(1001) / 10000  # quantiles 0.0025 and 0.0975
    assert st.metric_ci("ece", samples, 0.06, method="by-metric") == pytest.approx((0.12 - 0.0975, 0.12 - 0.0025))
    assert st.metric_ci("ece", samples, 0.03, method="by-metric") == pytest.approx((0.0, 0.06 - 0.0025))  # clipped
    assert st.metric_ci("ece", samples, 0.06, method="stratified") == pytest.approx((0.0025, 0.0975))
    assert st.metric_ci("brier", samples, 0.06, method="by-metric") == pytest.approx((0.0025, 0.0975))
    assert st.metric_ci("ece", samples, None, method="by-metric") is None
    assert st.metric_ci("ece", np.array([np.nan]), 0.1, method="by-metric") is None


def test_bootstrap_auc_multiclass_matches_sklearn_ovr_macro():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 30)
    proba = rng.dirichlet([1, 1, 1], 90) + np.eye(3)[y] * 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    boot = st.bootstrap_metrics(y, proba.argmax(1), proba, n_classes=3, n_resamples=10, seed=0)
    for b, i in enumerate(st.stratified_indices(y, 10, seed=0)):
        expected = roc_auc_score(y[i], proba[i], multi_class="ovr", average="macro")
        assert boot["roc_auc"][b] == pytest.approx(expected, abs=1e-12)
    assert "sensitivity" not in boot


def test_bootstrap_hand_enumerated_distribution():
    # Class 0 has two images (one right, one wrong), class 1 one image (right). A stratified resample
    # draws class 0's two images with replacement: both right (1/4) -> accuracy 3/3, one right (1/2) ->
    # 2/3, none right (1/4) -> 1/3. So the 95% percentile interval is [1/3, 1] and the mean is 2/3.
    y, pred = np.array([0, 0, 1]), np.array([0, 1, 1])
    proba = np.eye(2)[pred]
    acc = st.bootstrap_metrics(y, pred, proba, 2, 1, n_resamples=20000, seed=0, method="stratified")["accuracy"]
    shares = [np.mean(np.isclose(acc, v)) for v in (1 / 3, 2 / 3, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    assert st.percentile_ci(acc) == pytest.approx((1 / 3, 1.0))


def test_percentile_ci_and_degenerate_cases():
    # 0, 0.001, ..., 1.000: the 2.5% and 97.5% quantiles (linear interpolation) are exactly 0.025, 0.975
    assert st.percentile_ci(np.arange(1001) / 1000) == pytest.approx((0.025, 0.975))
    assert st.percentile_ci(np.arange(1001) / 1000, level=0.9) == pytest.approx((0.05, 0.95))
    assert st.percentile_ci(np.array([0.5, np.nan])) is None
    # a perfect classifier: every resample is perfect, the interval is a point (stratified: even on 5 images;
    # by-metric resamples the prevalence-dependent metrics over all images, so it needs both classes in every
    # resample: 20 images, where a one-class resample has probability 2 / 2^20 per resample)
    for y, method in ((np.array([0, 0, 1, 1, 1]), "stratified"), (np.repeat([0, 1], 10), st.CI_METHOD)):
        boot = st.bootstrap_metrics(y, y, np.eye(2)[y], 2, 1, n_resamples=100, seed=0, method=method)
        # lower is better: 0; LR+ divides by zero (specificity 1) and the sensitivity at fixed specificity has no
        # validation threshold here: no interval; log loss is -ln(1 - eps) per image (clipped as scikit-learn)
        want = {"brier": (0.0, 0.0), "ece": (0.0, 0.0), "classwise_ece": (0.0, 0.0), "lr_negative": (0.0, 0.0),
                "lr_positive": None, "sens_at_spec90": None, "sens_at_spec95": None}
        assert all(st.percentile_ci(v) == want.get(k, (1.0, 1.0)) for k, v in boot.items() if k != "log_loss")
        assert st.percentile_ci(boot["log_loss"]) == pytest.approx((0.0, 0.0), abs=1e-15)
    # one class only: AUC undefined
    assert np.isnan(st.bootstrap_metrics(np.zeros(4, int), np.zeros(4, int), np.eye(2)[[0] * 4], 2, 1, 5, 0)[
        "roc_auc"]).all()


def test_bootstrap_p_two_sided():
    assert st.bootstrap_p(np.full(999, 0.1)) == pytest.approx(2 / 1000)  # (0 + 1) / (999 + 1), doubled
    assert st.bootstrap_p(np.linspace(-1, 1, 1001)) == 1.0


# --- McNemar ---------------------------------------------------------------------------------


def _pairs(b: int, c: int, both: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Right/wrong vectors with b images only A gets right and c only B gets right."""
    a = np.r_[np.ones(b), np.zeros(c), np.ones(both)].astype(bool)
    bb = np.r_[np.zeros(b), np.ones(c), np.ones(both)].astype(bool)
    return a, bb


def test_mcnemar_exact_b1_c9():
    # b + c = 10 < 25: exact. P(X <= 1), X ~ Bin(10, 1/2) = (C(10,0) + C(10,1)) / 2^10 = 11/1024;
    # two-sided p = 22/1024 = 0.021484375 (= scipy.stats.binomtest(1, 10, 0.5).pvalue).
    out = st.mcnemar(*_pairs(1, 9))
    assert (out["b"], out["c"], out["method"]) == (1, 9, "exact binomial")
    assert out["p"] == pytest.approx(0.021484375, rel=1e-12)
    assert st.mcnemar(*_pairs(9, 1))["p"] == pytest.approx(0.021484375, rel=1e-12)


def test_mcnemar_exact_at_24_and_chi_square_at_25():
    # b=3, c=21 (24 discordant): 2 * (C(24,0)+C(24,1)+C(24,2)+C(24,3)) / 2^24 = 2 * 2325 / 16777216
    out = st.mcnemar(*_pairs(3, 21))
    assert out["method"] == "exact binomial"
    assert out["p"] == pytest.approx(4650 / 16777216, rel=1e-12)
    assert st.mcnemar(*_pairs(3, 22))["method"] == "chi-square, continuity-corrected"


def test_mcnemar_chi_square_b10_c30():
    # (|10 - 30| - 1)^2 / 40 = 361/40 = 9.025; p = P(chi2_1 > 9.025) = erfc(sqrt(9.025 / 2)) = 0.0026631192591...
    out = st.mcnemar(*_pairs(10, 30))
    assert out["statistic"] == pytest.approx(9.025)
    assert out["p"] == pytest.approx(0.002663119259138554, rel=1e-9)
    assert out["p"] == pytest.approx(math.erfc(math.sqrt(9.025 / 2)), rel=1e-9)


def test_mcnemar_no_or_balanced_disagreement_is_p1():
    assert st.mcnemar(*_pairs(0, 0))["p"] == 1.0
    assert st.mcnemar(*_pairs(5, 5))["p"] == 1.0  # 2 * P(X <= 5 | n=10) = 2 * 638/1024 > 1, capped
    with pytest.raises(ValueError):
        st.mcnemar(np.ones(3, bool), np.ones(4, bool))


# --- DeLong ----------------------------------------------------------------------------------

IS_POS = np.array([True, True, False, False])
SCORE_A = np.array([0.8, 0.6, 0.7, 0.2])
SCORE_B = np.array([0.3, 0.9, 0.5, 0.3])


def test_delong_variance_hand_worked():
    # Positives X, negatives Y; psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise.
    # A: X = (0.8, 0.6), Y = (0.7, 0.2). V10 (per positive, mean over Y) = (1, 1/2);
    #    V01 (per negative, mean over X) = (1/2, 1); AUC = 3/4.
    # B: X = (0.3, 0.9), Y = (0.5, 0.3) (a tie: 0.3 vs 0.3 counts 1/2). V10 = (1/4, 1); V01 = (1/2, 3/4);
    #    AUC = 5/8.
    # S10 (ddof 1): var A = 1/8, var B = 9/32, cov = (1/4)(-3/8) + (-1/4)(3/8) = -3/16.
    # S01: var A = 1/8, var B = 1/32, cov = (-1/4)(-1/8) + (1/4)(1/8) = 1/16.
    # Cov = S10/m + S01/n (m = n = 2): var A = 1/8, var B = 5/32, cov = (-3/16 + 1/16)/2 = -1/16.
    aucs, cov = st.delong_covariance(IS_POS, np.vstack([SCORE_A, SCORE_B]))
    assert aucs == pytest.approx([0.75, 0.625])
    assert cov == pytest.approx(np.array([[1 / 8, -1 / 16], [-1 / 16, 5 / 32]]))
    # Var(A - B) = 1/8 + 5/32 + 2/16 = 13/32; z = (1/8) / sqrt(13/32) = 0.196116135...;
    # p = 2 * (1 - Phi(z)) = 0.844519267... (scipy.stats.norm.sf)
    out = st.delong(IS_POS, SCORE_A, SCORE_B)
    assert out["diff"] == pytest.approx(0.125)
    assert out["var"] == pytest.approx(13 / 32)
    assert out["z"] == pytest.approx(0.19611613513818404)
    assert out["p"] == pytest.approx(0.84451926747294, rel=1e-9)


def test_delong_identical_predictors_p1():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(bool)
    s = rng.random(200) + y * 0.3
    out = st.delong(y, s, s)
    assert out["p"] == 1.0 and out["diff"] == 0.0
    # a monotone transform ranks identically: same AUC, no evidence of a difference
    assert st.delong(y, s, s ** 3)["p"] == 1.0


def test_delong_matches_sklearn_auc_and_detects_a_real_gap():
    rng = np.random.default_rng(2)
    y = np.repeat([True, False], 300)
    good = rng.normal(0, 1, 600) + 1.5 * y
    bad = rng.normal(0, 1, 600) + 0.3 * y
    out = st.delong(y, good, bad)
    assert out["auc_a"] == pytest.approx(roc_auc_score(y, good))
    assert out["auc_b"] == pytest.approx(roc_auc_score(y, bad))
    assert out["p"] < 1e-10 and out["ci"][0] > 0
    # DeLong's variance of a single AUC agrees with the bootstrap variance on a large sample
    _, cov = st.delong_covariance(y, good[None])
    idx = st.stratified_indices(y.astype(int), 2000, seed=0)
    boot = st.resampled_auc(good, y, idx)
    assert cov[0, 0] == pytest.approx(np.var(boot), rel=0.15)


def test_delong_needs_two_of_each_class():
    with pytest.raises(ValueError):
        st.delong(np.array([True, False, False]), np.array([0.1, 0.2, 0.3]), np.array([0.3, 0.2, 0.1]))


# --- repeated seeds, multiple comparisons, Pareto front -------------------------------------


def test_mean_sd():
    # mean 0.9; sd (ddof 1) = sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    out = st.mean_sd([0.8, 0.9, 1.0])
    assert out["mean"] == pytest.approx(0.9) and out["sd"] == pytest.approx(0.1) and out["n"] == 3
    assert st.mean_sd([0.7])["sd"] is None
    assert st.mean_sd([None, 0.5, 0.7])["mean"] == pytest.approx(0.6)
    assert st.mean_sd([None])["mean"] is None
    empty = st.mean_sd([None, float("nan")])
    assert (empty["mean"], empty["sd"], empty["n"]) == (None, None, 0)
    # a NaN or infinite metric is no value: it does not poison the mean of the others
    assert st.mean_sd([float("nan"), 0.5, float("inf"), 0.7])["mean"] == pytest.approx(0.6)


def test_t_interval_over_seeds():
    # mean 0.82, sd (ddof 1) 0.02, t(0.975, 2 df) = 4.302653: half-width 4.302653 * 0.02 / sqrt(3) = 0.049683
    lo, hi = st.t_interval([0.80, 0.82, 0.84])
    assert lo == pytest.approx(0.82 - 0.049683, abs=1e-6) and hi == pytest.approx(0.82 + 0.049683, abs=1e-6)
    assert st.t_interval([0.8]) is None
    assert st.t_interval([0.8, None]) is None and st.t_interval([0.8, float("nan")]) is None


def test_holm():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert st.holm([0.5, None, 0.9]) == [1.0, None, 1.0]
    assert st.holm([0.6, 0.9]) == [1.0, 1.0]  # 2 x 0.6 = 1.2 is capped at 1


def test_pareto_front():
    cost, value = [1, 2, 3, 4, 2], [0.5, 0.9, 0.8, 0.95, 0.7]
    assert st.pareto_front(cost, value).tolist() == [0, 1, 3]
    # values below zero (a negated loss) are on the front too: the first point, cheapest, always is
    assert st.pareto_front([1, 2, 3], [-0.5, -0.2, -0.4]).tolist() == [0, 1]
    # the same value at a higher cost is beaten
    assert st.pareto_front([1, 2], [0.5, 0.5]).tolist() == [0]


# --- the statistics section of results.json ---------------------------------------------------


def _job(pipeline: str, seed: int, family: str, y, pred, score) -> dict:
    from medbench.metrics import classification_metrics

    proba = np.column_stack([1 - np.asarray(score), score])
    return {"job_id": f"{pipeline}__seed{seed}", "pipeline": pipeline, "name": pipeline, "family": family,
            "seed": seed, "status": "ok",
            "metrics": classification_metrics(y, pred, proba, ["normal", "pneumonia"], 1),
            "runtime": {"latency_ms_per_image": 1.0 if family == "classical" else 10.0, "fit_time_s": 1.0},
            "predictions": {"ids": [f"t{i}" for i in range(len(y))], "y_true": list(map(int, y)),
                            "y_pred": list(map(int, pred)), "proba": proba.tolist()}}


def _results(jobs: list[dict]) -> dict:
    return {"dataset": {"class_names": ["normal", "pneumonia"], "positive_class": "pneumonia"},
            "split": {"counts": {}}, "jobs": jobs}


def _synthetic(seeds=(0, 1)) -> dict:
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1], 60)
    jobs = []
    for seed in seeds:
        for name, family, strength in (("good", "classical", 2.0), ("cnn", "deep", 1.0), ("weak", "classical", 0.3)):
            score = 1 / (1 + np.exp(-(rng.normal(0, 1, 120) + strength * (2 * y - 1))))
            jobs.append(_job(name, seed, family, y, (score >= 0.5).astype(int), score))
    return _results(jobs)


def test_compute_statistics_groups_seeds_and_compares_pairs():
    res = _synthetic()
    stats = evaluation.compute_statistics(res, n_resamples=200, seed=0)
    assert [g["pipeline"] for g in stats["pipelines"]] == ["good", "cnn", "weak"]
    good = stats["pipelines"][0]
    aucs = [j["metrics"]["roc_auc"] for j in res["jobs"] if j["pipeline"] == "good"]
    assert good["metrics"]["roc_auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert good["metrics"]["roc_auc"]["sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert good["seeds"] == [0, 1] and good["job_ids"] == ["good__seed0", "good__seed1"]
    # every job has a CI containing its estimate
    for job in res["jobs"]:
        ci = stats["jobs"][job["job_id"]]["metrics_ci"]["roc_auc"]
        assert ci[0] <= job["metrics"]["roc_auc"] <= ci[1]
    # every other pipeline against "good", once per seed, with Holm-adjusted p-values
    assert stats["reference"] == "good"
    assert [(c["a"], c["b"]) for c in stats["comparisons"]] == [
        ("cnn__seed0", "good__seed0"), ("cnn__seed1", "good__seed1"),
        ("weak__seed0", "good__seed0"), ("weak__seed1", "good__seed1")]
    for c in stats["comparisons"]:
        assert c["roc_auc"]["test"] == "DeLong" and c["roc_auc"]["diff"] < 0
        assert c["roc_auc"]["p_holm"] >= c["roc_auc"]["p"] and c["mcnemar"]["p_holm"] >= c["mcnemar"]["p"]
    head = stats["headline"]
    assert (head["classical"], head["deep"]) == ("good", "cnn")
    assert [c["a"] for c in head["comparisons"]] == ["good__seed0", "good__seed1"]


def test_statistics_reuses_stored_section_and_recomputes_stale_one():
    res = evaluation.add_statistics(_synthetic(seeds=(0,)), n_resamples=50, seed=1)
    assert evaluation.statistics(res) is res["statistics"]
    stale = copy.deepcopy(res)
    stale["jobs"] = stale["jobs"][:2]
    fresh = evaluation.statistics(stale)
    assert sorted(fresh["jobs"]) == ["cnn__seed0", "good__seed0"]
    assert fresh["settings"]["n_resamples"] == 50 and fresh["settings"]["seed"] == 1
    # deterministic: computing again gives the same numbers
    assert evaluation.compute_statistics(stale, 50, 1) == fresh


def test_unpaired_jobs_are_not_compared():
    res = _synthetic(seeds=(0,))
    res["jobs"][1]["predictions"]["ids"] = [f"other{i}" for i in range(120)]
    stats = evaluation.compute_statistics(res, n_resamples=50)
    cnn = next(c for c in stats["comparisons"] if c["a"] == "cnn__seed0")
    assert cnn["paired"] is False and "different test images" in cnn["reason"]


def test_jobs_without_predictions_get_no_intervals():
    res = _synthetic(seeds=(0,))
    del res["jobs"][0]["predictions"]
    stats = evaluation.compute_statistics(res, n_resamples=50)
    assert stats["jobs"]["good__seed0"]["metrics_ci"]["roc_auc"] is None
    assert all(not c["paired"] for c in stats["comparisons"] if "good__seed0" in (c["a"], c["b"]))
    assert stats["jobs"]["cnn__seed0"]["metrics_ci"]["roc_auc"] is not None


# --- mutation-testing survivors, pinned down ---------------------------------------------------


@pytest.mark.parametrize("positive", [0, 1])
def test_bootstrap_operating_point_metrics_for_either_positive_class(positive):
    """PPV, NPV, MCC, sensitivity and specificity of every resample against scikit-learn, with either class
    as the positive one (NPV is the precision of the other class)."""
    from sklearn.metrics import matthews_corrcoef, precision_score

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    score = np.clip(0.3 * y + rng.normal(0.4, 0.25, 80), 0, 1)
    proba, pred = np.column_stack([1 - score, score]), (score >= 0.45).astype(int)
    boot = st.bootstrap_metrics(y, pred, proba, n_classes=2, positive=positive, n_resamples=25, seed=2,
                                method="stratified")
    other = 1 - positive
    for b, i in enumerate(st.stratified_indices(y, 25, seed=2)):
        yt, yp = y[i], pred[i]
        assert boot["ppv"][b] == pytest.approx(precision_score(yt, yp, pos_label=positive, zero_division=0))
        assert boot["npv"][b] == pytest.approx(precision_score(yt, yp, pos_label=other, zero_division=0))
        assert boot["mcc"][b] == pytest.approx(matthews_corrcoef(yt, yp))
        assert boot["sensitivity"][b] == pytest.approx(recall_score(yt, yp, pos_label=positive))
        assert boot["specificity"][b] == pytest.approx(recall_score(yt, yp, pos_label=other))


def test_a_class_never_predicted_scores_zero_not_nan():
    """Nothing predicted positive: PPV and the positive F1 are 0 (scikit-learn's zero_division=0), not 0/0."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 would warn
        out = st.metrics_from_confusion(np.array([[[5, 0], [3, 0]]]), positive=1)
    assert out["ppv"].tolist() == [0.0] and out["f1"].tolist() == [0.0] and out["sensitivity"].tolist() == [0.0]
    assert out["npv"].tolist() == [5 / 8] and out["specificity"].tolist() == [1.0]


def test_reliability_ece_is_the_metric_even_for_one_image():
    from medbench.metrics import expected_calibration_error

    one = np.array([[0.3, 0.7]])
    assert st.reliability(np.array([0]), one)["ece"] == pytest.approx(0.7)  # confident (0.7) and wrong
    rng = np.random.default_rng(0)
    y, proba = rng.integers(0, 3, 50), rng.dirichlet([1, 1, 1], 50)
    assert st.reliability(y, proba)["ece"] == pytest.approx(expected_calibration_error(y, proba))


def test_bootstrap_auc_with_a_class_absent_matches_the_point_estimate():
    """4 classes, class 2 absent from the test labels: each resample's AUC is roc_auc's (macro OvR over the
    classes present, probabilities renormalised over them; tested by hand in test_metrics)."""
    from medbench.metrics import roc_auc

    rng = np.random.default_rng(6)
    y = np.repeat([0, 1, 3], 10)
    proba = rng.dirichlet([1, 1, 1, 1], 30) + np.eye(4)[y] * 0.4
    proba /= proba.sum(axis=1, keepdims=True)
    boot = st.bootstrap_metrics(y, proba.argmax(1), proba, n_classes=4, n_resamples=8, seed=1)
    for b, i in enumerate(st.stratified_indices(y, 8, seed=1)):
        assert boot["roc_auc"][b] == pytest.approx(roc_auc(y[i], proba[i], 4), abs=1e-12)


def test_t_interval_of_two_seeds():
    # mean 0.85, sd (ddof 1) 0.0707107, t(0.975, 1 df) = 12.706205: half-width 12.706205 * 0.0707107 / sqrt(2)
    lo, hi = st.t_interval([0.8, 0.9])
    assert lo == pytest.approx(0.85 - 0.6353102, abs=1e-6) and hi == pytest.approx(0.85 + 0.6353102, abs=1e-6)


@pytest.mark.parametrize("k, n, q", [(3, 10, 2.343), (4, 10, 2.569), (5, 20, 2.728)])
def test_nemenyi_p_is_alpha_at_demsars_critical_difference(k, n, q):
    """Demšar (2006), Table 5(a): q_0.05 for k classifiers; CD = q sqrt(k (k + 1) / (6 N)). Two classifiers
    whose mean ranks differ by exactly the CD have a Nemenyi p-value of 0.05 (the table has 3 decimals)."""
    cd = q * math.sqrt(k * (k + 1) / (6 * n))
    assert st.nemenyi_p(cd, k, n) == pytest.approx(0.05, abs=5e-4)
    assert st.nemenyi_p(0.0, k, n) == 1.0
    assert st.nemenyi_p(2 * cd, k, n) < 0.001


def test_default_bootstrap_is_1000_resamples_as_documented():
    """README and ``--help``: every CI is a bootstrap interval of 1000 resamples (seed 0): under by-metric-v2 the
    BCa interval, with the jackknife acceleration."""
    res = _synthetic(seeds=(0,))
    out = evaluation.compute_statistics(res)
    assert out["settings"]["n_resamples"] == 1000
    job = res["jobs"][0]
    y, pred = np.asarray(job["predictions"]["y_true"]), np.asarray(job["predictions"]["y_pred"])
    proba = np.asarray(job["predictions"]["proba"])
    assert len(st.bootstrap_metrics(y, pred, proba, 2, 1)["accuracy"]) == 1000
    boot = st.bootstrap_metrics(y, pred, proba, 2, 1, n_resamples=1000, seed=0)
    accel = intervals.accelerations(y, pred, proba, 2, 1)["accuracy"]
    assert out["jobs"][job["job_id"]]["metrics_ci"]["accuracy"] == pytest.approx(
        list(st.bca_ci(boot["accuracy"], job["metrics"]["accuracy"], accel)))


def test_paired_tests_name_the_mean_over_seeds_and_honour_positive_zero():
    res = _synthetic(seeds=(0, 1))
    good = [j for j in res["jobs"] if j["pipeline"] == "good"]
    weak = [j for j in res["jobs"] if j["pipeline"] == "weak"]
    two = evaluation_paired.paired_tests(good, weak, ["accuracy"], 2, 1, n_resamples=50)
    assert two["tests"]["accuracy"]["test"] == "paired bootstrap of the mean over seeds"
    one = evaluation_paired.paired_tests(good[:1], weak[:1], ["accuracy", "roc_auc"], 2, 1, n_resamples=50)
    assert one["tests"]["accuracy"]["test"] == "McNemar"
    # class 0 as the positive one: sensitivity is McNemar on the class-0 images only, DeLong on P(class 0)
    y = np.asarray(good[0]["predictions"]["y_true"])
    b_pred, n_pred = (np.asarray(j["predictions"]["y_pred"]) for j in (good[0], weak[0]))
    zero = evaluation_paired.paired_tests(good[:1], weak[:1], ["sensitivity", "specificity", "roc_auc"], 2, 0, n_resamples=50)
    keep = y == 0
    expected = st.mcnemar(b_pred[keep] == 0, n_pred[keep] == 0)
    assert zero["tests"]["sensitivity"]["test"] == "McNemar (positive images)"
    assert (zero["tests"]["sensitivity"]["b"], zero["tests"]["sensitivity"]["c"]) == (expected["b"], expected["c"])
    keep = y == 1
    expected = st.mcnemar(b_pred[keep] == 1, n_pred[keep] == 1)
    assert (zero["tests"]["specificity"]["b"], zero["tests"]["specificity"]["c"]) == (expected["b"], expected["c"])
    b_p0, n_p0 = (np.asarray(j["predictions"]["proba"])[:, 0] for j in (good[0], weak[0]))
    assert zero["tests"]["roc_auc"]["p"] == pytest.approx(st.delong(y == 0, b_p0, n_p0)["p"])


def test_paired_tests_of_a_three_class_run_use_mcnemar_for_accuracy_only():
    """Multi-class, one seed: accuracy is McNemar on every image (b, c counted here by hand from the
    correctness vectors); AUC (one-vs-rest) and the other metrics have no exact paired test: bootstrap."""
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 30)
    jobs = []
    for name, noise in (("base", 0.3), ("new", 0.6)):
        pred = np.where(rng.random(90) < noise, rng.integers(0, 3, 90), y)
        proba = np.full((90, 3), 0.1)
        proba[np.arange(90), pred] = 0.8
        jobs.append({"job_id": f"{name}__seed0", "pipeline": name, "seed": 0, "status": "ok",
                     "metrics": classification_metrics(y, pred, proba, ["a", "b", "c"], None),
                     "predictions": {"ids": [f"t{i}" for i in range(90)], "y_true": y.tolist(),
                                     "y_pred": pred.tolist(), "proba": proba.tolist()}})
    out = evaluation_paired.paired_tests(jobs[:1], jobs[1:], ["accuracy", "roc_auc", "macro_f1"], 3, None, n_resamples=50)["tests"]
    b_right, n_right = (np.asarray(j["predictions"]["y_pred"]) == y for j in jobs)
    b, c = int(np.sum(b_right & ~n_right)), int(np.sum(~b_right & n_right))
    assert out["accuracy"]["test"] == "McNemar" and (out["accuracy"]["b"], out["accuracy"]["c"]) == (b, c)
    assert b + c > 0
    assert out["roc_auc"]["test"] == out["macro_f1"]["test"] == "paired bootstrap"
    # a run against itself: every bootstrap difference is 0, p = 1
    same = evaluation_paired.paired_tests(jobs[:1], jobs[:1], ["accuracy", "macro_f1"], 3, None, n_resamples=50)["tests"]
    assert same["macro_f1"] == {"test": "paired bootstrap", "p": 1.0} and same["accuracy"]["p"] == 1.0


def test_multiclass_auc_of_a_resample_renormalises_over_the_classes_present():
    """4 classes, class 3 absent; image 3 (class 1) puts all its probability on class 3, so its renormalised
    scores are 0, 0, 0 (not NaN, which would rank it above every other image). By hand over classes
    {0, 1, 2}: AUC(class 0) = 8 / 9, AUC(class 1) = 4 / 8 (image 3 beats no negative), AUC(class 2) = 5 / 5;
    scikit-learn's AUCs of the renormalised scores agree."""
    y = np.array([0, 0, 0, 1, 1, 2])
    proba = np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1],
                      [0.0, 0.0, 0.0, 1.0], [0.1, 0.6, 0.2, 0.1], [0.3, 0.1, 0.5, 0.1]])
    want = (8 / 9 + 4 / 8 + 5 / 5) / 3
    sub = proba[:, :3] / np.maximum(proba[:, :3].sum(axis=1, keepdims=True), 1e-12)
    assert np.mean([roc_auc_score(y == c, sub[:, c]) for c in range(3)]) == pytest.approx(want)
    assert st.auc_scores(y, proba, np.array([[0, 1, 2, 3, 4, 5]]), 4).tolist() == [pytest.approx(want)]


def test_binary_auc_of_resamples_for_either_positive_class():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    p1 = np.array([0.2, 0.6, 0.1, 0.7, 0.4, 0.3, 0.9, 0.5])
    proba = np.column_stack([1 - p1, p1])
    idx = np.array([[0, 1, 2, 3, 4, 5, 6, 7]])
    for positive in (0, 1):
        want = roc_auc_score(y == positive, proba[:, positive])
        assert st.auc_scores(y, proba, idx, 2, positive).tolist() == [pytest.approx(want)]


def test_small_contracts_of_the_statistics():
    # balanced accuracy over the classes present: with one class present, its recall (scikit-learn's value)
    y_true, y_pred = np.zeros(4, int), np.array([0, 0, 0, 1])
    with warnings.catch_warnings():  # scikit-learn warns that y_pred holds a class y_true lacks
        warnings.simplefilter("ignore")
        want = balanced_accuracy_score(y_true, y_pred)
    assert want == 0.75
    assert st.metrics_from_confusion(np.array([[[3, 1], [0, 0]]]))["balanced_accuracy"].tolist() == [want]
    # a class with a single image is present: (3/4 + 1/1) / 2
    assert balanced_accuracy_score([0, 0, 0, 0, 1], [0, 0, 0, 1, 1]) == 0.875
    assert st.metrics_from_confusion(np.array([[[3, 1], [0, 1]]]))["balanced_accuracy"].tolist() == [0.875]
    # no positive class given: class 1 is the positive one (as metrics.classification_metrics)
    cm = np.array([[[3, 1], [2, 4]]])
    default, one = st.metrics_from_confusion(cm), st.metrics_from_confusion(cm, positive=1)
    assert {k: v.tolist() for k, v in default.items()} == {k: v.tolist() for k, v in one.items()}
    assert default["sensitivity"].tolist() == [4 / 6]
    # the reliability diagram's 15 bins have 16 edges, 0 to 1
    rel = st.reliability(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert rel["edges"] == [i / 15 for i in range(16)] and len(rel["count"]) == 15
    # a resample without negatives (or positives) has no AUC
    assert np.isnan(st.resampled_auc(np.array([0.1, 0.9]), np.array([True, True]), np.array([[0, 1]]))).all()
    # ... but one positive (or one negative) is enough: scikit-learn's AUC of the same images
    score, pos = np.array([0.2, 0.7, 0.4, 0.9, 0.1]), np.array([False, False, True, False, False])
    idx = np.array([[0, 1, 2, 3, 4], [2, 2, 0, 1, 4]])
    want = [roc_auc_score(pos[row], score[row]) for row in idx]
    assert want == pytest.approx([0.5, 2 / 3]) and st.resampled_auc(score, pos, idx).tolist() == pytest.approx(want)
    assert st.resampled_auc(score, ~pos, idx).tolist() == pytest.approx([1 - w for w in want])
    # McNemar pairs answers image by image: different lengths are refused, either way round
    for a, b in ((np.ones(3, bool), np.ones(2, bool)), (np.ones(2, bool), np.ones(3, bool))):
        with pytest.raises(ValueError, match="not paired"):
            st.mcnemar(a, b)


def test_delong_with_too_few_images_is_named_not_raised():
    y = [1, 0, 0, 0]
    jobs = [_job(name, 0, "classical", np.array(y), np.array(pred), np.array(score))
            for name, pred, score in (("a", [1, 0, 0, 1], [0.9, 0.2, 0.3, 0.6]), ("b", [1, 0, 1, 0], [0.8, 0.1, 0.7, 0.4]))]
    out = evaluation_paired.paired_tests(jobs[:1], jobs[1:], ["roc_auc"], 2, 1)
    assert out["tests"]["roc_auc"] == {"test": "DeLong (too few images)", "p": None}


def test_edge_cases_of_the_tests_by_hand():
    # the default significance level is 0.05: Demšar's CD for 4 classifiers on 10 data sets,
    # q_0.05 = 2.569: CD = 2.569 sqrt(4 * 5 / 60) = 1.4832
    assert st.critical_difference(4, 10) == pytest.approx(1.4832, abs=5e-4)
    # the bootstrap p-value is symmetric: 999 differences all below 0 give (0 + 1) / (999 + 1), doubled
    assert st.bootstrap_p(np.full(999, -0.1)) == pytest.approx(2 / 1000)
    # McNemar without any disagreement: nothing to count, p = 1
    same = st.mcnemar(np.array([True, False, True]), np.array([True, False, True]))
    assert same == {"b": 0, "c": 0, "statistic": None, "p": 1.0, "method": "exact binomial"}
    # DeLong with no variance: a perfect and a perfectly inverted score differ for certain (p = 0);
    # the same perfect score twice does not differ at all (p = 1)
    y = np.array([True, True, False, False])
    perfect, inverted = np.array([0.9, 0.8, 0.2, 0.1]), np.array([0.1, 0.2, 0.8, 0.9])
    out = st.delong(y, perfect, inverted)
    assert (out["auc_a"], out["auc_b"], out["diff"], out["var"], out["p"]) == (1.0, 0.0, 1.0, 0.0, 0.0)
    assert st.delong(y, perfect, perfect)["p"] == 1.0
    # Wilcoxon: all differences 0 -> p 1; eight positive differences -> exact two-sided p = 2 / 2^8
    assert st.wilcoxon_p(np.zeros(5)) == 1.0
    assert st.wilcoxon_p(np.arange(1, 9) / 100) == pytest.approx(2 / 256)
    # ... and eight negative ones: the same p (not "no difference")
    assert st.wilcoxon_p(-np.arange(1, 9) / 100) == pytest.approx(2 / 256)
    # equal non-zero differences are a difference: scipy's test, not "no difference"
    assert st.wilcoxon_p(np.ones(8)) == pytest.approx(sps.wilcoxon(np.ones(8), zero_method="zsplit").pvalue)
    assert st.wilcoxon_p(np.ones(8)) < 0.05
    assert st.wilcoxon_p(-np.ones(8)) == pytest.approx(st.wilcoxon_p(np.ones(8)))
    # McNemar's chi-square with b + c = 29 >= 25: (|20 - 9| - 1)^2 / 29 = 100 / 29
    r = st.mcnemar(np.r_[np.ones(20, bool), np.zeros(9, bool)], np.r_[np.zeros(20, bool), np.ones(9, bool)])
    assert (r["b"], r["c"], r["method"]) == (20, 9, "chi-square, continuity-corrected")
    assert r["statistic"] == pytest.approx(100 / 29)
    # paired-bootstrap p, worked by hand: 10 differences, 3 at or below 0 (one is 0), 8 at or above 0:
    # twice the smaller tail (3 + 1) / 11
    assert st.bootstrap_p(np.array([-1, -2, 0, 1, 2, 3, 4, 5, 6, 7])) == pytest.approx(8 / 11)
    assert st.bootstrap_p(np.array([1, 2, 0, -1, -2, -3, -4, -5, -6, -7])) == pytest.approx(8 / 11)  # mirrored
    # a percentile interval of one resample is that value (not "undefined")
    assert st.percentile_ci(np.array([0.25])) == (0.25, 0.25)
    assert st.bootstrap_p(np.array([])) is None and st.percentile_ci(np.array([])) is None  # nothing resampled
    assert st.bootstrap_p(np.array([0.5])) == 1.0  # one resample: twice min((0 + 1) / 2, (1 + 1) / 2)
    assert st.bootstrap_p(np.array([np.nan, 0.5])) is None  # an undefined resample: no p
    # a reliability bin holding one right and one wrong answer has accuracy 1/2 (bin 12 of 15: 0.8-0.867)
    rel = st.reliability(np.array([1, 0]), np.array([[0.2, 0.8], [0.2, 0.8]]))
    assert rel["accuracy"][12] == 0.5 and rel["count"][12] == 2


def test_balanced_accuracy_of_resamples_is_over_the_classes_present():
    """A 3-class task whose test labels lack class 2: balanced accuracy averages the recalls of classes 0 and 1
    (as scikit-learn's balanced_accuracy_score), not a zero recall of the absent class."""
    y, pred = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 2, 1, 1, 0])
    boot = st.bootstrap_metrics(y, pred, np.eye(3)[pred], n_classes=3, n_resamples=6, seed=0)
    import warnings

    for b, i in enumerate(st.stratified_indices(y, 6, seed=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
            assert boot["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(y[i], pred[i]))
    # one class only: no AUC for any of the resamples, one NaN per resample
    one = st.bootstrap_metrics(np.zeros(4, int), np.zeros(4, int), np.eye(2)[[0] * 4], 2, 1, n_resamples=7, seed=0)
    assert one["roc_auc"].shape == (7,) and np.isnan(one["roc_auc"]).all()


def test_paired_bootstrap_default_resamples_give_the_documented_smallest_p():
    """2000 paired resamples: a difference every resample agrees on has p = 2 / 2001 (stats.PAIRED_RESAMPLES)."""
    y = np.repeat([0, 1], 40)
    good = _job("good", 0, "classical", y, y, np.where(y == 1, 0.9, 0.1))
    bad_pred = np.where(np.arange(80) % 2 == 0, y, 1 - y)
    bad = _job("bad", 0, "classical", y, bad_pred, np.where(bad_pred == 1, 0.6, 0.4))
    out = evaluation_paired.paired_tests([good], [bad], ["f1"], 2, 1)
    assert out["tests"]["f1"] == {"test": "paired bootstrap", "p": pytest.approx(2 / 2001)}


def test_pairing_needs_predictions_on_both_sides_and_class_1_is_positive_by_default():
    res = _synthetic(seeds=(0,))
    good, weak = (next(j for j in res["jobs"] if j["pipeline"] == name) for name in ("good", "weak"))
    bare = {**weak, "predictions": {}}
    for b, n in ((good, bare), (bare, good)):
        assert evaluation_paired.paired_tests([b], [n], ["accuracy"], 2, 1) == {"paired": False, "reason": "no stored test predictions"}
    # probabilities for more images than labels: not usable either
    for proba in (weak["predictions"]["proba"] * 2, weak["predictions"]["proba"][:-1]):  # longer, shorter
        odd = {**weak, "predictions": {**weak["predictions"], "proba": proba}}
        assert evaluation_paired.paired_tests([good], [odd], ["accuracy"], 2, 1) == {"paired": False,
                                                                       "reason": "no stored test predictions"}
    y = np.asarray(good["predictions"]["y_true"])
    b_pred, n_pred = (np.asarray(j["predictions"]["y_pred"]) for j in (good, weak))
    out = evaluation_paired.paired_tests([good], [weak], ["sensitivity"], 2, None)["tests"]["sensitivity"]
    expected = st.mcnemar(b_pred[y == 1] == 1, n_pred[y == 1] == 1)
    assert (out["b"], out["c"]) == (expected["b"], expected["c"])


def test_last_survivors_of_the_statistics():
    from scipy.stats import norm

    assert st.Z95 == pytest.approx(norm.ppf(0.975), abs=1e-12)  # the 95% normal quantile, as its name says
    # McNemar with a single disagreement counts it
    one = st.mcnemar(np.array([True, True, False]), np.array([True, False, False]))
    assert (one["b"], one["c"], one["p"]) == (1, 0, 1.0)
    # no positive class named: AUC (bootstrap and DeLong) of class 1
    res = _synthetic(seeds=(0,))
    good, weak = (next(j for j in res["jobs"] if j["pipeline"] == name) for name in ("good", "weak"))
    y = np.asarray(good["predictions"]["y_true"])
    p_good, p_weak = (np.asarray(j["predictions"]["proba"])[:, 1] for j in (good, weak))
    boot = st.bootstrap_metrics(y, (p_good >= 0.5).astype(int), np.asarray(good["predictions"]["proba"]), 2,
                                n_resamples=5, seed=0)
    for b, i in enumerate(st.stratified_indices(y, 5, seed=0)):
        assert boot["roc_auc"][b] == pytest.approx(roc_auc_score(y[i], p_good[i]))
    out = evaluation_paired.paired_tests([good], [weak], ["roc_auc"], 2, None)["tests"]["roc_auc"]
    assert out["p"] == pytest.approx(st.delong(y == 1, p_good, p_weak)["p"])
    # test images with other labels either way round are not paired
    for edit in (lambda t: t.__setitem__(0, 1 - t[0]), lambda t: t.__setitem__(-1, 1 - t[-1])):
        other = copy.deepcopy(weak)
        edit(other["predictions"]["y_true"])
        assert evaluation_paired.pairing_problem(good, other) == "scored on different test images"
        assert evaluation_paired.pairing_problem(other, good) == "scored on different test images"
    # ... and so are the same labels on other image ids, either way round
    other = copy.deepcopy(weak)
    other["predictions"]["ids"] = ["z" + i for i in other["predictions"]["ids"]]
    assert evaluation_paired.pairing_problem(good, other) == evaluation_paired.pairing_problem(other, good) == "scored on different test images"


def test_bootstrap_calibration_of_every_resample_is_that_resample_s_own():
    """Brier and ECE of each of several resamples equal the metric computed on the resampled images alone."""
    from medbench.metrics import brier_score, expected_calibration_error

    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 60)
    p1 = np.clip(0.3 * y + rng.uniform(0.1, 0.7, 60), 0, 1)
    proba = np.round(np.column_stack([1 - p1, p1]), 6)  # at the stored precision, as calibration is measured
    idx = st.stratified_indices(y, 6, seed=3)
    got = st.calibration_scores(y, proba, idx)
    for b, i in enumerate(idx):
        assert got["ece"][b] == pytest.approx(expected_calibration_error(y[i], proba[i]), abs=1e-12)
        assert got["brier"][b] == pytest.approx(brier_score(y[i], proba[i]), abs=1e-12)
