"""Atomic file writes (a result is either completely on disk or not there at all) and the JSON codec they use."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import readfile


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def current_umask() -> int:
    """The process's umask (files and folders medbench writes get ``0o666`` / ``0o777`` minus it)."""
    return _umask()


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """The JSON text medbench writes for ``obj`` (numpy scalars/arrays and paths converted)."""
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, dumps(obj) + "\n")


def read_json(path: str | os.PathLike, kind: str = "JSON file", cap: str = "job record") -> Any:
    """Parse a JSON file as UTF-8 (raises ValueError incl. UnicodeDecodeError, or RecursionError; a file
    that is missing, not a regular file, over ``readfile.CAPS[cap]`` or unreadable is a
    ``readfile.UnreadableFile``, a one-line :class:`MedbenchError`)."""
    return json.loads(readfile.read_bytes(path, kind, cap=cap).decode("utf-8"))


def json_roundtrip(obj: Any) -> Any:
    """``obj`` as it reads back from the file :func:`write_json` makes (tuples -> lists, numpy -> Python)."""
    return json.loads(dumps(obj))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
