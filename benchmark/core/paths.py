"""Where medbench keeps downloaded data and caches (overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "MEDBENCH_DATA_DIR"
CACHE_DIR_ENV = "MEDBENCH_CACHE_DIR"


def data_dir() -> Path:
    """Directory holding dataset files: ``$MEDBENCH_DATA_DIR`` or the user's cache dir."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("medbench")) / "data"


def cache_dir() -> Path:
    """Directory for derived caches (decoded images, features, embeddings): ``$MEDBENCH_CACHE_DIR``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("medbench")) / "cache"
