"""What medbench's caches hold and whether each entry would still be reused (``medbench cache info``).

Every cache entry (job records in ``OUT/jobs/``, feature / embedding / image entries under
``$MEDBENCH_CACHE_DIR``) stores its key inputs. An entry is *current* when the medbench source hash
and the library versions it was made with are those installed now and it passes the checks a run makes
before reusing it (a job record: its body digest, and its numbers recomputed from its predictions with the
class names of OUT/results.json; a cache entry: its bytes against their SHA-256); otherwise the reason is given.
(Data and parameters are part of the key too, but only a run knows which data it will use.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medbench.core import cachekeys, tempfiles
from medbench.core.atomic import read_json
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir
from medbench.datasets import images
from medbench.features import cache as feature_cache
from medbench.models import model_cache, prefix_cache
from medbench.records import jobs as records
from medbench.records import results as results_mod
from medbench.records import view
from medbench.running import runner
from medbench.shift import recompute


def staleness(inputs: dict[str, Any]) -> str:
    """``"current"``, or why an entry made with ``inputs`` would be recomputed today."""
    bad = records.problem(inputs, records.KEY_INPUTS_SCHEMA, "key inputs")
    if bad is not None:
        return f"stale: its stored {bad.removeprefix('key inputs: ')} (damaged or edited)"
    code = inputs.get("code") or {}
    current = dict(inputs)
    try:
        current["code"] = {"modules": code.get("modules", []), "sha256": cachekeys.source_hash(*code.get("modules", []))}
    except (ModuleNotFoundError, TypeError):
        return "stale: its source modules are gone"
    current["libraries"] = cachekeys.library_versions(inputs.get("libraries") or {})
    why = cachekeys.explain(inputs, current)
    return "current" if why == "same inputs" else f"stale: {why}"


def _summary(inputs: dict[str, Any]) -> str:
    params = inputs.get("params") or {}
    shown = {k: v for k, v in params.items() if k not in ("input", "dataset", "split", "identity", "files_sha256")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def job_entries(out: str | Path) -> list[dict[str, Any]]:
    """One row per job record in ``out/jobs``."""
    rows = []
    dataset = _dataset_facts(Path(out))
    for path in sorted(Path(out).glob("jobs/*.json")):
        try:
            rec = read_json(path, "job record")
        except (OSError, ValueError, RecursionError):
            rows.append({"entry": path.name, "status": "unreadable", "state": "will be recomputed", "inputs": ""})
            continue
        inputs = rec.get("key_inputs") if isinstance(rec, dict) else None
        bad = records.problem(rec, records.JOB_RECORD_SCHEMA, path.name) if isinstance(inputs, dict) else None
        if bad is not None:
            rows.append({"entry": path.name, "status": "damaged", "state": f"will be recomputed: {bad}",
                         "inputs": ""})
            continue
        if not isinstance(inputs, dict):
            rows.append({"entry": path.name, "status": rec.get("status", "?") if isinstance(rec, dict) else "?",
                         "state": "no key inputs (made by an older medbench): will be recomputed", "inputs": ""})
            continue
        state = staleness(inputs)
        if state == "current":  # the checks a run makes before reusing the record
            state = _record_state(path, rec, dataset)
        rows.append({"entry": path.name, "status": rec.get("status"), "state": state, "inputs": _summary(inputs)})
    return rows


def _dataset_facts(out: Path) -> tuple[list[str], int | None] | None:
    """The class names and positive class index from ``out/results.json`` (None when there is none)."""

    try:
        res = results_mod.load(out)
    except MedbenchError:
        return None
    names = res["dataset"]["class_names"]
    return names, view.positive_index(res) if len(names) == 2 else None


def _record_state(path: Path, rec: dict[str, Any], dataset: tuple[list[str], int | None] | None) -> str:

    if rec.get("status") == "ok" and rec.get("body_sha256") != runner.body_digest(rec):
        return "stale: edited or damaged (body digest mismatch): will be recomputed"
    if rec.get("status") == "ok" and dataset is not None:
        wrong = recompute.record_disagreement(rec, *dataset)
        if wrong is not None:
            return f"stale: does not add up ({wrong}): will be recomputed"
    return "current"


#: Namespaces whose entries are checked by their own module (the check a run makes before reusing one).
ENTRY_CHECKS = {prefix_cache.NAMESPACE: prefix_cache.entry_intact, model_cache.NAMESPACE: model_cache.entry_intact}


def _entry_intact(entry: str) -> bool:

    path = Path(cache_dir()) / entry
    if entry.split("/", 1)[0] == images.CACHE_NAMESPACE:
        return images.entry_intact(path)
    if entry.split("/", 1)[0] in ENTRY_CHECKS:  # entries of several files (fitted prefixes, fitted models)
        return ENTRY_CHECKS[entry.split("/", 1)[0]](entry)
    return feature_cache.entry_intact(path)


def store_entries() -> list[dict[str, Any]]:
    """One row per namespace of the shared cache (``$MEDBENCH_CACHE_DIR``): entries, current, stale."""
    counts: dict[str, dict[str, Any]] = {}
    for entry in feature_cache.describe():
        ns = entry["entry"].split("/", 1)[0]
        row = counts.setdefault(ns, {"cache": ns, "entries": 0, "current": 0, "stale": 0, "why stale": set()})
        row["entries"] += 1
        state = staleness(entry)
        if state == "current" and not _entry_intact(entry["entry"]):  # the check a run makes before reuse
            state = "stale: its bytes do not match their SHA-256 (edited, replaced or damaged)"
        if state == "current":
            row["current"] += 1
        else:
            row["stale"] += 1
            row["why stale"].add(state.removeprefix("stale: "))
    return [{**r, "why stale": "; ".join(sorted(r["why stale"])) or "–"} for r in counts.values()]


def stale_temporaries() -> list[Path]:
    """Temporary files a killed writer left in the shared cache (removed by the next write there)."""
    root = Path(cache_dir())
    return [p for folder in sorted(root.glob("*")) if folder.is_dir() for p in tempfiles.stale(folder)]


def location() -> Path:
    return Path(cache_dir())
