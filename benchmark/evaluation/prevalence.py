"""What an external set's numbers mean beside the internal ones: prevalences, the drop convention, the
predictive values the prevalence alone explains, thresholds and the "no better than chance" flag.

Used by :func:`medbench.shift.external.summarize` for each external set (pure functions of the job records):

* :func:`worse_is_positive`: the one convention for a drop (issue 29), ``drop = gain(metric, internal -
  external)`` (:func:`medbench.metrics.gain`): **positive = worse** in the metric's own direction, as
  ``medbench compare`` calls a drop a change for the worse (a Brier score rising by 0.187 drops by +0.187).
* :func:`prevalence`: the positive class's share of the dataset's test split and of the external set.
* :func:`operating_point`: ``chance`` (a real pipeline whose external ROC-AUC interval contains 0.5; the floor
  is at chance by construction and never flagged), ``threshold`` (``internal``: the one chosen on the
  dataset's validation split, which scores the set; ``external_youden``: the set's own Youden-optimal
  threshold, information only, never used for a score) and ``expected_at_external`` (the PPV / NPV that the
  internal sensitivity and specificity would give at the external prevalence, by Bayes' rule: the gap to
  the measured PPV / NPV is the model's own change, the rest the prevalence's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medbench.metrics import choose_threshold, gain

#: ROC-AUC of a scorer no better than chance (an external interval containing it is marked).
CHANCE_AUC = 0.5

__all__ = ["CHANCE_AUC", "operating_point", "positive_index", "prevalence", "worse_is_positive"]


def positive_index(results: dict[str, Any]) -> int | None:
    """Index of the positive class of a binary task (class 1 when none is named); None otherwise."""
    names = results["dataset"]["class_names"]
    if len(names) != 2:
        return None
    pos = results["dataset"].get("positive_class")
    return names.index(pos) if pos in names else 1


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else None


def worse_is_positive(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``metrics`` (``{metric: {"internal", "external", "drop": internal - external, ...}}``) with each drop
    signed in the metric's own direction: positive when the external value is worse."""
    return {m: {**v, "drop": None if v.get("drop") is None else gain(m, v["drop"])} for m, v in metrics.items()}


def prevalence(results: dict[str, Any], jobs: list[dict[str, Any]], first: dict[str, Any]) -> dict[str, Any]:
    """``{"prevalence": {"class", "internal", "external"}}`` for a binary task (else ``{}``)."""
    pos = positive_index(results)
    if pos is None:
        return {}
    name = results["dataset"]["class_names"][pos]
    y = next((j["predictions"]["y_true"] for j in jobs if (j.get("predictions") or {}).get("y_true")), None)
    n_ext = sum(first["counts"].values())
    return {"prevalence": {"class": name, "internal": None if not y else float(np.mean(np.asarray(y) == pos)),
                           "external": first["counts"].get(name, 0) / n_ext if n_ext else None}}


def operating_point(results: dict[str, Any], inner: dict[str, Any], job: dict[str, Any],
                    metrics: dict[str, Any]) -> dict[str, Any]:
    """One external row's ``chance`` flag, ``threshold`` and ``expected_at_external`` (see the module)."""
    out: dict[str, Any] = {}
    ci = (metrics.get("roc_auc") or {}).get("external_ci")
    out["chance"] = bool(job.get("family") != "baseline" and ci and None not in ci and ci[0] <= CHANCE_AUC <= ci[1])
    pos = positive_index(results)
    if pos is None:
        return out
    y, proba = np.asarray(job["predictions"]["y_true"]), np.asarray(job["predictions"]["proba"], dtype=np.float64)
    own = choose_threshold(y, proba, pos) if len(np.unique(y)) == 2 else None
    out["threshold"] = {"internal": _number((inner.get("threshold") or {}).get("threshold")),
                        "external_youden": None if own is None else own["threshold"]}
    sens, spec = _number(inner["metrics"].get("sensitivity")), _number(inner["metrics"].get("specificity"))
    prev = float(np.mean(y == pos)) if len(y) else None
    if sens is not None and spec is not None and prev is not None:
        tp, fp = sens * prev, (1 - spec) * (1 - prev)
        tn, fn = spec * (1 - prev), (1 - sens) * prev
        out["expected_at_external"] = {"ppv": tp / (tp + fp) if tp + fp > 0 else None,
                                       "npv": tn / (tn + fn) if tn + fn > 0 else None}
    return out
