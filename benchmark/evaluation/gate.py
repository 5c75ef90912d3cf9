"""The regression judgement of ``medbench compare``: BASE vs NEW, metric by metric, against tolerances.

:func:`compare` matches jobs by pipeline name and seed (several seeds: per seed and on the mean over
the seeds both runs have), judges every metric against its tolerance (:mod:`medbench.evaluation.tolerances`),
uses confidence intervals (CIs overlap = the change may be noise) and compares runtime as ratios
NEW/BASE. It refuses runs on different datasets or splits unless forced. The result is a JSON-able
dict (written as compare.json; rendered by :mod:`medbench.reports.compare`); its ``exit_status``
is the verdict: 0 no regression, 1 regression.

CIs come from the one shape results.json documents (:func:`medbench.records.results.compute_statistics`):
``statistics.jobs[<job id>].metrics_ci[<metric>] = [low, high]`` for one seed; for the mean over
seeds, a t-interval over the seeds' values. A metric with a finite value in BASE and none in NEW
(missing, null, NaN or infinite) is a regression of that pipeline, seed and metric.

Paired tests between versions (:func:`medbench.evaluation.paired.paired_tests`): when BASE's and NEW's jobs were scored on the
same test images (same ids and labels), every metric row carries a p-value from the stored
predictions, image by image - McNemar's test for accuracy (and for sensitivity / specificity: the
positive / negative images only), DeLong's test for a binary ROC-AUC, and a paired stratified
bootstrap (the same resamples of the test images for both runs) for the other metrics, for a
multi-class ROC-AUC and for the mean over seeds. ``p_holm`` is Holm-corrected over the pipelines
(per metric and seed). ``mode = "significant"`` fails a drop beyond the tolerance only when
``p_holm < alpha``; rows without a paired test fall back to CI overlap. A drop beyond a metric's
*hard limit* (``[hard]`` in the tolerances) fails in every mode, whatever the p-value: a collapse on a
small test set must not hide behind a wide confidence interval.

Every row carries an asv-style ``marker``: ``worse``, ``better``, ``not significant`` (beyond the
tolerance, but not significant in "significant" mode), ``newly failed`` (a value or job BASE had and
NEW lost), ``fixed`` (failed in BASE, fine in NEW), or ``""`` (no change beyond the tolerance).

Environments (:func:`environment_differences`) are compared first: code provenance (git commit,
dirty tree, source hash), libraries, Python, machine. Runtime is judged only on the same machine
(CPU model, core count, GPUs; :func:`medbench.core.profiling.same_machine`) unless ``force_runtime``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from medbench import metrics_reloaded as reloaded
from medbench.core import profiling
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import protocol
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.evaluation.tolerances import RUNTIME, Tolerances, lower_is_better
from medbench.metrics import gain, metric_names
from medbench.records import view

SCHEMA = "medbench.compare"
SCHEMA_VERSION = 2  # 2: environment differences, paired tests, markers
EPS = 1e-9  # a change of exactly the tolerance passes (floating-point slack)


# ---------------------------------------------------------------------------------------------- inputs
def compatibility(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why two runs' metrics are not comparable (empty: they are): dataset and split must match."""
    bd, nd = base["dataset"], new["dataset"]
    problems = []
    if bd.get("spec") != nd.get("spec"):
        problems.append(f"datasets differ ({bd.get('spec')!r} vs {nd.get('spec')!r})")
    if bd.get("fingerprint") != nd.get("fingerprint"):
        problems.append(f"dataset fingerprints differ ({short_fingerprint(bd.get('fingerprint'))} vs {short_fingerprint(nd.get('fingerprint'))})")
    if bd["class_names"] != nd["class_names"]:
        problems.append(f"class names differ ({bd['class_names']} vs {nd['class_names']})")
    bs, ns = base["split"]["fingerprint"], new["split"]["fingerprint"]
    if bs != ns:
        problems.append(f"split fingerprints differ ({short_fingerprint(bs)} vs {short_fingerprint(ns)})")
    else:  # one split per seed (--resplit-per-seed): the jobs of each seed must share it too
        b_seed, n_seed = _seed_splits(base), _seed_splits(new)
        for seed in sorted(set(b_seed) & set(n_seed)):
            if b_seed[seed] != n_seed[seed]:
                problems.append(f"split fingerprints of seed {seed} differ ({short_fingerprint(b_seed[seed])} vs "
                                f"{short_fingerprint(n_seed[seed])})")
    return problems


def _seed_splits(results: dict[str, Any]) -> dict[int, str]:
    return {j["seed"]: j["split_fingerprint"] for j in results["jobs"] if j.get("split_fingerprint")}


def short_fingerprint(value: Any) -> str:
    """A fingerprint shortened for display."""
    return str(value)[:12] if value else "none"


def _index(results: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for job in results["jobs"]:
        out.setdefault(job["pipeline"], {})[job["seed"]] = job
    return out




def with_statistics(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with its statistics section: the stored one when it covers the jobs, else computed
    now from the test predictions (:func:`medbench.records.results.statistics`, deterministic)."""
    return {**results, "statistics": evaluation.statistics(results)}


def job_ci(results: dict[str, Any], job: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """The test-metric CI of one job: ``statistics.jobs[<job id>].metrics_ci[<metric>]``."""
    return evaluation.job_ci(results.get("statistics") or {}, job, metric)


# ------------------------------------------------------------------------------------------ judgement
def _status(row: dict[str, Any], tolerance: float, alpha: float) -> str:
    """A metric row's status from its delta, tolerance, mode and noise (paired p, else CI overlap)."""
    if row["vanished"]:
        return "n/a" if row["seed"] == "mean" else "regression"
    if row["delta"] is None:
        return "n/a"
    delta = gain(row["metric"], row["delta"])  # signed so that positive is better (a Brier rise is a drop)
    if delta < -tolerance - EPS:
        if row["mode"] == "significant" and not _significant(row, alpha) and not row.get("beyond_hard"):
            return "noise"
        return "regression" if row["judged"] else "drop"
    if delta > tolerance + EPS:
        return "improved"
    return "ok"


def _significant(row: dict[str, Any], alpha: float) -> bool:
    """Is the change real: Holm-corrected paired p below alpha; else CIs apart; else (no evidence
    either way) yes, as in "absolute" mode."""
    p = row.get("p_holm", row.get("p"))
    if p is not None:
        return p < alpha
    return row["ci_overlap"] is not True


def marker(row: dict[str, Any], alpha: float) -> str:
    """The asv-style marker of a metric row: worse, better, not significant, newly failed or ""."""
    status = row["status"]
    if row["vanished"]:
        return "newly failed"
    if status == "noise" or (status == "improved" and row["mode"] == "significant" and not _significant(row, alpha)):
        return "not significant"
    return {"regression": "worse", "drop": "worse", "improved": "better"}.get(status, "")


def metric_row(pipeline: str, seed: int | str, metric: str, base: Any, new: Any, tolerance: float,
               base_ci=None, new_ci=None, mode: str = "absolute", judged: bool = True,
               paired: dict[str, Any] | None = None, alpha: float = 0.05,
               hard: float = math.inf) -> dict[str, Any]:
    """One metric of one pipeline (one seed or the mean): delta, noise, status and marker.

    A "drop" is a change for the worse in the metric's direction (:func:`medbench.metrics.gain`): a fall of
    ROC-AUC, a rise of the Brier score or ECE (lower is better).

    status: ``regression`` (dropped by more than the tolerance; in "significant" mode only when the
    drop is also significant - paired test p (Holm-corrected, see :func:`compare`) below ``alpha``,
    or without a paired test, CIs apart; or, on a seed's row, a finite value in BASE and none in
    NEW), ``noise`` (such a drop, but not significant), ``drop`` (such a drop on a row that is not
    judged: a single seed when the mean is judged), ``ok`` (within tolerance), ``improved`` (rose by
    more than the tolerance) or ``n/a`` (undefined in BASE, e.g. ROC-AUC with one class; or the mean
    over seeds when a seed has lost its value, which that seed's row reports). ``paired``: this
    metric's paired test (``{"test", "p"}``) when both runs were scored on the same images. ``hard``:
    the hard limit: a drop beyond it is a regression whatever the p-value (``beyond_hard``).
    """
    b, n = st.number(base), st.number(new)
    overlap = None
    if base_ci is not None and new_ci is not None:
        overlap = bool(base_ci[0] <= new_ci[1] and new_ci[0] <= base_ci[1])
    vanished = b is not None and n is None
    row = {"pipeline": pipeline, "seed": seed, "metric": metric, "base": b, "new": n,
           "delta": None if b is None or n is None else n - b,
           "tolerance": None if math.isinf(tolerance) else tolerance,
           "base_ci": list(base_ci) if base_ci else None, "new_ci": list(new_ci) if new_ci else None,
           "ci_overlap": overlap, "test": (paired or {}).get("test"), "p": (paired or {}).get("p"),
           "p_holm": (paired or {}).get("p"), "mode": mode,
           "judged": True if vanished and seed != "mean" else judged, "vanished": vanished,
           "hard_limit": None if math.isinf(hard) else hard}
    row["beyond_hard"] = row["delta"] is not None and gain(metric, row["delta"]) < -hard - EPS
    row["status"] = _status(row, tolerance, alpha)
    row["marker"] = marker(row, alpha)
    return row


def holm_over_pipelines(rows: list[dict[str, Any]], tolerance_of, alpha: float) -> None:
    """Set ``p_holm`` (Holm over the pipelines, per metric and seed) on metric rows, then their status
    and marker again. ``tolerance_of(row)``: the row's tolerance (inf allowed)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["metric"], str(r["seed"])), []).append(r)
    for group in groups.values():
        for r, adj in zip(group, st.holm([r["p"] for r in group])):
            r["p_holm"] = adj
    for r in rows:
        r["status"] = _status(r, tolerance_of(r), alpha)
        r["marker"] = marker(r, alpha)


def runtime_row(pipeline: str, seed: int | str, key: str, base: Any, new: Any, limit: float, floor: float,
                check: bool = True, off_reason: str = "runtime not judged") -> dict[str, Any]:
    """One runtime figure: ratio NEW/BASE, slowdown (>1: slower), status regression/slower/ok/faster/n/a."""
    b, n = st.number(base), st.number(new)
    lower = lower_is_better(key)
    row = {"pipeline": pipeline, "seed": seed, "key": key, "base": b, "new": n, "ratio": None,
           "slowdown": None, "limit": None if math.isinf(limit) else limit, "judged": False, "reason": None,
           "status": "n/a", "marker": ""}
    if b is None or n is None or b <= 0 or n <= 0:
        return row
    ratio = n / b
    slowdown = ratio if lower else 1 / ratio
    fast = (b < floor and n < floor) if lower else (b > floor and n > floor)
    row.update(ratio=ratio, slowdown=slowdown)
    if not check:
        row["reason"] = off_reason
    elif fast:
        row["reason"] = f"below noise floor ({floor:g})"
    elif math.isinf(limit):
        row["reason"] = "no limit"
    else:
        row["judged"] = True
    if fast:
        row["status"] = "ok"  # timer noise either way
    elif slowdown > limit + EPS:
        row["status"] = "regression" if row["judged"] else "slower"
    elif not math.isinf(limit) and slowdown < 1 / limit - EPS:
        row["status"] = "faster"
    else:
        row["status"] = "ok"
    row["marker"] = {"regression": "worse", "slower": "worse", "faster": "better"}.get(row["status"], "")
    return row


def _mean(values: list[Any]) -> float | None:
    nums = [st.number(v) for v in values]
    if not nums or any(v is None for v in nums):
        return None
    return sum(nums) / len(nums)  # type: ignore[arg-type]


ENV_KEYS = (("git_commit", "git commit"), ("git_dirty", "dirty tree"), ("source_hash", "source hash"),
            ("lock_digest", "lock file pins"),
            ("python", "Python"), ("platform", "platform"), ("cpu", "CPU"), ("cpu_id", "CPU family / SIMD"),
            ("cpu_count", "cores"),
            ("memory_gb", "memory GB"), ("gpus", "GPUs"), ("keras_backend", "Keras backend"))


#: Environment entries a run records only when it ran a job of the kind (the deep-model device: a deep job).
RECORDED_BY_JOBS = ("deep",)


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return " ".join(f"{v}" for v in value.values() if v is not None) or None
    return str(value)


def environment_differences(base: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every difference between BASE's and NEW's environments, code first: ``{"key", "label", "base",
    "new"}`` with the values as text (None: not recorded by that run)."""
    be, ne = base.get("environment") or {}, new.get("environment") or {}
    pairs = [("medbench_version", "medbench version", base.get("medbench_version"), new.get("medbench_version"))]
    pairs += [(k, lbl, be.get(k), ne.get(k)) for k, lbl in ENV_KEYS]
    pairs.append(("deep", "deep-model device", be.get("deep"), ne.get("deep")))
    blib, nlib = be.get("libraries") or {}, ne.get("libraries") or {}
    pairs += [(f"libraries.{k}", k, blib.get(k), nlib.get(k)) for k in sorted(set(blib) | set(nlib)) if k != "medbench"]
    out = []
    for key, lbl, b, n in pairs:
        bt, nt = _env_value(b), _env_value(n)
        if key in RECORDED_BY_JOBS and (bt is None or nt is None):
            continue  # not a difference: the run without such a job simply has nothing to record
        if bt != nt:
            out.append({"key": key, "label": lbl, "base": bt, "new": nt})
    return out


def _describe(results: dict[str, Any], label: str) -> dict[str, Any]:
    env = results.get("environment") or {}
    return {
        "path": label, "medbench_version": results.get("medbench_version"), "created": results.get("created"),
        "command": results.get("command"), "dataset": results["dataset"].get("spec"),
        "dataset_fingerprint": results["dataset"].get("fingerprint"),
        "split_fingerprint": results["split"]["fingerprint"], "split_method": results["split"]["method"],
        "machine": profiling.machine_text(env), "python": env.get("python"),
        "git_commit": env.get("git_commit"), "git_dirty": env.get("git_dirty"), "source_hash": env.get("source_hash"),
        "libraries": env.get("libraries") or {}, "baseline": results.get("baseline"),
    }


def runtime_decision(base: dict[str, Any], new: dict[str, Any], tol: Tolerances, runtime: bool,
                     force_runtime: bool) -> tuple[bool, str]:
    """Whether runtime is judged, and why (one sentence): on the same machine, or forced."""
    diffs = profiling.machine_differences(base.get("environment"), new.get("environment"))
    if not runtime:
        return False, "runtime not judged (--no-runtime): ratios are shown for information only"
    if not tol.runtime_check:
        return False, f"runtime not judged (runtime.check = false in {tol.source})"
    if diffs and not force_runtime:
        return False, (f"runtime not judged: the machines differ ({'; '.join(diffs)}); ratios are shown for "
                       "information only (--force-runtime judges them anyway)")
    if diffs:
        return True, (f"runtime judged although the machines differ ({'; '.join(diffs)}) (--force-runtime): "
                      "ratios compare machines as much as code")
    return True, f"runtime judged: same machine ({profiling.machine_text(base.get('environment') or {})})"


# ------------------------------------------------------------------------------------------- compare
def compare(base: dict[str, Any], new: dict[str, Any], tolerances: Tolerances, *, force: bool = False,
            runtime: bool = True, force_runtime: bool = False, base_label: str = "BASE",
            new_label: str = "NEW") -> dict[str, Any]:
    """Compare two results dicts (validated, see :func:`medbench.records.results.load`); raise
    :class:`MedbenchError` when they are not comparable, unless forced. Runtime is judged only when
    both runs come from the same machine, unless ``force_runtime``."""
    problems = compatibility(base, new)
    if problems and not force:
        raise MedbenchError(f"{base_label} and {new_label} are not comparable: {'; '.join(problems)} "
                            "(pass --force to compare anyway)")
    named = set(_index(base)) | set(_index(new))
    unknown = sorted(set(tolerances.pipelines) - named)
    if unknown:
        raise MedbenchError(f"{tolerances.source}: [pipelines.{unknown[0]}] names a pipeline neither run has "
                            f"(they have: {', '.join(sorted(named)) or 'none'}); fix the name or remove the section")
    check_runtime, runtime_reason = runtime_decision(base, new, tolerances, runtime, force_runtime)
    ctx = _ComparisonRows(base, new, tolerances, check_runtime, metric_names(len(view.class_names(new))),
                   base_label, new_label)
    if problems:
        ctx.notes.append(f"FORCED: compared although {'; '.join(problems)}: differences may come from the "
                         "data, not the code")
    bi, ni = _index(base), _index(new)
    for pipe in [*bi, *(p for p in ni if p not in bi)]:
        ctx.pipeline(pipe, bi.get(pipe, {}), ni.get(pipe, {}))
    unmeasured = not_computed(new, ctx.metric_rows)
    if unmeasured:
        ctx.notes.append(f"metrics {new_label} does not compute, not judged (no job of {new_label} records them: "
                         f"made by a medbench before them; the other metrics are judged as usual): "
                         f"{', '.join(unmeasured)}")
    holm_over_pipelines(ctx.metric_rows, lambda r: tolerances.metric_tolerance(r["pipeline"], r["metric"]),
                        tolerances.alpha)
    ctx.notes.extend(_run_notes(tolerances, ctx.metric_rows, runtime_reason))
    fresh = new_metrics(ctx.metric_rows)
    if fresh:
        ctx.notes.append(f"new metrics, not judged ({base_label} has no value for them; the other metrics are "
                         f"judged as usual): {', '.join(fresh)}")
    regressions = [_as_regression(r, "metric") for r in ctx.metric_rows if r["status"] == "regression"]
    regressions += [_as_regression(r, "runtime") for r in ctx.runtime_rows if r["status"] == "regression"]
    regressions += [_as_regression(r, "pipeline") for r in ctx.issues if r["status"] == "regression"]
    n_checks = (sum(r["judged"] and r["status"] != "n/a" and (r["tolerance"] is not None or r["vanished"])
                    for r in ctx.metric_rows)
                + sum(r["judged"] for r in ctx.runtime_rows)
                + sum(r["status"] == "regression" for r in ctx.issues))
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "medbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base": _describe(base, base_label), "new": _describe(new, new_label),
        "environment": {"differences": environment_differences(base, new),
                        "same_machine": profiling.same_machine(base.get("environment"), new.get("environment")),
                        "machine_differences": profiling.machine_differences(base.get("environment"),
                                                                             new.get("environment"))},
        "comparable": not problems, "forced": bool(problems), "problems": problems,
        "tolerances": tolerances.to_dict(), "unchecked": tolerances.unchecked(),
        "runtime_judged": ctx.check_runtime, "runtime_reason": runtime_reason, "force_runtime": force_runtime,
        "verdict": "regression" if regressions else "pass", "exit_status": 1 if regressions else 0,
        "summary": {"checks": n_checks, "regressions": len(regressions),
                    "pipelines": len({r["pipeline"] for r in ctx.metric_rows}),
                    "markers": _marker_counts(ctx)},
        "regressions": regressions, "pipelines": ctx.issues, "metrics": ctx.metric_rows,
        "runtime": ctx.runtime_rows, "notes": ctx.notes,
    }


def not_computed(new: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Metrics BASE has and no finished job of NEW records at all (not even as null: NEW was made by a medbench
    that did not compute them, e.g. an older release against a baseline with Metrics Reloaded's set). Their rows
    become ``n/a``, never judged: the mirror of :func:`new_metrics`. A metric NEW records as null for some job
    stays a loss ("no value in NEW")."""
    jobs = [j for j in new.get("jobs") or [] if j.get("status") == "ok"]
    if not jobs:
        return []
    absent = {r["metric"] for r in rows if r["base"] is not None
              and all(r["metric"] not in (j.get("metrics") or {}) for j in jobs)}
    for r in rows:
        if r["metric"] in absent:
            r.update(vanished=False, judged=False, status="n/a", marker="")
    return [m for m in dict.fromkeys(r["metric"] for r in rows) if m in absent]


def new_metrics(rows: list[dict[str, Any]]) -> list[str]:
    """Metrics NEW has and BASE has for no pipeline at all (e.g. Brier and ECE against a baseline written
    before medbench measured them): their rows are ``n/a``, never judged."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        seen.setdefault(r["metric"], []).append(r)
    return [m for m, rs in seen.items()
            if all(r["base"] is None for r in rs) and any(r["new"] is not None for r in rs)]


def _marker_counts(ctx: _ComparisonRows) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in [*ctx.metric_rows, *ctx.runtime_rows, *ctx.issues]:
        if r["marker"]:
            out[r["marker"]] = out.get(r["marker"], 0) + 1
    return out


class _ComparisonRows:
    """The rows of one comparison, filled pipeline by pipeline."""

    def __init__(self, base, new, tol: Tolerances, check_runtime: bool, metrics: list[str], bl: str, nl: str):
        self.base, self.new, self.tol, self.metrics, self.bl, self.nl = base, new, tol, metrics, bl, nl
        self.check_runtime = check_runtime
        self.metric_rows: list[dict[str, Any]] = []
        self.runtime_rows: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.n_classes = len(view.class_names(new))
        self.positive = view.positive_index(new)
        cfg = (new.get("statistics") or {}).get("settings") or {}
        self.n_resamples = max(protocol.PAIRED_RESAMPLES, cfg.get("n_resamples", 0))
        self.boot_seed = cfg.get("seed", protocol.BOOTSTRAP_SEED)

    def issue(self, pipe: str, seed: int | None, kind: str, status: str, detail: str, mark: str = "") -> None:
        self.issues.append({"pipeline": pipe, "seed": seed, "kind": kind, "status": status, "detail": detail,
                            "marker": mark})

    def pipeline(self, pipe: str, b_jobs: dict[int, dict], n_jobs: dict[int, dict]) -> None:
        b_ok = {s: j for s, j in b_jobs.items() if j["status"] == "ok"}
        n_ok = {s: j for s, j in n_jobs.items() if j["status"] == "ok"}
        if not b_jobs:
            return self.issue(pipe, None, "new", "note", f"only in {self.nl}")
        policy = "regression" if self.tol.missing_policy(pipe) == "fail" else "warning"
        for seed in sorted(b_ok):
            if seed not in n_jobs:
                self.issue(pipe, seed, "missing", policy, f"missing in {self.nl}", "newly failed")
            elif seed not in n_ok:
                err = str(n_jobs[seed].get("error", "failed"))[:160]
                self.issue(pipe, seed, "failed", policy, f"failed in {self.nl}: {err}", "newly failed")
        for seed in sorted(set(b_jobs) - set(b_ok)):
            state = "ok" if seed in n_ok else "still failing"
            self.issue(pipe, seed, "failed in base", "note", f"failed in {self.bl}; {state} in {self.nl}",
                       "fixed" if seed in n_ok else "")
        extra = sorted(set(n_jobs) - set(b_jobs))
        if extra:
            self.issue(pipe, None, "seeds", "note", f"seeds {extra} only in {self.nl}")
        common = sorted(set(b_ok) & set(n_ok))
        on_mean = len(common) > 1 and self.tol.seeds == "mean"
        for seed in common:
            _job_notes(self.notes, pipe, seed, b_ok[seed], n_ok[seed], self.bl, self.nl)
            self.rows(pipe, seed, [b_ok[seed]], [n_ok[seed]], judged=not on_mean)
        if len(common) > 1:
            self.rows(pipe, "mean", [b_ok[s] for s in common], [n_ok[s] for s in common], judged=on_mean)

    def rows(self, pipe: str, seed: int | str, b_jobs: list[dict], n_jobs: list[dict], judged: bool) -> None:
        """Metric and runtime rows of one seed (one job each) or of the mean over seeds."""
        tol, mode = self.tol, self.tol.mode_for(pipe)
        paired = evaluation_paired.paired_tests(b_jobs, n_jobs, self.metrics, self.n_classes, self.positive,
                                                self.n_resamples, self.boot_seed)
        tests = paired.get("tests") or {}
        for m in self.metrics:
            bv, nv = [j["metrics"].get(m) for j in b_jobs], [j["metrics"].get(m) for j in n_jobs]
            if seed == "mean":
                b_ci, n_ci = st.t_interval(bv), st.t_interval(nv)
            else:
                b_ci, n_ci = job_ci(self.base, b_jobs[0], m), job_ci(self.new, n_jobs[0], m)
            limit = tol.metric_tolerance(pipe, m)
            row = metric_row(pipe, seed, m, _mean(bv), _mean(nv), limit, b_ci, n_ci, mode, judged=judged,
                             paired=tests.get(m), alpha=tol.alpha, hard=tol.hard_limit(pipe, m))
            if not paired["paired"]:
                row["test"] = f"none ({paired['reason']})"
            why = (n_jobs[0].get("metric_notes") or {}).get(m) if row["vanished"] and seed != "mean" else None
            if why and m in reloaded.LIKELIHOOD_RATIOS:  # a likelihood ratio dividing by zero (LR+ with no
                row.update(vanished=False, status="n/a", marker="", undefined=why)  # false positive): not lost
            self.metric_rows.append(row)
        off = "runtime not judged" if not self.check_runtime else (
            "judged on the mean over seeds" if seed != "mean" else "seeds judged one by one")
        for key in RUNTIME:
            b = _mean([j["runtime"].get(key) for j in b_jobs])
            n = _mean([j["runtime"].get(key) for j in n_jobs])
            self.runtime_rows.append(runtime_row(pipe, seed, key, b, n, tol.runtime_limit(pipe, key),
                                                 tol.floors[key], self.check_runtime and judged, off))


def _job_notes(notes: list[str], pipe: str, seed: int, bj: dict, nj: dict, bl: str, nl: str) -> None:
    if (bj.get("options") or {}) != (nj.get("options") or {}):
        notes.append(f"{pipe} seed {seed}: options differ ({bl} {_opts(bj.get('options'))}, "
                     f"{nl} {_opts(nj.get('options'))})")
    if bj.get("name", pipe) != nj.get("name", pipe):
        notes.append(f"{pipe} seed {seed}: ran as {bj.get('name')!r} in {bl} and {nj.get('name')!r} in {nl}")


def _opts(options: Any) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in (options or {}).items()) + "}"


def _run_notes(tol: Tolerances, rows: list[dict[str, Any]], runtime_reason: str) -> list[str]:
    notes = [runtime_reason]
    significant = tol.mode == "significant" or any(p.mode == "significant" for p in tol.pipelines.values())
    sig_rows = [r for r in rows if r["mode"] == "significant"]
    if significant and sig_rows and not any(r["p"] is not None or r["ci_overlap"] is not None for r in sig_rows):
        notes.append("no paired tests and no confidence intervals in the results: 'significant' mode falls back "
                     "to 'absolute'")
    elif significant and sig_rows and not any(r["p"] is not None for r in sig_rows):
        notes.append("no paired tests (the runs were not scored on the same stored test images): "
                     "'significant' mode uses confidence-interval overlap")
    return notes


def noise_text(row: dict[str, Any]) -> str:
    """A metric row's noise evidence in a few words: the paired test and its Holm-corrected p, or CI overlap."""
    if row["vanished"]:
        return "no value in NEW"
    hard = f"; beyond the hard limit {row['hard_limit']:g}" if row.get("beyond_hard") else ""
    if row.get("p") is not None:
        holm = "" if row.get("p_holm") in (None, row["p"]) else f", Holm {row['p_holm']:.3g}"
        return f"{row['test']} p={row['p']:.3g}{holm}{hard}"
    return {True: "CIs overlap", False: "CIs apart", None: "no CI"}[row["ci_overlap"]] + hard


def _as_regression(row: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "metric":
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["metric"],
                "base": row["base"], "new": row["new"], "change": row["delta"], "allowed": row["tolerance"],
                "noise": noise_text(row), "p": row.get("p"), "p_holm": row.get("p_holm"),
                "hard_limit": row.get("hard_limit"), "beyond_hard": bool(row.get("beyond_hard")),
                "vanished": row["vanished"], "marker": row["marker"]}
    if kind == "runtime":
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["key"],
                "base": row["base"], "new": row["new"], "change": row["slowdown"], "allowed": row["limit"],
                "noise": None, "p": None, "p_holm": None, "vanished": False, "marker": row["marker"]}
    return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["kind"],
            "base": None, "new": None, "change": None, "allowed": None, "noise": row["detail"], "p": None,
            "p_holm": None, "vanished": False, "marker": row["marker"]}
