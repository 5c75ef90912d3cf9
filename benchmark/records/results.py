"""results.json (versioned schema) and metrics.csv: assembling a run's job records into files.

Top-level keys of results.json (schema ``medbench.records.results``, version 1): ``schema``,
``schema_version``, ``medbench_version``, ``created``, ``command``, ``config``, ``dataset`` (the
dataset card), ``split`` (fingerprint, method, seed, notes, counts, manifest; with
``--resplit-per-seed`` also ``per_seed``: ``{seed: {fingerprint, method, seed, notes, counts,
manifest}}``), ``environment`` (machine, libraries and code provenance - git commit, dirty tree,
source hash, GPUs, the deep models' device - see :func:`medbench.core.profiling.environment`), ``jobs`` (one record per pipeline and seed, see
:mod:`medbench.running.runner`; a job's ``gallery`` lists its error-gallery pictures, :mod:`medbench.running.gallery`) and,
once a run has finished, ``statistics`` (:mod:`medbench.evaluation.section`).

:func:`load` validates what it reads (:func:`validate`): the declared JSON schema
(:data:`SCHEMA_JSON`, built in :mod:`medbench.records.schemas` from the metric catalogue) and the
cross-field rules no schema states (labels within ``class_names``, predictions of one length, one
job per pipeline and seed, a statistics section naming real jobs). Every problem is one line:
``<file>: <field>: <problem>``. Metric values may be null (undefined) and, as Python's json reads
them, NaN or infinite: those read as "no value" (``compare`` flags a value BASE had and NEW lost).
Reading a document is :mod:`medbench.records.view`'s: :func:`medbench.records.view.job_id` is the one way to name a job.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from medbench.core import profiling, readfile
from medbench.core.atomic import write_json, write_text
from medbench.core.csvcell import cell
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.metrics import HEADLINE, RUNTIME_KEYS
from medbench.records import consistency, schemas, view
from medbench.records.view import ok_jobs, record_id
from medbench.shift import recompute

SCHEMA = "medbench.results"
SCHEMA_VERSION = 1

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
    text = readfile.read_text(path, kind, cap="results", missing_hint=": pass a results folder or its results.json")
    results = readfile.parse_json(text, str(path), kind)
    validate(results, str(path))
    return results


def validate(results: Any, source: str) -> None:
    """Check a results dict against the declared schema (:data:`SCHEMA_JSON`, see
    :mod:`medbench.records.schemas`) and the cross-field rules no schema states (labels within
    ``class_names``, predictions of one length, unique jobs, statistics naming real jobs).
    Raises ``MedbenchError("<source>: <field>: <problem>")``."""
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise MedbenchError(f"{source} is not a medbench results file (no \"schema\": \"{SCHEMA}\")")
    version = results.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise MedbenchError(f"{source} has schema version {version}; this medbench reads up to "
                            f"{SCHEMA_VERSION}: upgrade medbench")
    schemas.validate(results, SCHEMA_JSON, source)
    names = view.class_names(results)
    pos = results["dataset"].get("positive_class")
    if pos is not None and pos not in names:
        raise schemas.fail(source, ["dataset", "positive_class"], f"{schemas.short(pos)} is not one of class_names")
    seen: set[str] = set()
    for i, job in enumerate(results["jobs"]):
        jid = record_id(job)
        if jid in seen:
            raise schemas.fail(source, ["jobs", i], f"a second job for pipeline {job['pipeline']!r} seed {job['seed']}")
        seen.add(jid)
        if job.get("job_id", jid) != jid:
            raise schemas.fail(source, ["jobs", i, "job_id"], f"{schemas.short(job['job_id'])} should be {jid!r}")
        if job["status"] == "ok":
            _check_job(source, ["jobs", i], job, names)
    if "statistics" in results:
        _check_statistics(source, results["statistics"], {record_id(j) for j in ok_jobs(results)})
    consistency.check_blocks(results, source)  # external / robustness blocks agree with the jobs and themselves
    recompute.check_blocks(source, results)  # the external / robustness blocks are what the jobs give


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
