"""``--robustness [PRESET]``: every fitted pipeline scored on corrupted copies of the test split, and the summary.

:func:`score` runs inside a job, right after its pipeline is fitted: for each corruption of the run's preset
(:mod:`medbench.shift.presets`: medbench's own six, or the dataset's MedMNIST-C list) and each severity 1..5 it
corrupts the test images (one copy at a time, in batches, so memory holds one corrupted copy of one batch),
predicts with the fitted
pipeline and the operating point chosen on validation, and keeps every headline metric of the catalogue
(:data:`medbench.metrics.HEADLINE`). The feature cache is off while it runs (corrupted copies are not worth
keeping). The job record gets ``robustness``: ``{"seed", "preset", "clean": {metric: v}, "corruptions": {name:
[{severity, metrics}, ...]}}``.

:func:`summarize` builds the top-level ``robustness`` block of results.json from the job records: the
corruption table, and per pipeline (mean over seeds) each metric at each severity, and the ROC-AUC kept
per corruption and its mean over all corruptions and severities (the summary number). Kept is chance-corrected:
(AUC_corrupted - 0.5) / (AUC_clean - 0.5), the share of the clean split's skill above chance that is left, so
1.0 = nothing lost, 0 = down to chance, below 0 = worse than chance. It is undefined (None) for a pipeline whose
clean ROC-AUC is at or below chance (0.5): it has no skill to keep, and a plain ratio would rank a pipeline at
0.436 that drifts to chance as the "most robust" (kept 1.135). With a preset that has a published reference
(``medmnist-c``), each pipeline also gets MedMNIST-C's BE and rBE (:mod:`medbench.shift.balanced_error`) and the
block the reference's errors and source.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medbench.evaluation import stats as st
from medbench.features import cache
from medbench.metrics import HEADLINE, classification_metrics, predict_with_threshold
from medbench.shift import balanced_error, corruptions, presets

__all__ = ["BATCH", "SUMMARY_METRIC", "score", "summarize"]

BATCH = 512  # images corrupted and predicted at a time
SUMMARY_METRIC = "roc_auc"


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    return {m: metrics.get(m) for m in HEADLINE if m in metrics}


def _proba(fitted, images: np.ndarray, step: presets.Step, severity: int, seed: int) -> np.ndarray:
    parts = []
    for start in range(0, len(images), BATCH):
        batch = corruptions.corrupt(np.asarray(images[start:start + BATCH]), step.kind, severity,
                                    seed=seed * 1_000_003 + start, levels=step.levels, key=step.name)
        parts.append(np.asarray(fitted.predict_proba(batch)))
    return np.concatenate(parts)


def score(fitted, images: np.ndarray, y_true: np.ndarray, class_names: list[str], threshold: float | None,
          positive: int | None, seed: int, clean_metrics: dict[str, Any],
          preset: presets.Preset | None = None) -> dict[str, Any]:
    """The job's ``robustness`` entry (see the module docstring); ``preset`` defaults to medbench's own."""
    preset = preset or presets.resolve(presets.DEFAULT)
    out: dict[str, Any] = {"seed": int(seed), "preset": preset.name, "clean": _headline(clean_metrics),
                           "corruptions": {}}
    with cache.disabled():
        for step in preset.steps:
            rows = []
            for severity in corruptions.SEVERITIES:
                proba = _proba(fitted, images, step, severity, seed)
                pred = predict_with_threshold(proba, threshold, positive)
                rows.append({"severity": severity, "metrics": _headline(
                    classification_metrics(y_true, pred, proba, class_names, positive))})
            out["corruptions"][step.name] = rows
    return out


def _mean(values: list[Any]) -> float | None:
    return st.mean_sd(values)["mean"]


def summarize(results: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level ``robustness`` block from the jobs' entries (None when no job has one)."""
    jobs = [j for j in results.get("jobs", []) if j.get("status") == "ok" and j.get("robustness")]
    if not jobs:
        return None
    preset = presets.resolve(jobs[0]["robustness"].get("preset", presets.DEFAULT),
                             (results.get("dataset") or {}).get("spec"))
    names = [s.name for s in preset.steps]
    by_pipe: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        by_pipe.setdefault(job["pipeline"], []).append(job)
    pipelines = []
    for pipe, pjobs in by_pipe.items():
        metrics = [m for m in HEADLINE if m in pjobs[0]["robustness"]["clean"]]
        clean = {m: _mean([j["robustness"]["clean"].get(m) for j in pjobs]) for m in metrics}
        curves: dict[str, dict[str, list[float | None]]] = {}
        kept: dict[str, list[float | None]] = {}
        for name in names:
            curves[name] = {m: [clean[m]] + [
                _mean([j["robustness"]["corruptions"][name][s - 1]["metrics"].get(m) for j in pjobs])
                for s in corruptions.SEVERITIES] for m in metrics}
            kept[name] = [_mean([_kept(j["robustness"]["corruptions"][name][s - 1]["metrics"].get(SUMMARY_METRIC),
                                       j["robustness"]["clean"].get(SUMMARY_METRIC)) for j in pjobs])
                          for s in corruptions.SEVERITIES]
        every = [v for vs in kept.values() for v in vs]
        row = {
            "pipeline": pipe, "name": pjobs[0].get("name", pipe), "family": pjobs[0].get("family", "unknown"),
            "seeds": sorted(j["seed"] for j in pjobs), "clean": clean, "curves": curves,
            "kept": kept, "kept_by_corruption": {n: _mean(v) for n, v in kept.items()},
            "mean_kept": None if any(v is None for v in every) else _mean(every),
        }
        if preset.reference is not None:
            row["balanced_error"] = balanced_error.compute(clean, curves, preset.reference)
        pipelines.append(row)
    pipelines.sort(key=lambda p: (-(p["mean_kept"] if p["mean_kept"] is not None else -np.inf), p["pipeline"]))
    families: dict[str, list[float]] = {}
    for p in pipelines:
        if p["mean_kept"] is not None and p["family"] != "baseline":  # the floor ranks nothing: kept is undefined
            families.setdefault(p["family"], []).append(p["mean_kept"])
    block = {
        "metric": SUMMARY_METRIC,
        "preset": preset.name,
        "severities": [0, *corruptions.SEVERITIES],
        "corruptions": preset.table(),
        "summary": f"mean over the {len(names)} corruptions x 5 severities of the chance-corrected ROC-AUC kept, "
                   "(AUC corrupted - 0.5) / (AUC clean - 0.5), mean over seeds; 1.0 = nothing lost, 0 = down to "
                   "chance, below 0 = worse than chance; undefined (–) when the clean ROC-AUC is at or below 0.5",
        "pipelines": pipelines,
        "families": {f: {"mean_kept": _mean(v), "pipelines": len(v)} for f, v in sorted(families.items())},
    }
    if preset.reference is not None:
        block["reference"] = {**preset.reference, "dataset": preset.dataset, "metric": balanced_error.METRIC}
    return block


CHANCE = 0.5  # ROC-AUC of a ranking that knows nothing (binary, and macro one-vs-rest)


def _kept(value: Any, clean: Any) -> float | None:
    """Chance-corrected share kept: (corrupted - 0.5) / (clean - 0.5); None when clean is at or below chance."""
    v, c = st.number(value), st.number(clean)
    if v is None or c is None or c <= CHANCE:
        return None
    return (v - CHANCE) / (c - CHANCE)
