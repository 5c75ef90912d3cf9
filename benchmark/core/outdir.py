"""A run's output folder: created with a clear error, locked against a second writer, and write
failures (disk full, permission denied) turned into one line that says what to do."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from filelock import FileLock, Timeout

from medbench.core.errors import MedbenchError

LOCK_NAME = ".medbench.lock"
T = TypeVar("T")


def prepare(path: str | Path) -> Path:
    """Create the output folder ``path`` (and parents); refuse a path that is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MedbenchError(f"--out {path} is a file, not a folder: give a folder for the results")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedbenchError(f"cannot create the results folder {path}: {exc.strerror or exc}; "
                            f"choose another --out") from None
    return path


@contextlib.contextmanager
def lock(path: Path) -> Iterator[None]:
    """Hold ``path/.medbench.lock`` for the block; a second writer is refused at once, in one line."""
    try:
        held = FileLock(str(Path(path) / LOCK_NAME), timeout=0)
        held.acquire()
    except Timeout:
        raise MedbenchError(f"another medbench run is writing to {path} (it holds {Path(path) / LOCK_NAME}); "
                            f"wait for it to finish or choose another --out") from None
    except OSError as exc:
        raise MedbenchError(f"cannot lock the results folder {path}: {exc.strerror or exc}; "
                            f"choose another --out") from None
    try:
        yield
    finally:
        held.release()


def guarded_write(fn: Callable[[], T], out: Path) -> T:
    """Call ``fn``; an OSError while writing becomes one line naming the file and what to do."""
    try:
        return fn()
    except OSError as exc:
        where = exc.filename or out
        raise MedbenchError(f"cannot write {where}: {exc.strerror or exc}; free disk space or fix the "
                            f"permissions, then run the same command again to resume") from None
