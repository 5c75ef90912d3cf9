"""A job's 95% intervals as ``ci_method`` ``by-metric-v2`` computes them (the method docs/coverage.md measured).

* :func:`jackknife_indices` and :func:`acceleration`: the BCa interval's acceleration from a (grouped) jackknife
  of the same vectorised metrics the bootstrap uses (:func:`medbench.evaluation.stats.bootstrap_metrics` on
  leave-out rows), so every metric of the catalogue gets one without a formula of its own;
* :func:`debiased_ece`: the ECE with the bias of its absolute bin gaps removed (Kumar, Liang & Ma, "Verified
  uncertainty calibration", NeurIPS 2019, the Gaussian debiasing of an l_p calibration error), on each resample;
  :func:`calibration_p`: the consistency-resampling test of perfect calibration (Bröcker & Smith 2007);
  :func:`ece_interval`: the ECE's interval from both (and the class-wise ECE's, :func:`debiased_classwise_ece`,
  :func:`classwise_calibration_p`);
* :func:`delong_logit_ci`: a binary ROC-AUC's interval, DeLong's standard error on the logit scale (the
  variance of the paired DeLong test, so the reported AUC intervals and that test rest on one estimate);
* :func:`likelihood_ratio_ci`: LR+ and LR-'s interval, on the log scale with the delta-method variance
  (Simel et al. 1991);
* :func:`metric_cis`: a job's interval for every metric, by the method its results record (older methods
  through :func:`medbench.evaluation.stats.metric_ci` alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from medbench import metrics as mt
from medbench import metrics_reloaded as reloaded
from medbench.evaluation import stats as st
from medbench.evaluation.protocol import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CI_LEVEL

#: At most this many jackknife rows: up to that many images each is left out alone (the exact jackknife),
#: beyond it groups of ``ceil(n / JACKKNIFE_GROUPS)`` images are (the grouped jackknife: the same acceleration
#: in expectation, at a fifth of a bootstrap's cost for n = 1000).
JACKKNIFE_GROUPS = 200
#: The methods whose intervals need more than the bootstrap samples (acceleration, debiased ECE).
NEEDS_DATA = frozenset({"by-metric-v2"})


def jackknife_indices(n: int, groups: int = JACKKNIFE_GROUPS, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``(G, n - m)`` leave-out rows: the images, in a seeded random order, cut into ``G = n // m`` groups of
    ``m = ceil(n / groups)``; row ``g`` holds every image but group ``g`` (with ``n <= groups``: leave-one-out)."""
    m = max(1, -(-n // groups))
    g = n // m
    order = np.random.default_rng(seed).permutation(n) if m > 1 else np.arange(n)
    keep = np.ones((g, n), dtype=bool)
    keep[np.repeat(np.arange(g), m), order[:g * m]] = False
    return np.nonzero(keep)[1].reshape(g, n - m)


def acceleration(values: np.ndarray) -> float:
    """The BCa acceleration ``sum d^3 / (6 (sum d^2)^(3/2))``, ``d = mean - value``, of jackknife ``values``
    (Efron & Tibshirani 1993, eq. 14.15); 0 when they are all equal or any is undefined or infinite."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 3 or not np.isfinite(v).all():
        return 0.0
    d = v.mean() - v
    den = float((d ** 2).sum())
    return float((d ** 3).sum() / (6 * den ** 1.5)) if den > 1e-30 else 0.0


def accelerations(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, n_classes: int,
                  positive: int | None, at_specificity: Any = None) -> dict[str, float]:
    """Every headline metric's BCa acceleration from the jackknife of the test images (``at_specificity``: the
    job's validation thresholds, for the sensitivity at fixed specificity)."""
    if len(y_true) < 3:
        return {}
    jk = jackknife_indices(len(y_true))
    values = st.bootstrap_metrics(y_true, y_pred, proba, n_classes, positive, jk.shape[0], BOOTSTRAP_SEED,
                                  st.CI_METHOD, at_specificity, indices=jk)
    return {m: acceleration(v) for m, v in values.items()}


def _debiased_gaps(score: np.ndarray, event: np.ndarray, b: np.ndarray, idx: np.ndarray, bins: int,
                   squared: bool = False) -> np.ndarray:
    """Per resample ``idx`` (B, n'): ``sum_b (2 |g| - E|N(g, s^2)|) n_b / n'`` for the scores ``score`` of events
    ``event`` (0/1) in bins ``b`` (the debiasing of :func:`debiased_ece`); ``squared``: the mean of that and
    ``sum_b sqrt(max(g^2 - s^2, 0)) n_b / n'`` (the class-wise ECE's, :func:`debiased_classwise_ece`)."""
    rows = idx.shape[0]
    key = (b[idx] + (np.arange(rows) * bins)[:, None]).ravel()

    def per_bin(weights: np.ndarray | None) -> np.ndarray:
        w = None if weights is None else weights[idx].ravel()
        return np.bincount(key, weights=w, minlength=rows * bins).reshape(rows, bins).astype(np.float64)

    count, gap, acc, confs = per_bin(None), per_bin(score - event), per_bin(event), per_bin(score)
    n_b = np.maximum(count, 1)
    g, a, c = gap / n_b, acc / n_b, confs / n_b
    var = np.maximum(np.where(count > 1, a * (1 - a) / np.maximum(count - 1, 1), 0.0), c * (1 - c) / n_b) * (count > 0)
    sd = np.sqrt(np.clip(var, 0.0, None))
    safe = np.where(sd > 0, sd, 1.0)
    expected_abs = np.where(sd > 0, sd * np.sqrt(2 / np.pi) * np.exp(-g ** 2 / (2 * safe ** 2))
                            + g * (1 - 2 * sps.norm.cdf(-g / safe)), np.abs(g))
    gaussian = ((2 * np.abs(g) - expected_abs) * count).sum(axis=1) / max(idx.shape[1], 1)
    if not squared:
        return gaussian
    return (gaussian + (np.sqrt(np.clip(g ** 2 - var, 0.0, None)) * count).sum(axis=1) / max(idx.shape[1], 1)) / 2


def _bins(score: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum(np.floor(score * bins).astype(np.int64), bins - 1)


def debiased_ece(y_true: np.ndarray, proba: np.ndarray, idx: np.ndarray, bins: int = mt.CALIBRATION_BINS
                 ) -> np.ndarray:
    """The debiased ECE of each resample ``idx`` (B, n'): per bin of the top-label confidence (as the ECE's),
    ``2 |g| - E|N(g, s^2)|`` weighted by the bin's share, with ``g`` the mean gap confidence - correct and
    ``s^2`` the variance of the bin's accuracy: ``a (1 - a) / (n_b - 1)`` (``a`` the bin's accuracy, ``n_b``
    its images), at least ``c (1 - c) / n_b`` (``c`` its mean confidence: the variance a calibrated bin has;
    it keeps a bin of one image, or of images all right, from counting as noise-free). The plug-in ECE sums
    ``|g|``, whose expectation exceeds the population gap (most in sparse bins); this subtracts that excess,
    estimated under a normal ``g``."""
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    conf, correct, b = mt.top_label(np.asarray(y_true), p, bins)
    return _debiased_gaps(conf, correct, b, np.atleast_2d(idx), bins)


def debiased_classwise_ece(y_true: np.ndarray, proba: np.ndarray, idx: np.ndarray,
                           bins: int = mt.CALIBRATION_BINS) -> np.ndarray:
    """The class-wise ECE (the mean over the classes of the one-vs-rest ECE of P(class), Kull et al. 2019, in
    the same equal-width bins) debiased per class, on each resample ``idx``: the mean of two per-bin corrections
    of ``|g|``, :func:`debiased_ece`'s Gaussian one (``2 |g| - E|N(g, s^2)|``, which removes only ~40% of the
    bias of a bin whose population gap is 0: the one-vs-rest bins near P = 0 are many, so it stays biased
    upwards, 0.042 for 0.027 on 150 3-class images) and ``sqrt(max(g^2 - s^2, 0))`` (``g^2 - s^2`` is unbiased
    for the squared gap; its root is biased downwards, 0.0245 there). Alone, their re-centred intervals covered
    0.86-0.92 and 0.94-0.995 in a pre-study (200 sets per scenario); the mean's: docs/coverage.md."""
    y = np.asarray(y_true)
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    idx = np.atleast_2d(idx)
    return np.mean([_debiased_gaps(p[:, k], (y == k).astype(np.float64), _bins(p[:, k], bins), idx, bins, True)
                    for k in range(p.shape[1])], axis=0)


def calibration_p(y_true: np.ndarray, proba: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = BOOTSTRAP_SEED, bins: int = mt.CALIBRATION_BINS) -> float:
    """p-value of "perfectly calibrated" (each image right with probability its top-label confidence) by
    consistency resampling (Bröcker & Smith 2007, "Increasing the reliability of reliability diagrams",
    *Weather and Forecasting* 22:651-661): ``n_resamples`` sets of outcomes drawn under that hypothesis for the
    same confidences; the share (with the +1 correction) whose plug-in ECE is at least the observed one."""
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    conf, correct, b = mt.top_label(np.asarray(y_true), p, bins)
    observed = np.abs(np.bincount(b, weights=conf - correct, minlength=bins)).sum()
    drawn = np.random.default_rng(seed).random((n_resamples, len(conf))) < conf
    offset = (np.arange(n_resamples) * bins)[:, None]
    gaps = np.bincount((b[None, :] + offset).ravel(), weights=(conf[None, :] - drawn).ravel(),
                       minlength=n_resamples * bins).reshape(n_resamples, bins)
    at_least = int(np.sum(np.abs(gaps).sum(axis=1) >= observed - 1e-12))
    return (at_least + 1) / (n_resamples + 1)


def classwise_calibration_p(y_true: np.ndarray, proba: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = BOOTSTRAP_SEED, bins: int = mt.CALIBRATION_BINS) -> float:
    """p-value of "calibrated in every class" (each image's class drawn from its probabilities) by consistency
    resampling, as :func:`calibration_p`, with the class-wise ECE as the statistic."""
    y = np.asarray(y_true)
    p = np.round(np.asarray(proba, dtype=np.float64), mt.PROBA_DECIMALS)
    k = p.shape[1]
    b = [_bins(p[:, c], bins) for c in range(k)]

    def stat(labels: np.ndarray) -> np.ndarray:  # (B, n) labels -> (B,) class-wise ECE
        rows = labels.shape[0]
        offset = (np.arange(rows) * bins)[:, None]
        per = [np.abs(np.bincount((b[c][None, :] + offset).ravel(), weights=(p[None, :, c] - (labels == c)).ravel(),
                                  minlength=rows * bins).reshape(rows, bins)).sum(axis=1) for c in range(k)]
        return np.mean(per, axis=0) / labels.shape[1]

    observed = float(stat(y[None, :])[0])
    rng = np.random.default_rng(seed)
    cum = np.cumsum(p, axis=1)
    cum[:, -1] = np.inf  # rounding: the last class takes whatever is left
    at_least = 0
    for start in range(0, n_resamples, 100):  # chunks of 100 outcome sets: (100, n, K) comparisons at most
        u = rng.random((min(100, n_resamples - start), len(y)))
        drawn = (u[:, :, None] >= cum[None, :, :]).sum(axis=2)
        at_least += int(np.sum(stat(drawn) >= observed - 1e-12))
    return (at_least + 1) / (n_resamples + 1)


def ece_interval(y_true: np.ndarray, proba: np.ndarray, level: float = CI_LEVEL,
                 n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 classwise: bool = False) -> tuple[float, float] | None:
    """The ECE's interval under by-metric-v2: :func:`medbench.evaluation.stats.recentred_ci` of the debiased
    ECE's resamples, reaching down to 0 when the test of perfect calibration (:func:`calibration_p`) does
    not reject it at ``1 - level``: the population ECE 0 is then a value the data do not rule out (the
    interval inverts that test at the boundary, where the debiasing cannot remove all of the bias).
    ``classwise``: the same for the class-wise ECE (:func:`debiased_classwise_ece`,
    :func:`classwise_calibration_p`)."""
    n = len(y_true)
    debias = debiased_classwise_ece if classwise else debiased_ece
    est = float(debias(y_true, proba, np.arange(n)[None])[0])
    samples = debias(y_true, proba, st.ordinary_indices(n, n_resamples, seed))
    ci = st.metric_ci("classwise_ece" if classwise else "ece", samples, est, level, "by-metric-v2")
    test = classwise_calibration_p if classwise else calibration_p
    if ci is not None and test(y_true, proba, n_resamples, seed) >= 1 - level:
        return 0.0, ci[1]
    return ci


def ece_samples(y_true: np.ndarray, proba: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES,
                seed: int = BOOTSTRAP_SEED) -> tuple[float, np.ndarray]:
    """The debiased ECE of the test images and of its ordinary bootstrap resamples (the ECE's resampling under
    by-metric: the same rows as :func:`medbench.evaluation.stats.bootstrap_metrics`)."""
    n = len(y_true)
    estimate = float(debiased_ece(y_true, proba, np.arange(n)[None])[0])
    return estimate, debiased_ece(y_true, proba, st.ordinary_indices(n, n_resamples, seed))


def delong_logit_ci(is_pos: np.ndarray, score: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float] | None:
    """A binary ROC-AUC's interval from DeLong's standard error on the logit scale: ``logit(AUC) +- z SE /
    (AUC (1 - AUC))`` (delta method), back-transformed, so it stays inside [0, 1] and is asymmetric near its
    ends (Pepe 2003, section 5.2.3; Qin & Hotilovac 2008). The variance is the one the paired DeLong test of
    :mod:`medbench.evaluation.paired` uses. None with fewer than two images of either class."""
    try:
        auc, cov = st.delong_covariance(is_pos, score)
    except ValueError:
        return None
    a, var = float(auc[0]), max(float(cov[0, 0]), 0.0)
    if not 0 < a < 1 or var == 0:
        return a, a
    mid, half = np.log(a / (1 - a)), float(sps.norm.ppf(0.5 + level / 2)) * np.sqrt(var) / (a * (1 - a))
    return float(1 / (1 + np.exp(half - mid))), float(1 / (1 + np.exp(-mid - half)))


def likelihood_ratio_ci(y_true: np.ndarray, y_pred: np.ndarray, positive: int, metric: str,
                        level: float = CI_LEVEL) -> tuple[float, float] | None:
    """A likelihood ratio's interval on the log scale (Simel, Samsa & Matchar 1991, *J Clin Epidemiol*
    44:763-770): ``ln LR +- z SE``, back-transformed, with the delta-method ``SE^2 = 1/TP - 1/P + 1/FP - 1/N``
    for LR+ (``1/FN - 1/P + 1/TN - 1/N`` for LR-) from the confusion counts at the operating point; a zero count
    adds 0.5 to all four (the interval of a ratio of 0 then reaches above 0). None when the test set lacks a
    class."""
    y, said = np.asarray(y_true) == positive, np.asarray(y_pred) == positive
    tp, fn, fp, tn = (float(np.sum(a & b)) for a, b in ((y, said), (y, ~said), (~y, said), (~y, ~said)))
    if tp + fn == 0 or fp + tn == 0:
        return None
    if min(tp, fn, fp, tn) == 0:
        tp, fn, fp, tn = tp + 0.5, fn + 0.5, fp + 0.5, tn + 0.5
    n1, n0 = tp + fn, fp + tn
    if metric == "lr_positive":
        ratio, var = (tp / n1) / (fp / n0), 1 / tp - 1 / n1 + 1 / fp - 1 / n0
    else:
        ratio, var = (fn / n1) / (tn / n0), 1 / fn - 1 / n1 + 1 / tn - 1 / n0
    half = float(sps.norm.ppf(0.5 + level / 2)) * np.sqrt(max(var, 0.0))
    return float(ratio * np.exp(-half)), float(ratio * np.exp(half))


def metric_cis(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, samples: Mapping[str, np.ndarray],
               estimates: Mapping[str, Any], n_classes: int, positive: int | None, level: float = CI_LEVEL,
               method: str = st.CI_METHOD, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
               at_specificity: Any = None) -> dict[str, tuple[float, float] | None]:
    """The interval of every metric in ``estimates`` that has bootstrap ``samples`` (of
    :func:`medbench.evaluation.stats.bootstrap_metrics` with ``method``, ``n_resamples``, ``seed``) and a
    finite estimate, by ``method``: by-metric-v2 adds the jackknife acceleration, the debiased ECE (and
    class-wise ECE), the likelihood ratios' log-scale interval (:func:`likelihood_ratio_ci`) and, for a
    binary ROC-AUC, DeLong's interval on the logit scale (:func:`delong_logit_ci`)."""
    wanted = [m for m in estimates if m in samples and st.number(estimates[m]) is not None]
    out: dict[str, tuple[float, float] | None] = {}
    accel = accelerations(y_true, y_pred, proba, n_classes, positive, at_specificity) if method in NEEDS_DATA else {}
    pos = 1 if positive is None else positive
    for m in wanted:
        if m == "ece" and method in NEEDS_DATA:
            out[m] = ece_interval(y_true, proba, level, n_resamples, seed)
        elif m == "classwise_ece" and method in NEEDS_DATA:  # a metric of the catalogue's Metrics Reloaded set
            out[m] = ece_interval(y_true, proba, level, n_resamples, seed, classwise=True)
        elif m in reloaded.LIKELIHOOD_RATIOS and n_classes == 2 and method in NEEDS_DATA:
            out[m] = likelihood_ratio_ci(y_true, y_pred, pos, m, level)
        elif m == "roc_auc" and n_classes == 2 and method in NEEDS_DATA and \
                (ci := delong_logit_ci(np.asarray(y_true) == pos, np.asarray(proba)[:, pos], level)):
            out[m] = ci
        else:
            out[m] = st.metric_ci(m, samples[m], st.number(estimates[m]), level, method, accel.get(m, 0.0))
    return out
