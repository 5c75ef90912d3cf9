"""Metrics Reloaded's image-classification metrics (Maier-Hein et al., Nature Methods 2024), beside the catalogue.

The catalogue (:data:`medbench.metrics.METRICS`) names them, with their directions; this module computes them:

* ``average_precision``: the area under the precision-recall curve as scikit-learn's ``average_precision_score``
  (binary: of the positive class; multi-class: one-vs-rest, macro over the classes present); higher is better;
* ``sens_at_spec90`` / ``sens_at_spec95`` (binary): the sensitivity on the test split at the threshold chosen on
  the *validation* split as the lowest one whose validation specificity is at least 0.90 / 0.95
  (:func:`thresholds_at_specificity`, recorded in the job's ``threshold.at_specificity``); higher is better;
* ``lr_positive`` = sensitivity / (1 - specificity) and ``lr_negative`` = (1 - sensitivity) / specificity at the
  operating point (binary); LR+ higher, LR- lower is better; a division by zero leaves it null with a reason
  (:func:`undefined_reasons`, the job record's ``metric_notes``);
* ``log_loss``: scikit-learn's ``log_loss`` (probabilities clipped to [eps, 1 - eps] as it does, rows renormalised
  first); lower is better;
* ``classwise_ece``: the mean over the classes of the one-vs-rest ECE of P(class) (Kull et al. 2019), with the
  15 equal-width bins of the top-label ECE; lower is better.

Every probability-based value is measured on the probabilities at their stored precision
(:data:`medbench.metrics.PROBA_DECIMALS`), so recomputing it from results.json gives the same number.
:func:`resampled` gives the same metrics on bootstrap resamples, vectorised (used by
:func:`medbench.evaluation.stats.bootstrap_metrics`); :func:`net_benefit` is the decision curve's y-axis.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_curve

PROBA_DECIMALS = 6  # = medbench.metrics.PROBA_DECIMALS (that module imports this one)
BINS = 15  # = medbench.metrics.CALIBRATION_BINS
#: Sensitivity at a fixed specificity: metric -> the validation specificity its threshold must reach.
SPECIFICITY_TARGETS: dict[str, float] = {"sens_at_spec90": 0.90, "sens_at_spec95": 0.95}
#: The likelihood ratios at the operating point (null, with a reason, when they divide by zero).
LIKELIHOOD_RATIOS = ("lr_positive", "lr_negative")
#: Of the new metrics, those that condition on the true class (resampled stratified by ``by-metric``).
CLASS_CONDITIONAL = frozenset({*SPECIFICITY_TARGETS, *LIKELIHOOD_RATIOS})
_EPS = float(np.finfo(np.float64).eps)


def _stored(proba: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(proba, dtype=np.float64), PROBA_DECIMALS)


# --- thresholds chosen on validation ----------------------------------------------------------------

def threshold_at_specificity(y_val: np.ndarray, p_val: np.ndarray, target: float, positive: int = 1
                             ) -> dict[str, Any] | None:
    """The lowest threshold on P(positive) whose specificity on the validation split is at least ``target``
    (so the highest validation sensitivity among them), with the validation specificity and sensitivity it
    gives; positive when ``score >= threshold`` (thresholds are validation scores, as
    :func:`medbench.metrics.choose_threshold`'s, clipped to [0, 1]). None when validation lacks a class."""
    y = (np.asarray(y_val) == positive).astype(int)
    score = _stored(p_val)[:, positive]
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, thr = roc_curve(y, score, drop_intermediate=False)
    ok = np.flatnonzero(fpr <= 1 - target + 1e-12)  # fpr rises as the threshold falls: the last is the lowest
    t = float(np.clip(thr[ok[-1]], 0.0, 1.0))
    pred = score >= t
    return {"target": target, "threshold": t, "val_specificity": float(np.mean(~pred[y == 0])),
            "val_sensitivity": float(np.mean(pred[y == 1]))}


def thresholds_at_specificity(y_val: np.ndarray, p_val: np.ndarray, positive: int = 1) -> dict[str, Any]:
    """``{metric: threshold_at_specificity(...)}`` for every target of :data:`SPECIFICITY_TARGETS` (the
    job record's ``threshold.at_specificity``); a target validation cannot serve is left out."""
    out = {m: threshold_at_specificity(y_val, p_val, t, positive) for m, t in SPECIFICITY_TARGETS.items()}
    return {m: v for m, v in out.items() if v is not None}


def threshold_values(block: Any) -> dict[str, float]:
    """``{metric: threshold}`` of a record's ``threshold.at_specificity`` block (anything unreadable left out)."""
    out = {}
    for m in SPECIFICITY_TARGETS:
        t = (block.get(m) or {}).get("threshold") if isinstance(block, Mapping) else None
        if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
            out[m] = float(t)
    return out


# --- point estimates ----------------------------------------------------------------------------------

def average_precision(y_true: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None = None
                      ) -> float | None:
    """scikit-learn's average precision: binary of P(positive) (None without a positive image); multi-class
    one-vs-rest, macro-averaged over the classes present in ``y_true``."""
    y, p = np.asarray(y_true), _stored(proba)
    if n_classes == 2:
        pos = 1 if positive is None else positive
        if not np.any(y == pos):
            return None
        return float(average_precision_score((y == pos).astype(int), p[:, pos]))
    present = np.unique(y)
    return float(np.mean([average_precision_score((y == c).astype(int), p[:, c]) for c in present]))


def _normalised(proba: np.ndarray) -> np.ndarray:
    p = _stored(proba)
    return p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)


def log_loss_per_image(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each image's ``-ln p_y`` (p renormalised over the classes, clipped to [eps, 1 - eps] as scikit-learn)."""
    p = np.clip(_normalised(proba), _EPS, 1 - _EPS)
    return -np.log(p[np.arange(len(p)), np.asarray(y_true, dtype=np.int64)])


def mean_log_loss(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """scikit-learn's ``log_loss`` over the classes ``0..n_classes-1`` of the renormalised stored probabilities."""
    p = _normalised(proba)
    key = "y_proba" if "y_proba" in inspect.signature(log_loss).parameters else "y_pred"  # renamed in 1.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(log_loss(np.asarray(y_true), **{key: p}, labels=list(range(n_classes))))


def _classwise_gaps(y_true: np.ndarray, proba: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class (columns): each image's bin of P(class) and its gap ``P(class) - [y = class]``."""
    p = _stored(proba)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), np.asarray(y_true, dtype=np.int64)] = 1.0
    return np.minimum(np.floor(p * bins).astype(np.int64), bins - 1), p - onehot


def classwise_ece(y_true: np.ndarray, proba: np.ndarray, bins: int = BINS) -> float:
    """Class-wise ECE: for each class k, ``sum_b |sum_(i in b) (p_ik - [y_i = k])| / n`` over ``bins`` equal-width
    bins of p_k (the one-vs-rest ECE of class k); their mean over the classes."""
    b, gap = _classwise_gaps(y_true, proba, bins)
    return float(np.mean([np.abs(np.bincount(b[:, k], weights=gap[:, k], minlength=bins)).sum() / len(gap)
                          for k in range(gap.shape[1])]))


def likelihood_ratios(sensitivity: Any, specificity: Any) -> dict[str, float | None]:
    """LR+ = sens / (1 - spec) and LR- = (1 - sens) / spec; None where the denominator is 0 (or an input is)."""
    if sensitivity is None or specificity is None:
        return {"lr_positive": None, "lr_negative": None}
    sens, spec = float(sensitivity), float(specificity)
    return {"lr_positive": sens / (1 - spec) if spec < 1 else None,
            "lr_negative": (1 - sens) / spec if spec > 0 else None}


def sensitivity_at(y_true: np.ndarray, proba: np.ndarray, threshold: float, positive: int) -> float | None:
    """The share of positive images with ``P(positive) >= threshold`` (stored precision); None without any."""
    y = np.asarray(y_true) == positive
    if not y.any():
        return None
    return float(np.mean(_stored(proba)[y, positive] >= threshold))


def reloaded_metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None,
                     base: Mapping[str, Any], at_specificity: Any = None) -> dict[str, Any]:
    """The new metrics of one set of predictions: ``base`` holds the operating point's sensitivity and specificity
    (binary); ``at_specificity``: the job's validation thresholds (absent: the sensitivity at fixed specificity is
    null, not measured - e.g. on an external set)."""
    out: dict[str, Any] = {
        "average_precision": average_precision(y_true, proba, n_classes, positive),
        "log_loss": mean_log_loss(y_true, proba, n_classes),
        "classwise_ece": classwise_ece(y_true, proba),
    }
    if n_classes == 2:
        pos = 1 if positive is None else positive
        out.update(likelihood_ratios(base.get("sensitivity"), base.get("specificity")))
        chosen = threshold_values(at_specificity)  # none given (an external set): not measured, null
        out.update({m: sensitivity_at(y_true, proba, chosen[m], pos) if m in chosen else None
                    for m in SPECIFICITY_TARGETS})
    return out


def undefined_reasons(metrics: Mapping[str, Any], n_classes: int) -> dict[str, str]:
    """``{metric: why it is null}`` for a likelihood ratio whose denominator is 0 at the operating point."""
    sens, spec = metrics.get("sensitivity"), metrics.get("specificity")
    if n_classes != 2 or sens is None or spec is None:
        return {}
    out = {}
    if metrics.get("lr_positive") is None and spec >= 1:
        out["lr_positive"] = ("undefined: specificity is 1 at the operating point (no false positive), so "
                              "LR+ = sensitivity / (1 - specificity) divides by zero")
    if metrics.get("lr_negative") is None and spec <= 0:
        out["lr_negative"] = ("undefined: specificity is 0 at the operating point (every negative image called "
                              "positive), so LR- = (1 - sensitivity) / specificity divides by zero")
    return out


# --- bootstrap resamples, vectorised ------------------------------------------------------------------

def _resampled_ap(score: np.ndarray, is_pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average precision ``sum_k (R_k - R_(k-1)) P_k`` (scikit-learn's step sum over distinct thresholds) of each
    resample: per resample, positives and negatives drawn at each distinct score level, cumulated from the top."""
    levels, code = np.unique(score, return_inverse=True)
    n_lv, b = len(levels), idx.shape[0]
    offset = (np.arange(b) * n_lv)[:, None]
    drawn = is_pos[idx]
    pos = np.bincount((code[idx] + offset)[drawn], minlength=b * n_lv).reshape(b, n_lv)[:, ::-1]
    neg = np.bincount((code[idx] + offset)[~drawn], minlength=b * n_lv).reshape(b, n_lv)[:, ::-1]
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    n_pos = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        ap = (pos / np.maximum(n_pos, 1) * precision).sum(axis=1)
    return np.where(n_pos[:, 0] > 0, ap, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``; +inf where only ``den`` is 0, NaN where both are (or either is NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.where(num > 0, np.inf, np.nan))


def resampled(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None,
              cond_idx: np.ndarray, rest_idx: np.ndarray, at_specificity: Any = None,
              bins: int = BINS) -> dict[str, np.ndarray]:
    """The new metrics of each bootstrap resample: the class-conditional ones (:data:`CLASS_CONDITIONAL`) on
    ``cond_idx``, the rest on ``rest_idx`` ((B, n) index arrays). NaN where a resample leaves one undefined
    (+inf for a likelihood ratio that divides a positive number by zero)."""
    y, p = np.asarray(y_true), _stored(proba)
    rest_idx, cond_idx = np.atleast_2d(rest_idx), np.atleast_2d(cond_idx)
    out: dict[str, np.ndarray] = {"log_loss": log_loss_per_image(y, p)[rest_idx].mean(axis=1)}
    b, gap = _classwise_gaps(y, p, bins)
    offset = (np.arange(rest_idx.shape[0]) * bins)[:, None]
    per_class = [np.abs(np.bincount((b[:, k][rest_idx] + offset).ravel(), weights=gap[:, k][rest_idx].ravel(),
                                    minlength=rest_idx.shape[0] * bins).reshape(-1, bins)).sum(axis=1)
                 for k in range(p.shape[1])]
    out["classwise_ece"] = np.mean(per_class, axis=0) / rest_idx.shape[1]
    if n_classes == 2:
        pos = 1 if positive is None else positive
        out["average_precision"] = _resampled_ap(p[:, pos], y == pos, rest_idx)
        is_pos, said_pos = (y == pos)[cond_idx], (np.asarray(y_pred) == pos)[cond_idx]
        n1, n0 = is_pos.sum(axis=1), (~is_pos).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            sens = np.where(n1 > 0, (is_pos & said_pos).sum(axis=1) / np.maximum(n1, 1), np.nan)
            spec = np.where(n0 > 0, (~is_pos & ~said_pos).sum(axis=1) / np.maximum(n0, 1), np.nan)
            # a resample whose ratio divides by zero: +inf (ordered above every value, so a percentile bound is
            # finite while few resamples are), NaN for 0 / 0
            out["lr_positive"] = _ratio(sens, 1 - spec)
            out["lr_negative"] = _ratio(1 - sens, spec)
            chosen = threshold_values(at_specificity)
            for m in SPECIFICITY_TARGETS:
                hit = (p[:, pos] >= chosen.get(m, np.inf))[cond_idx]
                out[m] = np.where((n1 > 0) & (m in chosen), (is_pos & hit).sum(axis=1) / np.maximum(n1, 1), np.nan)
    else:
        present = np.unique(y)
        out["average_precision"] = np.mean([_resampled_ap(p[:, c], y == c, rest_idx) for c in present], axis=0)
    return out


# --- the decision curve -----------------------------------------------------------------------------------

def net_benefit(y_true: np.ndarray, score: np.ndarray, thresholds: np.ndarray, positive: int = 1
                ) -> dict[str, np.ndarray]:
    """Decision-curve analysis (Vickers & Elkin 2006): at each threshold probability pt, treating the images with
    ``score >= pt`` gives net benefit ``TP/n - FP/n * pt / (1 - pt)``; ``treat_all`` is that of treating every
    image (``prevalence - (1 - prevalence) * pt / (1 - pt)``), treating none is 0. ``thresholds`` lie in [0, 1)."""
    y = np.asarray(y_true) == positive
    s = np.asarray(score, dtype=np.float64)
    pt = np.asarray(thresholds, dtype=np.float64)
    n = len(y)
    called = s[None, :] >= pt[:, None]
    tp, fp = (called & y).sum(axis=1) / n, (called & ~y).sum(axis=1) / n
    odds = pt / (1 - pt)
    prev = y.mean()
    return {"threshold": pt, "model": tp - fp * odds, "treat_all": prev - (1 - prev) * odds,
            "treat_none": np.zeros_like(pt)}
