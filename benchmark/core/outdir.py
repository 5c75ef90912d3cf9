"""A run's output folder: created with a clear error, locked against a second writer, and write
failures (disk full, permission denied) turned into one line that says what to do."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from medbench.core.errors import MedbenchError

LOCK_NAME = ".medbench.lock"


def check_given(out: str | Path | None) -> None:
    """Refuse an empty ``--out`` (``--out ""``), which would otherwise mean the current folder."""
    if out is not None and not str(out).strip():
        raise MedbenchError("--out is empty: give a folder for the results (or leave --out out for the default)")


def prepare(path: str | Path) -> Path:
    """Create the output folder ``path`` (and parents); refuse a path that is a file, an empty path and
    a path the system cannot create (a name too long, ...), in one line."""
    check_given(path)
    path = Path(path)
    try:
        is_file = path.exists() and not path.is_dir()
    except OSError as exc:  # e.g. ENAMETOOLONG: a name longer than the file system allows
        raise MedbenchError(f"cannot use {_short(path)} as the results folder: {exc.strerror or exc}; "
                            f"choose another --out") from None
    if is_file:
        raise MedbenchError(f"--out {path} is a file, not a folder: give a folder for the results")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedbenchError(f"cannot create the results folder {_short(path)}: {exc.strerror or exc}; "
                            f"choose another --out") from None
    return path


def _short(path: Path, limit: int = 120) -> str:
    """A path for a message, cut in the middle when long (a 300-character name is not worth repeating)."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"


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


@contextlib.contextmanager
def guarded(out: Path) -> Iterator[None]:
    """``with guarded(out): write(...)``: an OSError while writing becomes one line naming the file and
    what to do."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or out
        raise MedbenchError(f"cannot write {where}: {exc.strerror or exc}; free disk space or fix the "
                            f"permissions, then run the same command again to resume") from None
