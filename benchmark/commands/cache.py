"""``medbench cache info [OUT]``: what the caches hold, what each entry is keyed on, what is stale."""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from medbench import api
from medbench.core import names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="show what the caches hold and whether each entry would be reused",
                       description="Every cached value (job records in OUT/jobs, decoded images, features, "
                                   "codebooks, embeddings in $MEDBENCH_CACHE_DIR) is keyed on the medbench source "
                                   "that computes it, library versions, data and parameters; each stores those "
                                   "inputs. `info` says which entries are current and why others are stale.")
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    info = csub.add_parser("info", help="list cache entries and whether they are current")
    info.add_argument("out", nargs="?", type=Path, help="a results folder: also list its job records")
    info.set_defaults(handler=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    info = api.cache_info(args.out)
    if args.out is not None:
        rows = info["jobs"]
        print(f"job records in {args.out / 'jobs'}:")
        print(tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True) if rows else "  none")
        print()
    rows = info["entries"]
    print(f"shared cache {info['location']}:")
    print(tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True) if rows else "  empty")
    stale = info.get("stale_temporaries") or []
    if stale:
        size = sum(p.stat().st_size for p in stale if p.exists())
        print(f"\n{len(stale)} temporary file(s) left by an interrupted write ({size / 2**20:,.1f} MiB; the next "
              f"write into their folder removes them):")
        for p in stale[:20]:
            print(f"  {names.printable(p)}")
    return 0
