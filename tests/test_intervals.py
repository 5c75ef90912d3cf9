"""ci_method by-metric-v2 (medbench.evaluation.intervals, medbench.evaluation.stats.bca_ci / recentred_ci): the BCa
interval, its jackknife acceleration, the debiased ECE, and results written with the method (or with the previous
by-metric) validating and rendering. Coverage itself is measured by tests/coverage_study.py (docs/coverage.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import synthetic_results as synth
from scipy import stats as sps

from medbench import metrics as mt
from medbench.evaluation import intervals as iv
from medbench.evaluation import stats as st
from medbench.records import results as results_mod
from medbench.reports import markdown

GRID = np.arange(1001) / 1000  # quantiles q: exactly q (linear interpolation)


def test_bca_without_bias_or_acceleration_is_the_percentile_interval():
    assert st.bca_ci(GRID, 0.5) == pytest.approx(st.percentile_ci(GRID))


def test_bca_moves_the_percentile_levels_by_z0_and_the_acceleration():
    # 600 samples below 0.6 and one tie (counted a half): z0 = Phi^-1(600.5 / 1001)
    z0 = sps.norm.ppf(600.5 / 1001)
    for a in (0.0, 0.05, -0.05):
        z = np.array([-st.Z95, st.Z95])
        expected = sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        assert st.bca_ci(GRID, 0.6, a) == pytest.approx(tuple(expected), abs=1e-9)
    lo0, hi0 = st.bca_ci(GRID, 0.6, 0.0)
    assert lo0 > 0.025 and hi0 > 0.975 - 1e-9  # an estimate above the samples' median moves the interval up
    assert st.bca_ci(GRID, 0.6, 0.1)[1] > hi0  # positive acceleration stretches the upper end
    assert st.bca_ci(np.array([0.5, np.nan]), 0.5) is None and st.bca_ci(GRID, None) is None
    assert st.bca_ci(GRID, 2.0) == pytest.approx((GRID[-1], GRID[-1]), abs=2e-3)  # every sample below: the top


def test_the_jackknife_acceleration_of_a_mean_is_its_skewness_over_six_root_n():
    """For the mean, d_i = (x_i - mean) / (n - 1), so a = skewness (biased, scipy's default) / (6 sqrt(n))."""
    x = np.random.default_rng(0).exponential(size=150)
    loo = (x.sum() - x) / (len(x) - 1)
    assert iv.acceleration(loo) == pytest.approx(sps.skew(x) / (6 * math.sqrt(len(x))), rel=1e-9)
    assert iv.acceleration(np.full(10, 0.3)) == 0.0 and iv.acceleration(np.array([0.1, np.nan, 0.2])) == 0.0


def test_jackknife_rows_leave_out_one_image_up_to_the_group_limit_then_groups():
    rows = iv.jackknife_indices(7)
    assert rows.shape == (7, 6)
    assert all(i not in row and len(set(row)) == 6 for i, row in enumerate(rows))
    big = iv.jackknife_indices(1003)  # groups of ceil(1003 / 200) = 6: 167 rows, one image never left out
    assert big.shape == (167, 1003 - 6)
    left_out = np.concatenate([np.setdiff1d(np.arange(1003), row) for row in big])
    assert len(left_out) == len(set(left_out.tolist())) == 167 * 6
    assert np.array_equal(big, iv.jackknife_indices(1003))  # seeded: the same rows every time


def test_accelerations_are_those_of_the_leave_one_out_metrics():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    proba = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.01, 0.99)
    proba = np.column_stack([1 - proba, proba])
    pred = (proba[:, 1] >= 0.5).astype(int)
    acc = iv.accelerations(y, pred, proba, 2, 1)
    keep = [np.delete(np.arange(60), i) for i in range(60)]
    loo_acc = np.array([np.mean(y[k] == pred[k]) for k in keep])
    loo_auc = np.array([mt.roc_auc(y[k], proba[k], 2, 1) for k in keep])
    assert acc["accuracy"] == pytest.approx(iv.acceleration(loo_acc), abs=1e-12)
    assert acc["roc_auc"] == pytest.approx(iv.acceleration(loo_auc), abs=1e-12)


def test_debiased_ece_removes_part_of_the_plug_in_bias_of_a_calibrated_scorer():
    """A calibrated scorer (y drawn with P(y = 1) = its score) has population ECE 0; the plug-in ECE of 200
    images is well above it, the debiased one closer (averaged over 100 test sets). At a population gap of 0
    the normal correction, evaluated at the noisy gap, removes only part of the bias (about 40% here):
    docs/coverage.md says so."""
    rng = np.random.default_rng(11)
    plug, debiased = [], []
    for _ in range(100):
        p1 = rng.uniform(0.05, 0.95, 200)
        y = (rng.uniform(size=200) < p1).astype(int)
        proba = np.column_stack([1 - p1, p1])
        plug.append(mt.expected_calibration_error(y, proba))
        debiased.append(iv.debiased_ece(y, proba, np.arange(200)[None])[0])
    assert np.mean(plug) > 0.04
    assert 0 < np.mean(debiased) < 0.7 * np.mean(plug)


def test_debiased_ece_of_one_bin_by_hand():
    # four images, all in the 0.8-0.867 bin (confidence 0.85), three right: gap g = 0.85 - 0.75 = 0.1,
    # s^2 = max(0.75 * 0.25 / 3, 0.85 * 0.15 / 4) = 0.0625; debiased = 2 |g| - E|N(g, s^2)|
    y = np.array([1, 1, 1, 0])
    proba = np.tile([0.15, 0.85], (4, 1))
    g, s = 0.1, math.sqrt(0.0625)
    e_abs = s * math.sqrt(2 / math.pi) * math.exp(-g * g / (2 * s * s)) + g * (1 - 2 * sps.norm.cdf(-g / s))
    assert iv.debiased_ece(y, proba, np.arange(4)[None])[0] == pytest.approx(2 * g - e_abs, abs=1e-12)
    assert mt.expected_calibration_error(y, proba) == pytest.approx(g)


def test_metric_cis_by_method():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 120)
    proba = rng.dirichlet(np.ones(3), 120) + np.eye(3)[y] * 0.8
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(1)
    est = mt.classification_metrics(y, pred, proba, ["a", "b", "c"], None)
    estimates = {m: est[m] for m in mt.metric_names(3)}
    boot = st.bootstrap_metrics(y, pred, proba, 3, None, 300, 4)
    v2 = iv.metric_cis(y, pred, proba, boot, estimates, 3, None, 0.95, "by-metric-v2", 300, 4)
    accel = iv.accelerations(y, pred, proba, 3, None)
    assert v2["mcc"] == pytest.approx(st.bca_ci(boot["mcc"], estimates["mcc"], accel["mcc"]))
    ece_est, ece_samples = iv.ece_samples(y, proba, 300, 4)
    assert v2["ece"] == pytest.approx(st.recentred_ci(ece_samples, ece_est))
    assert ece_est < estimates["ece"]  # the debiased ECE is below the plug-in one
    old = iv.metric_cis(y, pred, proba, boot, estimates, 3, None, 0.95, "by-metric", 300, 4)
    assert old["ece"] == pytest.approx(st.basic_ci(boot["ece"], estimates["ece"]))
    assert old["mcc"] == pytest.approx(st.percentile_ci(boot["mcc"]))
    assert iv.metric_cis(y, pred, proba, boot, {"mcc": None}, 3, None) == {}


@pytest.mark.parametrize("method", ["by-metric-v2", "by-metric", None])
def test_results_of_every_ci_method_validate_and_render(tmp_path, method):
    """Results written by medbench now record by-metric-v2; those of the first study (by-metric) and older ones
    (no ci_method: stratified) still validate and render, each with its own words."""
    res = synth.make()
    settings = res["statistics"]["settings"]
    assert settings["ci_method"] == "by-metric-v2"
    if method is None:
        settings.pop("ci_method")
    else:
        settings["ci_method"] = method
    results_mod.validate(res, "results.json")
    text = markdown.render(res)
    if method is None:
        assert "stratified bootstrap over the test images" in text
    else:
        assert f"method `{method}`" in text
    if method == "by-metric-v2":
        assert "bias-corrected and accelerated (BCa)" in text


def test_binary_auc_interval_is_delong_on_the_logit_scale():
    """logit(AUC) +- 1.96 SE / (AUC (1 - AUC)) with DeLong's SE (the paired DeLong test's variance), back-transformed;
    by-metric-v2 reports it for a binary ROC-AUC; it stays inside [0, 1] and is wider below the AUC near 1."""
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], [80, 20])
    score = rng.normal(1.2 * y, 1.0)
    auc, cov = st.delong_covariance(y == 1, score)
    a, se = auc[0], math.sqrt(cov[0, 0])
    logit = math.log(a / (1 - a))
    expected = [1 / (1 + math.exp(-(logit + s * st.Z95 * se / (a * (1 - a))))) for s in (-1, 1)]
    assert iv.delong_logit_ci(y == 1, score) == pytest.approx(expected, abs=1e-12)
    assert a - expected[0] > expected[1] - a > 0  # AUC above 0.5: the longer side is below
    proba = np.column_stack([1 - 1 / (1 + np.exp(-score)), 1 / (1 + np.exp(-score))])
    pred = (proba[:, 1] >= 0.5).astype(int)
    boot = st.bootstrap_metrics(y, pred, proba, 2, 1, 200, 0)
    cis = iv.metric_cis(y, pred, proba, boot, {"roc_auc": mt.roc_auc(y, proba, 2, 1)}, 2, 1, 0.95, "by-metric-v2", 200, 0)
    assert cis["roc_auc"] == pytest.approx(iv.delong_logit_ci(y == 1, proba[:, 1]), abs=1e-9)
    assert iv.delong_logit_ci(y == 1, y.astype(float)) == (1.0, 1.0)  # perfect separation: no spread
    assert iv.delong_logit_ci(np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2])) is None  # one positive


def test_ece_interval_reaches_zero_exactly_when_perfect_calibration_is_not_rejected():
    """Consistency resampling (outcomes drawn as Bernoulli(confidence)): a calibrated scorer's ECE is not
    rejected and its interval starts at 0; an over-confident one is rejected and its interval is the
    re-centred one of the debiased ECE. (A 5%-level test rejects 5% of calibrated test sets: this seed's is not.)"""
    rng = np.random.default_rng(1)
    p1 = rng.uniform(0.05, 0.95, 400)
    calibrated = (rng.uniform(size=400) < p1).astype(int)
    over = (rng.uniform(size=400) < 0.5 + (p1 - 0.5) * 0.4).astype(int)  # probabilities far more extreme than the truth
    proba = np.column_stack([1 - p1, p1])
    assert iv.calibration_p(calibrated, proba) >= 0.05
    assert iv.calibration_p(over, proba) < 0.01
    assert iv.ece_interval(calibrated, proba)[0] == 0.0
    est, samples = iv.ece_samples(over, proba)
    assert iv.ece_interval(over, proba) == pytest.approx(st.recentred_ci(samples, est))
    assert iv.ece_interval(over, proba)[0] > 0.05
    # the p-value is the share of calibrated outcome sets whose ECE reaches the observed one, +1 corrected
    assert 1 / 1001 <= iv.calibration_p(over, proba) and iv.calibration_p(calibrated, proba, n_resamples=99) * 100 % 1 == 0


def test_bca_of_samples_with_infinite_values_at_a_bound_is_undefined():
    """An unbounded metric (a likelihood ratio dividing by zero in some resamples) has no finite bound there."""
    samples = np.concatenate([np.linspace(1.0, 3.0, 900), np.full(100, np.inf)])
    assert st.bca_ci(samples, 2.0) is None
    assert st.bca_ci(np.concatenate([np.linspace(1.0, 3.0, 990), np.full(10, np.inf)]), 2.0) is not None


def test_classwise_ece_interval_debiases_each_class_and_tests_calibration_by_drawing_classes():
    """The class-wise ECE (Metrics Reloaded, in the catalogue on main): per class the one-vs-rest ECE of
    P(class) in 15 equal-width bins, averaged; its by-metric-v2 interval debiases each class as the ECE's and
    reaches 0 when classes drawn from the probabilities give as large a class-wise ECE often enough."""
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), 300)
    cum = proba.cumsum(axis=1)
    calibrated = (rng.uniform(size=(300, 1)) >= cum).sum(axis=1).clip(0, 2)
    sharp = proba ** 3 / (proba ** 3).sum(axis=1, keepdims=True)  # over-confident for the same outcomes
    plug_in = np.mean([np.abs(np.bincount(np.minimum((sharp[:, k] * 15).astype(int), 14),
                                          weights=sharp[:, k] - (calibrated == k), minlength=15)).sum() / 300
                       for k in range(3)])
    debiased = iv.debiased_classwise_ece(calibrated, sharp, np.arange(300)[None])[0]
    assert 0 < debiased < plug_in
    assert iv.classwise_calibration_p(calibrated, proba, 200) >= 0.05
    assert iv.classwise_calibration_p(calibrated, sharp, 200) < 0.01
    assert iv.ece_interval(calibrated, proba, classwise=True)[0] == 0.0
    lo, hi = iv.ece_interval(calibrated, sharp, classwise=True)
    assert 0 < lo < debiased < hi


def test_likelihood_ratio_interval_is_the_log_scale_delta_method_and_by_metric_v2_reports_it():
    """LR+ and LR- (Metrics Reloaded): ``ln LR +- 1.96 SE`` back-transformed, SE^2 = 1/TP - 1/P + 1/FP - 1/N
    (LR-: 1/FN - 1/P + 1/TN - 1/N), Simel et al. 1991; 0.5 added to every count when one is 0."""
    y = np.array([1] * 40 + [0] * 60)
    pred = np.array([1] * 30 + [0] * 10 + [1] * 12 + [0] * 48)  # TP 30, FN 10, FP 12, TN 48
    lrp, se = (30 / 40) / (12 / 60), math.sqrt(1 / 30 - 1 / 40 + 1 / 12 - 1 / 60)
    assert iv.likelihood_ratio_ci(y, pred, 1, "lr_positive") == pytest.approx(
        (lrp * math.exp(-st.Z95 * se), lrp * math.exp(st.Z95 * se)))
    lrn, se = (10 / 40) / (48 / 60), math.sqrt(1 / 10 - 1 / 40 + 1 / 48 - 1 / 60)
    assert iv.likelihood_ratio_ci(y, pred, 1, "lr_negative") == pytest.approx(
        (lrn * math.exp(-st.Z95 * se), lrn * math.exp(st.Z95 * se)))
    no_fn = np.array([1] * 40 + [1] * 12 + [0] * 48)  # LR- = 0: the corrected counts give an interval above 0
    lo, hi = iv.likelihood_ratio_ci(y, no_fn, 1, "lr_negative")
    assert 0 < lo < hi
    assert iv.likelihood_ratio_ci(np.ones(10, int), np.ones(10, int), 1, "lr_positive") is None
    proba = np.column_stack([1 - 0.6 * pred - 0.2, 0.6 * pred + 0.2])
    est = mt.classification_metrics(y, pred, proba, ["n", "p"], 1)
    boot = st.bootstrap_metrics(y, pred, proba, 2, 1, 200, 4)
    cis = iv.metric_cis(y, pred, proba, boot, {m: est[m] for m in ("lr_positive", "lr_negative")}, 2, 1,
                        0.95, "by-metric-v2", 200, 4)
    assert cis["lr_positive"] == pytest.approx(iv.likelihood_ratio_ci(y, pred, 1, "lr_positive"))
    assert cis["lr_negative"] == pytest.approx(iv.likelihood_ratio_ci(y, pred, 1, "lr_negative"))
    old = iv.metric_cis(y, pred, proba, boot, {"lr_positive": est["lr_positive"]}, 2, 1, 0.95, "by-metric", 200, 4)
    assert old["lr_positive"] == pytest.approx(st.percentile_ci(boot["lr_positive"]))


def test_classwise_debiasing_of_one_bin_by_hand_is_the_mean_of_two_corrections():
    # binary, four images all at P(1) = 0.85 (bin 12 of 15), three positive: class 1's gap g = 0.1,
    # s^2 = max(0.75 * 0.25 / 3, 0.85 * 0.15 / 4) = 0.0625; class 0 mirrors it (P(0) = 0.15, gap -0.1, same s^2)
    y = np.array([1, 1, 1, 0])
    proba = np.tile([0.15, 0.85], (4, 1))
    g, s = 0.1, 0.25
    e_abs = s * math.sqrt(2 / math.pi) * math.exp(-g * g / (2 * s * s)) + g * (1 - 2 * sps.norm.cdf(-g / s))
    expected = ((2 * g - e_abs) + math.sqrt(max(g * g - s * s, 0.0))) / 2
    assert iv.debiased_classwise_ece(y, proba, np.arange(4)[None])[0] == pytest.approx(expected, abs=1e-12)
    # metric_ci's class-wise ECE under by-metric-v2 is the ECE's (re-centred debiased samples), basic under by-metric
    samples = np.linspace(0.01, 0.09, 101)
    assert st.metric_ci("classwise_ece", samples, 0.04, 0.95, "by-metric-v2") == st.recentred_ci(samples, 0.04)
    assert st.metric_ci("classwise_ece", samples, 0.04, 0.95, "by-metric") == st.basic_ci(samples, 0.04)
