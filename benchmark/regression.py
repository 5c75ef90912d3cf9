"""The regression judgement of ``medbench compare``: BASE vs NEW, metric by metric, against tolerances.

:func:`compare` matches jobs by pipeline name and seed (several seeds: per seed and on the mean over
the seeds both runs have), judges every metric against its tolerance (:mod:`medbench.tolerances`),
uses confidence intervals (CIs overlap = the change may be noise) and compares runtime as ratios
NEW/BASE. It refuses runs on different datasets or splits unless forced. The result is a JSON-able
dict (written as compare.json; rendered by :mod:`medbench.reports.compare`); its ``exit_status``
is the verdict: 0 no regression, 1 regression.

CIs come from the one shape results.json documents (:func:`medbench.results.compute_statistics`):
``statistics.jobs[<job id>].metrics_ci[<metric>] = [low, high]`` for one seed; for the mean over
seeds, a t-interval over the seeds' values. A metric with a finite value in BASE and none in NEW
(missing, null, NaN or infinite) is a regression of that pipeline, seed and metric.
"""

from __future__ import annotations

import math
import time
from typing import Any

from medbench import results as results_mod
from medbench import stats as st
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.metrics import metric_names
from medbench.tolerances import RUNTIME, Tolerances, lower_is_better

SCHEMA = "medbench.compare"
SCHEMA_VERSION = 1
EPS = 1e-9  # a change of exactly the tolerance passes (floating-point slack)


# ---------------------------------------------------------------------------------------------- inputs
def compatibility(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why two runs' metrics are not comparable (empty: they are): dataset and split must match."""
    bd, nd = base["dataset"], new["dataset"]
    problems = []
    if bd.get("spec") != nd.get("spec"):
        problems.append(f"datasets differ ({bd.get('spec')!r} vs {nd.get('spec')!r})")
    if bd.get("fingerprint") != nd.get("fingerprint"):
        problems.append(f"dataset fingerprints differ ({fp(bd.get('fingerprint'))} vs {fp(nd.get('fingerprint'))})")
    if bd["class_names"] != nd["class_names"]:
        problems.append(f"class names differ ({bd['class_names']} vs {nd['class_names']})")
    bs, ns = base["split"]["fingerprint"], new["split"]["fingerprint"]
    if bs != ns:
        problems.append(f"split fingerprints differ ({fp(bs)} vs {fp(ns)})")
    else:  # one split per seed (--resplit-per-seed): the jobs of each seed must share it too
        b_seed, n_seed = _seed_splits(base), _seed_splits(new)
        for seed in sorted(set(b_seed) & set(n_seed)):
            if b_seed[seed] != n_seed[seed]:
                problems.append(f"split fingerprints of seed {seed} differ ({fp(b_seed[seed])} vs "
                                f"{fp(n_seed[seed])})")
    return problems


def _seed_splits(results: dict[str, Any]) -> dict[int, str]:
    return {j["seed"]: j["split_fingerprint"] for j in results["jobs"] if j.get("split_fingerprint")}


def fp(value: Any) -> str:
    """A fingerprint shortened for display."""
    return str(value)[:12] if value else "none"


def _index(results: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for job in results["jobs"]:
        out.setdefault(job["pipeline"], {})[job["seed"]] = job
    return out


def number(v: Any) -> float | None:
    """A value as a float, or None when missing, null, not a number, NaN or infinite."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def with_statistics(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with its statistics section: the stored one when it covers the jobs, else computed
    now from the test predictions (:func:`medbench.results.statistics`, deterministic)."""
    return {**results, "statistics": results_mod.statistics(results)}


def job_ci(results: dict[str, Any], job: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """The test-metric CI of one job: ``statistics.jobs[<job id>].metrics_ci[<metric>]``."""
    entry = ((results.get("statistics") or {}).get("jobs") or {}).get(results_mod.job_id(job["pipeline"], job["seed"]))
    ci = ((entry or {}).get("metrics_ci") or {}).get(metric)
    return None if ci is None else (ci[0], ci[1])


# ------------------------------------------------------------------------------------------ judgement
def metric_row(pipeline: str, seed: int | str, metric: str, base: Any, new: Any, tolerance: float,
               base_ci=None, new_ci=None, mode: str = "absolute", judged: bool = True) -> dict[str, Any]:
    """One metric of one pipeline (one seed or the mean): delta, noise and status.

    status: ``regression`` (dropped by more than the tolerance; in "significant" mode only when the
    CIs do not overlap; or, on a seed's row, a finite value in BASE and none in NEW), ``noise`` (such
    a drop, but inside overlapping CIs), ``drop`` (such a drop on a row that is not judged: a single
    seed when the mean is judged), ``ok`` (within tolerance), ``improved`` (rose by more than the
    tolerance) or ``n/a`` (undefined in BASE, e.g. ROC-AUC with one class; or the mean over seeds
    when a seed has lost its value, which that seed's row reports).
    """
    b, n = number(base), number(new)
    delta = None if b is None or n is None else n - b
    overlap = None
    if base_ci is not None and new_ci is not None:
        overlap = bool(base_ci[0] <= new_ci[1] and new_ci[0] <= base_ci[1])
    vanished = b is not None and n is None
    if vanished:
        status, judged = ("n/a", judged) if seed == "mean" else ("regression", True)
    elif delta is None:
        status = "n/a"
    elif delta < -tolerance - EPS:
        status = "noise" if (mode == "significant" and overlap) else ("regression" if judged else "drop")
    elif delta > tolerance + EPS:
        status = "improved"
    else:
        status = "ok"
    return {"pipeline": pipeline, "seed": seed, "metric": metric, "base": b, "new": n, "delta": delta,
            "tolerance": None if math.isinf(tolerance) else tolerance,
            "base_ci": list(base_ci) if base_ci else None, "new_ci": list(new_ci) if new_ci else None,
            "ci_overlap": overlap, "judged": judged, "vanished": vanished, "status": status}


def runtime_row(pipeline: str, seed: int | str, key: str, base: Any, new: Any, limit: float, floor: float,
                check: bool = True, off_reason: str = "runtime not judged") -> dict[str, Any]:
    """One runtime figure: ratio NEW/BASE, slowdown (>1: slower), status regression/slower/ok/faster/n/a."""
    b, n = number(base), number(new)
    lower = lower_is_better(key)
    row = {"pipeline": pipeline, "seed": seed, "key": key, "base": b, "new": n, "ratio": None,
           "slowdown": None, "limit": None if math.isinf(limit) else limit, "judged": False, "reason": None,
           "status": "n/a"}
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
    return row


def _mean(values: list[Any]) -> float | None:
    nums = [number(v) for v in values]
    if not nums or any(v is None for v in nums):
        return None
    return sum(nums) / len(nums)  # type: ignore[arg-type]


def _describe(results: dict[str, Any], label: str) -> dict[str, Any]:
    env = results.get("environment") or {}
    return {
        "path": label, "medbench_version": results.get("medbench_version"), "created": results.get("created"),
        "command": results.get("command"), "dataset": results["dataset"].get("spec"),
        "dataset_fingerprint": results["dataset"].get("fingerprint"),
        "split_fingerprint": results["split"]["fingerprint"], "split_method": results["split"]["method"],
        "machine": f"{env.get('cpu', '?')} x{env.get('cpu_count', '?')}", "python": env.get("python"),
        "libraries": env.get("libraries") or {}, "baseline": results.get("baseline"),
    }


# ------------------------------------------------------------------------------------------- compare
def compare(base: dict[str, Any], new: dict[str, Any], tolerances: Tolerances, *, force: bool = False,
            runtime: bool = True, base_label: str = "BASE", new_label: str = "NEW") -> dict[str, Any]:
    """Compare two results dicts (validated, see :func:`medbench.results.load`); raise
    :class:`MedbenchError` when they are not comparable, unless forced."""
    problems = compatibility(base, new)
    if problems and not force:
        raise MedbenchError(f"{base_label} and {new_label} are not comparable: {'; '.join(problems)} "
                            "(pass --force to compare anyway)")
    ctx = _Context(base, new, tolerances, runtime and tolerances.runtime_check,
                   metric_names(len(new["dataset"]["class_names"])), base_label, new_label)
    if problems:
        ctx.notes.append(f"FORCED: compared although {'; '.join(problems)}: differences may come from the "
                         "data, not the code")
    bi, ni = _index(base), _index(new)
    for pipe in [*bi, *(p for p in ni if p not in bi)]:
        ctx.pipeline(pipe, bi.get(pipe, {}), ni.get(pipe, {}))
    ctx.notes.extend(_run_notes(base, new, tolerances, runtime, ctx.metric_rows, base_label, new_label))
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
        "comparable": not problems, "forced": bool(problems), "problems": problems,
        "tolerances": tolerances.to_dict(), "unchecked": tolerances.unchecked(),
        "runtime_judged": ctx.check_runtime,
        "verdict": "regression" if regressions else "pass", "exit_status": 1 if regressions else 0,
        "summary": {"checks": n_checks, "regressions": len(regressions),
                    "pipelines": len({r["pipeline"] for r in ctx.metric_rows})},
        "regressions": regressions, "pipelines": ctx.issues, "metrics": ctx.metric_rows,
        "runtime": ctx.runtime_rows, "notes": ctx.notes,
    }


class _Context:
    """The rows of one comparison, filled pipeline by pipeline."""

    def __init__(self, base, new, tol: Tolerances, check_runtime: bool, metrics: list[str], bl: str, nl: str):
        self.base, self.new, self.tol, self.metrics, self.bl, self.nl = base, new, tol, metrics, bl, nl
        self.check_runtime = check_runtime
        self.metric_rows: list[dict[str, Any]] = []
        self.runtime_rows: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def issue(self, pipe: str, seed: int | None, kind: str, status: str, detail: str) -> None:
        self.issues.append({"pipeline": pipe, "seed": seed, "kind": kind, "status": status, "detail": detail})

    def pipeline(self, pipe: str, b_jobs: dict[int, dict], n_jobs: dict[int, dict]) -> None:
        b_ok = {s: j for s, j in b_jobs.items() if j["status"] == "ok"}
        n_ok = {s: j for s, j in n_jobs.items() if j["status"] == "ok"}
        if not b_jobs:
            return self.issue(pipe, None, "new", "note", f"only in {self.nl}")
        policy = "regression" if self.tol.missing_policy(pipe) == "fail" else "warning"
        for seed in sorted(b_ok):
            if seed not in n_jobs:
                self.issue(pipe, seed, "missing", policy, f"missing in {self.nl}")
            elif seed not in n_ok:
                err = str(n_jobs[seed].get("error", "failed"))[:160]
                self.issue(pipe, seed, "failed", policy, f"failed in {self.nl}: {err}")
        for seed in sorted(set(b_jobs) - set(b_ok)):
            state = "ok" if seed in n_ok else "still failing"
            self.issue(pipe, seed, "failed in base", "note", f"failed in {self.bl}; {state} in {self.nl}")
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
        for m in self.metrics:
            bv, nv = [j["metrics"].get(m) for j in b_jobs], [j["metrics"].get(m) for j in n_jobs]
            if seed == "mean":
                b_ci, n_ci = st.t_interval(bv), st.t_interval(nv)
            else:
                b_ci, n_ci = job_ci(self.base, b_jobs[0], m), job_ci(self.new, n_jobs[0], m)
            limit = tol.metric_tolerance(pipe, m)
            self.metric_rows.append(metric_row(pipe, seed, m, _mean(bv), _mean(nv), limit, b_ci, n_ci, mode,
                                               judged=judged))
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


def _run_notes(base, new, tol: Tolerances, runtime: bool, rows, bl: str, nl: str) -> list[str]:
    notes = []
    bv, nv = base.get("medbench_version"), new.get("medbench_version")
    if bv != nv:
        notes.append(f"medbench {bv} -> {nv}")
    blib = (base.get("environment") or {}).get("libraries") or {}
    nlib = (new.get("environment") or {}).get("libraries") or {}
    changed = [f"{k} {blib.get(k)} -> {nlib.get(k)}" for k in sorted(set(blib) | set(nlib))
               if k != "medbench" and blib.get(k) != nlib.get(k)]
    if changed:
        notes.append("libraries changed: " + ", ".join(changed))
    be, ne = _describe(base, bl)["machine"], _describe(new, nl)["machine"]
    if not runtime:
        notes.append("runtime not judged (--no-runtime): ratios are shown for information only")
    elif not tol.runtime_check:
        notes.append(f"runtime not judged (runtime.check = false in {tol.source})")
    elif be != ne:
        notes.append(f"runs come from different machines ({be} vs {ne}): runtime ratios compare machines as "
                     "much as code")
    significant = tol.mode == "significant" or any(p.mode == "significant" for p in tol.pipelines.values())
    if significant and not any(r["ci_overlap"] is not None for r in rows):
        notes.append("no confidence intervals in the results: 'significant' mode falls back to 'absolute'")
    return notes


def _as_regression(row: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "metric":
        noise = ("no value in NEW" if row["vanished"]
                 else {True: "CIs overlap", False: "CIs apart", None: "no CI"}[row["ci_overlap"]])
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["metric"],
                "base": row["base"], "new": row["new"], "change": row["delta"], "allowed": row["tolerance"],
                "noise": noise, "vanished": row["vanished"]}
    if kind == "runtime":
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["key"],
                "base": row["base"], "new": row["new"], "change": row["slowdown"], "allowed": row["limit"],
                "noise": None, "vanished": False}
    return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["kind"],
            "base": None, "new": None, "change": None, "allowed": None, "noise": row["detail"], "vanished": False}
