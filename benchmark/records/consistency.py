"""Cross-field checks of results.json's ``external`` and ``robustness`` blocks, after schema validation.

A file can match the schema and still contradict itself; the report would then fail on a missing key.
Checked here (each a one-line ``MedbenchError`` naming the field):

* ``external[i].jobs`` is not empty, names each job once, and every job is a successful job of the run;
* ``external[i].internal_order`` / ``external_order`` name pipelines of that block's jobs, each once;
* ``robustness.pipelines`` name pipelines of the run, each once, and every pipeline's ``curves`` has an
  entry for every corruption in ``robustness.corruptions`` (names unique), no corruption more;
"""

from __future__ import annotations

from typing import Any

from medbench.records import schemas


def _dupe(items: list[Any]) -> Any:
    seen: set[Any] = set()
    return next((x for x in items if x in seen or seen.add(x)), None)


def check_blocks(results: dict[str, Any], source: str) -> None:
    """Raise ``MedbenchError("<source>: <field>: <problem>")`` for the first contradiction (see module doc)."""
    ok = {(j["pipeline"], j["seed"]) for j in results["jobs"] if j["status"] == "ok"}
    run_pipelines = {p for p, _ in ok}
    for i, block in enumerate(results.get("external") or []):
        where = ["external", i]
        jobs = block["jobs"]
        if not jobs:
            raise schemas.fail(source, [*where, "jobs"], "is empty: an external block scores at least one job")
        pairs = [(j["pipeline"], j["seed"]) for j in jobs]
        if (d := _dupe(pairs)) is not None:
            raise schemas.fail(source, [*where, "jobs"], f"lists pipeline {schemas.short(d[0])} seed {d[1]} twice")
        stray = next((k for k, p in enumerate(pairs) if p not in ok), None)
        if stray is not None:
            raise schemas.fail(source, [*where, "jobs", stray], f"pipeline {schemas.short(pairs[stray][0])} seed "
                               f"{pairs[stray][1]} is not a successful job of this run")
        pipelines = {p for p, _ in pairs}
        for key in ("internal_order", "external_order"):
            order = block.get(key) or []
            bad = next((k for k, p in enumerate(order) if p not in pipelines), None)
            if bad is not None:
                raise schemas.fail(source, [*where, key, bad], f"{schemas.short(order[bad])} is not a pipeline "
                                   f"of this block's jobs")
            if (d := _dupe(order)) is not None:
                raise schemas.fail(source, [*where, key], f"names {schemas.short(d)} twice")
    block = results.get("robustness")
    if block is None:
        return
    names = [c["name"] for c in block["corruptions"]]
    if (d := _dupe(names)) is not None:
        raise schemas.fail(source, ["robustness", "corruptions"], f"names {schemas.short(d)} twice")
    listed = [p["pipeline"] for p in block["pipelines"]]
    if (d := _dupe(listed)) is not None:
        raise schemas.fail(source, ["robustness", "pipelines"], f"lists {schemas.short(d)} twice")
    for k, p in enumerate(block["pipelines"]):
        where = ["robustness", "pipelines", k]
        if p["pipeline"] not in run_pipelines:
            raise schemas.fail(source, [*where, "pipeline"], f"{schemas.short(p['pipeline'])} is not a pipeline "
                               f"with a successful job in this run")
        missing = [n for n in names if n not in p["curves"]]
        if missing:
            raise schemas.fail(source, [*where, "curves"], f"has no curve for corruption "
                               f"{schemas.short(missing[0])} (one per entry of robustness.corruptions)")
        extra = [n for n in p["curves"] if n not in names]
        if extra:
            raise schemas.fail(source, [*where, "curves", extra[0]], "is not one of robustness.corruptions")
