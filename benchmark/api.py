"""medbench's Python API: ``run``, ``load_results``, ``compare`` and ``report``.

The command line (:mod:`medbench.cli`) is a thin layer over these functions: it parses arguments,
calls them and prints. A notebook uses them directly::

    import medbench
    res = medbench.run("pneumoniamnist", pipelines=["hog-svm", "majority"], out="results/demo")
    res.leaderboard()                 # rows: pipeline, family, seed, accuracy, ROC-AUC, ...
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

from medbench import baseline, engine, profiles, regression, runner
from medbench import results as results_mod
from medbench import tolerances as tolerances_mod
from medbench.core import outdir, quiet
from medbench.core.errors import Interrupted, MedbenchError
from medbench.core.version import __version__
from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.images import check_image_size
from medbench.metrics import HEADLINE
from medbench.models import persist, registry
from medbench.profiling import environment
from medbench.reports import model_card
from medbench.reports.build import write_report
from medbench.reports.figures import SAMPLES, save_samples
from medbench.runner import Job
from medbench.splits import Split, check_seed, load_manifest, make_split, save_manifest

__all__ = ["Results", "compare", "load_results", "report", "run", "parse_options"]


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
        """One dict per finished job, best ROC-AUC (then balanced accuracy) first."""
        rows = [{"pipeline": j.get("name", j["pipeline"]), "family": j.get("family"), "seed": j["seed"],
                 **{m: j["metrics"].get(m) for m in HEADLINE}} for j in results_mod.ok_jobs(self.data)]
        return sorted(rows, key=lambda r: (-(r.get("roc_auc") or -1.0), -(r.get("balanced_accuracy") or 0.0)))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


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


def parse_options(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["hog-svm.C=5", "cnn.epochs=3"]`` -> ``{"hog-svm": {"C": "5"}, "cnn": {"epochs": "3"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        pipe, dot, name = key.partition(".")
        if not eq or not dot or not pipe or not name:
            raise MedbenchError(f"--option {item!r} is not PIPELINE.KEY=VALUE (e.g. resnet50.weights=random)")
        out.setdefault(pipe, {})[name] = value
    return out


def _check_ranges(*, seeds: Sequence[int], split_seed: int, image_size: int | None, n_jobs: int,
                  val_fraction: float, test_fraction: float, bootstrap_resamples: int) -> None:
    dupes = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if dupes:
        raise MedbenchError(f"--seeds lists {dupes[0]} more than once; give each seed once (e.g. --seeds 0 1 2)")
    if any(s < 0 for s in seeds):
        raise MedbenchError(f"--seeds {min(seeds)}: seeds must be non-negative integers")
    check_seed(split_seed)  # the checks load_dataset / make_split make, done before any data is read
    if image_size is not None:
        check_image_size(image_size)
    if n_jobs == 0 or n_jobs < -1:
        raise MedbenchError(f"--n-jobs {n_jobs} must be a positive number of workers or -1 (all cores)")
    for frac, name in ((val_fraction, "--val-fraction"), (test_fraction, "--test-fraction")):
        if not 0 < frac < 0.5:
            raise MedbenchError(f"{name} {frac} must be between 0 and 0.5")
    if bootstrap_resamples < 1:
        raise MedbenchError(f"--bootstrap-resamples {bootstrap_resamples} must be at least 1 (default 1000)")


def _job_line(rec: dict[str, Any]) -> str:
    head = f"{rec.get('name', rec['pipeline'])} seed {rec['seed']}"
    if rec["status"] != "ok":
        return f"  {head}: ERROR {rec['error']}"
    m = rec["metrics"]
    auc = "–" if m.get("roc_auc") is None else f"{m['roc_auc']:.3f}"
    if rec.get("cached"):
        src = "cached"
    else:
        why = rec.get("cache_reason")
        src = f"{rec['wall_time_s']:.1f}s" + (f"; recomputed: {why}" if why and why != "not run before" else "")
    return f"  {head}: accuracy {m['accuracy']:.3f}, ROC-AUC {auc} ({src})"


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


def run(dataset: str = "pneumoniamnist", pipelines: Sequence[str] = ("all",), seeds: Sequence[int] = (0,),
        options: dict[str, dict[str, Any]] | Iterable[str] | None = None, out: str | Path | None = None, *,
        task: str | None = None, image_size: int | None = None, allow_missing: bool = False,
        split_seed: int = 0, split_manifest: str | Path | None = None, val_fraction: float = 0.1,
        test_fraction: float = 0.2, resplit_per_seed: bool = False, bootstrap_resamples: int = 1000,
        bootstrap_seed: int = 0, n_jobs: int = -1, fresh: bool = False, profile: str | None = None,
        command: str | None = None, log: Callable[[str], None] | None = _stderr,
        capture_native_logs: bool = True, scheduler: str | None = "local", gpu_resource: str | None = None,
        max_image_pixels: int | None = None, save_models: bool = False, channels: str = "auto") -> Results:
    """Run ``pipelines`` x ``seeds`` on one split of ``dataset``; write results, report and figures to ``out``.

    ``options`` maps pipeline -> ``{param: value}`` (or is a list of ``"PIPELINE.KEY=VALUE"`` strings); every
    option must name a parameter of its pipeline (see ``medbench pipelines``). Finished jobs in ``out`` are
    reused when their key and body check (``fresh=True`` ignores them). ``log`` receives one line per job
    (``None``: silent). Library noise (TensorFlow's C++ log lines) goes to ``out/medbench.log``.
    ``scheduler`` is ``local``, ``processes:N`` or ``tcp://HOST:PORT`` (Dask; see :mod:`medbench.engine`);
    ``gpu_resource`` (e.g. ``"GPU=1"``) is the Dask worker resource deep jobs ask for. ``save_models`` saves
    every fitted pipeline to ``out/models/<pipeline>__seed<N>/`` with a MODEL_CARD.md (no pickle; see
    :func:`medbench.load_model`). ``channels`` is ``auto`` (keep colour where the source has it), ``gray`` or
    ``rgb``.
    Returns the :class:`Results`; failed pipelines are in ``Results.failed``.
    """
    seeds = list(seeds)
    _check_ranges(seeds=seeds, split_seed=split_seed, image_size=image_size, n_jobs=n_jobs,
                  val_fraction=val_fraction, test_fraction=test_fraction, bootstrap_resamples=bootstrap_resamples)
    if resplit_per_seed and split_manifest:
        raise MedbenchError("--resplit-per-seed carves a split per seed; it cannot be combined with --split-manifest")
    option_items = list(options) if options is not None and not isinstance(options, dict) else []
    opts = parse_options(option_items) if option_items else {k: dict(v) for k, v in (options or {}).items()}
    user_opts = {k: dict(v) for k, v in opts.items()}
    pipelines = list(pipelines)
    if profile:
        prof = profiles.get(profile)
        if pipelines == ["all"]:
            pipelines = list(prof.pipelines)
        for pipe, kv in parse_options(prof.options).items():
            opts[pipe] = {**kv, **opts.get(pipe, {})}  # the user's options win over the profile's
    engine.parse(scheduler)  # a bad --scheduler is an error before any work
    deep_resources = engine.parse_resource(gpu_resource)
    outdir.check_given(out)
    specs = registry.resolve(pipelines)
    registry.validate_options(specs, opts)  # every option known and valid before any data is read
    _refuse_unused_options(user_opts, specs)
    ds = load_dataset(dataset, task=task, image_size=image_size, allow_missing=allow_missing,
                      n_jobs=None if n_jobs == -1 else n_jobs, max_image_pixels=max_image_pixels, channels=channels)
    out_dir = outdir.prepare(Path(out) if out else Path("results") / ds.name)
    with outdir.lock(out_dir), quiet.native_output_to(out_dir / "medbench.log", enabled=capture_native_logs):
        plan = _plan(ds, out_dir, specs, opts, seeds, split_seed=split_seed, split_manifest=split_manifest,
                     val_fraction=val_fraction, test_fraction=test_fraction, resplit_per_seed=resplit_per_seed,
                     log=log)
        plan.config = {
            "dataset": dataset, "task": task, "image_size": image_size, "allow_missing": allow_missing,
            "pipelines": [p.name for p in specs], "seeds": seeds, "split_seed": split_seed,
            "split_manifest": str(split_manifest) if split_manifest else None, "val_fraction": val_fraction,
            "test_fraction": test_fraction, "options": opts, "n_jobs": n_jobs, "profile": profile,
            "resplit_per_seed": resplit_per_seed, "bootstrap_resamples": bootstrap_resamples,
            "bootstrap_seed": bootstrap_seed, "scheduler": scheduler or "local", "max_image_pixels": max_image_pixels,
            "save_models": save_models, "channels": channels,
        }
        res = _run_jobs(plan, seeds, n_jobs=n_jobs, fresh=fresh, command=command or _command(dataset), log=log,
                        scheduler=scheduler, deep_resources=deep_resources, save_models=save_models)
        # CIs and paired tests once, at the end (`medbench report` reuses them: same report, byte for byte).
        data = results_mod.add_statistics(res, n_resamples=bootstrap_resamples, seed=bootstrap_seed)
        outdir.guarded_write(lambda: results_mod.write(data, out_dir), out_dir)
        outdir.guarded_write(lambda: write_report(data, out_dir), out_dir)
        if save_models:
            _write_model_cards(data, out_dir, log)
    return Results(data, out_dir)


def _write_model_cards(data: dict[str, Any], out_dir: Path, log) -> None:
    cis = (data.get("statistics") or {}).get("jobs") or {}
    for job in results_mod.ok_jobs(data):
        saved = job.get("saved_model")
        if not saved or saved.startswith("not saved"):
            if saved and log:
                log(f"medbench: warning: {job['job_id']}: model {saved}")
            continue
        ci = (cis.get(job["job_id"]) or {}).get("metrics_ci")
        outdir.guarded_write(lambda j=job, c=ci, f=out_dir / saved: write_model_card(f, record=j, metrics_ci=c),
                             out_dir)


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


def _plan(ds: Dataset, out: Path, specs, opts, seeds, *, split_seed, split_manifest, val_fraction, test_fraction,
          resplit_per_seed, log) -> _Plan:
    if split_manifest:
        split = load_manifest(ds, Path(split_manifest))
    else:
        split = make_split(ds, seed=seeds[0] if resplit_per_seed else split_seed,
                           val_fraction=val_fraction, test_fraction=test_fraction)
    manifest = split.manifest(ds)
    outdir.guarded_write(lambda: save_manifest(ds, split, out / "split.json"), out)
    _save_samples(ds, split, out, log)
    if log:
        log(f"medbench {__version__}: {ds.title} ({len(ds)} images, {ds.n_classes} classes), split "
            f"{manifest['fingerprint'][:12]} ({split.method}); train {len(split.train)} / val {len(split.val)} / "
            f"test {len(split.test)}; results in {out}")
    split_info = {k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")}
    split_info["manifest"] = "split.json"
    seed_splits = {seed: (split, manifest["fingerprint"]) for seed in seeds}
    if resplit_per_seed:
        seed_splits = _resplit(ds, seeds, out, split_info, val_fraction, test_fraction, log)
    return _Plan(ds, out, specs, opts, seed_splits, split_info)


def _run_jobs(plan: _Plan, seeds: list[int], *, n_jobs: int, fresh: bool, command: str, log,
              scheduler: str | None, deep_resources: dict[str, float], save_models: bool) -> dict[str, Any]:
    env = environment()
    jobs = [Job(p.name, seed, plan.options.get(p.name, {})) for p in plan.specs for seed in seeds]
    planned = [runner.plan_job(plan.ds, plan.seed_splits[j.seed][0], j, plan.out, n_jobs,
                               plan.seed_splits[j.seed][1], reuse=not fresh, save_models=save_models) for j in jobs]
    records: dict[str, dict[str, Any]] = {}
    state: dict[str, Any] = {"res": {}}

    def record_done(p: runner.Planned, rec: dict[str, Any]) -> None:
        records[p.job.job_id] = rec
        if log:
            log(_job_line(rec))
        bar.update(1)
        ordered = [records[j.job_id] for j in jobs if j.job_id in records]
        state["res"] = results_mod.assemble(
            config=plan.config, dataset=plan.ds.card(), split=plan.split_info, environment=env,
            jobs=[{k: v for k, v in r.items() if k != "cache_reason"} for r in ordered], command=command)
        # after every job: an interrupted run keeps a readable partial result
        outdir.guarded_write(lambda: results_mod.write(state["res"], plan.out), plan.out)

    ref = engine.DatasetRef(plan.ds.spec, plan.config.get("task"), plan.config.get("image_size"),
                            bool(plan.config.get("allow_missing")), plan.ds.fingerprint,
                            plan.config.get("max_image_pixels"), plan.config.get("channels", "auto"))
    with tqdm(total=len(jobs), desc="pipelines", unit="job", disable=None if log else True, file=sys.stderr) as bar:
        for p in planned:
            if p.cached is not None:
                record_done(p, {**p.cached, "cached": True, "cache_reason": p.reason})
        todo = [(plan.seed_splits[p.job.seed][0], p) for p in planned if p.cached is None]
        try:
            engine.run(todo, plan.ds, ref,
                       lambda p, rec: record_done(p, outdir.guarded_write(lambda: runner.finish(rec, p, plan.out),
                                                                          plan.out)),
                       scheduler=scheduler, n_jobs=n_jobs, deep_resources=deep_resources)
        except KeyboardInterrupt:
            raise Interrupted([j.job_id for j in jobs if j.job_id not in records]) from None
    return state["res"]


def _save_samples(ds: Dataset, split: Split, out: Path, log) -> None:
    """figures/samples.png (needs the pixels, so only `run` can draw it); a failure only warns."""
    try:
        save_samples(ds, split, out / "figures" / SAMPLES)
    except Exception as exc:  # noqa: BLE001 - a figure must never cost a benchmark run
        if log:
            log(f"medbench: warning: could not draw {SAMPLES}: {type(exc).__name__}: {exc}")


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
        outdir.guarded_write(lambda s=split, n=name: save_manifest(ds, s, out / n), out)
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
    return outdir.guarded_write(lambda: write_report(res.data, target), target)


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


def _resolve(obj: Results | str | Path, store: str | Path | None) -> tuple[Results, str]:
    if isinstance(obj, Results):
        return obj, str(obj.path or "<results>")
    path = baseline.resolve(str(obj), store)
    return load_results(path), str(path)


def command_line(argv: Sequence[str]) -> str:
    """The command as the user typed it, for results.json and the report."""
    return "medbench " + " ".join(shlex.quote(a) for a in argv) if argv else "medbench run"
