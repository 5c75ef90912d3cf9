"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse


def add_scheduler_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler`` and ``--gpu-resource`` (``run`` and ``suite``; see :mod:`medbench.engine`)."""
    parser.add_argument("--scheduler", default="local", metavar="WHERE",
                        help="where jobs run: local (here, one after another), processes:N (a Dask cluster of N "
                             "worker processes on this machine) or tcp://HOST:PORT (an existing Dask scheduler); "
                             "needs pip install 'medbench[dask]' except for local (default: local)")
    parser.add_argument("--gpu-resource", metavar="NAME=AMOUNT",
                        help="Dask worker resource the deep jobs ask for (e.g. GPU=1), so they land on GPU workers")
