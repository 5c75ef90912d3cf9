"""A run's ``statistics`` section of results.json, computed from the jobs' test predictions alone.

* ``settings``: ``n_resamples``, ``seed``, ``level`` of the bootstrap and the tests used;
* ``settings`` also names the resampling, ``ci_method`` (:data:`medbench.evaluation.stats.CI_METHODS`; absent in older
  results: ``stratified``);
* ``jobs``: ``{job_id: {"n": test images, "metrics_ci": {metric: [low, high] or null}}}`` - bootstrap
  intervals over the test images (:func:`medbench.evaluation.intervals.metric_cis`; coverage in docs/coverage.md), and ``reliability``:
  the reliability-diagram bins of the job's test predictions (top-label confidence, 15 equal-width bins);
* ``pipelines``: one entry per pipeline, best first (:func:`rank_key`, the one ranking rule: mean test
  ROC-AUC, then balanced accuracy, then name): ``pipeline``, ``name``, ``family``, ``seeds``, ``job_ids``,
  and ``metrics`` / ``runtime``: ``{key: {"mean", "sd", "n", "values"}}`` over the seeds (sd with ddof=1,
  null for one seed);
* ``reference``: the best pipeline, which ``comparisons`` test every other pipeline against;
* ``comparisons``: per other pipeline and seed (same test images): ``a`` (the pipeline's job id),
  ``b`` (the reference's), ``a_pipeline``, ``b_pipeline``, ``seed``, ``n``, ``accuracy`` (``diff`` a - b,
  paired-bootstrap ``ci``), ``mcnemar`` (``b``, ``c``, ``p``, ``p_holm``, ``method``), ``roc_auc`` (``diff``,
  ``ci``, ``p``, ``p_holm``, ``test``) and ``brier`` / ``ece`` when both jobs have them - by the one rule of
  :mod:`medbench.evaluation.paired` - or ``paired: false`` with a ``reason``;
* ``headline``: best classical vs best deep pipeline (``classical``, ``deep``, ``comparisons`` per seed in
  the same form, a = classical, ``roc_auc_diff``: mean / sd of their ROC-AUC differences over the seeds),
  or null when either family is absent;
* ``tradeoff``: ``metric`` (ROC-AUC, or accuracy when a timed pipeline has none) and ``pareto_front``:
  the pipelines no other beats on both that metric and per-image latency, fastest first.

:func:`statistics` returns the stored section, or computes it (deterministically) when absent or stale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from medbench.evaluation import intervals, paired
from medbench.evaluation import stats as st
from medbench.evaluation.protocol import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CALIBRATION_TESTED,
    CI_LEVEL,
    RANK_METRICS,
)
from medbench.metrics import HEADLINE, RUNTIME_KEYS, gain
from medbench.records.view import JobView, RunView

SUMMARY_RUNTIME = tuple(k for k, v in RUNTIME_KEYS.items() if v.summary)


def rank_key(values: Mapping[str, Any], name: str = "", first: str = RANK_METRICS[0]) -> tuple[Any, ...]:
    """The one ranking rule (leaderboards of the CLI, API, report and suite): higher ROC-AUC first, then
    higher balanced accuracy, then the name; a missing or non-finite value ranks after every value. Each
    metric counts in its own direction (:func:`medbench.metrics.gain`: a lower Brier score ranks first).
    ``values`` maps metric -> value (a pipeline's means over its seeds); ``first`` puts another of
    :data:`RANK_METRICS` first (a suite's analysis metric). Sort ascending by it (``min`` is the best)."""
    order = (first, *[m for m in RANK_METRICS if m != first])
    return (*(-gain(m, v) if (v := st.number(values.get(m))) is not None else math.inf for m in order), name)


def group_rank_key(group: Mapping[str, Any]) -> tuple[Any, ...]:
    """:func:`rank_key` of one ``pipelines`` entry (its means over the seeds)."""
    return rank_key({m: (v or {}).get("mean") for m, v in group["metrics"].items()}, group["pipeline"])


def pipeline_groups(jobs: Sequence[JobView]) -> list[dict[str, Any]]:
    """Successful jobs grouped by pipeline, best first (:func:`rank_key`), with mean / sd over seeds."""
    groups: dict[str, list[JobView]] = {}
    for job in jobs:
        if job.ok:
            groups.setdefault(job.pipeline, []).append(job)
    out = []
    for pipeline, members in groups.items():
        members = sorted(members, key=lambda j: j.seed)
        first = members[0]
        out.append({
            "pipeline": pipeline, "name": first.name, "family": first.family,
            "seeds": [j.seed for j in members], "job_ids": [j.id for j in members],
            "metrics": {m: st.mean_sd([j.metrics.get(m) for j in members]) for m in HEADLINE if m in first.metrics},
            "runtime": {k: st.mean_sd([(j.record.get("runtime") or {}).get(k) for j in members])
                        for k in SUMMARY_RUNTIME},
        })
    return sorted(out, key=group_rank_key)


def compare_jobs(a: JobView, b: JobView, boot: paired.Bootstraps, level: float = CI_LEVEL) -> dict[str, Any]:
    """One ``comparisons`` entry: job ``a`` against job ``b`` (differences are a - b)."""
    head = {"a": a.id, "b": b.id, "a_pipeline": a.pipeline, "b_pipeline": b.pipeline, "seed": a.seed}
    problem = paired.pairing_problem(a, b)
    if problem:
        return {**head, "paired": False, "reason": problem}
    out: dict[str, Any] = {**head, "paired": True, "n": len(a.predictions)}  # type: ignore[arg-type]
    acc = paired.paired_metric(a, b, "accuracy", boot, level)
    out["accuracy"] = {"diff": acc["diff"], "ci": acc["ci"]}
    out["mcnemar"] = acc.get("mcnemar") or st.mcnemar(
        a.predictions.y_pred == a.predictions.y_true, b.predictions.y_pred == b.predictions.y_true)  # type: ignore[union-attr]
    auc = paired.paired_metric(a, b, "roc_auc", boot, level)
    out["roc_auc"] = None if auc["diff"] is None else {k: auc[k] for k in ("diff", "ci", "p", "test")}
    for m in CALIBRATION_TESTED:  # calibration: a paired bootstrap (the same resamples for a and b)
        r = paired.paired_metric(a, b, m, boot, level)
        if r["diff"] is not None:
            out[m] = {k: r[k] for k in ("diff", "ci", "p", "test")}
    return out


def _pairs(a_jobs: list[JobView], b_jobs: list[JobView]) -> list[tuple[JobView, JobView]]:
    by_seed = {j.seed: j for j in b_jobs}
    return [(j, by_seed[j.seed]) for j in a_jobs if j.seed in by_seed]


def job_statistics(jobs: Sequence[JobView], boot: paired.Bootstraps, level: float = CI_LEVEL) -> dict[str, Any]:
    """The ``jobs`` part: per job its test-image count, metric CIs and reliability bins."""
    per_job: dict[str, Any] = {}
    for job in jobs:
        pred = job.predictions
        if pred is None:  # e.g. a trimmed results file: no intervals, no paired tests
            per_job[job.id] = {"n": None, "metrics_ci": dict.fromkeys((m for m in HEADLINE if m in job.metrics), None)}
            continue
        estimates = {m: job.metrics.get(m) for m in HEADLINE if m in job.metrics}
        cis = intervals.metric_cis(pred.y_true, pred.y_pred, pred.proba, boot.of(pred), estimates, boot.n_classes,
                                   boot.positive, level, boot.method, boot.n_resamples, boot.seed, pred.at_specificity)
        per_job[job.id] = {"n": len(pred), "metrics_ci": {m: paired._ci(cis.get(m)) for m in estimates},
                           "reliability": st.reliability(pred.y_true, pred.proba)}
    return per_job


def compute(jobs: Sequence[JobView], n_classes: int, positive: int | None, n_resamples: int = BOOTSTRAP_RESAMPLES,
            seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> dict[str, Any]:
    """The statistics section of the successful ``jobs`` (of one run, or of one external set)."""
    jobs = [j for j in jobs if j.ok]
    boot = paired.Bootstraps(n_classes, positive, n_resamples, seed)
    per_job = job_statistics(jobs, boot, level)
    groups = pipeline_groups(jobs)
    by_pipe = {p: sorted((j for j in jobs if j.pipeline == p), key=lambda j: j.seed)
               for p in (g["pipeline"] for g in groups)}
    reference = groups[0]["pipeline"] if groups else None
    comparisons = [compare_jobs(a, b, boot, level) for g in groups[1:]
                   for a, b in _pairs(by_pipe[g["pipeline"]], by_pipe[reference])]
    done = [c for c in comparisons if c["paired"]]
    for key in ("mcnemar", "roc_auc", *CALIBRATION_TESTED):
        paired.holm_adjust([c.get(key) for c in done])
    best = {fam: next((g["pipeline"] for g in groups if g["family"] == fam), None) for fam in ("classical", "deep")}
    headline = None
    if best["classical"] and best["deep"]:
        headline = {"classical": best["classical"], "deep": best["deep"], "comparisons": [
            compare_jobs(a, b, boot, level) for a, b in _pairs(by_pipe[best["classical"]], by_pipe[best["deep"]])]}
    auc_test = "DeLong" if n_classes == 2 else "paired stratified bootstrap"
    return summaries({
        "settings": {
            "n_resamples": n_resamples, "seed": seed, "level": level,
            "ci": "bootstrap interval over the test images (the same resamples for every pipeline "
                  "on the same test images): " + st.CI_METHODS[st.CI_METHOD],
            "ci_method": st.CI_METHOD,  # absent in results written before it: "stratified" for every metric
            "mcnemar": f"exact binomial when b + c < {st.EXACT_BELOW}, else chi-square with continuity correction",
            "roc_auc_test": auc_test,
            "multiple_comparisons": "Holm over the comparisons with the reference",
        },
        "jobs": per_job,
        "pipelines": groups,
        "reference": reference,
        "comparisons": comparisons,
        "headline": headline,
    })


def compute_statistics(results: Mapping[str, Any], n_resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> dict[str, Any]:
    """The statistics section of a results document (see the module docstring)."""
    run = RunView(results)
    return compute(run.ok_jobs, run.n_classes, run.positive_index, n_resamples, seed, level)


def summaries(stats: dict[str, Any]) -> dict[str, Any]:
    """``stats`` with the numbers the report shows that derive from it (``headline.roc_auc_diff``,
    ``tradeoff``), added where absent (a section stored by an older medbench): renderers only render."""
    head = stats.get("headline")
    if "tradeoff" in stats and (head is None or "roc_auc_diff" in head):
        return stats  # complete: the stored section itself, not a copy
    out = dict(stats)
    if head is not None and "roc_auc_diff" not in head:
        diffs = [x["roc_auc"]["diff"] for x in head["comparisons"] if x["paired"] and x["roc_auc"]]
        out["headline"] = {**head, "roc_auc_diff": st.mean_sd(diffs)}
    if "tradeoff" not in out:
        timed = [g for g in out["pipelines"] if g["runtime"]["latency_ms_per_image"]["mean"]]
        metric = "roc_auc" if all((g["metrics"].get("roc_auc") or {}).get("mean") is not None for g in timed) \
            else "accuracy"
        contenders = [g for g in timed if g["family"] != "baseline"
                      and st.finite((g["metrics"].get(metric) or {}).get("mean"))]
        front = st.pareto_front([g["runtime"]["latency_ms_per_image"]["mean"] for g in contenders],
                                [g["metrics"][metric]["mean"] for g in contenders])
        out["tradeoff"] = {"metric": metric, "pareto_front": [contenders[i]["pipeline"] for i in front]}
    return out


def add_statistics(results: dict[str, Any], n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                   level: float = CI_LEVEL) -> dict[str, Any]:
    """A copy of ``results`` with its ``statistics`` section (computed now)."""
    return {**results, "statistics": compute_statistics(results, n_resamples, seed, level)}


def statistics(results: Mapping[str, Any]) -> dict[str, Any]:
    """The stored ``statistics`` when they cover exactly the successful jobs; otherwise computed now
    with the stored settings (or the defaults). Deterministic either way."""
    stored = results.get("statistics")
    ids = sorted(j.id for j in RunView(results).ok_jobs)
    if stored and sorted(stored.get("jobs", {})) == ids:
        return summaries(stored)
    cfg = (stored or {}).get("settings") or {  # none stored (a run killed in its final phase): the run's own
        "n_resamples": (results.get("config") or {}).get("bootstrap_resamples", BOOTSTRAP_RESAMPLES),
        "seed": (results.get("config") or {}).get("bootstrap_seed", BOOTSTRAP_SEED)}
    return compute_statistics(results, cfg.get("n_resamples", BOOTSTRAP_RESAMPLES),
                              cfg.get("seed", BOOTSTRAP_SEED), cfg.get("level", CI_LEVEL))


def job_ci(stats: Mapping[str, Any], job: Mapping[str, Any] | JobView, metric: str) -> tuple[float, float] | None:
    """The test-metric CI of one job from a statistics section: ``jobs[<job id>].metrics_ci[<metric>]``."""
    jid = job.id if isinstance(job, JobView) else JobView(job).id
    entry = (stats.get("jobs") or {}).get(jid)
    ci = ((entry or {}).get("metrics_ci") or {}).get(metric)
    return None if ci is None else (ci[0], ci[1])
