"""medbench's suite API: ``run_suite`` (every dataset of a suite file, then the analysis across them)
and ``report_suite`` (rebuild the suite report from the datasets' results.json files alone).

A suite's output folder holds one ordinary results folder per dataset (``OUT/<dataset name>/``,
written by :func:`medbench.api.run`, so each (dataset, pipeline, seed) job is keyed, atomic and
resumed like any run), plus ``suite.json`` (the suite as run, each dataset's status, the analysis of
:mod:`medbench.running.suitefile`), ``suite.md``, ``suite.html`` and ``figures/cd.png``::

    import medbench.api_suite as suites
    doc = suites.run_suite("suites/smoke.toml", out="results/smoke")
    doc["analysis"]["verdict"]            # plain-language conclusions
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from medbench import api
from medbench.core import outdir
from medbench.core.atomic import read_json, write_json
from medbench.core.errors import MedbenchError
from medbench.core.warn import routed, warn
from medbench.evaluation import across as suite_analysis
from medbench.models import registry
from medbench.records import results as results_mod
from medbench.records import schemas
from medbench.reports.suite import write_suite_report
from medbench.running import engine
from medbench.running import suitefile as suite_mod
from medbench.running.config import RunConfig

__all__ = ["SUITE_JSON", "dataset_config", "is_suite_dir", "report_suite", "run_suite"]

SUITE_JSON = "suite.json"


def _stderr(line: str) -> None:
    tqdm.write(line, file=sys.stderr)  # between progress bars, never through them


def _check_pipelines(suite: suite_mod.Suite) -> None:
    """Every dataset's pipelines and options known and valid before the first dataset runs."""
    for i, ds in enumerate(suite.datasets):
        try:
            specs = registry.resolve(ds.pipelines)
            registry.validate_options(specs, ds.options)
        except MedbenchError as exc:
            raise schemas.fail(suite.file, ["datasets", i], f"{ds.name}: {exc}") from None


def drop_idle_options(suite: suite_mod.Suite) -> dict[str, list[str]]:
    """Drop, from every dataset of ``suite``, the suite file's options for pipelines that dataset does not
    run (e.g. ``[suite.options.hog-xgboost]`` under ``--pipelines majority hog-svm``): they are the file's,
    not the user's, so they do nothing rather than refuse the run. Returns ``{dataset: ["PIPE.KEY", ...]}``
    of what was dropped (recorded in suite.json and said on stderr)."""
    dropped: dict[str, list[str]] = {}
    for ds in suite.datasets:
        running = {spec.name for spec in registry.resolve(ds.pipelines)}
        idle = {p: kv for p, kv in ds.options.items() if p not in running}
        if idle:
            dropped[ds.name] = [f"{p}.{k}" for p, kv in idle.items() for k in kv]
            ds.options = {p: kv for p, kv in ds.options.items() if p in running}
    return dropped


def dataset_config(suite: suite_mod.Suite, ds: suite_mod.SuiteDataset, out: Path, **overrides: Any) -> RunConfig:
    """The :class:`RunConfig` of one dataset of ``suite`` (``overrides``: RunConfig fields set for every dataset,
    e.g. ``pipelines``, ``seeds``, ``n_jobs``, ``scheduler`` from the command line)."""
    return RunConfig(dataset=ds.dataset, out=out, **ds.settings,
                     bootstrap_resamples=suite.bootstrap_resamples).replace(**overrides)


def run_suite(suite_file: str | Path, out: str | Path | None = None, *, log: Callable[[str], None] | None = _stderr,
              **overrides: Any) -> dict[str, Any]:
    """Run every dataset of ``suite_file`` into ``out/<dataset name>/`` (default out:
    ``results/<suite name>``), then write ``suite.json`` and the suite report (suite.md, suite.html,
    figures/cd.png); returns the suite.json document.

    ``overrides`` are :class:`~medbench.running.config.RunConfig` fields that replace the suite file's for every
    dataset (``pipelines``, ``seeds``, ``fresh``, ``n_jobs``, ``bootstrap_seed``, ``save_models``, ...).
    Finished jobs are reused (``fresh=True`` runs everything again). A dataset that cannot be run
    (e.g. its files are missing) is recorded as failed and the others go on; its error is in
    ``doc["datasets"]`` and the report. ``scheduler`` / ``gpu_resource`` send the jobs to Dask workers as
    in :func:`medbench.api.run`: one Dask client (and, for ``processes:N``, one cluster) serves every dataset.
    """
    with routed(log):
        return _run_suite(suite_file, out, log, {k: v for k, v in overrides.items() if v is not None})


def _run_suite(suite_file: str | Path, out: str | Path | None, log: Callable[[str], None] | None,
               overrides: dict[str, Any]) -> dict[str, Any]:
    suite = suite_mod.load(suite_file)
    for key in ("pipelines", "seeds"):  # the command line's --pipelines / --seeds replace the file's
        if key in overrides:
            for ds in suite.datasets:
                setattr(ds, key, list(overrides[key]))
    suite_mod.check_paths(suite)
    _check_pipelines(suite)
    dropped = drop_idle_options(suite)
    for name, keys in dropped.items():
        warn(f"{name}: options for pipelines not in this run dropped: {', '.join(keys)}")
    outdir.check_given(out)
    out_dir = outdir.prepare(Path(out) if out else Path("results") / suite.name)
    RunConfig(**{k: v for k, v in overrides.items() if k not in ("pipelines", "seeds")})  # bad values: before work
    statuses: list[dict[str, Any]] = []
    runs: list[tuple[str, dict[str, Any]]] = []
    failed: dict[str, str] = {}
    with outdir.lock(out_dir), engine.client_for(overrides.get("scheduler")) as client:
        for i, ds in enumerate(suite.datasets, 1):
            if log:
                log(f"medbench suite {suite.name}: dataset {i}/{len(suite.datasets)}: {ds.name} ({ds.dataset})")
            try:
                cfg = dataset_config(suite, ds, out_dir / ds.name, **overrides)
                res = api.run_config(cfg, log=log, client=client,
                                     command=f"medbench suite {suite.file} (dataset {ds.name})")
            except MedbenchError as exc:
                failed[ds.name] = str(exc)
                statuses.append({"name": ds.name, "status": "error", "results": f"{ds.name}/results.json",
                                 "error": str(exc)})
                if log:
                    log(f"medbench: error: {ds.name}: {exc}")
                continue
            runs.append((ds.name, res.data))
            statuses.append({"name": ds.name, "status": "ok", "results": f"{ds.name}/results.json",
                             "failed_jobs": len(res.failed),
                             **({"dropped_options": dropped[ds.name]} if ds.name in dropped else {})})
        return _write(suite, runs, failed, statuses, out_dir, log)


def _write(suite: suite_mod.Suite, runs, failed, statuses, out_dir: Path,
           log: Callable[[str], None] | None = _stderr) -> dict[str, Any]:
    analysis = suite_analysis.analyse(runs, metric=suite.metric, alpha=suite.alpha, failed=failed)
    with routed(log):
        for dup in analysis["duplicates"]:
            warn(suite_analysis.duplicate_note(dup))
    doc = suite_analysis.document(suite, analysis, statuses)
    with outdir.guarded(out_dir):
        write_json(out_dir / SUITE_JSON, doc)
        write_suite_report(doc, out_dir)
    return doc


def is_suite_dir(path: str | Path) -> bool:
    """True for a suite's output folder (it holds suite.json), for ``medbench report``."""
    return (Path(path) / SUITE_JSON).is_file()


def _read_suite_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, "suite results file", cap="results")
    except (OSError, ValueError, RecursionError) as exc:
        raise MedbenchError(f"{path} is not readable JSON ({exc}): run the suite again to rewrite it") from None
    if not isinstance(data, dict) or data.get("schema") != suite_analysis.SCHEMA:
        raise MedbenchError(f"{path} is not a medbench suite file (no \"schema\": \"{suite_analysis.SCHEMA}\")")
    schemas.validate(data, suite_analysis.SUITE_JSON_SCHEMA, str(path))
    return data


def report_suite(suite_dir: str | Path) -> Path:
    """Rebuild suite.json's analysis, suite.md, suite.html and figures/cd.png of ``suite_dir`` from the
    datasets' results.json files alone (the suite's settings and dataset order come from suite.json);
    returns suite.md's path."""
    suite_dir = Path(suite_dir)
    if not suite_dir.is_dir():
        raise MedbenchError(f"{suite_dir} is not a folder: pass a suite's output folder (it holds {SUITE_JSON})")
    if not is_suite_dir(suite_dir):
        raise MedbenchError(f"{suite_dir} has no {SUITE_JSON}: not a suite folder (run `medbench suite FILE` "
                            f"first, or pass a results folder to `medbench report`)")
    stored = _read_suite_json(suite_dir / SUITE_JSON)
    suite = suite_mod.suite_from_dict(stored["suite"])
    runs, failed, statuses = [], {}, []
    for entry in stored["datasets"]:
        path = suite_dir / entry["name"] / "results.json"
        if path.is_file():
            runs.append((entry["name"], results_mod.load(path)))
            statuses.append({**entry, "status": "ok"} if entry["status"] == "ok" else
                            {"name": entry["name"], "status": "ok", "results": entry["results"]})
        else:
            error = entry.get("error") or f"{path} is missing"
            failed[entry["name"]] = error
            statuses.append({"name": entry["name"], "status": "error", "results": entry["results"], "error": error})
    with outdir.lock(suite_dir):
        _write(suite, runs, failed, statuses, suite_dir)
    return suite_dir / "suite.md"
