"""The ``medbench`` command line: run benchmarks, list datasets and pipelines, rebuild reports."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.core.version import __version__

EPILOG = """examples:
  medbench run                                   # every pipeline on PneumoniaMNIST -> results/pneumoniamnist
  medbench run --dataset folder:data/chest_xray --pipelines hog-svm cnn
  medbench run --dataset coronahack:data/coronahack --task etiology --allow-missing
  medbench run --pipelines classical baseline --seeds 0 1 2   # mean ± sd over seeds, CIs, tests
  medbench report results/pneumoniamnist        # rebuild report.md/.html and figures from results.json
environment:
  MEDBENCH_DATA_DIR   folder holding dataset files (pneumoniamnist.npz); default: user cache
  MEDBENCH_CACHE_DIR  folder for decoded images, features and embeddings; default: user cache
"""

# Modules adding sub-commands: each has ``register(subparsers)``, which adds its parser and sets
# ``handler`` (a function taking the parsed args and returning the exit status) with set_defaults.
COMMAND_MODULES: tuple[str, ...] = ("medbench.commands.compare", "medbench.commands.baseline",
                                    "medbench.commands.profiles")


def _parse_options(items: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        pipe, dot, name = key.partition(".")
        if not eq or not dot or not pipe or not name:
            raise MedbenchError(f"--option {item!r} is not PIPELINE.KEY=VALUE (e.g. resnet50.weights=random)")
        out.setdefault(pipe, {})[name] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medbench", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Benchmark classical computer-vision pipelines (HOG/SIFT + SVM, tree, XGBoost) against "
                    "deep models on identical, fingerprinted splits of medical images.")
    parser.add_argument("--version", action="version", version=f"medbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run pipelines on a dataset and write results + report",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                         description="Run every selected pipeline on the same train/val/test split; tune on "
                                     "validation only, score the test split once, write results.json, "
                                     "metrics.csv and report.md. Re-running the same command resumes: finished "
                                     "jobs are read from OUT/jobs/.")
    run.add_argument("--dataset", default="pneumoniamnist",
                     help="pneumoniamnist | folder:PATH | coronahack:PATH (see `medbench datasets`)")
    run.add_argument("--task", help="labelling for datasets with several (coronahack: pneumonia, etiology)")
    run.add_argument("--image-size", type=int, default=None,
                     help="side length path datasets are decoded to (default 224)")
    run.add_argument("--allow-missing", action="store_true",
                     help="go on without missing or unreadable image files (they are still counted and reported)")
    run.add_argument("--pipelines", nargs="+", default=["all"], metavar="NAME",
                     help="pipeline names or families (baseline, classical, deep); 'all' = every default pipeline")
    run.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="SEED",
                     help="run every pipeline once per seed (same split unless --resplit-per-seed); the "
                          "report gives mean ± sd over seeds beside the per-seed values")
    run.add_argument("--resplit-per-seed", action="store_true",
                     help="carve a new split for every seed (split seed = the seed) wherever medbench carves "
                          "one (no official split, or validation carved from train); official parts stay")
    run.add_argument("--bootstrap-resamples", type=int, default=1000, metavar="N",
                     help="stratified bootstrap resamples of the test images behind every 95%% CI")
    run.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap resamples")
    run.add_argument("--split-seed", type=int, default=0, help="seed for any split carved by medbench")
    run.add_argument("--split-manifest", type=Path, help="re-use a saved split (a split.json from an earlier run)")
    run.add_argument("--val-fraction", type=float, default=0.1, help="validation share carved from train when needed")
    run.add_argument("--test-fraction", type=float, default=0.2, help="test share when the dataset has no split")
    run.add_argument("--option", action="append", default=[], metavar="PIPELINE.KEY=VALUE",
                     help="pipeline option, repeatable (e.g. resnet50.weights=/path/notop.h5, cnn.epochs=20)")
    run.add_argument("--out", type=Path, help="results folder (default: results/<dataset>)")
    run.add_argument("--n-jobs", type=int, default=-1, help="worker processes for feature extraction (-1: all cores)")
    run.add_argument("--fresh", action="store_true", help="ignore finished jobs in OUT and run everything again")

    sub.add_parser("datasets", help="list the datasets medbench knows")
    sub.add_parser("pipelines", help="list the registered pipelines")
    rep = sub.add_parser("report", help="rebuild report.md, report.html and figures from a results folder, "
                                        "without re-running",
                         description="Rebuild report.md (byte for byte as the run wrote it), report.html and "
                                     "figures/ from results.json alone; figures/samples.png, drawn by `run` from "
                                     "the images, is kept when present.")
    rep.add_argument("results", type=Path, help="results folder or results.json")
    for name in COMMAND_MODULES:  # further sub-commands live in their own modules
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # what was run, for results/report
    try:
        handler = getattr(args, "handler", None) or {
            "run": cmd_run, "datasets": cmd_datasets, "pipelines": cmd_pipelines, "report": cmd_report,
        }[args.command]
        return handler(args)
    except MedbenchError as exc:
        print(f"medbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medbench: interrupted; finished jobs are saved, run the same command again to resume",
              file=sys.stderr)
        return 130


def cmd_datasets(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from medbench.datasets import describe_datasets

    print(tabulate(describe_datasets(), headers="keys", tablefmt="simple"))
    return 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from medbench.models import registry

    rows = [{"pipeline": p.name, "family": p.family, "what": p.summary,
             "tuned on validation": ", ".join(f"{k} in {v}" for k, v in p.param_grid.items()) or "–"}
            for p in registry.all_pipelines().values()]
    print(tabulate(rows, headers="keys", tablefmt="simple"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from medbench import results as results_mod
    from medbench.reports.build import write_report

    res = results_mod.load(args.results)
    out = args.results if args.results.is_dir() else args.results.parent
    path = write_report(res, out)
    print(f"wrote {path}, {path.with_suffix('.html')} and {out / 'figures'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tabulate import tabulate
    from tqdm.auto import tqdm

    from medbench import profiles
    from medbench import results as results_mod
    from medbench.datasets import load_dataset
    from medbench.models import registry
    from medbench.profiling import environment
    from medbench.reports.build import write_report
    from medbench.reports.tables import leaderboard
    from medbench.runner import Job, run_job
    from medbench.splits import load_manifest, make_split, save_manifest

    for frac, name in ((args.val_fraction, "--val-fraction"), (args.test_fraction, "--test-fraction")):
        if not 0 < frac < 0.5:
            raise MedbenchError(f"{name} {frac} must be between 0 and 0.5")
    if args.resplit_per_seed and args.split_manifest:
        raise MedbenchError("--resplit-per-seed carves a split per seed; it cannot be combined with --split-manifest")
    if args.bootstrap_resamples < 1:
        raise MedbenchError(f"--bootstrap-resamples {args.bootstrap_resamples} must be at least 1 (default 1000)")
    profiles.apply(args)  # --profile NAME: its pipelines (unless --pipelines is given) and options
    specs = registry.resolve(args.pipelines)
    options = _parse_options(args.option)
    unknown = set(options) - set(registry.all_pipelines())
    if unknown:
        raise MedbenchError(f"--option names unknown pipeline {sorted(unknown)[0]!r}")
    ds = load_dataset(args.dataset, task=args.task, image_size=args.image_size, allow_missing=args.allow_missing)
    if args.split_manifest:
        split = load_manifest(ds, args.split_manifest)
    else:
        split = make_split(ds, seed=args.seeds[0] if args.resplit_per_seed else args.split_seed,
                           val_fraction=args.val_fraction, test_fraction=args.test_fraction)
    out = args.out or Path("results") / ds.name
    manifest = split.manifest(ds)
    save_manifest(ds, split, out / "split.json")
    _save_samples(ds, split, out)
    print(f"medbench {__version__}: {ds.title} ({len(ds)} images, {ds.n_classes} classes), split "
          f"{manifest['fingerprint'][:12]} ({split.method}); train {len(split.train)} / val {len(split.val)} / "
          f"test {len(split.test)}; results in {out}", file=sys.stderr)
    config: dict[str, Any] = {
        "dataset": args.dataset, "task": args.task, "image_size": args.image_size,
        "allow_missing": args.allow_missing, "pipelines": [p.name for p in specs], "seeds": args.seeds,
        "split_seed": args.split_seed, "split_manifest": str(args.split_manifest) if args.split_manifest else None,
        "val_fraction": args.val_fraction, "test_fraction": args.test_fraction, "options": options,
        "n_jobs": args.n_jobs, "profile": getattr(args, "profile", None),
        "resplit_per_seed": args.resplit_per_seed, "bootstrap_resamples": args.bootstrap_resamples,
        "bootstrap_seed": args.bootstrap_seed,
    }
    split_info = {k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")}
    split_info["manifest"] = "split.json"
    seed_splits = {seed: (split, manifest["fingerprint"]) for seed in args.seeds}
    if args.resplit_per_seed:
        seed_splits = _resplit(ds, args, out, split_info)
    env = environment()
    argv = getattr(args, "_argv", sys.argv[1:])
    command = "medbench " + " ".join(shlex.quote(a) for a in argv) if argv else "medbench run"
    jobs = [Job(p.name, seed, options.get(p.name, {})) for p in specs for seed in args.seeds]
    records: list[dict[str, Any]] = []
    with tqdm(jobs, desc="pipelines", unit="job", disable=None) as bar:
        for job in bar:
            bar.set_postfix_str(f"{job.pipeline} seed {job.seed}")
            job_split, job_fp = seed_splits[job.seed]
            rec = run_job(ds, job_split, job, out, n_jobs=args.n_jobs, split_fingerprint=job_fp,
                          reuse=not args.fresh)
            records.append(rec)
            tqdm.write(_job_line(rec), file=sys.stderr)
            res = results_mod.assemble(config=config, dataset=ds.card(), split=split_info, environment=env,
                                       jobs=records, command=command)
            results_mod.write(res, out)  # after every job: an interrupted run keeps a readable partial result
    # CIs and paired tests once, at the end (`medbench report` reuses them: same report, byte for byte).
    res = results_mod.add_statistics(res, n_resamples=args.bootstrap_resamples, seed=args.bootstrap_seed)
    results_mod.write(res, out)
    path = write_report(res, out)
    print(tabulate(*reversed(leaderboard(res)), tablefmt="simple", disable_numparse=True))
    print(f"\nreport: {path}", file=sys.stderr)
    failed = [r for r in records if r["status"] != "ok"]
    for r in failed:
        print(f"medbench: error: {r['pipeline']} (seed {r['seed']}): {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def _save_samples(ds, split, out: Path) -> None:
    """figures/samples.png (needs the pixels, so only `run` can draw it); a failure only warns."""
    from medbench.reports.figures import SAMPLES, save_samples

    try:
        save_samples(ds, split, out / "figures" / SAMPLES)
    except Exception as exc:  # noqa: BLE001 - a figure must never cost a benchmark run
        print(f"medbench: warning: could not draw {SAMPLES}: {type(exc).__name__}: {exc}", file=sys.stderr)


def _resplit(ds, args: argparse.Namespace, out: Path, split_info: dict[str, Any]) -> dict[int, tuple[Any, str]]:
    """--resplit-per-seed: seed S runs on ``make_split(seed=S)``, saved as OUT/split-seedS.json and listed
    in ``split_info["per_seed"]``; returns ``{seed: (split, fingerprint)}``."""
    from medbench.splits import make_split, save_manifest

    seed_splits: dict[int, tuple[Any, str]] = {}
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in dict.fromkeys(args.seeds):
        split = make_split(ds, seed=seed, val_fraction=args.val_fraction, test_fraction=args.test_fraction)
        manifest = split.manifest(ds)
        name = f"split-seed{seed}.json"
        save_manifest(ds, split, out / name)
        seed_splits[seed] = (split, manifest["fingerprint"])
        per_seed[str(seed)] = {k: manifest[k] for k in ("fingerprint", "method", "seed", "notes", "counts")}
        per_seed[str(seed)]["manifest"] = name
    split_info["per_seed"] = per_seed
    if len({fp for _, fp in seed_splits.values()}) == 1:
        note = ("--resplit-per-seed: this dataset's split is entirely official (nothing is carved), so every seed "
                "has the same split")
        split_info["notes"] = [*split_info.get("notes", []), note]
        print(f"medbench: note: {note}", file=sys.stderr)
    return seed_splits


def _job_line(rec: dict[str, Any]) -> str:
    head = f"{rec.get('name', rec['pipeline'])} seed {rec['seed']}"
    if rec["status"] != "ok":
        return f"  {head}: ERROR {rec['error']}"
    m = rec["metrics"]
    auc = "–" if m["roc_auc"] is None else f"{m['roc_auc']:.3f}"
    src = "cached" if rec.get("cached") else f"{rec['wall_time_s']:.1f}s"
    return f"  {head}: accuracy {m['accuracy']:.3f}, ROC-AUC {auc} ({src})"
