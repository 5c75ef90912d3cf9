"""``medbench export RUN --format csv|latex|parquet``: the run's leaderboard with CIs and the published rows
for its test set, as a table for a paper (rendered by :mod:`medbench.reports.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from medbench import api
from medbench.reports.export import FORMATS

EPILOG = """examples:
  medbench export results/pneumoniamnist --format latex            # -> results/pneumoniamnist/export.tex
  medbench export results/pneumoniamnist --format csv --out table.csv
  medbench export results/pneumoniamnist --format parquet          # needs pyarrow (pip install 'medbench[tables]')
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's leaderboard (with CIs) and the published rows as CSV, LaTeX "
                                      "or Parquet", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="One row per pipeline of the run, best first (one seed: estimate and 95%% CI; "
                                   "several: mean and sd over seeds), then the published results on the run's "
                                   "test set. CSV and Parquet hold fractions; the LaTeX tabular shows ACC and "
                                   "AUC in percent (booktabs rules).", epilog=EPILOG)
    p.add_argument("run", type=Path, help="results folder or results.json of a finished run")
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="csv, latex (a tabular) or parquet")
    p.add_argument("--out", type=Path, metavar="FILE", help="where to write (default: export.csv / export.tex / "
                                                            "export.parquet in the results folder)")
    p.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    print(f"wrote {api.export(args.run, args.fmt, args.out)}")
    return 0
