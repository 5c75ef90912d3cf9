"""Keep the terminal medbench's own: native libraries' log lines go to a log file.

TensorFlow's C++ runtime writes lines such as ``E0000 ... NodeDef mentions attribute ...`` straight to
file descriptor 2, between medbench's progress bars. :func:`native_output_to` points descriptor 2 at
a log file for a block, while Python's ``sys.stderr`` (progress bars, medbench's one-line messages
and warnings) keeps writing to the terminal through a duplicate of the original descriptor.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path


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
        yield Path(path)
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr = old_stderr
        if not replaced:
            os.close(saved)
