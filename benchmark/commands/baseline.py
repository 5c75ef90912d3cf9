"""``medbench baseline update|list|show``: the store of committed reference results (medbench.stores.baseline)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from medbench import api
from medbench.core import outputs
from medbench.reports.tables import leaderboard


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="store a run as a baseline, list or show stored baselines",
                       description="Baselines are committed reference results (<store>/<name>/results.json, "
                                   "thinned) that `medbench compare NAME NEW` and `tox -e regress` compare "
                                   "new runs against. Store: --store, $MEDBENCH_BASELINES or ./baselines.")
    bsub = p.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    up = bsub.add_parser("update", help="write a baseline from a finished run")
    up.add_argument("results", type=Path, help="results folder or results.json of a complete run")
    up.add_argument("--name", help="baseline name (default: <dataset>-<profile>, e.g. pneumoniamnist-fast)")
    up.set_defaults(handler=cmd_update)
    ls = bsub.add_parser("list", help="list stored baselines")
    ls.set_defaults(handler=cmd_list)
    show = bsub.add_parser("show", help="show one baseline's runs and metrics")
    show.add_argument("name", help="baseline name (see `medbench baseline list`)")
    show.set_defaults(handler=cmd_show)
    for q in (up, ls, show):
        q.add_argument("--store", type=Path, metavar="DIR", help="baseline store (default: ./baselines)")


def cmd_update(args: argparse.Namespace) -> int:
    outputs.output_folder(args.store, "--store", "the baselines")
    with outputs.writing("--store", args.store):
        path = api.baseline_update(args.results, args.name, args.store)
    tol = path.parent / "tolerances.toml"
    tol_note = f"tolerances: {tol}" if tol.is_file() else "no tolerances.toml there: built-in defaults apply"
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB); {tol_note}")
    print(f"review it with `medbench compare <old baseline> {path.parent}`, then commit {path.parent}/",
          file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = [{"name": e["name"], "dataset": e.get("dataset", "?"), "split": e.get("split", "?"),
             "pipelines": len(e.get("pipelines", [])), "seeds": " ".join(map(str, e.get("seeds", []))),
             "medbench": e.get("medbench", "?"), "created": e.get("created", "?"),
             "tolerances": "yes" if e.get("tolerances") else "defaults", "KB": e.get("size_kb", "?"),
             **({"problem": e["problem"]} if "problem" in e else {})}
            for e in api.baselines(args.store)]
    shipped = api.shipped_baselines()
    if not rows:
        print(f"no baselines in {api.baseline_store(args.store)} "
              "(create one: medbench baseline update RESULTS)")
    else:
        print(tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True))
    if shipped:
        print(f"shipped with medbench (used when the store has no such name): {', '.join(shipped)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    loaded = api.load_baseline(args.name, args.store)
    path = loaded.path
    res = loaded.data
    meta = res.get("baseline") or {}
    env = res.get("environment") or {}
    print(f"baseline {args.name}: {res['dataset'].get('title')} ({res['dataset'].get('spec')}), split "
          f"{str(res['split'].get('fingerprint'))[:12]} ({res['split'].get('method')})")
    print(f"from: {res.get('command')} (medbench {res.get('medbench_version')}, {res.get('created')}, "
          f"{env.get('cpu')} x{env.get('cpu_count')}); stored {meta.get('updated')} "
          f"from {meta.get('source')}")
    tol = path / "tolerances.toml"
    print(f"tolerances: {tol if tol.is_file() else 'built-in defaults'}\n")
    print(tabulate(*reversed(leaderboard(res, loaded.statistics())), tablefmt="simple", disable_numparse=True))
    return 0
