"""results.json (versioned schema) and metrics.csv: assembling a run's job records into files.

Top-level keys of results.json (schema ``medbench.results``, version 1): ``schema``,
``schema_version``, ``medbench_version``, ``created``, ``command``, ``config``, ``dataset`` (the
dataset card), ``split`` (fingerprint, method, seed, notes, counts, manifest; with
``--resplit-per-seed`` also ``per_seed``: ``{seed: {fingerprint, method, seed, notes, counts,
manifest}}``), ``environment`` (machine, libraries and code provenance - git commit, dirty tree,
source hash, GPUs, the deep models' device - see :func:`medbench.profiling.environment`), ``jobs`` (one record per pipeline and seed, see
:mod:`medbench.runner`; a job's ``gallery`` lists its error-gallery pictures, :mod:`medbench.gallery`) and,
once a run has finished, ``statistics`` (:func:`compute_statistics`):

* ``settings``: ``n_resamples``, ``seed``, ``level`` of the bootstrap and the tests used;
* ``jobs``: ``{job_id: {"n": test images, "metrics_ci": {metric: [low, high] or null}}}`` - percentile
  intervals of a stratified bootstrap over the test images (:mod:`medbench.stats`);
* ``pipelines``: one entry per pipeline, best first (:func:`rank_key`: mean test ROC-AUC, then balanced accuracy, then name):
  ``pipeline``, ``name``, ``family``, ``seeds``, ``job_ids``, and ``metrics`` / ``runtime``:
  ``{key: {"mean", "sd", "n", "values"}}`` over the seeds (sd with ddof=1, null for one seed);
* ``reference``: the best pipeline, which ``comparisons`` test every other pipeline against;
* ``comparisons``: per other pipeline and seed (same test images): ``a`` (the pipeline's job id),
  ``b`` (the reference's), ``a_pipeline``, ``b_pipeline``, ``seed``, ``n``, ``accuracy`` (``diff`` a - b, paired-bootstrap ``ci``),
  ``mcnemar`` (``b``: a right and b wrong, ``c``: the reverse, ``p``, ``p_holm``, ``method``),
  ``roc_auc`` (``diff``, ``ci``, ``p``, ``p_holm``, ``test``: DeLong for binary tasks, paired
  bootstrap otherwise) - or ``paired: false`` with a ``reason``;
  and ``brier`` / ``ece`` (``diff``, paired-bootstrap ``ci``, ``p``, ``p_holm``, ``test``) when both jobs have them;
* ``jobs[<job id>].reliability``: the reliability-diagram bins of the job's test predictions
  (:func:`medbench.stats.reliability`: top-label confidence, 15 equal-width bins);
* ``headline``: best classical vs best deep pipeline (``classical``, ``deep``, ``comparisons``
  per seed in the same form, a = classical, ``roc_auc_diff``: mean / sd of their ROC-AUC differences
  over the seeds), or null when either family is absent;
* ``tradeoff``: ``metric`` (ROC-AUC, or accuracy when a timed pipeline has none) and ``pareto_front``:
  the pipelines no other beats on both that metric and per-image latency, fastest first (the floor
  is not a contender).

:func:`statistics` returns the stored section, or computes it (deterministically) when absent.

:func:`load` validates what it reads (:func:`validate`): the declared JSON schema
(:data:`SCHEMA_JSON`, built in :mod:`medbench.schemas` from the metric catalogue) and the
cross-field rules no schema states (labels within ``class_names``, predictions of one length, one
job per pipeline and seed, a statistics section naming real jobs). Every problem is one line:
``<file>: <field>: <problem>``. Metric values may be null (undefined) and, as Python's json reads
them, NaN or infinite: those read as "no value" (``compare`` flags a value BASE had and NEW lost).
:func:`job_id` is the one way to name a job (``hog-svm__seed0``).
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medbench import profiling, schemas
from medbench import stats as st
from medbench.core import readfile
from medbench.core.atomic import write_json, write_text
from medbench.core.csvcell import cell
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.metrics import HEADLINE, RUNTIME_KEYS, gain

SCHEMA = "medbench.results"
SCHEMA_VERSION = 1

BOOTSTRAP_RESAMPLES = st.BOOTSTRAP_RESAMPLES
#: What ranks pipelines, in order (:func:`rank_key`): ROC-AUC, then balanced accuracy.
RANK_METRICS = ("roc_auc", "balanced_accuracy")
#: Calibration metrics compared between pipelines (``comparisons``) by a paired bootstrap.
CALIBRATION_TESTED = ("brier", "ece")
BOOTSTRAP_SEED = st.BOOTSTRAP_SEED
CI_LEVEL = st.CI_LEVEL
SUMMARY_RUNTIME = tuple(k for k, v in RUNTIME_KEYS.items() if v.summary)
CSV_RUNTIME = tuple(RUNTIME_KEYS)
SCHEMA_JSON = schemas.results_schema(SCHEMA)


def assemble(*, config: dict[str, Any], dataset: dict[str, Any], split: dict[str, Any],
             environment: dict[str, Any], jobs: list[dict[str, Any]], command: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "medbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "config": config,
        "dataset": dataset,
        "split": split,
        "environment": {**environment, "deep": profiling.deep_device(jobs)},
        "jobs": [{k: v for k, v in job.items() if k not in ("cached", "traceback")} for job in jobs],
    }


def write(results: dict[str, Any], out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    write_text(out_dir / "metrics.csv", metrics_csv(results))
    return write_json(out_dir / "results.json", results)


def metrics_csv(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    cols = ["name", "pipeline", "family", "seed", "status", *HEADLINE, "threshold", *CSV_RUNTIME]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()  # the column names are medbench's own; every text cell below is neutralised
    for job in results["jobs"]:
        row: dict[str, Any] = {"name": job.get("name", job["pipeline"]), "pipeline": job["pipeline"],
                               "family": job.get("family", ""), "seed": job["seed"], "status": job["status"]}
        if job["status"] == "ok":
            row.update({m: _fmt(job["metrics"].get(m)) for m in HEADLINE})
            row["threshold"] = _fmt(job["threshold"]["threshold"]) if job.get("threshold") else ""
            row.update({k: _fmt(job["runtime"].get(k)) for k in CSV_RUNTIME})
        writer.writerow({k: cell(v) for k, v in row.items()})
    return buf.getvalue()


def _fmt(v: Any) -> Any:
    return "" if v is None else (round(v, 6) if isinstance(v, float) else v)


def load(path: str | Path) -> dict[str, Any]:
    """Read a results.json (or the results folder holding one) and validate it (:func:`validate`)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    kind = "medbench results file"
    text = readfile.read_text(path, kind, missing_hint=": pass a results folder or its results.json")
    results = readfile.parse_json(text, str(path), kind)
    validate(results, str(path))
    return results


def validate(results: Any, source: str) -> None:
    """Check a results dict against the declared schema (:data:`SCHEMA_JSON`, see
    :mod:`medbench.schemas`) and the cross-field rules no schema states (labels within
    ``class_names``, predictions of one length, unique jobs, statistics naming real jobs).
    Raises ``MedbenchError("<source>: <field>: <problem>")``."""
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise MedbenchError(f"{source} is not a medbench results file (no \"schema\": \"{SCHEMA}\")")
    version = results.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise MedbenchError(f"{source} has schema version {version}; this medbench reads up to "
                            f"{SCHEMA_VERSION}: upgrade medbench")
    schemas.validate(results, SCHEMA_JSON, source)
    names = results["dataset"]["class_names"]
    pos = results["dataset"].get("positive_class")
    if pos is not None and pos not in names:
        raise schemas.fail(source, ["dataset", "positive_class"], f"{schemas.short(pos)} is not one of class_names")
    seen: set[str] = set()
    for i, job in enumerate(results["jobs"]):
        jid = job_id(job["pipeline"], job["seed"])
        if jid in seen:
            raise schemas.fail(source, ["jobs", i], f"a second job for pipeline {job['pipeline']!r} seed {job['seed']}")
        seen.add(jid)
        if job.get("job_id", jid) != jid:
            raise schemas.fail(source, ["jobs", i, "job_id"], f"{schemas.short(job['job_id'])} should be {jid!r}")
        if job["status"] == "ok":
            _check_job(source, ["jobs", i], job, names)
    if "statistics" in results:
        _check_statistics(source, results["statistics"], {job_id(j["pipeline"], j["seed"]) for j in ok_jobs(results)})
    from medbench.recompute import check_blocks  # the external / robustness blocks are what the jobs give

    check_blocks(source, results)


def _check_job(source: str, where: list[Any], job: dict[str, Any], names: list[str]) -> None:
    k = len(names)
    metrics = job["metrics"]
    cm = metrics["confusion_matrix"]
    if len(cm) != k or any(len(row) != k for row in cm):
        raise schemas.fail(source, [*where, "metrics", "confusion_matrix"], f"must be {k} x {k} (one row and "
                           f"column per class name)")
    missing = [c for c in names if c not in metrics["per_class"]]
    if missing:
        raise schemas.fail(source, [*where, "metrics", "per_class", missing[0]], "missing (one entry per class name)")
    for j, item in enumerate((job.get("gallery") or {}).get("items") or []):
        for key in ("true", "predicted"):
            if item[key] >= k:
                raise schemas.fail(source, [*where, "gallery", "items", j, key], f"label {item[key]} is out of "
                                   f"range for {k} class_names")
    pred = job.get("predictions")
    if pred is None:
        return
    n = len(pred["y_true"])
    for key in ("ids", "y_pred", "proba"):
        if len(pred[key]) != n:
            raise schemas.fail(source, [*where, "predictions", key], f"has {len(pred[key])} items, y_true has {n}")
    for key in ("y_true", "y_pred"):
        bad = next((i for i, v in enumerate(pred[key]) if v >= k), None)
        if bad is not None:
            raise schemas.fail(source, [*where, "predictions", key, bad], f"label {pred[key][bad]} is out of range "
                               f"for {k} class_names")
    bad = next((i for i, row in enumerate(pred["proba"]) if len(row) != k), None)
    if bad is not None:
        raise schemas.fail(source, [*where, "predictions", "proba", bad], f"has {len(pred['proba'][bad])} "
                           f"probabilities for {k} class_names")


def _check_statistics(source: str, stats: dict[str, Any], ok_ids: set[str]) -> None:
    """A stored statistics section must name the successful jobs it was computed from (a stale one,
    covering other jobs, is recomputed by :func:`statistics`; one naming jobs that are not there is broken)."""
    if set(stats["jobs"]) != ok_ids:
        return  # stale: recomputed, never read
    pipes = set()
    for i, g in enumerate(stats["pipelines"]):
        pipes.add(g["pipeline"])
        if len(g["job_ids"]) != len(g["seeds"]):
            raise schemas.fail(source, ["statistics", "pipelines", i, "job_ids"], "must have one id per seed")
        bad = next((j for j in g["job_ids"] if j not in ok_ids), None)
        if bad is not None:
            raise schemas.fail(source, ["statistics", "pipelines", i, "job_ids"], f"{bad!r} is not a successful job")
    if stats["comparisons"] and stats["reference"] not in pipes:
        raise schemas.fail(source, ["statistics", "reference"], "is not one of statistics.pipelines")
    head = stats["headline"]
    for key in ("classical", "deep"):
        if head is not None and head[key] not in pipes:
            raise schemas.fail(source, ["statistics", "headline", key], "is not one of statistics.pipelines")


# --- statistics (CIs, repeated seeds, paired tests) ---------------------------------------------

def missing_jobs(results: dict[str, Any]) -> list[tuple[str, int]]:
    """The (pipeline, seed) jobs the run's ``config`` planned that ``jobs`` does not hold: an interrupted
    run (empty when complete, or when the config does not say what was planned)."""
    config = results.get("config") or {}
    pipelines, seeds = config.get("pipelines"), config.get("seeds")
    if not isinstance(pipelines, list) or not isinstance(seeds, list):
        return []
    have = {(j["pipeline"], j["seed"]) for j in results["jobs"]}
    return [(p, s) for p in pipelines for s in seeds
            if isinstance(p, str) and isinstance(s, int) and (p, s) not in have]


def incomplete_note(results: dict[str, Any]) -> str | None:
    """One line saying that a run is incomplete (and which jobs it lacks), or None when it is complete."""
    missing = missing_jobs(results)
    if not missing:
        return unfinished_blocks_note(results)
    planned = len(results["jobs"]) + len(missing)
    listed = ", ".join(f"{p} seed {s}" for p, s in missing[:5]) + (" ..." if len(missing) > 5 else "")
    return (f"incomplete run: {len(results['jobs'])} of {planned} planned jobs finished (interrupted?); "
            f"missing: {listed}")


def unfinished_blocks(results: dict[str, Any]) -> list[str]:
    """The top-level blocks the run asked for (``--external``, ``--robustness``) and its jobs carry data for,
    but results.json lacks: the run was killed in its final phase, after the last job."""
    config, jobs = results.get("config") or {}, ok_jobs(results)
    wanted = [("external", bool(config.get("external"))), ("robustness", bool(config.get("robustness")))]
    return [key for key, asked in wanted if asked and key not in results and any(j.get(key) for j in jobs)]


def unfinished_blocks_note(results: dict[str, Any]) -> str | None:
    lacking = unfinished_blocks(results)
    if not lacking:
        return None
    return (f"incomplete run: its final phase did not finish (no {' or '.join(lacking)} block, though the run "
            f"asked for it and its jobs hold the data); run the same command again (every finished job is reused)")


def ok_jobs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [j for j in results["jobs"] if j["status"] == "ok"]


def positive_index(results: dict[str, Any]) -> int | None:
    """Index of the positive class of a binary task (class 1 when none is named); None otherwise."""
    names = results["dataset"]["class_names"]
    if len(names) != 2:
        return None
    pos = results["dataset"].get("positive_class")
    return names.index(pos) if pos in names else 1


def job_id(pipeline: str, seed: int) -> str:
    """The one job id: ``<pipeline>__seed<N>`` (file name under jobs/, key of per-job statistics)."""
    return f"{pipeline}__seed{seed}"


def _job_id(job: dict[str, Any]) -> str:
    return job_id(job["pipeline"], job["seed"])


_value = st.number  # a metric as a float, or None when missing, null or not finite


def job_ci(statistics: dict[str, Any], job: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """The test-metric CI of one job from a statistics section: ``jobs[<job id>].metrics_ci[<metric>]``."""
    entry = (statistics.get("jobs") or {}).get(_job_id(job))
    ci = ((entry or {}).get("metrics_ci") or {}).get(metric)
    return None if ci is None else (ci[0], ci[1])


def _arrays(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = job["predictions"]
    return np.asarray(p["y_true"]), np.asarray(p["y_pred"]), np.asarray(p["proba"], dtype=np.float64)


def _has_predictions(job: dict[str, Any]) -> bool:
    p = job.get("predictions") or {}
    return bool(p.get("y_true")) and len(p.get("proba") or []) == len(p["y_true"])


def rank_key(values: Mapping[str, Any], name: str = "", first: str = RANK_METRICS[0]) -> tuple[Any, ...]:
    """The one ranking rule (leaderboards of the CLI, API, report and suite): higher ROC-AUC first, then
    higher balanced accuracy, then the name; a missing or non-finite value ranks after every value. Each
    metric counts in its own direction (:func:`medbench.metrics.gain`: a lower Brier score ranks first).
    ``values`` maps metric -> value; ``first`` puts another of :data:`RANK_METRICS` first (a suite's
    analysis metric). Sort ascending by it (``min`` is the best)."""
    order = (first, *[m for m in RANK_METRICS if m != first])
    return (*(-gain(m, v) if (v := _value(values.get(m))) is not None else math.inf for m in order), name)


def pipeline_groups(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Successful jobs grouped by pipeline, best first, with mean / sd over seeds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in ok_jobs(results):
        groups.setdefault(job["pipeline"], []).append(job)
    out = []
    for pipeline, jobs in groups.items():
        jobs = sorted(jobs, key=lambda j: j["seed"])
        out.append({
            "pipeline": pipeline, "name": jobs[0].get("name", pipeline), "family": jobs[0].get("family", "unknown"),
            "seeds": [j["seed"] for j in jobs], "job_ids": [_job_id(j) for j in jobs],
            "metrics": {m: st.mean_sd([j["metrics"].get(m) for j in jobs]) for m in HEADLINE
                        if m in jobs[0]["metrics"]},
            "runtime": {k: st.mean_sd([(j.get("runtime") or {}).get(k) for j in jobs]) for k in SUMMARY_RUNTIME},
        })
    return sorted(out, key=lambda g: rank_key({m: (v or {}).get("mean") for m, v in g["metrics"].items()},
                                              g["pipeline"]))


def _compare(a: dict[str, Any], b: dict[str, Any], samples: dict[str, dict[str, np.ndarray]],
             n_classes: int, positive: int | None, level: float) -> dict[str, Any]:
    """Paired comparison of jobs ``a`` and ``b`` (differences are a - b)."""
    head = {"a": _job_id(a), "b": _job_id(b), "a_pipeline": a["pipeline"], "b_pipeline": b["pipeline"],
            "seed": a["seed"]}
    if not (_has_predictions(a) and _has_predictions(b)):
        return {**head, "paired": False, "reason": "no stored test predictions"}
    ya, pred_a, proba_a = _arrays(a)
    yb, pred_b, proba_b = _arrays(b)
    if a["predictions"]["ids"] != b["predictions"]["ids"] or not np.array_equal(ya, yb):
        return {**head, "paired": False, "reason": "the two jobs were scored on different test images"}
    sa, sb = samples[head["a"]], samples[head["b"]]
    out: dict[str, Any] = {**head, "paired": True, "n": int(len(ya))}
    acc_a, acc_b = _value(a["metrics"].get("accuracy")), _value(b["metrics"].get("accuracy"))
    out["accuracy"] = {"diff": None if acc_a is None or acc_b is None else acc_a - acc_b,
                       "ci": _list(st.percentile_ci(sa["accuracy"] - sb["accuracy"], level))}
    out["mcnemar"] = st.mcnemar(pred_a == ya, pred_b == yb)
    auc_a, auc_b = _value(a["metrics"].get("roc_auc")), _value(b["metrics"].get("roc_auc"))
    if auc_a is None or auc_b is None:
        out["roc_auc"] = None
    elif n_classes == 2:
        diff = auc_a - auc_b
        try:
            d = st.delong(ya == positive, proba_a[:, positive], proba_b[:, positive], level)
        except ValueError:
            out["roc_auc"] = {"diff": diff, "ci": None, "p": None, "test": "DeLong (too few images)"}
        else:  # interval centred on the reported difference, with DeLong's standard error
            half = (d["ci"][1] - d["ci"][0]) / 2
            out["roc_auc"] = {"diff": diff, "ci": [diff - half, diff + half], "p": d["p"], "test": "DeLong"}
    else:
        d_samples = sa["roc_auc"] - sb["roc_auc"]
        out["roc_auc"] = {"diff": auc_a - auc_b, "ci": _list(st.percentile_ci(d_samples, level)),
                          "p": st.bootstrap_p(d_samples), "test": "paired bootstrap"}
    for m in CALIBRATION_TESTED:  # calibration: a paired bootstrap (the same resamples for a and b)
        va, vb = _value(a["metrics"].get(m)), _value(b["metrics"].get(m))
        if va is not None and vb is not None and m in sa and m in sb:
            d_samples = sa[m] - sb[m]
            out[m] = {"diff": va - vb, "ci": _list(st.percentile_ci(d_samples, level)),
                      "p": st.bootstrap_p(d_samples), "test": "paired bootstrap"}
    return out


def _list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [ci[0], ci[1]]


def _pairs(a_jobs: list[dict[str, Any]], b_jobs: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    by_seed = {j["seed"]: j for j in b_jobs}
    return [(j, by_seed[j["seed"]]) for j in a_jobs if j["seed"] in by_seed]


def compute_statistics(results: dict[str, Any], n_resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> dict[str, Any]:
    """The ``statistics`` section (see the module docstring) from the jobs' test predictions alone."""
    n_classes = len(results["dataset"]["class_names"])
    positive = positive_index(results)
    jobs = ok_jobs(results)
    samples, per_job = {}, {}
    for job in jobs:
        if not _has_predictions(job):  # e.g. a trimmed results file: no intervals, no paired tests
            per_job[_job_id(job)] = {"n": None, "metrics_ci": dict.fromkeys(
                (m for m in HEADLINE if m in job["metrics"]), None)}
            continue
        y, pred, proba = _arrays(job)
        boot = st.bootstrap_metrics(y, pred, proba, n_classes, positive, n_resamples, seed)
        samples[_job_id(job)] = boot
        per_job[_job_id(job)] = {"n": int(len(y)), "metrics_ci": {
            m: _list(st.percentile_ci(boot[m], level)) if _value(job["metrics"].get(m)) is not None else None
            for m in HEADLINE if m in job["metrics"]}, "reliability": st.reliability(y, proba)}
    groups = pipeline_groups(results)
    by_pipe = {p: sorted((j for j in jobs if j["pipeline"] == p), key=lambda j: j["seed"])
               for p in (g["pipeline"] for g in groups)}
    cmp = lambda a, b: _compare(a, b, samples, n_classes, positive, level)  # noqa: E731
    reference = groups[0]["pipeline"] if groups else None
    comparisons = [cmp(a, b) for g in groups[1:] for a, b in _pairs(by_pipe[g["pipeline"]], by_pipe[reference])]
    paired = [c for c in comparisons if c["paired"]]
    for key in ("mcnemar", "roc_auc", *CALIBRATION_TESTED):
        holders = [c[key] for c in paired if c.get(key) is not None and c[key].get("p") is not None]
        for h, adj in zip(holders, st.holm([h["p"] for h in holders])):
            h["p_holm"] = adj
    best = {fam: next((g["pipeline"] for g in groups if g["family"] == fam), None) for fam in ("classical", "deep")}
    headline = None
    if best["classical"] and best["deep"]:
        headline = {"classical": best["classical"], "deep": best["deep"], "comparisons": [
            cmp(a, b) for a, b in _pairs(by_pipe[best["classical"]], by_pipe[best["deep"]])]}
    auc_test = "DeLong" if n_classes == 2 else "paired stratified bootstrap"
    return summaries({
        "settings": {
            "n_resamples": n_resamples, "seed": seed, "level": level,
            "ci": "percentile interval of a stratified bootstrap over the test images (classes resampled "
                  "within themselves; the same resamples for every pipeline on the same test images)",
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


def statistics(results: dict[str, Any]) -> dict[str, Any]:
    """The stored ``statistics`` when they cover exactly the successful jobs; otherwise computed now
    with the stored settings (or the defaults). Deterministic either way."""
    stored = results.get("statistics")
    ids = sorted(_job_id(j) for j in ok_jobs(results))
    if stored and sorted(stored.get("jobs", {})) == ids:
        return summaries(stored)
    cfg = (stored or {}).get("settings") or {  # none stored (a run killed in its final phase): the run's own
        "n_resamples": (results.get("config") or {}).get("bootstrap_resamples", BOOTSTRAP_RESAMPLES),
        "seed": (results.get("config") or {}).get("bootstrap_seed", BOOTSTRAP_SEED)}
    return compute_statistics(results, cfg.get("n_resamples", BOOTSTRAP_RESAMPLES),
                              cfg.get("seed", BOOTSTRAP_SEED), cfg.get("level", CI_LEVEL))
