"""Temporary files a killed writer leaves in the cache (``.<entry>.npy.<random>.tmp``): found, listed, removed.

A writer that may run long (decoding a dataset into the image cache) holds an exclusive ``flock`` on its
temporary file for as long as it writes (:func:`held`); ``kill -9`` releases it. A temporary file is
*stale* when nobody holds that lock and it is older than :data:`STALE_AFTER_S` (short atomic writes hold
no lock, and are never that old). :func:`sweep` removes stale ones before the next write into a folder;
``medbench cache info`` lists them (:func:`stale`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

PATTERN = ".*.tmp"
STALE_AFTER_S = 600.0  # far longer than any atomic write of a small file takes


@contextlib.contextmanager
def held(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on temporary file ``path`` while the block writes it (no-op if it cannot)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # releases the lock


def _is_stale(path: Path, now: float) -> bool:
    try:
        if now - path.lstat().st_mtime < STALE_AFTER_S or not path.is_file() or path.is_symlink():
            return False
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer holds it: not stale
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def stale(folder: str | os.PathLike, pattern: str = PATTERN) -> list[Path]:
    """The stale temporary files matching ``pattern`` in ``folder`` (see the module docstring)."""
    now = time.time()
    return sorted(p for p in Path(folder).glob(pattern) if _is_stale(p, now))


def sweep(folder: str | os.PathLike) -> list[Path]:
    """Remove the stale temporary files in ``folder``; returns those removed."""
    removed = []
    for path in stale(folder):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
