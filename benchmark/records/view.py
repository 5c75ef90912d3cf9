"""Typed, read-only records over a results.json document: the run, a job, its test predictions.

results.json stays the contract on disk (:mod:`medbench.records.schemas`); these records are how code reads it.
The job id, the class names and the positive class are worked out here and nowhere else::

    run = RunView(results)
    for job in run.ok_jobs:
        job.id, job.pipeline, job.seed, job.metrics["roc_auc"], job.predictions.y_true
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


def job_id(pipeline: str, seed: int) -> str:
    """The one job id: ``<pipeline>__seed<N>`` (file name under jobs/, key of per-job statistics)."""
    return f"{pipeline}__seed{seed}"


def record_id(job: Mapping[str, Any]) -> str:
    """The id of a job record (or of any dict with ``pipeline`` and ``seed``)."""
    return job_id(job["pipeline"], job["seed"])


def class_names(results: Mapping[str, Any]) -> list[str]:
    """The dataset's class names, in label order."""
    return results["dataset"]["class_names"]


@dataclass(frozen=True)
class Predictions:
    """One job's stored test predictions as arrays (``proba``: one row per image, one column per class)."""

    ids: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    #: the job's validation thresholds of the sensitivity at fixed specificity (``threshold.at_specificity``)
    at_specificity: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, record: Mapping[str, Any] | None) -> Predictions | None:
        """The predictions of a job record (or of an external-set entry); None when it stores none, or
        stores probabilities that do not match its labels (a trimmed results file)."""
        p = (record or {}).get("predictions") or {}
        y = p.get("y_true")
        if not y or len(p.get("proba") or []) != len(y):
            return None
        thr = (record or {}).get("threshold")
        return cls(tuple(p.get("ids") or ()), np.asarray(y), np.asarray(p["y_pred"]),
                   np.asarray(p["proba"], dtype=np.float64),
                   thr.get("at_specificity") if isinstance(thr, Mapping) else None)

    def __len__(self) -> int:
        return len(self.y_true)

    def same_images(self, other: Predictions) -> bool:
        """Scored on the same test images, in the same order, with the same labels."""
        return self.ids == other.ids and np.array_equal(self.y_true, other.y_true)


@dataclass(frozen=True, eq=False)
class JobView:
    """One job record of results.json (``record`` is the stored dict itself, never copied)."""

    record: Mapping[str, Any]

    @property
    def pipeline(self) -> str:
        return self.record["pipeline"]

    @property
    def seed(self) -> int:
        return self.record["seed"]

    @property
    def id(self) -> str:
        return job_id(self.pipeline, self.seed)

    @property
    def name(self) -> str:
        return self.record.get("name", self.pipeline)

    @property
    def family(self) -> str:
        return self.record.get("family", "unknown")

    @property
    def ok(self) -> bool:
        return self.record.get("status") == "ok"

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.record.get("metrics") or {}

    @cached_property
    def predictions(self) -> Predictions | None:
        return Predictions.of(self.record)


@dataclass(frozen=True, eq=False)
class RunView:
    """A results.json document: its class names, positive class and job records."""

    results: Mapping[str, Any]

    @property
    def class_names(self) -> list[str]:
        return list(self.results["dataset"]["class_names"])

    @property
    def n_classes(self) -> int:
        return len(self.results["dataset"]["class_names"])

    @property
    def positive_index(self) -> int | None:
        """Index of the positive class of a binary task (class 1 when none is named); None otherwise."""
        names = self.results["dataset"]["class_names"]
        if len(names) != 2:
            return None
        pos = self.results["dataset"].get("positive_class")
        return names.index(pos) if pos in names else 1

    @cached_property
    def jobs(self) -> list[JobView]:
        return [JobView(j) for j in self.results["jobs"]]

    @property
    def ok_jobs(self) -> list[JobView]:
        return [j for j in self.jobs if j.ok]

    def job(self, jid: str) -> JobView | None:
        return next((j for j in self.jobs if j.id == jid), None)

    def pipeline_jobs(self, pipeline: str) -> dict[int, JobView]:
        """A pipeline's successful jobs by seed."""
        return {j.seed: j for j in self.ok_jobs if j.pipeline == pipeline}


def ok_jobs(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The successful job records of a results document (the stored dicts)."""
    return [j for j in results["jobs"] if j["status"] == "ok"]


def positive_index(results: Mapping[str, Any]) -> int | None:
    """Index of the positive class of a binary task (class 1 when none is named); None otherwise."""
    return RunView(results).positive_index


def missing_jobs(results: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The (pipeline, seed) jobs the run's ``config`` planned that ``jobs`` does not hold: an interrupted
    run (empty when complete, or when the config does not say what was planned)."""
    config = results.get("config") or {}
    pipelines, seeds = config.get("pipelines"), config.get("seeds")
    if not isinstance(pipelines, list) or not isinstance(seeds, list):
        return []
    have = {(j["pipeline"], j["seed"]) for j in results["jobs"]}
    return [(p, s) for p in pipelines for s in seeds
            if isinstance(p, str) and isinstance(s, int) and (p, s) not in have]


def incomplete_note(results: Mapping[str, Any]) -> str | None:
    """One line saying that a run is incomplete (and which jobs it lacks), or None when it is complete."""
    missing = missing_jobs(results)
    if not missing:
        return unfinished_blocks_note(results)
    planned = len(results["jobs"]) + len(missing)
    listed = ", ".join(f"{p} seed {s}" for p, s in missing[:5]) + (" ..." if len(missing) > 5 else "")
    return (f"incomplete run: {len(results['jobs'])} of {planned} planned jobs finished (interrupted?); "
            f"missing: {listed}")


def unfinished_blocks(results: Mapping[str, Any]) -> list[str]:
    """The top-level blocks the run asked for (``--external``, ``--robustness``) and its jobs carry data for,
    but results.json lacks: the run was killed in its final phase, after the last job."""
    config, jobs = results.get("config") or {}, ok_jobs(results)
    wanted = [("external", bool(config.get("external"))), ("robustness", bool(config.get("robustness")))]
    return [key for key, asked in wanted if asked and key not in results and any(j.get(key) for j in jobs)]


def unfinished_blocks_note(results: Mapping[str, Any]) -> str | None:
    """One line saying that the run's final phase did not finish, or None."""
    lacking = unfinished_blocks(results)
    if not lacking:
        return None
    return (f"incomplete run: its final phase did not finish (no {' or '.join(lacking)} block, though the run "
            f"asked for it and its jobs hold the data); run the same command again (every finished job is reused)")
