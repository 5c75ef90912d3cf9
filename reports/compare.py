"""Compare two medbench runs (BASE vs NEW): metric deltas, noise, runtime ratios and a regression verdict.

:func:`compare` matches jobs by pipeline name and seed (several seeds: per seed and on the mean over
the seeds both runs have), judges every metric against its tolerance (:mod:`benchmark.tolerances`),
uses confidence intervals when the results carry them (CIs overlap = the change may be noise), and
compares runtime as ratios NEW/BASE. It refuses runs on different datasets or splits unless forced.
The result is a JSON-able dict (written as compare.json) rendered by :func:`text_report` and
:func:`markdown_report`; its ``exit_status`` is the verdict: 0 no regression, 1 regression.
"""

from __future__ import annotations

import math
import time
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.metrics import HEADLINE
from medbench.reports.tables import METRIC_LABELS
from medbench.tolerances import RUNTIME, Tolerances

SCHEMA = "medbench.compare"
SCHEMA_VERSION = 1
EPS = 1e-9  # a change of exactly the tolerance passes (floating-point slack)
RUNTIME_LABELS = {"fit_time_s": "Fit time", "latency_ms_per_image": "Latency",
                  "single_image_latency_ms": "Single image", "throughput_img_per_s": "Throughput"}


# ---------------------------------------------------------------------------------------------- inputs
def compatibility(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why two runs' metrics are not comparable (empty: they are): dataset and split must match."""
    bd, nd = base.get("dataset") or {}, new.get("dataset") or {}
    problems = []
    if bd.get("spec") != nd.get("spec"):
        problems.append(f"datasets differ ({bd.get('spec')!r} vs {nd.get('spec')!r})")
    if bd.get("fingerprint") != nd.get("fingerprint"):
        problems.append(f"dataset fingerprints differ ({_fp(bd.get('fingerprint'))} vs "
                        f"{_fp(nd.get('fingerprint'))})")
    if bd.get("class_names") != nd.get("class_names"):
        problems.append(f"class names differ ({bd.get('class_names')} vs {nd.get('class_names')})")
    bs, ns = (base.get("split") or {}).get("fingerprint"), (new.get("split") or {}).get("fingerprint")
    if bs != ns:
        problems.append(f"split fingerprints differ ({_fp(bs)} vs {_fp(ns)})")
    else:  # one split per seed (--resplit-per-seed): the jobs of each seed must share it too
        b_seed, n_seed = _seed_splits(base), _seed_splits(new)
        for seed in sorted(set(b_seed) & set(n_seed)):
            if b_seed[seed] != n_seed[seed]:
                problems.append(f"split fingerprints of seed {seed} differ ({_fp(b_seed[seed])} vs "
                                f"{_fp(n_seed[seed])})")
    return problems


def _seed_splits(results: dict[str, Any]) -> dict[int, str]:
    return {j["seed"]: j["split_fingerprint"] for j in results.get("jobs", []) if j.get("split_fingerprint")}


def _fp(value: Any) -> str:
    return str(value)[:12] if value else "none"


def _index(results: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for job in results.get("jobs", []):
        out.setdefault(job["pipeline"], {})[job["seed"]] = job
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _interval(v: Any) -> tuple[float, float] | None:
    """A CI in any of the shapes results may use: [low, high], {"low", "high"}, {"ci": [...]}, …"""
    if isinstance(v, list | tuple) and len(v) == 2:
        lo, hi = _number(v[0]), _number(v[1])
        return (lo, hi) if lo is not None and hi is not None else None
    if isinstance(v, dict):
        for lo_key, hi_key in (("low", "high"), ("lo", "hi"), ("lower", "upper"), ("ci_low", "ci_high")):
            if lo_key in v and hi_key in v:
                return _interval([v[lo_key], v[hi_key]])
        for key in ("ci", "interval"):
            if key in v:
                return _interval(v[key])
    return None


def _lookup(tree: Any, *paths: tuple[Any, ...]) -> Any:
    for path in paths:
        node = tree
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if node is not None:
            return node
    return None


def job_ci(results: dict[str, Any], job: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """The test-metric CI of one job, wherever the results keep it (per job or in "statistics")."""
    pipe, seed = job["pipeline"], job["seed"]
    job_id = job.get("job_id", f"{pipe}__seed{seed}")
    found = _lookup(job, ("metrics_ci", metric), ("ci", metric), ("metrics", f"{metric}_ci"),
                    ("statistics", "metrics_ci", metric), ("statistics", metric))
    if found is None:
        stats = results.get("statistics")
        found = _lookup(stats, ("jobs", job_id, "metrics_ci", metric), ("jobs", job_id, metric),
                        ("ci", job_id, metric), ("ci", pipe, str(seed), metric))
        if found is None and isinstance(stats, dict):
            found = _from_rows(stats.get("rows") or stats.get("ci") or stats.get("jobs"), pipe, seed, metric)
    return _interval(found)


def mean_ci(results: dict[str, Any], pipeline: str, metric: str,
            values: list[Any]) -> tuple[float, float] | None:
    """The CI of a pipeline's mean over seeds: from the results' "statistics" if they have one, else a
    t-interval over the seeds' ``values`` (the seed-to-seed noise)."""
    stats = results.get("statistics")
    found = _lookup(stats, ("pipelines", pipeline, "metrics_ci", metric), ("seed_mean", pipeline, metric))
    if found is None and isinstance(stats, dict):
        found = _from_rows(stats.get("rows") or stats.get("pipelines"), pipeline, "mean", metric)
    return _interval(found) or seed_interval(values)


def seed_interval(values: list[Any], level: float = 0.95) -> tuple[float, float] | None:
    nums = [_number(v) for v in values]
    if len(nums) < 2 or any(v is None for v in nums):
        return None
    from scipy.stats import t

    mean = sum(nums) / len(nums)  # type: ignore[arg-type]
    sd = math.sqrt(sum((v - mean) ** 2 for v in nums) / (len(nums) - 1))  # type: ignore[operator]
    half = float(t.ppf((1 + level) / 2, len(nums) - 1)) * sd / math.sqrt(len(nums))
    return mean - half, mean + half


def with_statistics(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with a "statistics" section (bootstrap CIs) when it can have one: the stored section if
    it covers the jobs, else one computed now from the test predictions (``benchmark.results.statistics``,
    deterministic); unchanged when medbench has no statistics or the jobs carry no predictions."""
    from medbench import results as results_mod

    compute = getattr(results_mod, "statistics", None)
    if compute is None or not results.get("jobs"):
        return results
    try:
        return {**results, "statistics": compute(results)}
    except (KeyError, ValueError, TypeError, IndexError):  # e.g. jobs without stored predictions
        return results


def _from_rows(rows: Any, pipeline: str, seed: Any, metric: str) -> Any:
    if not isinstance(rows, list):
        return None
    for row in rows:
        if (isinstance(row, dict) and row.get("pipeline") == pipeline and row.get("metric") == metric
                and str(row.get("seed", "mean")) == str(seed)):
            return row
    return None


# ------------------------------------------------------------------------------------------ judgement
def metric_row(pipeline: str, seed: int | str, metric: str, base: Any, new: Any, tolerance: float,
               base_ci=None, new_ci=None, mode: str = "absolute", judged: bool = True) -> dict[str, Any]:
    """One metric of one pipeline (one seed or the mean): delta, noise and status.

    status: ``regression`` (dropped by more than the tolerance; in "significant" mode only when the
    CIs do not overlap), ``noise`` (such a drop, but inside overlapping CIs), ``drop`` (such a drop on
    a row that is not judged: a single seed when the mean is judged), ``ok`` (within tolerance),
    ``improved`` (rose by more than the tolerance) or ``n/a`` (undefined in a run, e.g. ROC-AUC).
    """
    b, n = _number(base), _number(new)
    delta = None if b is None or n is None else n - b
    overlap = None
    if base_ci is not None and new_ci is not None:
        overlap = bool(base_ci[0] <= new_ci[1] and new_ci[0] <= base_ci[1])
    if delta is None:
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
            "ci_overlap": overlap, "judged": judged, "status": status}


def runtime_row(pipeline: str, seed: int | str, key: str, base: Any, new: Any, limit: float, floor: float,
                check: bool = True, off_reason: str = "runtime not judged") -> dict[str, Any]:
    """One runtime figure: ratio NEW/BASE, slowdown (>1: slower), status regression/slower/ok/faster/n/a."""
    b, n = _number(base), _number(new)
    lower_is_better = RUNTIME[key][0] == "lower"
    row = {"pipeline": pipeline, "seed": seed, "key": key, "base": b, "new": n, "ratio": None,
           "slowdown": None, "limit": None if math.isinf(limit) else limit, "judged": False, "reason": None,
           "status": "n/a"}
    if b is None or n is None or b <= 0 or n <= 0:
        return row
    ratio = n / b
    slowdown = ratio if lower_is_better else 1 / ratio
    fast = (b < floor and n < floor) if lower_is_better else (b > floor and n > floor)
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
    nums = [_number(v) for v in values]
    if not nums or any(v is None for v in nums):
        return None
    return sum(nums) / len(nums)  # type: ignore[arg-type]


def _describe(results: dict[str, Any], label: str) -> dict[str, Any]:
    env = results.get("environment") or {}
    return {
        "path": label, "medbench_version": results.get("medbench_version"), "created": results.get("created"),
        "command": results.get("command"), "dataset": (results.get("dataset") or {}).get("spec"),
        "dataset_fingerprint": (results.get("dataset") or {}).get("fingerprint"),
        "split_fingerprint": (results.get("split") or {}).get("fingerprint"),
        "split_method": (results.get("split") or {}).get("method"),
        "machine": f"{env.get('cpu', '?')} x{env.get('cpu_count', '?')}", "python": env.get("python"),
        "libraries": env.get("libraries") or {}, "baseline": results.get("baseline"),
    }


def _metrics_of(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    binary = len((new.get("dataset") or {}).get("class_names") or []) == 2
    return [m for m in HEADLINE if binary or m not in ("sensitivity", "specificity", "f1")]


# ------------------------------------------------------------------------------------------- compare
def compare(base: dict[str, Any], new: dict[str, Any], tolerances: Tolerances, *, force: bool = False,
            runtime: bool = True, base_label: str = "BASE", new_label: str = "NEW") -> dict[str, Any]:
    """Compare two results dicts; raise :class:`MedbenchError` when they are not comparable, unless forced."""
    problems = compatibility(base, new)
    if problems and not force:
        raise MedbenchError(f"{base_label} and {new_label} are not comparable: {'; '.join(problems)} "
                            "(pass --force to compare anyway)")
    ctx = _Context(base, new, tolerances, runtime and tolerances.runtime_check, _metrics_of(base, new),
                   base_label, new_label)
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
    n_checks = (sum(r["judged"] and r["status"] != "n/a" for r in ctx.metric_rows)
                + sum(r["judged"] for r in ctx.runtime_rows)
                + sum(r["status"] == "regression" for r in ctx.issues))
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "medbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base": _describe(base, base_label), "new": _describe(new, new_label),
        "comparable": not problems, "forced": bool(problems), "problems": problems,
        "tolerances": tolerances.to_dict(), "runtime_judged": ctx.check_runtime,
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
        b_ok = {s: j for s, j in b_jobs.items() if j.get("status") == "ok"}
        n_ok = {s: j for s, j in n_jobs.items() if j.get("status") == "ok"}
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
                b_ci, n_ci = mean_ci(self.base, pipe, m, bv), mean_ci(self.new, pipe, m, nv)
            else:
                b_ci, n_ci = job_ci(self.base, b_jobs[0], m), job_ci(self.new, n_jobs[0], m)
            limit = tol.metric_tolerance(pipe, m)
            self.metric_rows.append(metric_row(pipe, seed, m, _mean(bv), _mean(nv), limit, b_ci, n_ci, mode,
                                               judged=judged))
        off = "runtime not judged" if not self.check_runtime else (
            "judged on the mean over seeds" if seed != "mean" else "seeds judged one by one")
        for key in RUNTIME:
            b = _mean([(j.get("runtime") or {}).get(key) for j in b_jobs])
            n = _mean([(j.get("runtime") or {}).get(key) for j in n_jobs])
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
        noise = {True: "CIs overlap", False: "CIs apart", None: "no CI"}[row["ci_overlap"]]
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["metric"],
                "base": row["base"], "new": row["new"], "change": row["delta"], "allowed": row["tolerance"],
                "noise": noise}
    if kind == "runtime":
        return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["key"],
                "base": row["base"], "new": row["new"], "change": row["slowdown"], "allowed": row["limit"],
                "noise": None}
    return {"kind": kind, "pipeline": row["pipeline"], "seed": row["seed"], "check": row["kind"],
            "base": None, "new": None, "change": None, "allowed": None, "noise": row["detail"]}


# ------------------------------------------------------------------------------------------ rendering
MARKS = {
    "text": {"regression": " X", "improved": " +", "noise": " ~", "drop": " -", "slower": " -",
             "faster": " +"},
    "md": {"regression": " ❌", "improved": " ⬆", "noise": " ≈", "drop": " ↓", "slower": " ↓", "faster": " ⬆"},
}
LEGEND = {
    "text": "X regression, - beyond tolerance but not judged, ~ beyond tolerance but within noise "
            "(CIs overlap), + better beyond tolerance",
    "md": "❌ regression · ↓ beyond tolerance, not judged · ≈ within noise (CIs overlap) · ⬆ better",
}
UNITS = {"fit_time_s": ("s", 2), "latency_ms_per_image": ("ms", 3), "single_image_latency_ms": ("ms", 2),
         "throughput_img_per_s": ("img/s", 0)}


def _num(v: Any, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _signed(v: Any, md: bool, digits: int = 3) -> str:
    if v is None:
        return "–"
    s = f"{v:+.{digits}f}"
    return s.replace("-", "−") if md else s


def _seed(seed: Any) -> str:
    return "mean" if seed == "mean" else ("–" if seed is None else str(seed))


def _label(check: str) -> str:
    return METRIC_LABELS.get(check) or RUNTIME_LABELS.get(check) or check


def _mark(status: str, md: bool) -> str:
    return MARKS["md" if md else "text"].get(status, "")


def verdict_line(report: dict[str, Any], md: bool = False) -> str:
    s = report["summary"]
    if report["verdict"] == "pass":
        head = "✅ no regression" if md else "PASS: no regression"
        text = f"{head} ({s['checks']} checks on {s['pipelines']} pipelines)"
    else:
        worst = ", ".join(f"{r['pipeline']} {_label(r['check'])}"
                          + (f" {_signed(r['change'], md)}" if r["kind"] == "metric" else "")
                          for r in report["regressions"][:4])
        more = ", …" if len(report["regressions"]) > 4 else ""
        head = "❌ regression" if md else "REGRESSION"
        text = f"{head}: {s['regressions']} of {s['checks']} checks failed ({worst}{more})"
    if report["forced"]:
        text += (" — " if md else " - ") + "FORCED comparison of different data/splits"
    return ("### medbench compare: " if md else "medbench compare: ") + text


def regression_table(report: dict[str, Any], md: bool = False) -> tuple[list[str], list[list[str]]]:
    headers = ["Pipeline", "Seed", "Check", "BASE", "NEW", "Change", "Allowed", "Noise"]
    rows = []
    for r in report["regressions"]:
        if r["kind"] == "metric":
            allowed = "–" if r["allowed"] is None else ("−" if md else "-") + f"{r['allowed']:g}"
            vals = [_num(r["base"]), _num(r["new"]), _signed(r["change"], md), allowed, r["noise"]]
        elif r["kind"] == "runtime":
            unit, digits = UNITS.get(r["check"], ("", 3))
            vals = [f"{_num(r['base'], digits)} {unit}", f"{_num(r['new'], digits)} {unit}",
                    f"x{r['change']:.2f} slower", f"x{r['allowed']:g}", "–"]
        else:
            vals = ["–", "–", r["check"], "–", r["noise"]]
        rows.append([r["pipeline"], _seed(r["seed"]), _label(r["check"]), *vals])
    return headers, rows


def metrics_table(report: dict[str, Any], md: bool = False) -> tuple[list[str], list[list[str]]]:
    """One row per pipeline and seed (and mean): NEW value (change vs BASE) per metric."""
    cols = list(dict.fromkeys(r["metric"] for r in report["metrics"]))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in report["metrics"]:
        if r["new"] is None:
            cell = "–"
        else:
            change = "=" if r["delta"] == 0 else _signed(r["delta"], md)
            cell = f"{_num(r['new'])} ({change})"
        if md and r["status"] == "regression":
            cell = f"**{cell}**"
        cells.setdefault((r["pipeline"], _seed(r["seed"])), {})[r["metric"]] = cell + _mark(r["status"], md)
    headers = ["Pipeline", "Seed", *[METRIC_LABELS.get(c, c) for c in cols]]
    return headers, [[p, s, *[row.get(c, "–") for c in cols]] for (p, s), row in cells.items()]


def runtime_table(report: dict[str, Any], md: bool = False) -> tuple[list[str], list[list[str]]]:
    """One row per pipeline and seed: ratio NEW/BASE per runtime figure (throughput: higher is faster)."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in report["runtime"]:
        cell = "–" if r["ratio"] is None else f"x{r['ratio']:.2f}{_mark(r['status'], md)}"
        cells.setdefault((r["pipeline"], _seed(r["seed"])), {})[r["key"]] = cell
    headers = ["Pipeline", "Seed", *[RUNTIME_LABELS[c] for c in RUNTIME]]
    return headers, [[p, s, *[row.get(c, "–") for c in RUNTIME]] for (p, s), row in cells.items()]


def _context(report: dict[str, Any], md: bool) -> list[str]:
    b, n, tol = report["base"], report["new"], report["tolerances"]
    q = "`" if md else ""
    same = "identical in both runs" if report["comparable"] else "DIFFERENT (forced)"
    n_ci = sum(r["ci_overlap"] is not None for r in report["metrics"])
    noise = (f"noise: both runs have confidence intervals on {n_ci} of {len(report['metrics'])} rows "
             "(overlapping CIs: a change within noise)" if n_ci
             else "noise: no confidence intervals in the results (tolerances only)")
    return [
        f"BASE {q}{b['path']}{q} (medbench {b['medbench_version']}, {b['created']}, {b['machine']})",
        f"NEW  {q}{n['path']}{q} (medbench {n['medbench_version']}, {n['created']}, {n['machine']})",
        f"dataset {q}{n['dataset']}{q}, split {q}{_fp(n['split_fingerprint'])}{q} ({n['split_method']}): "
        + same,
        f"tolerances: {q}{tol['source']}{q} (mode {tol['mode']}, seeds judged on the {tol['seeds']}); "
        f"runtime {'judged' if report['runtime_judged'] else 'not judged'}",
        noise,
    ]


def _issue_lines(report: dict[str, Any]) -> list[str]:
    """Pipeline-level findings that are not already rows of the regressions table."""
    return [f"{r['status'].upper()}: {r['pipeline']}" + ("" if r["seed"] is None else f" seed {r['seed']}")
            + f": {r['detail']}" for r in report["pipelines"] if r["status"] != "regression"]


def text_report(report: dict[str, Any]) -> str:
    from tabulate import tabulate

    def table(h, rows):
        return tabulate(rows, headers=h, tablefmt="simple", disable_numparse=True)

    out = [verdict_line(report), *_context(report, False), ""]
    if report["regressions"]:
        out += ["Regressions", table(*regression_table(report)), ""]
    issues = _issue_lines(report)
    if issues:
        out += ["Pipelines", *issues, ""]
    h, rows = metrics_table(report)
    if rows:
        out += ["Metrics: NEW (change vs BASE)", table(h, rows), ""]
        out += ["Runtime: ratio NEW/BASE (throughput: higher is faster)", table(*runtime_table(report)), ""]
        out.append("marks: " + LEGEND["text"])
    out += [f"note: {n}" for n in report["notes"]]
    return "\n".join(out).rstrip() + "\n"


def markdown_report(report: dict[str, Any]) -> str:
    """Compact markdown for a pull-request comment: verdict, regressions first, details folded."""
    from tabulate import tabulate

    def table(h, rows):
        return tabulate(rows, headers=h, tablefmt="github", disable_numparse=True)

    out = [verdict_line(report, md=True), "", "<br>".join(_context(report, True)), ""]
    if report["regressions"]:
        out += ["**Regressions**", "", table(*regression_table(report, md=True)), ""]
    forced = [n for n in report["notes"] if n.startswith("FORCED")]
    bullets = forced + _issue_lines(report)
    if bullets:
        out += [f"- {line}" for line in bullets] + [""]
    h, rows = metrics_table(report, md=True)
    if rows:
        n_pipes = report["summary"]["pipelines"]
        out += [f"<details><summary>All metrics ({n_pipes} pipelines): NEW (change vs BASE)</summary>", "",
                table(h, rows), "", LEGEND["md"], "", "</details>", ""]
        out += ["<details><summary>Runtime: ratio NEW/BASE</summary>", "",
                table(*runtime_table(report, md=True)), "",
                "Throughput: higher is faster; every other ratio: higher is slower.", "", "</details>", ""]
    rest = [n for n in report["notes"] if n not in forced]
    if rest:
        out += [f"- {n}" for n in rest] + [""]
    return "\n".join(out).rstrip() + "\n"
