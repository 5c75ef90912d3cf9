"""``medbench suite SUITE.toml``: run every dataset of a suite file, then the statistics across datasets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medbench import api_suite
from medbench.reports.escape import plain
from medbench.running.config import RunConfig

DESCRIPTION = """Run the pipelines of a suite file on each of its datasets (one ordinary results folder
per dataset under OUT, resumed like `medbench run`), then compare the pipelines across datasets:
ROC-AUC and balanced accuracy with 95% CIs per dataset, ranks and mean ranks, the Friedman test with
Nemenyi's critical difference (from 5 datasets on), and classical vs deep wins/ties/losses where a
win needs the paired test on that dataset to be significant. Writes OUT/suite.json, suite.md,
suite.html and figures/cd.png."""
EPILOG = """suite file: see suites/smoke.toml and suites/chest-xray.toml; paths are relative to the suite
file's folder, ${MEDBENCH_DATA_DIR} is the data folder.
exit status: 0 every dataset and job ran, 1 a dataset or job failed (the others are still analysed),
2 a bad suite file or option.

examples:
  medbench suite suites/smoke.toml --out results/smoke
  medbench suite suites/chest-xray.toml            # -> results/chest-xray/
  medbench report results/chest-xray               # rebuild suite.md/.html from the results.json files
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("suite", help="run a benchmark suite (several datasets) and compare pipelines across them",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION,
                       epilog=EPILOG)
    p.add_argument("suite_file", type=Path, metavar="SUITE.toml", help="suite file (TOML), or the name of a suite shipped with medbench "
                                                               "(chest-xray, smoke)")
    p.add_argument("--out", type=str, help="output folder (default: results/<suite name>)")
    # the run options a suite takes from the command line, declared once on RunConfig
    RunConfig.add_arguments(p, names=("fresh", "pipelines", "seeds", "scheduler", "gpu_resource"),
                            replace=("pipelines", "seeds"))
    p.set_defaults(handler=cmd_suite)


def cmd_suite(args: argparse.Namespace) -> int:
    doc = api_suite.run_suite(args.suite_file, args.out, fresh=args.fresh, scheduler=args.scheduler,
                              gpu_resource=args.gpu_resource, pipelines=args.pipelines, seeds=args.seeds)
    out = Path(args.out) if args.out else Path("results") / doc["suite"]["name"]
    for line in doc["analysis"]["verdict"]:
        print(plain(line))
    print(f"\nsuite report: {out / 'suite.md'}", file=sys.stderr)
    failed = [d for d in doc["datasets"] if d["status"] != "ok" or d.get("failed_jobs")]
    for d in failed:
        what = d.get("error") or f"{d['failed_jobs']} job(s) failed (see {d['name']}/report.md)"
        print(plain(f"medbench: error: {d['name']}: {what}"), file=sys.stderr)
    return 1 if failed else 0
