"""The baseline store: committed reference results that new runs are compared against.

Layout: ``<store>/<name>/results.json`` (a results.json thinned for committing) and, optionally,
``<store>/<name>/tolerances.toml`` (that baseline's tolerances, found by ``medbench compare``).
The store is ``$MEDBENCH_BASELINES`` or ``./baselines``; a name not in the store is looked up among the
baselines shipped with medbench (medbench.core.packaged). A baseline's default name is
``<dataset>-<profile>`` (e.g. ``pneumoniamnist-fast``). A baseline is the run's results.json with
machine-specific paths and the derived "statistics" section dropped, written compactly (lists on
one line); the test predictions stay, so confidence intervals are recomputed from them by the
medbench doing the comparison (a PneumoniaMNIST baseline of 7 pipelines is about 0.25 MB).
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

from medbench.core import packaged, settings
from medbench.core.atomic import write_text
from medbench.core.errors import MedbenchError
from medbench.records import results as results_mod

STORE_ENV = settings.BASELINE_STORE_ENV
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def store_dir(store: str | Path | None = None) -> Path:
    return Path(store or settings.path(STORE_ENV) or "baselines")


def default_name(results: dict[str, Any]) -> str:
    config = results.get("config") or {}
    dataset = (results.get("dataset") or {}).get("name") or "dataset"
    return f"{dataset}-{config.get('profile') or 'custom'}"


def check_complete(results: dict[str, Any], source: str) -> None:
    """A baseline must be a finished run without failed jobs."""
    failed = [j for j in results["jobs"] if j.get("status") != "ok"]
    if failed:
        j = failed[0]
        raise MedbenchError(f"{source} has {len(failed)} failed job(s) (first: {j['pipeline']} seed "
                            f"{j['seed']}: {str(j.get('error', ''))[:120]}); a baseline must be a complete "
                            "run")
    config = results.get("config") or {}
    expected = len(config.get("pipelines") or []) * len(config.get("seeds") or [])
    if expected and len(results["jobs"]) < expected:
        raise MedbenchError(f"{source} holds {len(results['jobs'])} of {expected} jobs (an interrupted "
                            "run?); finish it before making it a baseline")


def thin(results: dict[str, Any], *, name: str, source: str) -> dict[str, Any]:
    """A copy fit to commit: machine-specific paths, tracebacks and derived statistics dropped (the
    current medbench recomputes those from the stored predictions), provenance added."""
    out = copy.deepcopy(results)
    out.pop("statistics", None)
    (out.get("dataset") or {}).get("source", {}).pop("path", None)
    for job in out["jobs"]:
        job.pop("traceback", None)
    out["baseline"] = {"name": name, "source": source, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return out


_FLAT_LIST = re.compile(r'\[(?:\s*(?:-?[\d.eE+-]+|null|true|false|"(?:[^"\\\n]|\\.)*"),?)*\s*\]')


def dumps(obj: Any) -> str:
    """Indented JSON with lists of plain values on one line: small files, readable diffs."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    def flat(m: re.Match) -> str:  # JSON strings hold no raw newlines: every newline here is layout
        return re.sub(r"\n *", "", m.group(0).replace(",\n", ", \n"))
    return _FLAT_LIST.sub(flat, text) + "\n"


def update(results_path: str | Path, name: str | None = None, store: str | Path | None = None) -> Path:
    """Write ``<store>/<name>/results.json`` from a finished run; return its path."""
    res = results_mod.load(results_path)
    check_complete(res, str(results_path))
    name = name or default_name(res)
    if not NAME_RE.match(name):
        raise MedbenchError(f"baseline name {name!r} must be letters, digits, '.', '_' or '-'")
    path = store_dir(store) / name / "results.json"
    write_text(path, dumps(thin(res, name=name, source=str(results_path))))
    return path


def entries(store: str | Path | None = None) -> list[dict[str, Any]]:
    """One summary per stored baseline, by name."""
    root = store_dir(store)
    out = []
    for path in sorted(root.glob("*/results.json")) if root.is_dir() else []:
        try:
            res = results_mod.load(path)
        except MedbenchError as exc:
            out.append({"name": path.parent.name, "path": str(path.parent), "problem": str(exc)})
            continue
        jobs = res["jobs"]
        out.append({
            "name": path.parent.name, "path": str(path.parent),
            "dataset": res["dataset"].get("spec"), "split": str(res["split"].get("fingerprint", ""))[:12],
            "pipelines": list(dict.fromkeys(j["pipeline"] for j in jobs)),
            "seeds": sorted({j["seed"] for j in jobs}), "medbench": res.get("medbench_version"),
            "created": res.get("created"), "updated": (res.get("baseline") or {}).get("updated"),
            "tolerances": (path.parent / "tolerances.toml").is_file(),
            "size_kb": round(path.stat().st_size / 1024),
        })
    return out


def find(name: str, store: str | Path | None = None) -> Path | None:
    """The baseline folder called ``name``: in the store, else shipped with medbench; None if neither."""
    if not NAME_RE.match(name):
        return None
    stored = store_dir(store) / name
    if (stored / "results.json").is_file():
        return stored
    return packaged.baseline(name)


def shipped_names() -> list[str]:
    return packaged.baseline_names()


def known(store: str | Path | None = None) -> str:
    """The baseline names there are, for an error message: ``a, b (in DIR); c (shipped with medbench)``."""
    root = store_dir(store)
    mine = sorted(p.parent.name for p in root.glob("*/results.json")) if root.is_dir() else []
    shipped = [n for n in packaged.baseline_names() if n not in mine]
    parts = [f"{', '.join(mine)} (in {root})" if mine else f"none in {root}"]
    if shipped:
        parts.append(f"{', '.join(shipped)} (shipped with medbench)")
    return "; ".join(parts)


def resolve(arg: str | Path, store: str | Path | None = None) -> Path:
    """A results folder/file path as given, or else the baseline of that name (store, then shipped).
    A bare name that is neither raises a one-line error listing the known baselines."""
    path = Path(arg)
    if path.exists():
        return path
    found = find(str(arg), store)
    if found is not None:
        return found
    if NAME_RE.match(str(arg)) and path.suffix != ".json":
        raise MedbenchError(f"{arg} is neither a results folder nor a baseline name; baselines: "
                            f"{known(store)}")
    return path  # results.load() explains what is missing
