"""Where the tests find the shared real data (the one place that knows; fixtures in conftest.py use it)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_datasets_path() -> Path:
    """Where the shared datasets live: ``$MEDBENCH_SHARED`` or ``<project>/../shared/datasets``."""
    env = os.environ.get("MEDBENCH_SHARED")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"
