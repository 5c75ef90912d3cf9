"""``medbench compare BASE NEW``: metric deltas, noise and runtime ratios; the exit status is the verdict."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medbench import api
from medbench.core import outputs
from medbench.reports import compare_page
from medbench.reports.compare import text_report, verdict_line

DESCRIPTION = """Compare two runs on the same dataset and split: per pipeline and seed (and the mean over
seeds) every metric's change against its tolerance and against the noise (confidence intervals,
when the results have them), plus runtime ratios. Prints a report, writes compare.json and, on
request, a markdown report for a pull-request comment."""
EPILOG = """exit status: 0 no regression, 1 regression (a metric dropped by more than its tolerance or lost
its value - missing, null, NaN or infinite in NEW -, a runtime ratio above its limit, a BASE pipeline
missing or failed in NEW), 2 usage or input error (e.g. runs on different datasets or splits without
--force, a results.json or tolerances file that does not match its schema). A limit of inf in the
tolerances is never checked: the verdict line names every such limit. The differences between BASE's
and NEW's environments (git commit, source hash, libraries, machine) are printed first; runtime is
judged only when both ran on the same machine (CPU model, core count, GPUs) or with --force-runtime.

examples:
  medbench compare results/v1 results/v2
  medbench compare pneumoniamnist-fast results/regress --no-runtime --markdown compare.md
  medbench compare a/results.json b/results.json --tolerances my-tolerances.toml
  medbench compare results/v1 results/v2 --html compare.html
tolerances: --tolerances FILE, else tolerances.toml beside BASE's results.json, else built-in defaults
(see the module medbench.evaluation.tolerances and the README section "Regression testing across versions").
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two runs (BASE vs NEW) and flag regressions (exit 1)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       description=DESCRIPTION)
    p.add_argument("base", help="BASE: results folder, results.json, or a baseline name (the store's, else one "
                                "shipped with medbench, e.g. pneumoniamnist-fast)")
    p.add_argument("new", help="NEW: results folder or results.json")
    p.add_argument("--tolerances", type=Path, metavar="TOML", help="tolerance file (TOML)")
    p.add_argument("--force", action="store_true",
                   help="compare even when datasets or splits differ (the report says so)")
    p.add_argument("--no-runtime", action="store_true",
                   help="show runtime ratios but never fail on them (for CI machines unlike BASE's)")
    p.add_argument("--force-runtime", action="store_true",
                   help="judge runtime even when BASE and NEW ran on different machines (CPU model, core count "
                        "or GPUs differ); by default runtime is then shown, not judged")
    p.add_argument("--significant-only", action="store_true",
                   help="a drop beyond tolerance fails only if it is significant: paired test on the same test "
                        "images, Holm-corrected over pipelines (CIs apart when there is none) (mode = significant)")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write a markdown report (PR comment)")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write a web page with the history report's figure (every metric, BASE and NEW, "
                        "with 95%% CIs; the figure goes to FILE's folder, in <name>-figures/)")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="where to write compare.json (default: beside NEW's results.json)")
    p.add_argument("--store", type=Path, metavar="DIR",
                   help="baseline store for BASE names (default: $MEDBENCH_BASELINES or ./baselines)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")
    p.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    outputs.output_file(args.json, "--json", "compare.json", "compare.json")  # before any work
    outputs.output_file(args.markdown, "--markdown", "the markdown report", "compare.md")
    outputs.output_file(args.html, "--html", "the HTML page", "compare.html")
    report = api.compare(args.base, args.new, tolerances=args.tolerances, force=args.force,
                         runtime=not args.no_runtime, significant_only=args.significant_only, store=args.store,
                         force_runtime=args.force_runtime)
    with outputs.writing("--json" if args.json else "--markdown", args.json or args.markdown):
        written = [str(p) for p in api.save_compare(report, args.new, json=args.json, markdown=args.markdown,
                                                    store=args.store)]
    if args.html:
        with outputs.writing("--html", args.html):
            written.append(str(compare_page.write(report, args.html)[0]))
    print(verdict_line(report) if args.quiet else text_report(report), end="\n" if args.quiet else "")
    print(f"wrote {', '.join(written)}", file=sys.stderr)
    return report["exit_status"]
