"""Statistics that make a comparison honest: pure, deterministic functions over arrays.

* :func:`reliability` - the bins of a reliability diagram (top-label confidence, 15 equal-width bins, as
  the ECE); :func:`calibration_scores` - Brier score and ECE of bootstrap resamples.
* :func:`bootstrap_metrics` - the headline metrics of ``n_resamples`` bootstrap resamples of the test
  images, vectorised; :func:`percentile_ci` turns them into a percentile confidence interval. How the
  images are resampled is a named method (:data:`CI_METHODS`, recorded in results.json's statistics):
  ``by-metric`` (the default after the first coverage study, docs/coverage.md) resamples the test images
  *stratified* (each class with replacement within itself, so every resample has the test split's
  class counts) for the class-conditional metrics (:data:`CLASS_CONDITIONAL`: sensitivity,
  specificity, balanced accuracy, ROC-AUC) and *ordinarily* (n images drawn with replacement from
  all n) for the prevalence-dependent rest, whose sampling variation includes that of the class
  counts; ``stratified`` (every metric stratified) is the method of earlier results. ``by-metric-v2``
  (the default since the second coverage study) resamples as ``by-metric`` and turns the samples into
  BCa intervals (:func:`bca_ci`), the ECE's into the re-centred interval of the debiased ECE
  (:func:`recentred_ci`; both assembled by :func:`medbench.evaluation.intervals.metric_cis`). The resample
  indices depend only on the labels, the number of resamples and the seed, so two pipelines scored
  on the same test images get the *same* resamples: the difference of their bootstrap samples is a
  paired bootstrap of the difference.
* :func:`mcnemar` - McNemar's test on the discordant pairs of two classifiers' right/wrong
  answers: exact two-sided binomial test for fewer than 25 discordant pairs, chi-square with
  continuity correction otherwise.
* :func:`delong` - DeLong's test for two correlated ROC-AUCs (DeLong et al. 1988, with the
  mid-rank algorithm of Sun & Xu 2014), and the AUC covariance it rests on.
* :func:`mean_sd` and :func:`t_interval` (repeated seeds), :func:`holm` (multiple comparisons), :func:`pareto_front`.
* across datasets (a suite, :mod:`medbench.running.suitefile`): :func:`friedman` (chi-square and Iman-Davenport F),
  :func:`nemenyi_q`, :func:`critical_difference`, :func:`nemenyi_p`, :func:`wilcoxon_p` (Demšar 2006).
* over versions (:mod:`medbench.stores.history`): :func:`penalty` and :func:`change_points` (PELT).
Arrays in, numbers out: no job records here. Which test compares two jobs is the evaluation protocol's
(:mod:`medbench.evaluation.paired`), and its constants (alpha, CI level, resamples) are defined once in
:mod:`medbench.evaluation.protocol`; a new test goes here, beside its unit test in tests/test_stats.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ruptures
from scipy import stats as sps

from medbench import metrics as mt
from medbench import metrics_reloaded as reloaded
from medbench.evaluation.protocol import ALPHA, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

EXACT_BELOW = 25  # McNemar: exact binomial test when b + c is below this
Z95 = 1.959963984540054

#: The bootstrap's resampling methods (results.json ``statistics.settings.ci_method``; absent: ``stratified``).
CI_METHODS = {
    "stratified": "every metric on stratified resamples (each class resampled within itself)",
    "ordinary": "every metric on ordinary resamples (n images drawn with replacement from all n)",
    "by-metric": "class-conditional metrics (sensitivity, specificity, balanced accuracy, ROC-AUC) on stratified "
                 "resamples, prevalence-dependent ones (accuracy, F1, macro F1, MCC, PPV, NPV, Brier, ECE) on "
                 "ordinary resamples; the ECE's interval is the basic (reverse-percentile) one, which corrects its "
                 "upward bias",
    "by-metric-v2": "resampled as by-metric; every interval bias-corrected and accelerated (BCa, jackknife "
                    "acceleration), except the ECE's: the percentile interval of the debiased ECE (Kumar et al. "
                    "2019) re-centred on its estimate, reaching 0 when consistency resampling does not reject "
                    "perfect calibration (the class-wise ECE's the same, per class, its debiasing the mean of "
                    "Kumar's and sqrt(max(g^2 - s^2, 0)) per bin), a binary ROC-AUC's: DeLong's on the logit scale, "
                    "and the likelihood ratios': on the log scale with the delta-method variance (Simel et al. 1991)",
}
CI_METHOD = "by-metric-v2"  # the default: the one whose coverage docs/coverage.md measured within [0.93, 0.97]
#: Metrics that condition on the true class (their value does not depend on the class counts): resampled
#: stratified by ``by-metric``; every other headline metric depends on the prevalence and is resampled ordinarily.
CLASS_CONDITIONAL = frozenset({"sensitivity", "specificity", "balanced_accuracy", "roc_auc"}) | reloaded.CLASS_CONDITIONAL


# --- bootstrap -------------------------------------------------------------------------------

def stratified_indices(y_true: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n)`` resample indices: for every class (in sorted order) its members drawn
    with replacement, as many as it has. Columns are grouped by class, so ``y_true[idx]`` is the
    same in every row."""
    y = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    blocks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        blocks.append(members[rng.integers(0, len(members), size=(n_resamples, len(members)))])
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((n_resamples, 0), dtype=np.int64)


def ordinary_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n)`` resample indices of an ordinary bootstrap: n draws with replacement from all n."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n)) if n else \
        np.zeros((n_resamples, 0), dtype=np.int64)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, idx: np.ndarray, n_classes: int) -> np.ndarray:
    """``(B, K, K)`` confusion matrices (rows: true, columns: predicted) of the resamples ``idx``."""
    k = n_classes
    codes = np.asarray(y_true)[idx] * k + np.asarray(y_pred)[idx]
    codes = codes + (np.arange(idx.shape[0]) * k * k)[:, None]
    return np.bincount(codes.ravel(), minlength=idx.shape[0] * k * k).reshape(idx.shape[0], k, k)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def metrics_from_confusion(cm: np.ndarray, positive: int | None = None) -> dict[str, np.ndarray]:
    """Headline metrics of ``(B, K, K)`` confusion matrices, as scikit-learn defines them
    (zero_division=0; balanced accuracy over the classes present in the true labels)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support = cm.sum(axis=2)
    predicted = cm.sum(axis=1)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, support + predicted)
    present = support > 0
    out = {
        "accuracy": tp.sum(axis=1) / cm.sum(axis=(1, 2)),
        "balanced_accuracy": (recall * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1),
        "macro_f1": f1.mean(axis=1),
    }
    out["mcc"] = mt.mcc_from_confusion(cm)
    if cm.shape[1] == 2:
        pos = 1 if positive is None else positive
        out["sensitivity"] = recall[:, pos]
        out["specificity"] = recall[:, 1 - pos]
        out["f1"] = f1[:, pos]
        precision = _safe_div(tp, predicted)
        out["ppv"] = precision[:, pos]
        out["npv"] = precision[:, 1 - pos]
    return out


def calibration_scores(y_true: np.ndarray, proba: np.ndarray, idx: np.ndarray,
                       bins: int = mt.CALIBRATION_BINS) -> dict[str, np.ndarray]:
    """Brier score and ECE (:func:`medbench.metrics.brier_score`, :func:`medbench.metrics.expected_calibration_error`,
    probabilities at their stored precision) of each resample ``idx`` (B, n'), vectorised: the Brier score
    is the mean of the drawn images' losses; the ECE ``sum_b |sum_(i in b) (confidence_i - correct_i)| / n'``
    from per-resample bin sums."""
    y = np.asarray(y_true)
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    idx = np.atleast_2d(idx)
    brier = mt.brier_per_image(y, p)[idx].mean(axis=1)
    conf, correct, b = mt.top_label(y, p, bins)
    offset = (np.arange(idx.shape[0]) * bins)[:, None]
    gaps = np.bincount((b[idx] + offset).ravel(), weights=(conf - correct)[idx].ravel(),
                       minlength=idx.shape[0] * bins).reshape(idx.shape[0], bins)
    return {"brier": brier, "ece": np.abs(gaps).sum(axis=1) / idx.shape[1]}


def reliability(y_true: np.ndarray, proba: np.ndarray, bins: int = mt.CALIBRATION_BINS) -> dict[str, Any]:
    """The reliability diagram's statistics (the bins behind the ECE): per equal-width bin of the top-label
    confidence, ``count``, mean ``confidence`` and ``accuracy`` (null for an empty bin), with the bin
    ``edges`` and the ``ece``."""
    y = np.asarray(y_true)
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    conf, correct, b = mt.top_label(y, p, bins)
    count = np.bincount(b, minlength=bins)
    sum_conf = np.bincount(b, weights=conf, minlength=bins)
    sum_acc = np.bincount(b, weights=correct, minlength=bins)
    return {"bins": bins, "edges": [i / bins for i in range(bins + 1)], "count": count.tolist(),
            "confidence": [float(c / k) if k else None for c, k in zip(sum_conf, count)],
            "accuracy": [float(a / k) if k else None for a, k in zip(sum_acc, count)],
            "ece": float(np.abs(sum_conf - sum_acc).sum() / max(len(y), 1))}


def resampled_auc(score: np.ndarray, is_pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mann-Whitney ROC-AUC (ties count one half) of each resample ``idx`` (B, n') of the images
    with scores ``score`` (n,) and labels ``is_pos`` (n,). Counts, per resample, the positives and
    negatives drawn at each distinct score level: O(B x levels), no sorting per resample."""
    score, is_pos = np.asarray(score, dtype=np.float64), np.asarray(is_pos, dtype=bool)
    idx = np.atleast_2d(idx)
    levels, code = np.unique(score, return_inverse=True)
    n_lv, b = len(levels), idx.shape[0]
    offset = (np.arange(b) * n_lv)[:, None]
    drawn_pos = is_pos[idx]
    n1 = drawn_pos.sum(axis=1)
    n0 = idx.shape[1] - n1
    pos = np.bincount((code[idx] + offset)[drawn_pos], minlength=b * n_lv).reshape(b, n_lv)
    neg = np.bincount((code[idx] + offset)[~drawn_pos], minlength=b * n_lv).reshape(b, n_lv)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), wins / (n1 * n0), np.nan)


def auc_scores(y_true: np.ndarray, proba: np.ndarray, idx: np.ndarray, n_classes: int,
               positive: int | None = None) -> np.ndarray:
    """ROC-AUC of the resamples ``idx`` (e.g. from :func:`stratified_indices`), matching
    :func:`medbench.metrics.roc_auc`: binary on P(positive); otherwise one-vs-rest, macro-averaged
    over the classes present (probabilities renormalised over them when some are absent)."""
    y, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    present = np.unique(y)
    if len(present) < 2:
        return np.full(idx.shape[0], np.nan)
    if n_classes == 2:
        pos = 1 if positive is None else positive
        return resampled_auc(proba[:, pos], y == pos, idx)
    if len(present) < n_classes:
        sub = proba[:, present]
        proba = np.zeros_like(proba)
        proba[:, present] = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    return np.mean([resampled_auc(proba[:, c], y == c, idx) for c in present], axis=0)


def bootstrap_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, n_classes: int,
                      positive: int | None = None, n_resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED, method: str = CI_METHOD,
                      at_specificity: Any = None, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every headline metric on ``n_resamples`` bootstrap resamples: ``{metric: (B,)}``, resampled as
    ``method`` (:data:`CI_METHODS`) says; or, given ``indices`` (B, n'), on those rows for every metric
    (e.g. the jackknife's leave-out rows, :func:`medbench.evaluation.intervals.jackknife_indices`);
    ``at_specificity``: the job's validation thresholds of the sensitivity at fixed specificity
    (:mod:`medbench.metrics_reloaded`)."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown bootstrap method {method!r} (known: {', '.join(CI_METHODS)})")
    strat = stratified_indices(y_true, n_resamples, seed) if method != "ordinary" and indices is None else indices
    plain = ordinary_indices(len(y_true), n_resamples, seed) if method != "stratified" and indices is None else None
    cond_idx = plain if strat is None else strat  # class-conditional metrics
    rest_idx = strat if plain is None else plain  # prevalence-dependent metrics
    out = metrics_from_confusion(confusion_counts(y_true, y_pred, rest_idx, n_classes), positive)
    if cond_idx is not rest_idx:
        cond = metrics_from_confusion(confusion_counts(y_true, y_pred, cond_idx, n_classes), positive)
        out.update({m: v for m, v in cond.items() if m in CLASS_CONDITIONAL})
    out["roc_auc"] = auc_scores(y_true, proba, cond_idx, n_classes, positive)
    out.update(calibration_scores(y_true, proba, rest_idx))
    out.update(reloaded.resampled(y_true, y_pred, proba, n_classes, positive, cond_idx, rest_idx, at_specificity))
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of bootstrap ``samples``; None when they are undefined (NaN) or a bound falls among
    infinite ones (a likelihood ratio dividing by zero)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0 or np.isnan(samples).any():
        return None
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo, hi = np.quantile(samples, [alpha, 1 - alpha])
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None


def basic_ci(samples: np.ndarray, estimate: float, level: float = 0.95,
             low: float = 0.0, high: float = 1.0) -> tuple[float, float] | None:
    """Basic (reverse-percentile) bootstrap interval ``[2 estimate - q_hi, 2 estimate - q_lo]``, clipped to the
    metric's range: it corrects a bias of the estimate that the resamples repeat (the ECE, a sum of absolute
    gaps, is biased upwards and its percentile interval mostly misses; docs/coverage.md)."""
    ci = percentile_ci(samples, level)
    if ci is None or not finite(estimate):
        return None
    lo, hi = 2 * estimate - ci[1], 2 * estimate - ci[0]
    return float(min(max(lo, low), high)), float(min(max(hi, low), high))


def bca_ci(samples: np.ndarray, estimate: Any, accel: float = 0.0, level: float = 0.95
           ) -> tuple[float, float] | None:
    """Bias-corrected and accelerated (BCa) bootstrap interval (Efron 1987; Efron & Tibshirani 1993, ch. 14):
    the percentile interval at the levels ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z = +-z_(alpha/2)``,
    with ``z0 = Phi^-1(share of samples below the estimate, ties counted one half)`` and the acceleration
    ``accel`` (from the jackknife, :func:`medbench.evaluation.intervals.acceleration`; 0: the BC interval)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.size == 0 or np.isnan(s).any() or not finite(estimate) or not math.isfinite(accel):
        return None
    below = (np.sum(s < estimate) + 0.5 * np.sum(s == estimate)) / s.size
    z0 = float(sps.norm.ppf(min(max(below, 0.5 / s.size), 1 - 0.5 / s.size)))
    z = sps.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    shares = sps.norm.cdf(z0 + (z0 + z) / np.maximum(1 - accel * (z0 + z), 1e-12))
    with np.errstate(invalid="ignore"):
        lo, hi = np.quantile(s, np.clip(shares, 0.0, 1.0))
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None


def recentred_ci(samples: np.ndarray, estimate: Any, level: float = 0.95,
                 low: float = 0.0, high: float = 1.0) -> tuple[float, float] | None:
    """The percentile interval of ``samples`` moved so that their median falls on ``estimate`` (it corrects the
    bootstrap's own median bias, keeping the distribution's shape), clipped to the metric's range: the ECE's
    interval under ``by-metric-v2``, of the debiased ECE (docs/coverage.md)."""
    ci = percentile_ci(samples, level)
    if ci is None or not finite(estimate):
        return None
    shift = float(estimate) - float(np.median(samples))
    return float(min(max(ci[0] + shift, low), high)), float(min(max(ci[1] + shift, low), high))


def metric_ci(metric: str, samples: np.ndarray, estimate: Any, level: float = 0.95,
              method: str = CI_METHOD, accel: float = 0.0) -> tuple[float, float] | None:
    """A headline metric's interval from its bootstrap ``samples`` (of :func:`bootstrap_metrics` with
    ``method``): percentile, except the ECE's under ``by-metric``: basic (:func:`basic_ci`); under
    ``by-metric-v2`` BCa (:func:`bca_ci`, acceleration ``accel``), except the ECE's: ``samples`` and
    ``estimate`` are then the *debiased* ECE's (:func:`medbench.evaluation.intervals.debiased_ece`) and the
    interval is :func:`recentred_ci` (:func:`medbench.evaluation.intervals.metric_cis` assembles it all), and
    the same for the class-wise ECE (its debiased samples,
    :func:`medbench.evaluation.intervals.debiased_classwise_ece`); under ``by-metric`` both ECEs' are basic.
    A non-finite bound (an unbounded metric dividing by zero) gives None."""
    if metric in ("ece", "classwise_ece") and method == "by-metric":
        return basic_ci(samples, estimate, level)
    if method == "by-metric-v2":
        return recentred_ci(samples, estimate, level) if metric in ("ece", "classwise_ece") \
            else bca_ci(samples, estimate, accel, level)
    return percentile_ci(samples, level)


def bootstrap_p(diff_samples: np.ndarray) -> float | None:
    """Two-sided paired-bootstrap p-value of "difference = 0": twice the smaller tail share of the
    bootstrap differences on either side of 0 (with the +1 correction), at most 1."""
    d = np.asarray(diff_samples, dtype=np.float64)
    if d.size == 0 or np.isnan(d).any():
        return None
    b = d.size
    tail = min((np.sum(d <= 0) + 1) / (b + 1), (np.sum(d >= 0) + 1) / (b + 1))
    return float(min(1.0, 2 * tail))


# --- McNemar ---------------------------------------------------------------------------------

def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray, exact_below: int = EXACT_BELOW) -> dict[str, Any]:
    """McNemar's test of two classifiers on the same images (paired right/wrong answers).

    ``b``: images A gets right and B wrong; ``c``: the reverse. With ``b + c < exact_below`` the
    exact two-sided binomial p-value ``min(1, 2 * P(X <= min(b, c)))``, X ~ Bin(b + c, 1/2);
    otherwise the chi-square statistic ``(|b - c| - 1)^2 / (b + c)`` on 1 degree of freedom.
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"correct_a {a.shape} and correct_b {b_.shape} differ: not paired")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "statistic": None, "p": 1.0, "method": "exact binomial"}
    if n < exact_below:
        p = min(1.0, 2 * float(sps.binom.cdf(min(b, c), n, 0.5)))
        return {"b": b, "c": c, "statistic": None, "p": p, "method": "exact binomial"}
    stat = (abs(b - c) - 1) ** 2 / n
    return {"b": b, "c": c, "statistic": float(stat), "p": float(sps.chi2.sf(stat, 1)),
            "method": "chi-square, continuity-corrected"}


# --- DeLong ----------------------------------------------------------------------------------

def _midranks(x: np.ndarray) -> np.ndarray:
    return sps.rankdata(x, method="average")


def delong_covariance(is_pos: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs ``(k,)`` of ``k`` score vectors ``(k, n)`` on the same images, and DeLong's ``(k, k)``
    covariance matrix of them: ``S10 / m + S01 / n`` with S10, S01 the sample covariances (ddof=1)
    of the structural components V10 (one per positive) and V01 (one per negative)."""
    is_pos = np.asarray(is_pos, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    m, n = int(is_pos.sum()), int((~is_pos).sum())
    if m < 2 or n < 2:
        raise ValueError("DeLong needs at least two positive and two negative images")
    pos, neg = scores[:, is_pos], scores[:, ~is_pos]
    tz = np.array([_midranks(np.concatenate([p, q])) for p, q in zip(pos, neg)])
    tx = np.array([_midranks(p) for p in pos])
    ty = np.array([_midranks(q) for q in neg])
    v10 = (tz[:, :m] - tx) / n  # for each positive: share of negatives scored below it (ties 1/2)
    v01 = 1 - (tz[:, m:] - ty) / m  # for each negative: share of positives scored above it
    aucs = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong(is_pos: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """DeLong's test of ``AUC(a) = AUC(b)`` for two scores on the same images (two-sided, normal),
    with the normal confidence interval of ``AUC(a) - AUC(b)``."""
    aucs, cov = delong_covariance(is_pos, np.vstack([score_a, score_b]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    z_crit = float(sps.norm.ppf(0.5 + level / 2))
    if var <= 1e-15:  # identical rankings: no evidence of any difference
        return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "var": max(var, 0.0),
                "z": None, "p": 1.0 if abs(diff) < 1e-12 else 0.0, "ci": [diff, diff]}
    se = math.sqrt(var)
    z = diff / se
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "var": var, "z": z,
            "p": float(2 * sps.norm.sf(abs(z))), "ci": [diff - z_crit * se, diff + z_crit * se]}


# --- repeated runs, multiple comparisons, trade-offs -----------------------------------------

def finite(v: Any) -> bool:
    """True for a finite int or float (not a bool, None, NaN or infinity)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def number(v: Any) -> float | None:
    """A value as a float, or None when missing, null, not a number, NaN or infinite."""
    return float(v) if finite(v) else None


def mean_sd(values: list[float | None]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof=1; None for a single value) over repeated seeds;
    None and non-finite values (undefined metrics) are left out."""
    vals = [float(v) for v in values if finite(v)]
    if not vals:
        return {"mean": None, "sd": None, "n": 0, "values": list(values)}
    sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return {"mean": float(np.mean(vals)), "sd": sd, "n": len(vals), "values": list(values)}


def t_interval(values: list[Any], level: float = 0.95) -> tuple[float, float] | None:
    """Student-t confidence interval of the mean of ``values`` (e.g. one metric over seeds); None with
    fewer than two values or any value missing or not finite."""
    if len(values) < 2 or not all(finite(v) for v in values):
        return None
    vals = np.asarray(values, dtype=np.float64)
    half = float(sps.t.ppf((1 + level) / 2, len(vals) - 1)) * float(np.std(vals, ddof=1)) / math.sqrt(len(vals))
    mean = float(vals.mean())
    return mean - half, mean + half


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); None stays None."""
    known = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    k, running = len(known), 0.0
    for rank, (p, i) in enumerate(sorted(known)):
        running = max(running, min(1.0, (k - rank) * p))
        out[i] = running
    return out


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (lower or equal cost and higher or equal value,
    one of them strictly), sorted by cost."""
    cost, value = np.asarray(cost, dtype=float), np.asarray(value, dtype=float)
    order = np.lexsort((-value, cost))  # by cost, best value first among equal costs
    front, best = [], -np.inf
    for i in order:
        if value[i] > best:
            front.append(int(i))
            best = value[i]
    return np.array(front, dtype=np.int64)


# --- across datasets: Friedman, Nemenyi, Wilcoxon (Demšar, JMLR 7, 2006) ---------------------------

def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical value q_alpha for ``k`` pipelines: the studentized range quantile (infinite
    degrees of freedom) divided by sqrt(2) (Demšar 2006, Table 5a: 2.343 for k = 3 at alpha 0.05)."""
    return float(sps.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks: ``q_alpha * sqrt(k (k + 1) / (6 n))``."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


def friedman(scores: np.ndarray) -> dict[str, Any]:
    """Friedman's test of ``scores`` (N datasets x k pipelines): scipy's chi-square (ties corrected)
    and the Iman-Davenport F form ``(N-1) chi2 / (N (k-1) - chi2)`` on (k-1, (k-1)(N-1)) df (``F``
    None, ``p`` 0, when the rankings agree on every dataset: F is infinite)."""
    n, k = scores.shape
    if np.all(scores == scores[:, :1]):  # every dataset a complete tie: no evidence of any difference
        chi2, p_chi2 = 0.0, 1.0
    else:
        res = sps.friedmanchisquare(*scores.T)
        chi2, p_chi2 = float(res.statistic), float(res.pvalue)
    df1, df2 = k - 1, (k - 1) * (n - 1)
    denom = n * (k - 1) - chi2
    if denom <= 1e-12:  # the rankings agree on every dataset: F is infinite (stored as null)
        f_stat, p_f = None, 0.0
    else:
        f_stat = (n - 1) * chi2 / denom
        p_f = float(sps.f.sf(f_stat, df1, df2))
    return {"chi2": chi2, "df": df1, "p_chi2": p_chi2, "F": f_stat, "df1": df1, "df2": df2, "p": p_f}


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired ``differences`` (zeros split; 1 when all are 0)."""
    d = np.asarray(differences, dtype=float)
    return 1.0 if np.all(d == 0) else float(sps.wilcoxon(d, zero_method="zsplit").pvalue)


def nemenyi_p(rank_diff: float, k: int, n: int) -> float:
    """Nemenyi's p-value of a difference of mean ranks between two of ``k`` pipelines over ``n`` datasets."""
    se = math.sqrt(k * (k + 1) / (6 * n))
    return min(1.0, float(sps.studentized_range.sf(rank_diff / se * math.sqrt(2), k, np.inf)))


# --- change points over versions (PELT) -------------------------------------------------------

def penalty(half_width: float, n: int, tolerance: float) -> float:
    """The PELT penalty of one change point, in squared metric units.

    With ``h`` the typical 95% CI half-width of the per-version values (floored at ``tolerance / sqrt(2)``,
    so a change smaller than the tolerance is never reported), a split between segments of ``n1`` and
    ``n2`` versions lowers the least-squares cost by ``n1 n2 / (n1 + n2) * step^2``; with the penalty
    ``h^2`` it is kept exactly when ``|step| > h * sqrt(1/n1 + 1/n2)``: a two-sample z-test at the 5%
    level between the two segments' means, each version measured with standard error ``h / 1.96``.
    Long histories offer more places for a chance split, so the penalty grows to the BIC-like
    ``2 ln(n) * (h / 1.96)^2`` once that is larger (from n = 7 versions)."""
    h = max(half_width, tolerance / math.sqrt(2))
    return h * h * max(1.0, 2 * math.log(max(n, 1)) / Z95 ** 2)


def change_points(values: list[float], pen: float) -> list[int]:
    """Indices ``k`` where a new segment starts (the metric changed between ``k - 1`` and ``k``): PELT
    with a least-squares (piecewise-constant) cost and the given penalty."""
    if len(values) < 2:
        return []
    signal = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    if np.ptp(signal) == 0:
        return []
    bkps = ruptures.Pelt(model="l2", min_size=1, jump=1).fit(signal).predict(pen=pen)
    return [int(b) for b in bkps[:-1]]
