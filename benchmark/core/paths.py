"""Where medbench keeps downloaded data and caches (overridable by environment variables)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from medbench.core import settings
from medbench.core.settings import CACHE_DIR_ENV, DATA_DIR_ENV

__all__ = ["CACHE_DIR_ENV", "DATA_DIR_ENV", "cache_dir", "data_dir"]


def data_dir() -> Path:
    """Directory holding dataset files: ``$MEDBENCH_DATA_DIR`` or the user's cache dir."""
    return settings.path(DATA_DIR_ENV) or Path(platformdirs.user_cache_dir("medbench")) / "data"


def cache_dir() -> Path:
    """Directory for derived caches (decoded images, features, embeddings): ``$MEDBENCH_CACHE_DIR``."""
    return settings.path(CACHE_DIR_ENV) or Path(platformdirs.user_cache_dir("medbench")) / "cache"
