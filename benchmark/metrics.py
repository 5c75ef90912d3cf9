"""Classification metrics on the test split, and the decision threshold chosen on validation.

All metrics take integer labels, the predicted labels, and class-probability scores. Binary tasks
have a positive class (the disease); sensitivity is its recall and specificity the recall of the
other class. ROC-AUC is one-vs-rest, macro-averaged, for multi-class tasks.

The catalogue (:data:`METRICS`, :data:`RUNTIME_KEYS`) is the one list of headline metrics and runtime
figures: names, labels, units and directions, read by the runner, results, tolerances, regression
and the reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from medbench import metrics_reloaded as reloaded


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray, positive: int = 1) -> dict[str, Any]:
    """Binary decision threshold on P(positive) maximising Youden's J (sensitivity + specificity - 1)
    on the validation split; ties go to the threshold closest to 0.5. A score without any
    discrimination (constant) keeps 0.5."""
    y = (np.asarray(y_val) == positive).astype(int)
    score = np.asarray(p_val)[:, positive]
    if len(np.unique(y)) < 2 or np.ptp(score) == 0:
        return {"threshold": 0.5, "method": "default 0.5 (validation scores carry no ranking)", "youden_j": 0.0}
    fpr, tpr, thr = roc_curve(y, score)
    thr = np.clip(thr, 0.0, 1.0)
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    # roc_curve thresholds are the scores themselves: predict positive when score >= threshold.
    pick = best[np.argmin(np.abs(thr[best] - 0.5))]
    return {"threshold": float(thr[pick]), "method": "max Youden's J on validation", "youden_j": float(j[pick])}


def predict_with_threshold(proba: np.ndarray, threshold: float | None, positive: int | None) -> np.ndarray:
    proba = np.asarray(proba)
    if threshold is None or positive is None or proba.shape[1] != 2:
        return proba.argmax(axis=1)
    other = 1 - positive
    return np.where(proba[:, positive] >= threshold, positive, other)


def roc_auc(y_true: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None = None) -> float | None:
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return None
    if n_classes == 2:
        pos = 1 if positive is None else positive
        return float(roc_auc_score((y_true == pos).astype(int), proba[:, pos]))
    present = np.unique(y_true)
    if len(present) < n_classes:  # OvR AUC over the classes present, probabilities renormalised
        sub = proba[:, present] / np.clip(proba[:, present].sum(axis=1, keepdims=True), 1e-12, None)
        if len(present) == 2:  # scikit-learn treats two labels as a binary task: score the second class
            return float(roc_auc_score((y_true == present[1]).astype(int), sub[:, 1]))
        return float(roc_auc_score(y_true, sub, multi_class="ovr", average="macro", labels=present))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes)))


#: Reliability bins of the expected calibration error: 15 equal-width bins of the top-label confidence.
CALIBRATION_BINS = 15
#: Decimals the stored test probabilities keep (results.json): calibration is measured at that precision,
#: so that recomputing it from the stored predictions gives the same numbers.
PROBA_DECIMALS = 6
assert (reloaded.PROBA_DECIMALS, reloaded.BINS) == (PROBA_DECIMALS, CALIBRATION_BINS)


def brier_score(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Brier score: the mean over images of ``sum_k (p_k - [y = k])^2 / 2``, the squared distance between
    the predicted probabilities and the one-hot truth, halved. For two classes this is exactly the usual
    ``(P(positive) - y)^2``; for any number of classes it lies in [0, 1]. Lower is better."""
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(proba, dtype=np.float64)
    return float(np.mean(brier_per_image(y, p)))


def brier_per_image(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each image's Brier loss ``sum_k (p_k - [y = k])^2 / 2`` (the Brier score is their mean)."""
    p = np.asarray(proba, dtype=np.float64)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), np.asarray(y_true, dtype=np.int64)] = 1.0
    return ((p - onehot) ** 2).sum(axis=1) / 2


def top_label(y_true: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(confidence, correct, bin)`` per image: the top-label confidence ``max_k p_k``, whether the
    arg-max class is the true one (1.0 / 0.0), and its equal-width bin ``min(floor(confidence * bins),
    bins - 1)`` (bin ``b`` holds ``[b / bins, (b + 1) / bins)``, the last one also 1.0)."""
    p = np.asarray(proba, dtype=np.float64)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == np.asarray(y_true)).astype(np.float64)
    return conf, correct, np.minimum(np.floor(conf * bins).astype(np.int64), bins - 1)


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error of the top-label confidence (Guo et al., ICML 2017) with ``bins``
    equal-width bins over [0, 1]: ``sum_b (n_b / n) |mean confidence_b - accuracy_b|`` over the non-empty
    bins, where accuracy is that of the arg-max class (for two classes: the class with P >= 0.5, not the
    thresholded label). Lower is better; 0 is perfect calibration."""
    conf, correct, b = top_label(y_true, proba, bins)
    gap = np.bincount(b, weights=conf - correct, minlength=bins)
    return float(np.abs(gap).sum() / len(conf))


def mcc_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Matthews correlation coefficient of ``(..., K, K)`` confusion matrices (rows: true): Gorodkin's
    K-class form ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))`` (c: correct, s:
    total, t_k / p_k: true / predicted counts of class k); 0 when a factor is 0 (one class only), as
    scikit-learn. Binary: ``(TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``."""
    cm = np.asarray(cm, dtype=np.float64)
    c = np.trace(cm, axis1=-2, axis2=-1)
    s = cm.sum(axis=(-2, -1))
    t, p = cm.sum(axis=-1), cm.sum(axis=-2)
    num = c * s - (p * t).sum(axis=-1)
    den = np.sqrt((s ** 2 - (p ** 2).sum(axis=-1)) * (s ** 2 - (t ** 2).sum(axis=-1)))
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def calibration_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Brier score and ECE of the probabilities at their stored precision (:data:`PROBA_DECIMALS`)."""
    p = np.round(np.asarray(proba, dtype=np.float64), PROBA_DECIMALS)
    return {"brier": brier_score(y_true, p), "ece": expected_calibration_error(y_true, p)}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                           class_names: list[str], positive: int | None = None,
                           at_specificity: Any = None) -> dict[str, Any]:
    """The headline metrics, per-class figures and confusion matrix; ``at_specificity``: the job's validation
    thresholds (``threshold.at_specificity``) for the sensitivity at fixed specificity (absent: not measured)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(class_names)
    labels = np.arange(n)
    prec, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "roc_auc": roc_auc(y_true, proba, n, positive),
        **calibration_metrics(y_true, proba),
    }
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    out["mcc"] = float(mcc_from_confusion(cm))
    if n == 2:
        pos = 1 if positive is None else positive
        neg = 1 - pos
        out["sensitivity"] = float(rec[pos])
        out["specificity"] = float(rec[neg])
        out["f1"] = float(f1[pos])
        out["ppv"] = float(prec[pos])  # at the operating point; 0 when nothing is predicted positive
        out["npv"] = float(prec[neg])
    out.update(reloaded.reloaded_metrics(y_true, proba, n, positive, out, at_specificity))  # Metrics Reloaded
    out["per_class"] = {
        name: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(class_names)
    }
    out["confusion_matrix"] = cm.tolist()
    return out


# --- the catalogue: every headline metric and runtime figure medbench records --------------------------


@dataclass(frozen=True)
class Metric:
    """A headline test metric: its key in ``job["metrics"]``, label, direction, whether it exists
    only for binary tasks (sensitivity, specificity, F1, PPV and NPV of the positive class) and the range
    its values lie in (``low``, ``high``). ``higher_is_better`` is honoured wherever metrics are judged or
    ranked (:func:`gain`): compare, history, the suite's ranks, :func:`medbench.records.results.rank_key`."""

    name: str
    label: str
    higher_is_better: bool = True
    binary_only: bool = False
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class RuntimeKey:
    """A runtime figure in ``job["runtime"]``: label, unit, display digits, direction; ``summary``:
    averaged over seeds in the results' statistics (and shown in the report)."""

    name: str
    label: str
    unit: str
    digits: int
    lower_is_better: bool = True
    summary: bool = True


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "Accuracy"),
    Metric("balanced_accuracy", "Bal. acc."),
    Metric("sensitivity", "Sensitivity", binary_only=True),
    Metric("specificity", "Specificity", binary_only=True),
    Metric("f1", "F1", binary_only=True),
    Metric("macro_f1", "Macro F1"),
    Metric("roc_auc", "ROC-AUC"),
    # calibration (lower is better) and the operating point's predictive values and correlation
    Metric("brier", "Brier", higher_is_better=False),
    Metric("ece", "ECE", higher_is_better=False),
    Metric("mcc", "MCC", low=-1.0),
    Metric("ppv", "PPV", binary_only=True),
    Metric("npv", "NPV", binary_only=True),
    # Metrics Reloaded (Maier-Hein et al., Nature Methods 2024; medbench.metrics_reloaded, docs/metrics.md)
    Metric("average_precision", "AP"),
    Metric("sens_at_spec90", "Sens@Spec90", binary_only=True),
    Metric("sens_at_spec95", "Sens@Spec95", binary_only=True),
    Metric("lr_positive", "LR+", binary_only=True, high=math.inf),
    Metric("lr_negative", "LR−", higher_is_better=False, binary_only=True, high=math.inf),
    Metric("log_loss", "Log loss", higher_is_better=False, high=math.inf),
    Metric("classwise_ece", "Class-wise ECE", higher_is_better=False),
)}
# Headline metrics, in results order (the per-class entries and confusion matrix are kept separately).
HEADLINE: tuple[str, ...] = tuple(METRICS)

RUNTIME_KEYS: dict[str, RuntimeKey] = {k.name: k for k in (
    RuntimeKey("feature_time_s", "Features", "s", 1),
    RuntimeKey("fit_time_s", "Fit time", "s", 2),
    RuntimeKey("predict_time_s", "Predict time", "s", 2, summary=False),
    RuntimeKey("latency_ms_per_image", "Latency", "ms/img", 3),
    RuntimeKey("throughput_img_per_s", "Throughput", "img/s", 0, lower_is_better=False),
    RuntimeKey("single_image_latency_ms", "Single image", "ms", 2),
    RuntimeKey("peak_rss_mb", "Peak RSS", "MB", 0),
    RuntimeKey("model_size_bytes", "Model size", "B", 0),
)}


def metric_names(n_classes: int) -> list[str]:
    """The headline metrics a task with ``n_classes`` classes has, in results order."""
    return [m.name for m in METRICS.values() if n_classes == 2 or not m.binary_only]


def higher_is_better(metric: str) -> bool:
    """The direction of a headline metric (unknown names: higher is better)."""
    entry = METRICS.get(metric)
    return True if entry is None else entry.higher_is_better


def gain(metric: str, change: float) -> float:
    """A change of ``metric`` (NEW - BASE, or after - before) signed so that positive is better: the change
    itself for higher-is-better metrics, its negative for lower-is-better ones (Brier, ECE)."""
    return change if higher_is_better(metric) else -change


def label(key: str) -> str:
    """The display label of a metric or runtime key (the key itself when unknown)."""
    entry = METRICS.get(key) or RUNTIME_KEYS.get(key)
    return entry.label if entry else key


#: How far a stored headline metric may lie from the one recomputed from its stored predictions:
#: label-based metrics are exact; ROC-AUC is recomputed from probabilities stored to 6 decimals; Brier and
#: ECE are measured on the probabilities rounded to those 6 decimals, so they agree up to float error (the
#: tolerance leaves room for records written by another numpy).
RECOMPUTE_TOLERANCE = {"roc_auc": 1e-3, "brier": 1e-6, "ece": 1e-6, "average_precision": 1e-6, "log_loss": 1e-6,
                       "classwise_ece": 1e-6, "lr_positive": 1e-6, "lr_negative": 1e-6}


def disagreement(metrics: Any, predictions: Any, class_names: list[str], positive: int | None = None,
                 at_specificity: Any = None) -> str | None:
    """Recompute the headline metrics and confusion matrix from a record's stored test predictions
    (``y_true``, ``y_pred``, ``proba``); return the first stored number that disagrees, in words, or
    None when all agree. Unreadable predictions are a disagreement too."""
    try:
        y_true = np.asarray(predictions["y_true"], dtype=np.int64)
        y_pred = np.asarray(predictions["y_pred"], dtype=np.int64)
        proba = np.asarray(predictions["proba"], dtype=np.float64)
        n = len(class_names)
        if (y_true.ndim != 1 or y_true.shape != y_pred.shape or proba.shape != (len(y_true), n)
                or len(y_true) == 0 or y_true.min() < 0 or y_pred.min() < 0
                or max(y_true.max(), y_pred.max()) >= n):
            return "its stored predictions do not fit its class names"
        fresh = classification_metrics(y_true, y_pred, proba, class_names, positive, at_specificity)
    except (KeyError, TypeError, ValueError, IndexError):
        return "its stored predictions are unreadable"
    if not isinstance(metrics, dict):
        return "it has no metrics"
    for name in ("n", *HEADLINE):
        want, got = fresh.get(name), metrics.get(name)
        if want is None and got is None:
            continue
        if (want is None or isinstance(got, bool) or not isinstance(got, int | float)
                or not abs(float(got) - float(want)) <= RECOMPUTE_TOLERANCE.get(name, 1e-9)):
            return f"{name} is {got!r} but its stored predictions give {want!r}"
    if metrics.get("confusion_matrix") != fresh["confusion_matrix"]:
        return "its confusion matrix does not match its stored predictions"
    return None
