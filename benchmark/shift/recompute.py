"""Recompute from predictions: every number a job record or results.json carries is either re-derived from the
stored predictions it came from, checked against the blocks it was summarised from, or named here as taken
on trust (docs/trust.md lists the same).

:func:`record_disagreement` (a job record, before ``medbench run`` reuses it - even with a re-sealed body
digest):

* the headline metrics, confusion matrix and ``undefined`` list (a test split lacking a class), from the stored
  test predictions;
* the stored test labels against the stored probabilities at the stored threshold (a forged threshold, or
  labels that the threshold does not give, is a disagreement);
* every ``external[]`` entry: its metrics and ``undefined`` list from its own stored predictions (undefined
  metrics left out as :func:`medbench.shift.external.entry_metrics` leaves them out), its labels against its
  probabilities at the job's threshold.

:func:`check_blocks` (results.json, every time it is read): the top-level ``external`` block must carry the
jobs' own internal and external values (and their difference as the drop, positive when worse), and the ``robustness`` block must be
what :func:`medbench.shift.robustness.summarize` makes of the jobs' robustness entries.

Not recomputable from what is stored, so taken on trust (range-checked by the schema only): the choice of the
threshold on the validation split (validation scores are not stored), ``val_metrics``, the robustness metrics of
each corrupted copy (its predictions are not stored), runtime and the tuning record; bootstrap CIs are
recomputed by ``medbench report`` only when the statistics section is stale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from medbench import metrics_reloaded as reloaded
from medbench.metrics import HEADLINE, RECOMPUTE_TOLERANCE, gain, predict_with_threshold
from medbench.records import schemas
from medbench.records.jobs import TEST_SPLIT
from medbench.shift import robustness
from medbench.shift.external import entry_metrics

__all__ = ["check_blocks", "record_disagreement"]

#: A stored probability this close to the threshold may have been rounded across it (proba is stored to 6 places).
_ROUNDING = 2e-6


def _labels_disagree(predictions: dict[str, Any], threshold: float | None, positive: int | None) -> bool:
    """True when the stored labels are not what the stored probabilities give at ``threshold``."""
    proba = np.asarray(predictions["proba"], dtype=np.float64)
    y_pred = np.asarray(predictions["y_pred"], dtype=np.int64)
    if threshold is None or positive is None or proba.ndim != 2 or proba.shape[1] != 2:
        return False  # argmax: ties after rounding make a strict check unsafe; the metrics check covers it
    fresh = predict_with_threshold(proba, threshold, positive)
    close = np.abs(proba[:, positive] - threshold) <= _ROUNDING
    return bool(np.any((fresh != y_pred) & ~close))


def _same(want: Any, got: Any, name: str) -> bool:
    if want is None and got is None:
        return True
    if want is None or got is None or isinstance(got, bool) or not isinstance(got, int | float):
        return False
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return abs(float(got) - float(want)) <= RECOMPUTE_TOLERANCE.get(name, 1e-9)


def _threshold(record: dict[str, Any]) -> tuple[float | None, str | None]:
    thr = record.get("threshold")
    if thr is None:
        return None, None
    value = thr.get("threshold") if isinstance(thr, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return None, f"its threshold {value!r} is not a probability"
    return float(value), None


def _predictions_disagreement(metrics: Any, undefined: Any, predictions: Any, class_names: list[str],
                              positive: int | None, where: str, at_specificity: Any = None) -> str | None:
    """Recompute ``metrics`` (and the ``undefined`` list) from ``predictions`` on a set that may lack classes."""

    try:
        y_true = np.asarray(predictions["y_true"], dtype=np.int64)
        y_pred = np.asarray(predictions["y_pred"], dtype=np.int64)
        proba = np.asarray(predictions["proba"], dtype=np.float64)
        n = len(class_names)
        if (y_true.ndim != 1 or y_true.shape != y_pred.shape or proba.shape != (len(y_true), n) or not len(y_true)
                or min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n):
            return "its stored predictions do not fit its class names"
        fresh, fresh_undefined = entry_metrics(y_true, y_pred, proba, class_names, positive, where, at_specificity)
    except (KeyError, TypeError, ValueError, IndexError):
        return "its stored predictions are unreadable"
    if not isinstance(metrics, dict):
        return "it has no metrics"
    for name in ("n", *HEADLINE):
        if not _same(fresh.get(name), metrics.get(name), name):
            return f"{name} is {metrics.get(name)!r} but its stored predictions give {fresh.get(name)!r}"
    if metrics.get("confusion_matrix") != fresh["confusion_matrix"]:
        return "its confusion matrix does not match its stored predictions"
    if (undefined or {}) != fresh_undefined:
        return "its undefined metrics are not those its labels give"
    return None


def record_disagreement(record: dict[str, Any], class_names: list[str], positive: int | None) -> str | None:
    """The first number of ``record`` that its stored predictions do not give, in words; None when all agree."""

    thr = record.get("threshold")
    wrong = _predictions_disagreement(record.get("metrics"), record.get("undefined"), record.get("predictions"),
                                      class_names, positive, TEST_SPLIT,
                                      thr.get("at_specificity") if isinstance(thr, dict) else None)
    if wrong is not None:
        return wrong
    n_classes = len(class_names)
    if (record.get("metric_notes") or {}) != reloaded.undefined_reasons(record.get("metrics") or {}, n_classes):
        return "its metric notes are not those its metrics give"
    threshold, bad = _threshold(record)
    if bad:
        return bad
    try:
        if _labels_disagree(record["predictions"], threshold, positive):
            return f"its test labels are not its probabilities at its threshold {threshold}"
        for i, entry in enumerate(record.get("external") or []):
            wrong = _predictions_disagreement(entry["metrics"], entry.get("undefined"), entry["predictions"],
                                              class_names, positive, "the external set",
                                              thr.get("at_specificity") if isinstance(thr, dict) else None)
            if wrong is not None:
                return f"external[{i}] ({entry.get('dataset')}): {wrong}"
            if _labels_disagree(entry["predictions"], threshold, positive):
                return f"external[{i}]: its labels are not its probabilities at the job's threshold {threshold}"
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return "its stored predictions are unreadable"
    return None


def _job_key(job: dict[str, Any]) -> str:
    return f"{job['pipeline']}__seed{job['seed']}"


def check_blocks(source: str, results: dict[str, Any]) -> None:
    """Refuse (one line naming the field) an ``external`` or ``robustness`` block of a schema-valid results
    dict that is not what its jobs give."""
    jobs = {_job_key(j): j for j in results.get("jobs", []) if j.get("status") == "ok"}
    for b, block in enumerate(results.get("external") or []):
        for r, row in enumerate(block["jobs"]):
            where = ["external", b, "jobs", r]
            job = jobs.get(_job_key(row))
            entry = next((e for e in (job or {}).get("external") or [] if e["dataset"] == block["dataset"]), None)
            if entry is None:
                raise schemas.fail(source, where, f"job {_job_key(row)!r} has no entry for {block['dataset']!r}")
            for m, v in row["metrics"].items():
                want = {"internal": job["metrics"].get(m), "external": entry["metrics"].get(m)}
                for key, value in want.items():
                    if not _same(value, v.get(key), m):
                        raise schemas.fail(source, [*where, "metrics", m, key], f"{v.get(key)!r} does not add up: "
                                           f"the job record gives {value!r}")
                want_drop = None if None in (v["internal"], v["external"]) else gain(m, v["internal"] - v["external"])
                if want_drop is not None and not _same(want_drop, v["drop"], m):  # positive = worse, each metric's way
                    raise schemas.fail(source, [*where, "metrics", m, "drop"], f"{v['drop']!r} is not the change for "
                                       f"the worse, internal - external in the metric's direction ({want_drop!r})")
    block = results.get("robustness")
    if block:
        fresh = robustness.summarize(results) or {"pipelines": []}
        by = {p["pipeline"]: p for p in fresh["pipelines"]}
        for i, p in enumerate(block["pipelines"]):
            want = by.get(p["pipeline"])
            if want is None:
                raise schemas.fail(source, ["robustness", "pipelines", i], f"no job of {p['pipeline']!r} has "
                                   f"robustness entries")
            for key in ("mean_kept", "kept_by_corruption", "kept", "clean", "curves", "balanced_error"):
                bad = _first_difference(want.get(key), p.get(key))
                if bad is not None:
                    path, got, value = bad
                    raise schemas.fail(source, ["robustness", "pipelines", i, key, *path],
                                       f"{got!r} does not add up: the jobs' robustness entries give {value!r} "
                                       f"(written before kept was chance-corrected? run the same command again "
                                       f"to rebuild it)")


def _first_difference(want: Any, got: Any, path: tuple = ()) -> tuple[list[Any], Any, Any] | None:
    """``(path, got, want)`` of the first leaf where ``got`` differs from ``want`` (None: the same)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got), key=str):
            d = _first_difference(want.get(k), got.get(k), (*path, k))
            if d is not None:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for k, (a, b) in enumerate(zip(want, got)):
            d = _first_difference(a, b, (*path, k))
            if d is not None:
                return d
        return None
    return None if _same(want, got, "kept") else (list(path), got, want)
