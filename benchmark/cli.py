"""The ``medbench`` command line: argument parsing and printing over :mod:`medbench.api`.

Every sub-command is a few lines: parse, call the API, print. ``medbench.commands.*`` modules add
further sub-commands (compare, baseline, profiles, cache).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from medbench import api, api_suite
from medbench.commands import baseline as baseline_cmd
from medbench.commands import cache as cache_cmd
from medbench.commands import compare as compare_cmd
from medbench.commands import history as history_cmd
from medbench.commands import predict as predict_cmd
from medbench.commands import profiles as profiles_cmd
from medbench.commands import suite as suite_cmd
from medbench.commands.common import add_scheduler_options
from medbench.config import RunConfig
from medbench.core import settings
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.datasets import describe_datasets
from medbench.datasets.images import CHANNEL_CHOICES
from medbench.models import registry
from medbench.reports.tables import leaderboard

EPILOG = """examples:
  medbench run                                   # every pipeline on PneumoniaMNIST -> results/pneumoniamnist
  medbench run --dataset folder:data/chest_xray --pipelines hog-svm cnn
  medbench run --dataset coronahack:data/coronahack --task etiology --allow-missing
  medbench run --pipelines classical baseline --seeds 0 1 2   # mean ± sd over seeds, CIs, tests
  medbench report results/pneumoniamnist        # rebuild report.md/.html and figures from results.json
  medbench run --pipelines hog-svm --save-models && medbench predict results/pneumoniamnist/models/hog-svm__seed0 new/
  medbench suite suites/chest-xray.toml          # every pipeline on four chest X-ray datasets + cross-dataset stats
environment:
""" + "\n".join(f"  {name:<26}{what}" for name, what in settings.DOCUMENTED) + "\n"

# Modules adding sub-commands: each has ``register(subparsers)``, which adds its parser and sets
# ``handler`` (a function taking the parsed args and returning the exit status) with set_defaults.
COMMAND_MODULES = (compare_cmd, baseline_cmd, profiles_cmd, cache_cmd, suite_cmd, history_cmd, predict_cmd)


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
                     help="a MedMNIST name (pneumoniamnist, bloodmnist, ...) | folder:PATH | coronahack:PATH | "
                          "npz:PATH (see `medbench datasets`)")
    run.add_argument("--task", help="labelling for datasets with several (coronahack: pneumonia, etiology)")
    run.add_argument("--image-size", type=int, default=argparse.SUPPRESS,
                     help="side length path datasets are decoded to (default: 224)")
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
                     help="set a pipeline parameter, repeatable: KEY is a scikit-learn step parameter "
                          "(hog-svm.svm__C=5) or its unique short name (hog-svm.C=5, cnn.epochs=20, "
                          "resnet50.weights=/path/notop.h5); an unknown KEY is an error; a tuned parameter "
                          "set here is fixed (not tuned)")
    run.add_argument("--out", type=str, help="results folder (default: results/<dataset>)")
    run.add_argument("--n-jobs", type=int, default=-1,
                     help="workers for image decoding and feature extraction (-1: all cores)")
    run.add_argument("--fresh", action="store_true", help="ignore finished jobs in OUT and run everything again")
    run.add_argument("--max-image-pixels", type=int, default=argparse.SUPPRESS, metavar="N",
                     help="refuse (per file) images with more pixels than this (default: Pillow's 89,478,485); "
                          "a guard against decompression bombs")
    run.add_argument("--channels", choices=CHANNEL_CHOICES, default="auto",
                     help="keep colour where the source has it (auto), reduce to ITU-R 601-2 luminance (gray) or "
                          "force three channels (rgb)")
    run.add_argument("--no-gallery", dest="gallery", action="store_false",
                     help="skip the report's pictures of each pipeline's most confident test mistakes (thumbnails, "
                          "Grad-CAM for deep pipelines, HOG glyphs); they are made at run time")
    run.add_argument("--save-models", action="store_true",
                     help="save every fitted pipeline to OUT/models/<pipeline>__seed<N>/ with a MODEL_CARD.md "
                          "(no pickle; use it with `medbench predict`)")
    run.add_argument("--external", action="append", default=[], metavar="DATASET",
                     help="external validation set, repeatable (folder:PATH, coronahack:PATH, ...): every image of it "
                          "is scored by every fitted pipeline at the dataset's image size and validation threshold")
    run.add_argument("--class-map", action="append", default=[], metavar="SRC=DST",
                     help="an external set's class SRC is the dataset's class DST, repeatable (names are otherwise "
                          "matched case-insensitively where unambiguous); SET::SRC=DST maps one external set only")
    run.add_argument("--robustness", action="store_true",
                     help="also score every pipeline on corrupted copies of the test split (6 corruptions x 5 "
                          "severities: noise, blur, contrast, brightness, JPEG, pixelation)")
    add_scheduler_options(run)

    sub.add_parser("datasets", help="list the datasets medbench knows")
    sub.add_parser("pipelines", help="list the registered pipelines")
    rep = sub.add_parser("report", help="rebuild report.md, report.html and figures from a results folder, "
                                        "without re-running",
                         description="Rebuild report.md (byte for byte as the run wrote it), report.html and "
                                     "figures/ from results.json alone; figures/samples.png, drawn by `run` from "
                                     "the images, is kept when present.")
    rep.add_argument("results", type=Path, help="results folder or results.json")
    for module in COMMAND_MODULES:  # further sub-commands live in their own modules
        module.register(sub)
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
    except KeyboardInterrupt as exc:
        remaining = getattr(exc, "remaining", None)
        left = ""
        if remaining:
            left = (f"; {len(remaining)} job{'s' if len(remaining) != 1 else ''} not finished: "
                    + ", ".join(remaining[:10]) + (" ..." if len(remaining) > 10 else ""))
        print(f"medbench: interrupted{left}; finished jobs are saved, run the same command again to resume",
              file=sys.stderr)
        return 130


def cmd_datasets(args: argparse.Namespace) -> int:
    print(tabulate(describe_datasets(), headers="keys", tablefmt="simple"))
    return 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    rows = [{"pipeline": p.name, "family": p.family, "default": "yes" if p.default else "no",
             "what": p.summary + (f" [plugin: {registry.plugin_of(p.name)}]" if registry.plugin_of(p.name) else ""),
             "tuned on validation": ", ".join(f"{k} in {v}" for k, v in p.param_grid.items()) or "–"}
            for p in registry.all_pipelines().values()]
    print(tabulate(rows, headers="keys", tablefmt="simple"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if api_suite.is_suite_dir(args.results):
        path = api_suite.report_suite(args.results)
        print(f"wrote {path}, {path.parent / 'suite.html'} and {path.parent / 'figures' / 'cd.png'}")
        return 0
    path = api.report(args.results)
    out = path.parent
    print(f"wrote {path}, {out / 'report.html'} and {out / 'figures'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    cfg = RunConfig.from_args(args)  # every `run` option is a RunConfig field of the same name
    res = api.run(config=cfg, command=api.command_line(getattr(args, "_argv", sys.argv[1:])))
    print(tabulate(*reversed(leaderboard(res.data, res.statistics())), tablefmt="simple", disable_numparse=True))
    print(f"\nreport: {res.path / 'report.md'}", file=sys.stderr)
    for r in res.failed:
        print(f"medbench: error: {r['pipeline']} (seed {r['seed']}): {r['error']}", file=sys.stderr)
    return res.exit_status
