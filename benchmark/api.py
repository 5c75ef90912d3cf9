"""medbench's Python API: ``run``, ``load_results``, ``compare`` and ``report``.

The command line (:mod:`medbench.cli`) is a thin layer over these functions: it parses arguments,
calls them and prints. A notebook uses them directly::

    import medbench
    res = medbench.run("pneumoniamnist", pipelines=["hog-svm", "majority"], out="results/demo")
    res.leaderboard()                 # rows: pipeline, family, seeds, mean accuracy, ROC-AUC, ...
    res.jobs_table()                  # one row per (pipeline, seed) job, in the same order
    medbench.report(res)              # report.md / report.html / figures/ in res.path
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from medbench.audit import run as audit_run
from medbench.core import outdir, quiet
from medbench.core.atomic import write_bytes, write_json, write_text
from medbench.core.errors import Interrupted, MedbenchError
from medbench.core.profiling import environment
from medbench.core.version import __version__
from medbench.core.warn import routed, warn
from medbench.datasets import groups as audit_groups
from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split, load_manifest, make_split, save_manifest
from medbench.evaluation import gate as regression
from medbench.evaluation import protocol
from medbench.evaluation import section as evaluation
from medbench.evaluation import tolerances as tolerances_mod
from medbench.metrics import HEADLINE
from medbench.models import persist, profiles, registry
from medbench.records import results as results_mod
from medbench.records import view
from medbench.reports import compare as compare_report
from medbench.reports import export as export_report
from medbench.reports import history as history_render
from medbench.reports import model_card
from medbench.reports.build import write_report
from medbench.reports.figures import SAMPLES, save_samples
from medbench.reports.progress import JobProgress
from medbench.running import engine, runner
from medbench.running import gallery as gallery_mod
from medbench.running import predict as predict_mod
from medbench.running.config import DatasetSpec, RunConfig, parse_options
from medbench.running.predict import load_model
from medbench.running.protocols import THRESHOLD_RULE
from medbench.running.runner import Job
from medbench.shift import plan as shift_mod
from medbench.stores import baseline, cacheinfo, history

__all__ = ["Results", "RunConfig", "DatasetSpec", "compare", "load_results", "report", "run", "run_config",
           "parse_options"]


@dataclass
class Results:
    """A run's results: the validated results.json document (``data``) and the folder it lives in."""

    data: dict[str, Any]
    path: Path | None = None

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return self.data["jobs"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [j for j in self.jobs if j["status"] != "ok"]

    @property
    def exit_status(self) -> int:
        """0 when every job ran, 1 when any failed (the CLI's exit status)."""
        return 1 if self.failed else 0

    def leaderboard(self) -> list[dict[str, Any]]:
        """One dict per pipeline, best first by the one ranking rule (:func:`medbench.evaluation.section.rank_key`
        on the means over the seeds: ROC-AUC, then balanced accuracy, then name) - the order of the report
        and the CLI. Each metric is the mean over the pipeline's seeds (``<metric>_sd``: their sd, None for
        one seed); ``seeds`` lists them. :meth:`jobs_table` has one row per job."""
        rows = []
        for g in self.statistics()["pipelines"]:
            row: dict[str, Any] = {"pipeline": g["name"], "family": g["family"], "seeds": list(g["seeds"])}
            for m in HEADLINE:
                if m in g["metrics"]:
                    row[m], row[f"{m}_sd"] = g["metrics"][m]["mean"], g["metrics"][m]["sd"]
            rows.append(row)
        return rows

    def jobs_table(self) -> list[dict[str, Any]]:
        """One dict per finished job: pipelines in :meth:`leaderboard` order, each pipeline's seeds in order."""
        order = {g["pipeline"]: i for i, g in enumerate(self.statistics()["pipelines"])}
        jobs = sorted(view.ok_jobs(self.data), key=lambda j: (order.get(j["pipeline"], len(order)), j["seed"]))
        return [{"pipeline": j.get("name", j["pipeline"]), "family": j.get("family"), "seed": j["seed"],
                 **{m: j["metrics"].get(m) for m in HEADLINE}} for j in jobs]

    def statistics(self) -> dict[str, Any]:
        """The CIs and paired tests: the stored section when it covers the jobs, else computed now (the
        harness computes; renderers take the result)."""
        return evaluation.statistics(self.data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def to_dataframe(self, *, published: bool = True):
        """The leaderboard as a pandas DataFrame, best first (one seed: estimate and 95% CI; several: mean
        and sd), then the published rows for the test set (``published=False``: the run's rows only).
        Metrics are fractions; columns in :mod:`medbench.reports.export`. Needs pandas (``medbench[tables]``)."""
        return export_report.dataframe(self.data, self.statistics(), published=published)


def _refuse_unused_options(user: dict[str, dict[str, Any]], specs: list[registry.PipelineSpec]) -> None:
    """The user's options (not a profile's) must be for pipelines this run runs: an option that does
    nothing (``--option cnn.epochs=0`` with ``--pipelines hog-tree``) is an error, not silently ignored."""
    running = {spec.name for spec in specs}
    idle = [p for p, kv in user.items() if kv and p not in running]
    if idle:
        key = next(iter(user[idle[0]]))
        raise MedbenchError(f"--option {idle[0]}.{key}: pipeline {idle[0]!r} is not in this run "
                            f"(--pipelines {','.join(spec.name for spec in specs)}); add it to --pipelines or "
                            f"drop the option")


def resolve_options(cfg: RunConfig) -> tuple[list[registry.PipelineSpec], dict[str, dict[str, Any]]]:
    """The pipelines ``cfg`` runs and their options (the profile's under the user's), checked before any
    data is read. A profile's options for a pipeline not run do nothing; the user's own are refused."""
    opts = {k: dict(v) for k, v in cfg.user_options.items()}
    pipelines = list(cfg.pipelines)
    if cfg.profile:
        prof = profiles.get(cfg.profile)
        if pipelines == ["all"]:
            pipelines = list(prof.pipelines)
        for pipe, kv in parse_options(prof.options).items():
            opts[pipe] = {**kv, **opts.get(pipe, {})}  # the user's options win over the profile's
    specs = registry.resolve(pipelines)
    registry.validate_options(specs, opts)  # every option known and valid before any data is read
    _refuse_unused_options(cfg.user_options, specs)
    return specs, opts


def _warn_lacking_classes(split_info: dict[str, Any]) -> None:
    """Say so when the test split lacks a class: the metrics that need it are undefined, and no pipeline is
    ranked best on it (the majority floor is trivially perfect on a one-class split)."""
    test = (split_info.get("counts") or {}).get("test") or {}
    absent = [c for c, n in test.items() if not n]
    if absent:
        warn(f"the test split has no {', '.join(absent)} images: the metrics that need them (specificity or "
             f"sensitivity, ROC-AUC, ...) are undefined, accuracy is one class's recall, and no pipeline is "
             f"ranked best; use a test split holding every class")


def _stderr(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


@dataclass
class _Plan:
    ds: Dataset
    out: Path
    specs: list[registry.PipelineSpec]
    options: dict[str, dict[str, str]]
    seed_splits: dict[int, tuple[Split, str]]
    split_info: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)


def run(dataset: str | DatasetSpec | None = None, pipelines: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None, options: dict[str, dict[str, Any]] | Iterable[str] | None = None,
        out: str | Path | None = None, *, config: RunConfig | None = None, command: str | None = None,
        log: Callable[[str], None] | None = _stderr, capture_native_logs: bool = True, **settings: Any) -> Results:
    """Run ``pipelines`` x ``seeds`` on one split of ``dataset``; write results, report and figures to ``out``.

    What to run is a :class:`~medbench.running.config.RunConfig`: pass ``config=RunConfig(...)``, or its fields as
    keyword arguments (``run("folder:data/x", pipelines=["hog-svm"], image_size=64)``; given with ``config``
    they replace its fields). ``options`` maps pipeline -> ``{param: value}`` (or is a list of
    ``"PIPELINE.KEY=VALUE"`` strings); every option must name a parameter of its pipeline (see ``medbench
    pipelines``). Finished jobs in ``out`` are reused when their key and body check (``fresh=True`` ignores
    them). ``scheduler`` is ``local``, ``processes:N`` or ``tcp://HOST:PORT`` (Dask; see
    :mod:`medbench.running.engine`); ``gpu_resource`` (e.g. ``"GPU=1"``) is the Dask worker resource deep jobs ask
    for. ``save_models`` saves every fitted pipeline to ``out/models/<pipeline>__seed<N>/`` with a
    MODEL_CARD.md (no pickle; see :func:`medbench.load_model`). ``channels`` is ``auto`` (keep colour where
    the source has it), ``gray`` or ``rgb``. ``external`` (dataset specs), ``class_map`` (``"SRC=DST"`` strings)
    and ``robustness`` (``True`` / ``"medbench"`` or ``"medmnist-c"``, :mod:`medbench.shift.presets`) score every
    fitted pipeline on external sets and on corrupted copies of the test split (results.json's ``external`` and
    ``robustness`` blocks; :mod:`medbench.shift.plan`).

    ``log`` receives one line per job (``None``: silent). Library noise (TensorFlow's C++ log lines) goes to
    ``out/medbench.log``. Returns the :class:`Results`; failed pipelines are in ``Results.failed``.
    """
    given = {k: v for k, v in (("dataset", dataset), ("pipelines", pipelines), ("seeds", seeds),
                               ("options", options), ("out", out)) if v is not None}
    cfg = config.replace(**given, **settings) if config is not None else RunConfig(**given, **settings)
    return run_config(cfg, command=command, log=log, capture_native_logs=capture_native_logs)


def run_config(cfg: RunConfig, *, command: str | None = None, log: Callable[[str], None] | None = _stderr,
               capture_native_logs: bool = True, client: Any = None) -> Results:
    """:func:`run` for a built :class:`RunConfig` (``client``: a Dask client to reuse, e.g. a suite's).
    Warnings (:func:`medbench.core.warn.warn`) go to ``log`` while it runs (``None``: silent)."""
    with routed(log):
        return _run_config(cfg, command=command, log=log, capture_native_logs=capture_native_logs, client=client)


def _run_config(cfg: RunConfig, *, command: str | None, log: Callable[[str], None] | None,
                capture_native_logs: bool, client: Any) -> Results:
    specs, opts = resolve_options(cfg)
    outdir.check_given(cfg.out)
    ds = load_dataset(cfg.dataset_spec, n_jobs=None if cfg.n_jobs == -1 else cfg.n_jobs)
    if cfg.protocol == "medmnist" and ds.official_split is None:
        raise MedbenchError(f"--protocol medmnist needs the dataset's official split; {cfg.dataset_text} has none "
                            f"(use a MedMNIST set, an npz with train_/val_/test_ arrays or a folder with train/ and "
                            f"test/), or drop --protocol")
    ds = audit_groups.regroup(ds, cfg.groups, cfg.group_pattern)  # --groups / --group-pattern
    shift = shift_mod.prepare(cfg, ds, n_jobs=None if cfg.n_jobs == -1 else cfg.n_jobs)  # external sets loaded here
    out_dir = outdir.prepare(Path(cfg.out) if cfg.out else Path("results") / ds.name)
    with outdir.lock(out_dir), quiet.native_output_to(out_dir / "medbench.log", enabled=capture_native_logs):
        plan = _plan(ds, out_dir, specs, opts, cfg, log=log, shift=shift)
        shift_mod.refuse_fitted_images(shift, ds, [s for s, _ in plan.seed_splits.values()])  # --external
        _warn_lacking_classes(plan.split_info)
        plan.config = cfg.record([p.name for p in specs], opts)
        res = _run_jobs(plan, cfg, command=command or _command(cfg.dataset_text), log=log, client=client,
                        shift=shift)
        # CIs and paired tests once, at the end (`medbench report` reuses them: same report, byte for byte).
        data = evaluation.add_statistics(res, n_resamples=cfg.bootstrap_resamples, seed=cfg.bootstrap_seed)
        data = shift_mod.add_blocks(data, cfg.bootstrap_resamples, cfg.bootstrap_seed)  # --external/--robustness
        data["audit"] = plan.audit  # medbench.audit: groups, near-duplicates, shortcuts (before any fit)
        with outdir.guarded(out_dir):
            results_mod.write(data, out_dir)
            write_report(data, out_dir)
        if cfg.save_models:
            _write_model_cards(data, out_dir, log)
    return Results(data, out_dir)


def _write_model_cards(data: dict[str, Any], out_dir: Path, log) -> None:
    cis = (data.get("statistics") or {}).get("jobs") or {}
    for job in view.ok_jobs(data):
        saved = job.get("saved_model")
        if not saved or saved.startswith("not saved"):
            if saved:
                warn(f"{job['job_id']}: model {saved}")
            continue
        ci = (cis.get(job["job_id"]) or {}).get("metrics_ci")
        with outdir.guarded(out_dir):
            write_model_card(out_dir / saved, record=job, metrics_ci=ci)


def write_model_card(folder: str | Path, *, record: dict[str, Any] | None = None,
                     metrics_ci: dict[str, Any] | None = None) -> Path:
    """Render the card of the saved model in ``folder`` (verified first) and add it as MODEL_CARD.md."""
    folder = Path(folder)
    manifest, meta = persist.read_model(folder)
    listed = {k: v for k, v in manifest["files"].items() if k != persist.CARD}
    size = sum(int(e["bytes"]) for e in listed.values())
    text = model_card.render(model_card.facts(meta, record=record, metrics_ci=metrics_ci, size_bytes=size,
                                              n_files=len(listed)))
    return persist.write_document(folder, persist.CARD, text)


def _command(dataset: str) -> str:
    return f"medbench.run({dataset!r})"


def _plan(ds: Dataset, out: Path, specs, opts, cfg: RunConfig, *, log, shift=None) -> _Plan:
    seeds = list(cfg.seeds)
    if cfg.split_manifest:
        split = load_manifest(ds, Path(cfg.split_manifest))
    else:
        split = make_split(ds, seed=seeds[0] if cfg.resplit_per_seed else cfg.split_seed,
                           val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
    with outdir.guarded(out):  # may drop near-duplicates (--dedupe); draws example pairs under OUT/audit/
        split, audit = audit_run.before_fit(ds, split, cfg, shift, log, out_dir=out)
    manifest = split.manifest(ds)
    with outdir.guarded(out):
        save_manifest(ds, split, out / "split.json")
    _save_samples(ds, split, out, log)
    if log:
        log(f"medbench {__version__}: {ds.title} ({len(ds)} images, {ds.n_classes} classes), split "
            f"{manifest['fingerprint'][:12]} ({split.method}); train {len(split.train)} / val {len(split.val)} / "
            f"test {len(split.test)}; results in {out}")
    split_info = {k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")}
    split_info["manifest"] = "split.json"
    seed_splits = {seed: (split, manifest["fingerprint"]) for seed in seeds}
    if cfg.resplit_per_seed:
        seed_splits = _resplit(ds, seeds, out, split_info, cfg.val_fraction, cfg.test_fraction, log)
    return _Plan(ds, out, specs, opts, seed_splits, split_info, audit=audit)


def _run_jobs(plan: _Plan, cfg: RunConfig, *, command: str, log, client: Any = None,
              shift: shift_mod.Shift | None = None) -> dict[str, Any]:
    seeds, n_jobs = list(cfg.seeds), cfg.n_jobs
    env = environment()
    rule = THRESHOLD_RULE[cfg.protocol]
    jobs = [Job(p.name, seed, plan.options.get(p.name, {}), rule) for p in plan.specs for seed in seeds]
    planned = [runner.plan_job(plan.ds, plan.seed_splits[j.seed][0], j, plan.out, n_jobs,
                               plan.seed_splits[j.seed][1], reuse=not cfg.fresh, save_models=cfg.save_models,
                               gallery=cfg.gallery, shift=shift)
               for j in jobs]
    records: dict[str, dict[str, Any]] = {}
    state: dict[str, Any] = {"res": {}}

    def record_done(p: runner.Planned, rec: dict[str, Any]) -> None:
        records[p.job.job_id] = rec
        bar.finished(rec)  # "[3/8] NAME seed S: ..." on the terminal and in medbench.log
        ordered = [records[j.job_id] for j in jobs if j.job_id in records]
        state["res"] = results_mod.assemble(
            config=plan.config, dataset=plan.ds.card(), split=plan.split_info, environment=env,
            jobs=[{k: v for k, v in r.items() if k != "cache_reason"} for r in ordered], command=command)
        # after every job: an interrupted run keeps a readable partial result
        with outdir.guarded(plan.out):
            results_mod.write(state["res"], plan.out)

    ref = engine.DatasetRef(cfg.dataset_spec, plan.ds.fingerprint)
    n_cached = sum(p.cached is not None for p in planned)
    with JobProgress(len(jobs), log=log, log_file=plan.out / "medbench.log", cached=n_cached) as bar:
        for p in planned:
            if p.cached is not None:
                record_done(p, {**p.cached, "cached": True, "cache_reason": p.reason})
        todo = [(plan.seed_splits[p.job.seed][0], p) for p in planned if p.cached is None]

        def finished(p: runner.Planned, rec: dict[str, Any]) -> None:
            with outdir.guarded(plan.out):
                rec = runner.finish(rec, p, plan.out)
            record_done(p, rec)

        try:
            engine.run(todo, plan.ds, ref, finished,
                       scheduler=cfg.scheduler, n_jobs=n_jobs, deep_resources=cfg.deep_resources, client=client)
        except KeyboardInterrupt:
            raise Interrupted([j.job_id for j in jobs if j.job_id not in records]) from None
    return state["res"]


def _save_samples(ds: Dataset, split: Split, out: Path, log) -> None:
    """figures/samples.png (needs the pixels, so only `run` can draw it); a failure only warns."""
    try:
        save_samples(ds, split, out / "figures" / SAMPLES)
    except Exception as exc:  # noqa: BLE001 - a figure must never cost a benchmark run
        warn(f"could not draw {SAMPLES}: {type(exc).__name__}: {exc}")


def _resplit(ds: Dataset, seeds: list[int], out: Path, split_info: dict[str, Any], val_fraction: float,
             test_fraction: float, log) -> dict[int, tuple[Split, str]]:
    """Resplit per seed: seed S runs on ``make_split(seed=S)``, saved as OUT/split-seedS.json and listed
    in ``split_info["per_seed"]``; returns ``{seed: (split, fingerprint)}``."""
    seed_splits: dict[int, tuple[Split, str]] = {}
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        split = make_split(ds, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
        manifest = split.manifest(ds)
        name = f"split-seed{seed}.json"
        with outdir.guarded(out):
            save_manifest(ds, split, out / name)
        seed_splits[seed] = (split, manifest["fingerprint"])
        per_seed[str(seed)] = {k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")}
        per_seed[str(seed)]["manifest"] = name
    split_info["per_seed"] = per_seed
    if len({fp for _, fp in seed_splits.values()}) == 1:
        note = ("--resplit-per-seed: this dataset's split is entirely official (nothing is carved), so every seed "
                "has the same split")
        split_info["notes"] = [*split_info.get("notes", []), note]
        if log:
            log(f"medbench: note: {note}")
    return seed_splits


def load_results(path: str | Path) -> Results:
    """Read and validate a results.json (or the folder holding one)."""
    path = Path(path)
    return Results(results_mod.load(path), path if path.is_dir() else path.parent)


def report(results: Results | str | Path, out: str | Path | None = None) -> Path:
    """(Re)write report.md, report.html and figures/ from results alone; returns report.md's path."""
    res = results if isinstance(results, Results) else load_results(results)
    target = Path(out) if out else res.path
    if target is None:
        raise MedbenchError("report: these results have no folder; pass out=FOLDER")
    target = outdir.prepare(target)
    data = res.data
    with outdir.lock(target), outdir.guarded(target):  # a run still writing there holds the lock: refused
        if view.unfinished_blocks(data):  # killed in its final phase: the blocks rebuilt, with its own settings
            config = data.get("config") or {}
            data = shift_mod.add_blocks(data, config.get("bootstrap_resamples", protocol.BOOTSTRAP_RESAMPLES),
                                        config.get("bootstrap_seed", protocol.BOOTSTRAP_SEED))
        stats = evaluation.statistics(data)  # computed here (harness), never by the renderer
        if res.path is not None:
            data = _checked_galleries(data, res.path)
        return write_report(data, target, stats=stats)


def _checked_galleries(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``data`` with each job's gallery marked ``unavailable`` (and why) where its pictures are missing from
    ``folder`` or differ from the SHA-256 the record lists: a rebuilt report never links a missing or swapped
    picture. The stored results.json is not changed."""
    jobs, changed = [], False
    for job in data["jobs"]:
        g = job.get("gallery")
        problem = gallery_mod.intact(folder, g) if isinstance(g, dict) and g.get("sha256") else None
        if problem:
            job = {**job, "gallery": {**g, "unavailable": problem.removeprefix("its ")}}
            changed = True
        jobs.append(job)
    return {**data, "jobs": jobs} if changed else data


def export(results: Results | str | Path, fmt: str, out: str | Path | None = None) -> Path:
    """Write the run's leaderboard with CIs and the published rows as ``fmt`` (csv, latex, parquet) to
    ``out`` (default: ``export.csv`` / ``export.tex`` / ``export.parquet`` in the results folder)."""
    if fmt not in export_report.FORMATS:
        raise MedbenchError(f"--format {fmt!r} is not one of {', '.join(export_report.FORMATS)}")
    res = results if isinstance(results, Results) else load_results(results)
    stats = evaluation.statistics(res.data)
    suffix = {"csv": ".csv", "latex": ".tex", "parquet": ".parquet"}[fmt]
    if out is None and res.path is None:
        raise MedbenchError("export: these results have no folder; pass out=FILE")
    target = Path(out) if out else res.path / f"export{suffix}"
    if fmt == "parquet":
        return write_bytes(target, export_report.to_parquet(res.data, stats))
    text = export_report.to_csv(res.data, stats) if fmt == "csv" else export_report.to_latex(res.data, stats)
    return write_text(target, text)


def compare(base: Results | str | Path, new: Results | str | Path, *, tolerances: str | Path | None = None,
            force: bool = False, runtime: bool = True, significant_only: bool = False,
            store: str | Path | None = None, force_runtime: bool = False) -> dict[str, Any]:
    """Judge NEW against BASE (a results folder/file, a stored baseline name, or :class:`Results`).

    ``tolerances`` is a TOML file (default: the one beside BASE's results.json, else built-in defaults).
    Returns the comparison document (``exit_status`` 0: no regression, 1: regression; see ``medbench compare``).
    """
    base_res, base_label = _resolve(base, store)
    new_res, new_label = _resolve(new, store)
    tol_path = Path(tolerances) if tolerances else (
        tolerances_mod.find_for(base_res.path / "results.json") if base_res.path else None)
    tol = tolerances_mod.load(tol_path) if tol_path else tolerances_mod.defaults()
    if significant_only:
        tol.mode = "significant"
        for rules in tol.pipelines.values():
            rules.mode = None
    return regression.compare(regression.with_statistics(base_res.data), regression.with_statistics(new_res.data),
                              tol, force=force, runtime=runtime, base_label=base_label, new_label=new_label,
                              force_runtime=force_runtime)


def save_compare(report: dict[str, Any], new: Results | str | Path, *, json: str | Path | None = None,
                 markdown: str | Path | None = None, store: str | Path | None = None) -> list[Path]:
    """Write :func:`compare`'s document as compare.json (default: beside NEW's results.json) and, with
    ``markdown``, the markdown report (a PR comment); returns the paths written."""
    if json is None:
        new_path = new.path if isinstance(new, Results) and new.path else baseline.resolve(str(new), store)
        json = (new_path if Path(new_path).is_dir() else Path(new_path).parent) / "compare.json"
    written = [write_json(Path(json), report)]
    if markdown:
        written.append(write_text(Path(markdown), compare_report.markdown_report(report)))
    return written


# --- baselines, history, saved models, caches: the rest of the command line's front door -------------

def baseline_update(results: str | Path, name: str | None = None, store: str | Path | None = None) -> Path:
    """Store a finished run as baseline ``name`` (default ``<dataset>-<profile>``); returns its results.json."""
    return baseline.update(results, name, store)


def baseline_store(store: str | Path | None = None) -> Path:
    """The baseline store folder: ``store``, else $MEDBENCH_BASELINES, else ./baselines."""
    return baseline.store_dir(store)


def baselines(store: str | Path | None = None) -> list[dict[str, Any]]:
    """The stored baselines (one dict each: name, dataset, split, pipelines, seeds, ...)."""
    return baseline.entries(store)


def shipped_baselines() -> list[str]:
    """The names of the baselines shipped with medbench (package data), e.g. ``["pneumoniamnist-fast"]``."""
    return baseline.shipped_names()


def load_baseline(name: str, store: str | Path | None = None) -> Results:
    """The baseline ``name`` (from the store, else shipped with medbench) as :class:`Results` (a one-line
    error listing the known names)."""
    path = baseline.find(name, store)
    if path is None:
        raise MedbenchError(f"no baseline {name!r}; baselines: {baseline.known(store)}")
    return load_results(path)


def history_add(run: str | Path, store: str | Path | None = None, commit: str | None = None) -> dict[str, Any]:
    """File a finished run in the history store under its machine and code version."""
    return history.add(run, store, commit)


def history_report(store: str | Path | None = None, out: str | Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Analyse the history store and write history.md / history.html / figures (default out:
    ``<store>/report``); returns (analysis, what was written). A figure that fails only warns."""
    root = history.store_dir(store)
    analysis = history.analyse(root)
    written = history_render.write(analysis, Path(out) if out else root / "report")
    for failure in written["figure_failures"]:
        warn(f"figure not drawn: {failure}")
    return analysis, written


def predict_images(model: str | Path, images: Sequence[str | Path], *, n_jobs: int | None = None,
                   max_pixels: int | None = None) -> tuple[Any, list[dict[str, Any]], str]:
    """Load the saved model in ``model`` (verified) and predict ``images`` (files or folders); returns
    (the model, one row per image, the CSV text). Library-version notes and unreadable images warn."""
    saved = load_model(model)
    for warning in saved.warnings:
        warn(warning)
    rows = predict_mod.predict_files(saved, images, n_jobs=n_jobs, max_pixels=max_pixels)
    for r in rows:
        if r["status"] != predict_mod.OK:
            warn(f"cannot predict {r['path']}: {r['status'].removeprefix('error: ')}")
    return saved, rows, predict_mod.predictions_csv(saved, rows)


def cache_info(out: str | Path | None = None) -> dict[str, Any]:
    """The shared cache's entries (and, with ``out``, that results folder's job records), each with
    whether it is current: ``{"location", "entries", "jobs"}``."""
    return {"location": cacheinfo.location(), "entries": cacheinfo.store_entries(),
            "stale_temporaries": cacheinfo.stale_temporaries(),
            "jobs": cacheinfo.job_entries(Path(out)) if out is not None else None}


def _resolve(obj: Results | str | Path, store: str | Path | None) -> tuple[Results, str]:
    if isinstance(obj, Results):
        return obj, str(obj.path or "<results>")
    path = baseline.resolve(str(obj), store)
    return load_results(path), str(path)


def command_line(argv: Sequence[str]) -> str:
    """The command as the user typed it, for results.json and the report."""
    return "medbench " + " ".join(shlex.quote(a) for a in argv) if argv else "medbench run"
