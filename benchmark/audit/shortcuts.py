"""Shortcuts: properties other than the anatomy that differ between the classes.

Per class, the distribution of each property of :mod:`medbench.audit.metadata` (counts of each value for
format and colour mode; median, min and max for the numbers). Then a metadata-only classifier - a shallow
decision tree (depth :data:`TREE_DEPTH`) on those properties alone, fitted on the train split and scored on
the test split - with its ROC-AUC and a stratified-bootstrap 95% CI (:mod:`medbench.evaluation.stats`). When the CI's
lower bound is above :data:`AUC_WARN` (binary), or the accuracy CI's lower bound is above the majority floor
(more than two classes), the audit warns and names the property the tree relies on most.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from medbench.audit import metadata as md
from medbench.evaluation import stats as st
from medbench.metrics import roc_auc

TREE_DEPTH = 3
AUC_WARN = 0.6
N_RESAMPLES = 1000
LABELS = {"format": "file format", "mode": "colour mode", "bit_depth": "bit depth", "width": "original width",
          "height": "original height", "aspect": "aspect ratio", "border_fraction": "border / padding fraction",
          "colour": "colour (channels differ)"}


def distributions(props: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """``{property: {class: summary}}``."""
    out: dict[str, Any] = {}
    for key, values in props.items():
        per = {}
        for c, name in enumerate(class_names):
            v = values[labels == c]
            if key in md.CATEGORICAL:
                kinds, counts = np.unique(v.astype(str), return_counts=True)
                per[name] = {str(k): int(n) for k, n in zip(kinds, counts)}
            elif len(v):
                per[name] = {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}
            else:
                per[name] = {"median": None, "min": None, "max": None}
        out[key] = per
    return out


def features(props: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Design matrix (numbers as they are, categories one-hot) and the property of each column."""
    cols, owner = [], []
    for key, values in props.items():
        if key in md.CATEGORICAL:
            for kind in sorted(set(values.astype(str).tolist())):
                cols.append((values.astype(str) == kind).astype(np.float64))
                owner.append(key)
        else:
            cols.append(values.astype(np.float64))
            owner.append(key)
    return np.column_stack(cols) if cols else np.zeros((0, 0)), owner


def _describe(key: str, props: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str]) -> str:
    parts = []
    for c, name in enumerate(class_names):
        v = props[key][labels == c]
        if not len(v):
            continue
        if key in md.CATEGORICAL:
            kinds, counts = np.unique(v.astype(str), return_counts=True)
            top = kinds[np.argmax(counts)]
            parts.append(f"{name}: {np.max(counts) / len(v):.0%} {top}")
        elif key == "colour":
            parts.append(f"{name}: {np.mean(v):.0%} colour")
        elif key == "border_fraction":
            parts.append(f"{name}: {np.mean(v > 0):.0%} with a uniform border, mean {np.mean(v):.3f}")
        else:
            parts.append(f"{name}: median {np.median(v):g}")
    return "; ".join(parts)


def classifier(props: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str], train: np.ndarray,
               test: np.ndarray, positive: int | None, seed: int = 0) -> dict[str, Any]:
    """The metadata-only classifier's test scores, CIs, the property it relies on most and the verdict."""
    X, owner = features(props)
    n_classes = len(class_names)
    base: dict[str, Any] = {"model": f"decision tree, depth {TREE_DEPTH}, fitted on train, scored on test",
                            "properties": list(props), "roc_auc": None, "roc_auc_ci": None, "accuracy": None,
                            "accuracy_ci": None, "majority_floor": None, "top_property": None, "warning": None}
    if X.size == 0 or len(np.unique(labels[train])) < 2 or len(np.unique(labels[test])) < 2:
        return {**base, "skipped": "the train or test split lacks a class"}
    tree = DecisionTreeClassifier(max_depth=TREE_DEPTH, random_state=seed).fit(X[train], labels[train])
    proba = np.zeros((len(test), n_classes))
    proba[:, tree.classes_] = tree.predict_proba(X[test])
    y = labels[test]
    pos = (1 if positive is None else positive) if n_classes == 2 else None
    auc = roc_auc(y, proba, n_classes, pos)
    idx = st.stratified_indices(y, N_RESAMPLES, seed)
    auc_ci = st.percentile_ci(st.auc_scores(y, proba, idx, n_classes, pos))
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    acc_ci = st.percentile_ci(correct[idx].mean(axis=1))
    floor = float(np.bincount(y, minlength=n_classes).max() / len(y))
    importance: dict[str, float] = {}
    for k, imp in zip(owner, tree.feature_importances_):
        importance[k] = importance.get(k, 0.0) + float(imp)
    top = max(importance, key=importance.get) if importance and max(importance.values()) > 0 else None
    out = {**base, "roc_auc": None if auc is None else float(auc), "roc_auc_ci": list(auc_ci) if auc_ci else None,
           "accuracy": float(correct.mean()), "accuracy_ci": list(acc_ci) if acc_ci else None,
           "majority_floor": floor, "importance": {k: round(v, 4) for k, v in importance.items()},
           "top_property": top}
    flagged = (auc_ci is not None and auc_ci[0] > AUC_WARN) if n_classes == 2 else (
        acc_ci is not None and acc_ci[0] > floor)
    if flagged and top is not None:
        score = (f"ROC-AUC {auc:.3f} [{auc_ci[0]:.3f}, {auc_ci[1]:.3f}]" if n_classes == 2 else
                 f"accuracy {correct.mean():.3f} [{acc_ci[0]:.3f}, {acc_ci[1]:.3f}] above the majority floor "
                 f"{floor:.3f}")
        out["warning"] = (f"the classes can be told apart without the anatomy: a metadata-only classifier reaches "
                          f"{score} on the test split, mostly by {LABELS.get(top, top)} "
                          f"({_describe(top, props, labels, class_names)})")
    return out


def audit(ds: Any, train: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """The ``shortcuts`` block for ``ds`` with the given train / test positions."""
    props, note = md.read(ds)
    return {"note": note, "per_class": distributions(props, ds.labels, list(ds.class_names)),
            "classifier": classifier(props, ds.labels, list(ds.class_names), train, test, ds.positive_class)}
