"""``medbench history add RUN`` / ``medbench history report``: a store of runs across code versions and the
report of how each pipeline's metrics moved (change points, regressions with the version they appeared in)."""

from __future__ import annotations

import argparse
from pathlib import Path

from medbench import api
from medbench.core import outputs
from medbench.core.warn import warn
from medbench.reports import escape
from medbench.reports.history import p_text

DESCRIPTION = """Keep every run in a history store, filed under the machine it ran on and the code version
(git commit) that produced it, and report how each pipeline's headline metrics moved across versions:
a figure per metric with confidence bands, the versions where a metric changed (change-point search),
and the regressions with the first version showing them and the paired-test p-value across that step."""
EPILOG = """store: --store DIR, else $MEDBENCH_HISTORY, else ./history
  layout: DIR/<machine-id>/<commit>/results.json (thinned like a baseline) and DIR/index.json

examples:
  medbench history add results/run-2026-01-05
  medbench history add results/rc1 --commit v1.2.0-rc1 --store ~/medbench-history
  medbench history report --store ~/medbench-history --out history-report
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="file runs by code version and report metrics across versions",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION, epilog=EPILOG)
    actions = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="file a run (results folder) under its machine and commit")
    add.add_argument("run", type=Path, help="results folder or results.json of a finished run")
    add.add_argument("--store", type=Path, metavar="DIR", help="history store (default: $MEDBENCH_HISTORY or ./history)")
    add.add_argument("--commit", metavar="NAME",
                     help="file under this version name instead of the recorded git commit (e.g. a release tag, "
                          "or a run made outside a git checkout)")
    add.set_defaults(handler=cmd_add)
    rep = actions.add_parser("report", help="write history.html and history.md for the store")
    rep.add_argument("--store", type=Path, metavar="DIR", help="history store (default: $MEDBENCH_HISTORY or ./history)")
    rep.add_argument("--out", type=Path, metavar="DIR", help="where to write the report (default: <store>/report)")
    rep.set_defaults(handler=cmd_report)


def cmd_add(args: argparse.Namespace) -> int:
    outputs.output_folder(args.store, "--store", "the history store")
    entry = api.history_add(args.run, args.store, args.commit)
    verb = "replaced" if entry["replaced"] else "filed"
    print(f"{verb} {args.run} as {entry['version']} on machine {entry['machine']}: "
          f"{Path(entry['store']) / entry['path']}")
    if args.commit is None and str(entry.get("git_commit") or "unknown") == "unknown":
        warn(f"{args.run} has no git commit (it ran outside a git checkout), so it is filed under the time it "
             f"ran ({entry['version']}); name its version with --commit NAME (e.g. a release tag)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    outputs.output_folder(args.store, "--store", "the history store")
    outputs.output_folder(args.out, "--out", "the history report")
    with outputs.writing("--out", args.out):
        analysis, written = api.history_report(args.store, args.out)
    n_reg = sum(len(s["regressions"]) for s in analysis["series"])
    for s in analysis["series"]:
        for r in s["regressions"]:
            print(f"regression: {escape.plain(r['pipeline'])} {r['metric']} {r['step']:+.3f} from version "
                  f"{escape.plain(r['version'])} (p = {p_text(r.get('p'))})")
    print(f"{n_reg} regression{'s' if n_reg != 1 else ''} in {sum(len(s['versions']) for s in analysis['series'])} "
          f"runs; wrote {written['paths']['html']}, {written['paths']['md']}")
    return 0
