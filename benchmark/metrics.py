"""Classification metrics on the test split, and the decision threshold chosen on validation.

All metrics take integer labels, the predicted labels, and class-probability scores. Binary tasks
have a positive class (the disease); sensitivity is its recall and specificity the recall of the
other class. ROC-AUC is one-vs-rest, macro-averaged, for multi-class tasks.

The catalogue (:data:`METRICS`, :data:`RUNTIME_KEYS`) is the one list of headline metrics and runtime
figures: names, labels, units and directions, read by the runner, results, tolerances, regression
and the reports.
"""

from __future__ import annotations

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


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                           class_names: list[str], positive: int | None = None) -> dict[str, Any]:
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
    }
    if n == 2:
        pos = 1 if positive is None else positive
        neg = 1 - pos
        out["sensitivity"] = float(rec[pos])
        out["specificity"] = float(rec[neg])
        out["f1"] = float(f1[pos])
    out["per_class"] = {
        name: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(class_names)
    }
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return out


# --- the catalogue: every headline metric and runtime figure medbench records --------------------------


@dataclass(frozen=True)
class Metric:
    """A headline test metric: its key in ``job["metrics"]``, label, direction and whether it exists
    only for binary tasks (sensitivity, specificity and F1 of the positive class)."""

    name: str
    label: str
    higher_is_better: bool = True
    binary_only: bool = False


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


def label(key: str) -> str:
    """The display label of a metric or runtime key (the key itself when unknown)."""
    entry = METRICS.get(key) or RUNTIME_KEYS.get(key)
    return entry.label if entry else key


#: How far a stored headline metric may lie from the one recomputed from its stored predictions:
#: label-based metrics are exact; ROC-AUC is recomputed from probabilities stored to 6 decimals.
RECOMPUTE_TOLERANCE = {"roc_auc": 1e-3}


def disagreement(metrics: Any, predictions: Any, class_names: list[str], positive: int | None = None) -> str | None:
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
        fresh = classification_metrics(y_true, y_pred, proba, class_names, positive)
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
