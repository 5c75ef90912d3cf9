"""The ``medbench`` command line: argument parsing and printing over :mod:`medbench.api`.

Every sub-command is a few lines: parse, call the API, print. ``medbench.commands.*`` modules add
further sub-commands (compare, baseline, profiles, cache).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medbench import api, api_suite
from medbench.commands import audit as audit_cmd
from medbench.commands import baseline as baseline_cmd
from medbench.commands import cache as cache_cmd
from medbench.commands import compare as compare_cmd
from medbench.commands import export as export_cmd
from medbench.commands import history as history_cmd
from medbench.commands import predict as predict_cmd
from medbench.commands import profiles as profiles_cmd
from medbench.commands import suite as suite_cmd
from medbench.core import outputs, settings
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.datasets import describe_datasets
from medbench.models import registry
from medbench.reports import terminal
from medbench.reports.published import terminal_block
from medbench.running.config import RunConfig

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
COMMAND_MODULES = (compare_cmd, baseline_cmd, profiles_cmd, cache_cmd, suite_cmd, history_cmd, predict_cmd,
                   export_cmd, audit_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medbench", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Benchmark classical computer-vision pipelines (HOG/SIFT + SVM, tree, XGBoost) against "
                    "deep models on identical, fingerprinted splits of medical images.")
    parser.add_argument("--version", action="version", version=f"medbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run pipelines on a dataset and write results + report",
                         description="Run every selected pipeline on the same train/val/test split; tune on "
                                     "validation only, score the test split once, write results.json, "
                                     "metrics.csv and report.md. Re-running the same command resumes: finished "
                                     "jobs are read from OUT/jobs/.")
    RunConfig.add_arguments(run)  # every option declared once, on RunConfig (medbench.running.options)

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
    except OSError as exc:  # a path with a name over 255 bytes, from whichever command met it first
        if outputs.too_long(exc) is None:
            raise
        print(f"medbench: error: {outputs.too_long(exc)}", file=sys.stderr)
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
    print(terminal.fit_table(describe_datasets()))  # as wide as the terminal: long cells wrap
    return 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    rows = [{"pipeline": p.name, "family": p.family, "default": "yes" if p.default else "no",
             "what": p.summary + (f" [plugin: {registry.plugin_of(p.name)}]" if registry.plugin_of(p.name) else ""),
             "tuned on validation": ", ".join(f"{k} in {v}" for k, v in p.param_grid.items()) or "–"}
            for p in registry.all_pipelines().values()]
    print(terminal.fit_table(rows))
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
    print(terminal.fitted_leaderboard(res.data, res.statistics()))  # the wide table stays in report.md
    published = terminal_block(res.data, res.statistics())
    if published:
        print("\n" + published)
    print("\n" + "\n".join(terminal.closing_block(res.data, res.statistics(), res.path)), file=sys.stderr)
    for line in terminal.failure_lines(res.data):  # each distinct error once
        print(line, file=sys.stderr)
    return res.exit_status
