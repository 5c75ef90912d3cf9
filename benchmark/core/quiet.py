"""Keep the terminal medbench's own: native libraries' log lines go to a log file.

TensorFlow's C++ runtime writes lines such as ``E0000 ... NodeDef mentions attribute ...`` straight to
file descriptor 2, between medbench's progress bars. :func:`native_output_to` points descriptor 2 at
a log file for a block, while Python's ``sys.stderr`` (progress bars, medbench's one-line messages
and warnings) keeps writing to the terminal through a duplicate of the original descriptor. The
libraries' Python-level log lines (the ``tensorflow``, ``absl``, ``keras``, ``jax`` and ``h5py`` loggers:
"... triggered tf.function retracing") and their Python warnings go to the same file.

``medbench run`` logs into its output folder (``OUT/medbench.log``); a command with no output folder
that loads TensorFlow (``medbench predict`` with a Keras model) logs into :func:`command_log`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from medbench.core.paths import cache_dir

#: Loggers of the libraries whose Python-level lines belong in the log file, not on the terminal.
LIBRARY_LOGGERS = ("tensorflow", "absl", "keras", "jax", "h5py")
#: Python warnings raised from these packages' files go to the log file too.
LIBRARY_PACKAGES = ("tensorflow", "keras", "tf_keras", "jax", "h5py", "absl")


def _from_library(filename: str) -> bool:
    parts = Path(str(filename)).parts
    return any(pkg in parts for pkg in LIBRARY_PACKAGES)


def command_log(command: str) -> Path:
    """The log file of a command that has no output folder: ``<cache dir>/logs/<command>.log``
    (``os.devnull`` when that folder cannot be made: the noise is dropped rather than shown)."""

    folder = cache_dir() / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(os.devnull)
    return folder / f"{command}.log"


@contextlib.contextmanager
def library_logs_to(path: str | Path) -> Iterator[None]:
    """Within the block, the libraries' Python log records (:data:`LIBRARY_LOGGERS`) and Python warnings
    from their code are appended to ``path`` instead of reaching the terminal."""
    stream = open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
    saved = []
    for name in LIBRARY_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.handlers[:], lg.propagate))
        lg.handlers = [handler]
        lg.propagate = False
    shown = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if _from_library(filename):
            stream.write(warnings.formatwarning(message, category, filename, lineno, line))
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning
    try:
        yield
    finally:
        warnings.showwarning = shown
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        stream.close()


@contextlib.contextmanager
def native_output_to(path: str | Path, enabled: bool = True) -> Iterator[Path | None]:
    """Within the block, output written to descriptor 2 by native code is appended to ``path``."""
    if not enabled:
        yield None
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no descriptor 2 (an embedded interpreter): nothing to do
        yield None
        return
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    old_stderr = sys.stderr
    replaced = False
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation, OSError):
        if old_stderr.fileno() == 2:
            # Python-level writes keep going to the terminal. The descriptor stays open afterwards on
            # purpose: a logging handler created in the block may still hold this stream.
            sys.stderr = io.TextIOWrapper(io.FileIO(saved, "w", closefd=False),
                                          encoding=getattr(old_stderr, "encoding", None) or "utf-8",
                                          errors="backslashreplace", line_buffering=True, write_through=True)
            replaced = True
    try:
        with library_logs_to(path):
            yield Path(path)
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr = old_stderr
        if not replaced:
            os.close(saved)
