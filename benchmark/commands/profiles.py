"""``medbench profiles``: list the run profiles (``medbench run --profile NAME``, a RunConfig option)."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from medbench.models import profiles


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="list the run profiles (medbench run --profile NAME)")
    p.set_defaults(handler=cmd_profiles)


def cmd_profiles(args: argparse.Namespace) -> int:
    rows = [{"profile": p.name, "pipelines": " ".join(p.pipelines), "options": " ".join(p.options) or "–",
             "what": p.summary} for p in profiles.PROFILES.values()]
    print(tabulate(rows, headers="keys", tablefmt="simple"))
    return 0
