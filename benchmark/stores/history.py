"""The history store: every run filed under its machine and code version, and the analysis of how each
pipeline's metrics moved from version to version (rendered by :mod:`medbench.reports.history`).

Layout of a store (``--store DIR``, else ``$MEDBENCH_HISTORY``, else ``./history``)::

    DIR/index.json                              one entry per stored run (rebuilt from the folders if lost)
    DIR/<machine-id>/<version>/results.json     the run, thinned as the baseline store thins it

``<machine-id>`` is :func:`medbench.core.profiling.machine_id` of the run's environment (CPU model, cores,
GPUs), so runtimes are only ever lined up on one machine. ``<version>`` is the git commit of the
medbench source that ran (12 characters; ``<commit>-dirty-<created>`` when the tree had uncommitted
changes), the ``--commit`` given to ``history add``, or the run's creation time when neither is known.
Filing holds ``DIR/.medbench-history.lock`` (filelock) from reading the index to writing it, so runs
filed at the same time wait their turn and none is lost.
Filing a run of the same version, machine, dataset and split again replaces the earlier one (a rerun);
another dataset or split of the same version gets its own folder (``<version>--<dataset>-<split>``).
Every write is atomic.

:func:`analyse` lines the stored runs up per machine, dataset and split, in the order they were run
(``created``), and for every pipeline and headline metric finds the versions where the metric changed:
PELT (:mod:`ruptures`, least-squares cost) on the per-version values with a penalty scaled to the
confidence intervals (:func:`medbench.evaluation.stats.penalty`). Each change is then checked image by image across the step
where it appeared (:func:`medbench.evaluation.paired.paired_tests` between the last version before and the
first version after: McNemar, DeLong or a paired bootstrap on the same test images).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from medbench.core import profiling, settings
from medbench.core.atomic import read_json, write_json, write_text
from medbench.core.errors import MedbenchError
from medbench.evaluation import intervals, protocol
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import stats as st
from medbench.evaluation.tolerances import Tolerances
from medbench.metrics import gain, metric_names
from medbench.records import results as results_mod
from medbench.records import schemas, view
from medbench.stores import baseline

STORE_ENV = settings.HISTORY_ENV
INDEX = "index.json"
INDEX_SCHEMA = "medbench.history"
INDEX_VERSION = 1
COMMIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCK_NAME = ".medbench-history.lock"
LOCK_TIMEOUT_S = 600


def store_dir(store: str | Path | None = None) -> Path:
    """The history store: ``store``, else ``$MEDBENCH_HISTORY``, else ``./history``."""
    return Path(store or settings.path(STORE_ENV) or "history")


# --------------------------------------------------------------------------------------------- filing
def _stamp(created: str | None) -> str:
    """A creation time as a folder-safe stamp: ``20260101T120000+0000``."""
    text = re.sub(r"[^0-9A-Za-z+]", "", str(created or "")) or time.strftime("%Y%m%dT%H%M%S%z")
    return text[:32]


def version_key(results: dict[str, Any], commit: str | None = None) -> str:
    """The folder name of a run's code version (see the module docstring)."""
    if commit is not None:
        if not COMMIT_RE.match(commit):
            raise MedbenchError(f"--commit {commit!r}: use 1 to 64 letters, digits, '.', '_' or '-' (e.g. a git "
                                "commit or a release tag)")
        return commit
    env = results.get("environment") or {}
    sha = env.get("git_commit")
    if not sha or sha == profiling.UNKNOWN:
        return _stamp(results.get("created"))
    return f"{sha[:12]}-dirty-{_stamp(results.get('created'))}" if env.get("git_dirty") else sha[:12]


def _slug(text: Any, limit: int = 24) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text or "")).strip("-")[:limit].strip("-") or "data"


def _entry(results: dict[str, Any], machine: str, version: str, rel: str, commit: str | None) -> dict[str, Any]:
    env = results.get("environment") or {}
    return {
        "machine": machine, "version": version, "path": rel,
        "commit": commit or env.get("git_commit") or profiling.UNKNOWN,
        "git_commit": env.get("git_commit") or profiling.UNKNOWN, "dirty": env.get("git_dirty"),
        "created": results.get("created"), "medbench_version": results.get("medbench_version"),
        "source_hash": env.get("source_hash"), "dataset": results["dataset"].get("spec"),
        "dataset_name": results["dataset"].get("name"), "split": results["split"].get("fingerprint"),
        "pipelines": list(dict.fromkeys(j["pipeline"] for j in results["jobs"])),
        "added": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def add(run: str | Path, store: str | Path | None = None, commit: str | None = None) -> dict[str, Any]:
    """File the run in ``run`` (a results folder or results.json) in the store; return its index entry
    (with ``replaced``: whether an earlier run of the same version was replaced)."""
    res = results_mod.load(run)
    if not view.ok_jobs(res):
        raise MedbenchError(f"{run} has no successful job: nothing to file in the history")
    incomplete = view.incomplete_note(res)
    if incomplete:
        raise MedbenchError(f"{run}: {incomplete}; finish it (run the same command again) before filing it "
                            f"in the history")
    root = store_dir(store)
    machine = profiling.machine_id(res.get("environment"))
    version = version_key(res, commit)
    with store_lock(root):
        return _file(res, run, root, machine, version, commit)


@contextlib.contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Hold the store's lock (``DIR/.medbench-history.lock``): concurrent ``history add`` runs take turns."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        held = FileLock(str(root / LOCK_NAME), timeout=LOCK_TIMEOUT_S)
        held.acquire()
    except Timeout:
        raise MedbenchError(f"the history store {root} stayed locked for {LOCK_TIMEOUT_S} s (another "
                            f"`history add` holds {root / LOCK_NAME}); try again") from None
    except OSError as exc:
        raise MedbenchError(f"cannot lock the history store {root}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        held.release()


def _file(res: dict[str, Any], run: str | Path, root: Path, machine: str, version: str,
          commit: str | None) -> dict[str, Any]:
    entries = _read_index(root)
    same = {(e["machine"], e["version"]): e for e in entries}
    taken = same.get((machine, version))
    if taken and (taken["dataset"], taken["split"]) != (res["dataset"].get("spec"), res["split"].get("fingerprint")):
        version = f"{version}--{_slug(res['dataset'].get('name') or res['dataset'].get('spec'))}-" \
                  f"{str(res['split'].get('fingerprint'))[:8]}"
    rel = f"{machine}/{version}/results.json"
    thinned = baseline.thin(res, name=version, source=str(run))
    thinned.pop("baseline", None)
    thinned["history"] = {"machine": machine, "version": version, "commit": commit, "source": str(run)}
    write_text(root / rel, baseline.dumps(thinned))
    entry = _entry(res, machine, version, rel, commit)
    replaced = any(e["path"] == rel for e in entries)
    entries = [e for e in entries if e["path"] != rel] + [entry]
    _write_index(root, entries)
    return {**entry, "replaced": replaced, "store": str(root)}


# ---------------------------------------------------------------------------------------------- index
# <machine>/<version>/results.json, each part a plain folder name: an edited index cannot point outside the store
SAFE_PATH = r"^[A-Za-z0-9][A-Za-z0-9._+-]*/[A-Za-z0-9][A-Za-z0-9._+-]*/results\.json$"
INDEX_JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["schema", "schema_version", "entries"],
    "properties": {
        "schema": {"const": INDEX_SCHEMA}, "schema_version": {"type": "integer", "minimum": 1},
        "entries": {"type": "array", "items": {
            "type": "object", "required": ["machine", "version", "path", "created", "dataset", "split"],
            "properties": {"machine": {"type": "string", "minLength": 1}, "version": {"type": "string", "minLength": 1},
                           "path": {"type": "string", "pattern": SAFE_PATH},
                           "created": {"type": ["string", "null"]}, "dataset": {"type": ["string", "null"]},
                           "split": {"type": ["string", "null"]}}}},
    },
}


def _sort_key(entry: dict[str, Any]) -> tuple:
    return (entry["machine"], _created(entry.get("created")), entry["version"])


def _created(text: Any) -> float:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return math.inf


def _write_index(root: Path, entries: list[dict[str, Any]]) -> None:
    write_json(root / INDEX, {"schema": INDEX_SCHEMA, "schema_version": INDEX_VERSION,
                              "entries": sorted(entries, key=_sort_key)})


def _read_index(root: Path) -> list[dict[str, Any]]:
    """The stored entries; rebuilt from the folders when index.json is missing (an index that exists
    but is broken is an error naming the file, not silently replaced)."""
    path = root / INDEX
    if not path.is_file():
        return rebuild_index(root) if root.is_dir() else []
    try:
        data = read_json(path, "history index", cap="history index")
    except (OSError, ValueError, RecursionError) as exc:
        raise MedbenchError(f"{path} is not readable JSON ({exc}); delete it and it is rebuilt from the "
                            "stored runs") from None
    schemas.validate(data, INDEX_JSON_SCHEMA, str(path))
    return _unique(data["entries"])


def _unique(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per stored file: an index holding the same ``path`` twice (edited, or merged by hand)
    counts that run once (the last entry wins, as a new ``add`` replaces an old one)."""
    by_path = {e["path"]: e for e in entries}
    return list(by_path.values())


def rebuild_index(root: Path) -> list[dict[str, Any]]:
    """Entries from the ``<machine>/<version>/results.json`` files found in the store."""
    entries = []
    for path in sorted(root.glob("*/*/results.json")):
        res = results_mod.load(path)
        meta = res.get("history") or {}
        entries.append(_entry(res, path.parent.parent.name, path.parent.name,
                              f"{path.parent.parent.name}/{path.parent.name}/results.json", meta.get("commit")))
    return entries


def entries(store: str | Path | None = None) -> list[dict[str, Any]]:
    return sorted(_read_index(store_dir(store)), key=_sort_key)


# ------------------------------------------------------------------------------------------- analysis
@dataclass
class Version:
    """One stored run of a series."""

    entry: dict[str, Any]
    results: dict[str, Any]
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # pipeline -> ok jobs by seed

    @property
    def label(self) -> str:
        return self.entry["version"]


def _job_cis(res: dict[str, Any], job: dict[str, Any], metrics: list[str]) -> dict[str, list[float] | None]:
    """Percentile bootstrap CIs of one job's metrics (as results.json's statistics section computes them)."""
    pred = view.Predictions.of(job)
    if pred is None:
        return dict.fromkeys(metrics)
    k, pos = len(view.class_names(res)), view.positive_index(res)
    boot = evaluation_paired.Bootstraps(k, pos, protocol.BOOTSTRAP_RESAMPLES, protocol.BOOTSTRAP_SEED).of(pred)
    cis = intervals.metric_cis(pred.y_true, pred.y_pred, pred.proba, boot, {m: job["metrics"].get(m) for m in metrics},
                               k, pos, at_specificity=pred.at_specificity)
    return {m: None if cis.get(m) is None else [cis[m][0], cis[m][1]] for m in metrics}


def _series_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["machine"], str(entry.get("dataset")), str(entry.get("split")))


def analyse(store: str | Path | None = None, tolerances: Tolerances | None = None) -> dict[str, Any]:
    """The history of the store, JSON-able: one series per machine, dataset and split, each with its
    versions (oldest first), per pipeline and metric the values, CIs and change points, and the
    regressions (changes for the worse) with the first version showing them."""
    root = store_dir(store)
    if not (root / INDEX).is_file() and not root.is_dir():
        raise MedbenchError(f"no history store at {root}: file runs with `medbench history add RUN --store {root}`")
    tol = tolerances or Tolerances()
    notes: list[str] = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in entries(root):
        if not (root / e["path"]).is_file():
            notes.append(f"{e['path']} is in {INDEX} but missing: left out")
            continue
        groups.setdefault(_series_key(e), []).append(e)
    series = [_series(root, group, tol) for group in groups.values()]
    return {"schema": "medbench.stores.history-report", "store": str(root), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "method": {"change_points": "PELT (ruptures), least-squares cost, min_size 1",
                       "penalty": "max(h, tolerance/sqrt 2)^2 * max(1, 2 ln(n) / 1.96^2), h = median 95% CI "
                                  "half-width of the per-version values",
                       "paired_tests": "McNemar (accuracy, sensitivity, specificity), DeLong (binary ROC-AUC), "
                                       "paired bootstrap (other metrics; means over seeds)"},
            "series": series, "notes": notes}


def _series(root: Path, group: list[dict[str, Any]], tol: Tolerances) -> dict[str, Any]:
    versions = []
    for e in group:
        res = results_mod.load(root / e["path"])
        v = Version(e, res)
        for job in sorted(view.ok_jobs(res), key=lambda j: j["seed"]):
            v.jobs.setdefault(job["pipeline"], []).append(job)
        versions.append(v)
    latest = versions[-1].results
    n_classes = len(view.class_names(latest))
    positive = view.positive_index(latest)
    metrics = metric_names(n_classes)
    pipelines = list(dict.fromkeys(j["pipeline"] for v in versions for j in v.results["jobs"]))
    tracks, changes = [], []
    cis = [{p: [_job_cis(v.results, j, metrics) for j in jobs] for p, jobs in v.jobs.items()} for v in versions]
    for pipe in pipelines:
        for m in metrics:
            track = _track(versions, cis, pipe, m, tol, n_classes, positive)
            tracks.append(track)
            changes += [{"pipeline": pipe, "metric": m, **c} for c in track["change_points"]]
    return {
        "machine": group[0]["machine"], "machine_text": profiling.machine_text(latest.get("environment")),
        "dataset": latest["dataset"].get("spec"), "title": latest["dataset"].get("title"),
        "split": latest["split"].get("fingerprint"), "class_names": view.class_names(latest),
        "versions": [{k: v.entry.get(k) for k in ("version", "commit", "git_commit", "dirty", "created",
                                                   "medbench_version", "source_hash", "path")} for v in versions],
        "pipelines": pipelines, "metrics": metrics, "tracks": tracks,
        "regressions": [c for c in changes if c["direction"] == "worse"],
        "improvements": [c for c in changes if c["direction"] == "better"],
    }


def _track(versions: list[Version], cis: list[dict], pipe: str, metric: str, tol: Tolerances, n_classes: int,
           positive: int | None) -> dict[str, Any]:
    """One pipeline's metric across the versions: values (mean over seeds), CI bands, change points."""
    values: list[float | None] = []
    bands: list[list[float] | None] = []
    status: list[str] = []
    for v, ci in zip(versions, cis):
        jobs = v.jobs.get(pipe) or []
        vals = [st.number(j["metrics"].get(metric)) for j in jobs]
        if not jobs:
            failed = any(j["pipeline"] == pipe for j in v.results["jobs"])
            values.append(None)
            bands.append(None)
            status.append("failed" if failed else "absent")
            continue
        if any(x is None for x in vals):
            values.append(None)
            bands.append(None)
            status.append("undefined")
            continue
        values.append(float(np.mean(vals)))
        job_cis = [c[metric] for c in ci.get(pipe, [])]
        bands.append(None if any(c is None for c in job_cis) or not job_cis else
                     [float(np.mean([c[0] for c in job_cis])), float(np.mean([c[1] for c in job_cis]))])
        status.append("ok")
    present = [i for i, x in enumerate(values) if x is not None]
    halves = [(b[1] - b[0]) / 2 for i, b in enumerate(bands) if b is not None and values[i] is not None]
    half = float(np.median(halves)) if halves else 0.0
    pen = st.penalty(half, len(present), tol.metric_tolerance(pipe, metric))
    cps = []
    ys = [values[i] for i in present]
    bkps = st.change_points(ys, pen)  # type: ignore[arg-type]
    bounds = [0, *bkps, len(ys)]
    for j, k in enumerate(bkps):
        before = float(np.mean(ys[bounds[j]:k]))
        after = float(np.mean(ys[k:bounds[j + 2]]))
        prev_i, cur_i = present[k - 1], present[k]
        test = _step_test(versions[prev_i], versions[cur_i], pipe, metric, n_classes, positive)
        cps.append({"index": cur_i, "version": versions[cur_i].label, "previous": versions[prev_i].label,
                    "previous_index": prev_i, "created": versions[cur_i].entry.get("created"),
                    "commit": versions[cur_i].entry.get("commit"),
                    "before": before, "after": after, "step": after - before,
                    "direction": "worse" if gain(metric, after - before) < 0 else "better",
                    "value_before": values[prev_i], "value_after": values[cur_i], **test})
    return {"pipeline": pipe, "metric": metric, "values": values, "ci": bands, "status": status,
            "half_width": half, "penalty": pen, "change_points": cps}


def _step_test(prev: Version, cur: Version, pipe: str, metric: str, n_classes: int,
               positive: int | None) -> dict[str, Any]:
    """The paired test across one step, on the seeds both versions ran."""
    b_by_seed = {j["seed"]: j for j in prev.jobs.get(pipe, [])}
    pairs = [(b_by_seed[j["seed"]], j) for j in cur.jobs.get(pipe, []) if j["seed"] in b_by_seed]
    if not pairs:
        return {"test": None, "p": None, "reason": "no seed in common"}
    out = evaluation_paired.paired_tests([b for b, _ in pairs], [n for _, n in pairs], [metric], n_classes, positive)
    if not out["paired"]:
        return {"test": None, "p": None, "reason": out["reason"]}
    t = out["tests"][metric]
    return {"test": t["test"], "p": t["p"], "reason": None}
