"""The paired comparison of two jobs on the same test images: one rule, one implementation.

Every place that asks "is job A better than job B here?" - a run's comparisons with its reference and its
classical-vs-deep headline, a suite's pairwise table, ``medbench compare`` and history (NEW against BASE)
and external validation - calls :func:`paired_metric`. The rule, per metric (differences are a - b):

* ROC-AUC of a binary task: DeLong's test; the interval is centred on the reported difference with
  DeLong's standard error (the same covariance gives each job's own AUC interval under ci_method
  by-metric-v2, on the logit scale: :func:`medbench.evaluation.intervals.delong_logit_ci`);
* accuracy (any task), sensitivity / specificity (binary): McNemar's test on all images / the positive /
  the negative images (exact binomial for few discordant pairs); the interval is the paired bootstrap's;
* everything else: the paired bootstrap (the same resamples of the test images for both jobs): a
  percentile interval of the difference and its two-sided p.

A metric undefined for either job has no difference, interval or test. Two jobs that cannot be paired
(:func:`pairing_problem`) have a reason instead: no stored predictions, or other test images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medbench.evaluation import stats as st
from medbench.evaluation.protocol import BOOTSTRAP_SEED, CI_LEVEL, MCNEMAR_SUBSET, PAIRED_RESAMPLES
from medbench.records.view import JobView, Predictions

#: The reasons two jobs cannot be compared image by image.
NO_PREDICTIONS = "no stored test predictions"
DIFFERENT_IMAGES = "scored on different test images"


def _view(job: JobView | Mapping[str, Any]) -> JobView:
    return job if isinstance(job, JobView) else JobView(job)


def pairing_problem(a: JobView | Mapping[str, Any], b: JobView | Mapping[str, Any]) -> str | None:
    """Why jobs ``a`` and ``b`` (views or job records) cannot be compared image by image (None: they can)."""
    pa, pb = _view(a).predictions, _view(b).predictions
    if pa is None or pb is None:
        return NO_PREDICTIONS
    if not pa.same_images(pb):
        return DIFFERENT_IMAGES
    return None


class Bootstraps:
    """The stratified bootstrap resamples of jobs' test metrics, computed once per job and shared: the same
    resample indices for every job on the same test images (same ``n_resamples`` and ``seed``), so
    differences of resampled metrics are paired."""

    def __init__(self, n_classes: int, positive: int | None, n_resamples: int = PAIRED_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED, method: str = st.CI_METHOD) -> None:
        self.n_classes, self.positive, self.n_resamples, self.seed = n_classes, positive, n_resamples, seed
        self.method = method  # how the images are resampled (medbench.evaluation.stats.CI_METHODS)
        self._done: dict[int, tuple[Predictions, dict[str, np.ndarray]]] = {}

    def of(self, predictions: Predictions) -> dict[str, np.ndarray]:
        """The resampled metrics of one job's predictions (computed on first use)."""
        key = id(predictions)  # the entry holds the object, so its id cannot be reused meanwhile
        if key not in self._done:
            self._done[key] = (predictions, st.bootstrap_metrics(
                predictions.y_true, predictions.y_pred, predictions.proba, self.n_classes, self.positive,
                self.n_resamples, self.seed, self.method, predictions.at_specificity))
        return self._done[key][1]


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [ci[0], ci[1]]


def paired_metric(a: JobView, b: JobView, metric: str, boot: Bootstraps, level: float = CI_LEVEL) -> dict[str, Any]:
    """``metric`` of job ``a`` against job ``b`` (same test images; see :func:`pairing_problem`):
    ``{"diff", "ci", "p", "test"}`` by the module's rule; McNemar's adds ``mcnemar`` (``b``: a right and
    b wrong, ``c``: the reverse, ``p``, ``method``)."""
    va, vb = st.number(a.metrics.get(metric)), st.number(b.metrics.get(metric))
    if va is None or vb is None:
        return {"diff": None, "ci": None, "p": None, "test": None}
    diff = va - vb
    pa, pb = a.predictions, b.predictions
    assert pa is not None and pb is not None, "check pairing_problem first"
    k, positive = boot.n_classes, boot.positive
    if metric == "roc_auc" and k == 2:
        pos = 1 if positive is None else positive
        try:
            d = st.delong(pa.y_true == pos, pa.proba[:, pos], pb.proba[:, pos], level)
        except ValueError:
            return {"diff": diff, "ci": None, "p": None, "test": "DeLong (too few images)"}
        half = (d["ci"][1] - d["ci"][0]) / 2  # centred on the reported difference, DeLong's standard error
        return {"diff": diff, "ci": [diff - half, diff + half], "p": d["p"], "test": "DeLong"}
    with np.errstate(invalid="ignore"):  # inf - inf (a likelihood ratio dividing by zero in both): NaN, no test
        samples = boot.of(pa)[metric] - boot.of(pb)[metric] if metric in boot.of(pa) else None
    ci = None if samples is None else _ci(st.percentile_ci(samples, level))
    if metric in MCNEMAR_SUBSET and (metric == "accuracy" or k == 2):
        subset = MCNEMAR_SUBSET[metric]
        pos = 1 if positive is None else positive
        y = pa.y_true
        keep = np.ones(len(y), bool) if subset is None else ((y == pos) if subset == "positive" else (y != pos))
        if not keep.any():
            return {"diff": diff, "ci": ci, "p": None, "test": None}
        r = st.mcnemar(pa.y_pred[keep] == y[keep], pb.y_pred[keep] == y[keep])
        what = "" if subset is None else f" ({subset} images)"
        return {"diff": diff, "ci": ci, "p": r["p"], "test": f"McNemar{what}", "mcnemar": r}
    return {"diff": diff, "ci": ci, "p": None if samples is None else st.bootstrap_p(samples),
            "test": "paired bootstrap"}


def paired_seeds(a_jobs: Sequence[JobView], b_jobs: Sequence[JobView], metric: str,
                 boot: Bootstraps) -> dict[str, Any]:
    """``metric`` of one pipeline's jobs ``a_jobs`` against ``b_jobs`` over several seeds (same order, same
    test images per seed): a paired bootstrap of the mean over the seeds of a - b (each seed's images
    resampled, the same resamples for both). ``{"test", "p"}``; ``p`` None when the metric is undefined."""
    if any(st.number(j.metrics.get(metric)) is None or metric not in boot.of(j.predictions)  # type: ignore[arg-type]
           for j in (*a_jobs, *b_jobs)):
        return {"test": None, "p": None}
    with np.errstate(invalid="ignore"):  # inf - inf: NaN (no test), as in paired_metric
        diffs = np.mean([boot.of(a.predictions)[metric] - boot.of(b.predictions)[metric]  # type: ignore[arg-type]
                         for a, b in zip(a_jobs, b_jobs)], axis=0)
    return {"test": "paired bootstrap" + (" of the mean over seeds" if len(a_jobs) > 1 else ""),
            "p": st.bootstrap_p(diffs)}


def holm_adjust(entries: Sequence[dict[str, Any] | None]) -> None:
    """Add ``p_holm`` (Holm's step-down adjustment over the entries that have a ``p``) to each, in place."""
    holders = [e for e in entries if e is not None and e.get("p") is not None]
    for h, adj in zip(holders, st.holm([h["p"] for h in holders])):
        h["p_holm"] = adj


def paired_tests(b_jobs: Sequence[Mapping[str, Any]], n_jobs: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                 n_classes: int, positive: int | None, n_resamples: int = PAIRED_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Paired tests of NEW against BASE on the same test images (``medbench compare``, history), per metric:
    ``{"paired": True, "tests": {metric: {"test", "p"}}}`` or ``{"paired": False, "reason"}``.

    ``b_jobs`` / ``n_jobs``: one pipeline's job records, one per seed, in the same seed order. One seed: the
    rule of :func:`paired_metric` (McNemar adds its ``b`` and ``c``). Several seeds: :func:`paired_seeds`.
    A metric undefined in either run gets ``p`` None."""
    base, new = [_view(j) for j in b_jobs], [_view(j) for j in n_jobs]
    for b, n in zip(base, new):
        problem = pairing_problem(b, n)
        if problem:
            return {"paired": False, "reason": problem}
    boot = Bootstraps(n_classes, positive, n_resamples, seed)
    tests: dict[str, Any] = {}
    for m in metrics:
        if len(base) > 1:
            tests[m] = paired_seeds(new, base, m, boot)
            continue
        r = paired_metric(base[0], new[0], m, boot)
        tests[m] = {"test": r["test"], "p": r["p"]}
        if "mcnemar" in r:
            tests[m].update(b=r["mcnemar"]["b"], c=r["mcnemar"]["c"])
    return {"paired": True, "tests": tests}
