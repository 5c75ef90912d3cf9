"""Headless Chromium for the report tests: one launcher (flags that keep it off the network) for all of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update")


def chromium() -> str:
    """The Chromium binary (``$MEDBENCH_CHROMIUM`` or on PATH); skips the test when there is none."""
    found = os.environ.get("MEDBENCH_CHROMIUM") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set MEDBENCH_CHROMIUM)")
    return found


def run(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Open ``page`` headless with a throw-away profile and extra ``args`` (e.g. ``--dump-dom``)."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                              capture_output=True, text=True, timeout=120)


def dump_dom(page: Path) -> str:
    """The DOM Chromium built from ``page`` (after any script would have run)."""
    proc = run(page, "--dump-dom")
    assert proc.returncode == 0 and "<table>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout
