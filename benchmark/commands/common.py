"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse


def add_scheduler_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler`` and ``--gpu-resource`` (``run`` and ``suite``; see :mod:`medbench.engine`)."""
    parser.add_argument("--scheduler", default="local", metavar="WHERE",
                        help="where jobs run: local (here, one after another), processes:N (a Dask cluster of N "
                             "worker processes on this machine) or tcp://HOST:PORT (an existing Dask scheduler); "
                             "needs pip install 'medbench[dask]' except for local")
    parser.add_argument("--gpu-resource", metavar="NAME=AMOUNT",
                        help="Dask worker resource the deep jobs ask for (e.g. GPU=1), so they land on GPU workers")


def add_audit_options(parser: argparse.ArgumentParser) -> None:
    """``--groups`` and ``--group-pattern`` (``run`` and ``audit``; see :mod:`medbench.audit.groups`)."""
    parser.add_argument("--groups", metavar="CSV",
                        help="patient groups: a CSV with columns path,group (image path relative to the dataset "
                             "folder -> patient id); splits keep a patient's images together")
    parser.add_argument("--group-pattern", metavar="REGEX",
                        help="patient groups: a regular expression with one capture group, searched in each image's "
                             "relative path (e.g. '^(\\d{8})_' for NIH ChestX-ray14 names)")
