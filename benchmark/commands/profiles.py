"""``medbench profiles`` (list the run profiles) and the ``--profile`` option of ``medbench run``."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from medbench import profiles


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.choices.get("run")
    if run is not None:  # the option lives here; medbench.api.run applies it
        run.add_argument("--profile", choices=sorted(profiles.PROFILES), default=None,
                         help="named pipeline set (see `medbench profiles`); --pipelines overrides its list")
    p = sub.add_parser("profiles", help="list the run profiles (medbench run --profile NAME)")
    p.set_defaults(handler=cmd_profiles)


def cmd_profiles(args: argparse.Namespace) -> int:
    rows = [{"profile": p.name, "pipelines": " ".join(p.pipelines), "options": " ".join(p.options) or "–",
             "what": p.summary} for p in profiles.PROFILES.values()]
    print(tabulate(rows, headers="keys", tablefmt="simple"))
    return 0
