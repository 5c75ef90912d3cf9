"""medbench's one warning channel: :func:`warn` logs to the ``medbench`` logger.

By default a warning is one ``medbench: warning: ...`` line on stderr. While :func:`routed` is active
(``medbench.run`` / ``run_suite`` for their whole run) the lines go to the run's ``log`` callback
instead, and nowhere when that is ``None``: ``medbench.run(log=None)`` is silent. Applications may add
their own handlers to ``logging.getLogger("medbench")``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["LOGGER", "warn", "routed"]

LOGGER = logging.getLogger("medbench")
_route = threading.local()
_UNSET = object()


class _Handler(logging.Handler):
    """Writes ``medbench: warning: MESSAGE`` to the active route (a run's log) or to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        line = f"medbench: warning: {record.getMessage()}"
        sink = getattr(_route, "sink", _UNSET)
        if sink is _UNSET:
            print(line, file=sys.stderr)  # sys.stderr as it is now (a test's capture, a redirected stream)
        elif sink is not None:
            sink(line)


if not any(isinstance(h, _Handler) for h in LOGGER.handlers):
    LOGGER.addHandler(_Handler())
    LOGGER.setLevel(logging.WARNING)
    LOGGER.propagate = False  # one line per warning, not a second one from the root logger


def warn(message: str) -> None:
    """One warning line (see the module docstring for where it goes)."""
    LOGGER.warning(message)


@contextlib.contextmanager
def routed(log: Callable[[str], None] | None) -> Iterator[None]:
    """Send this thread's warnings to ``log`` (``None``: drop them) while the block runs."""
    previous = getattr(_route, "sink", _UNSET)
    _route.sink = log
    try:
        yield
    finally:
        if previous is _UNSET:
            del _route.sink
        else:
            _route.sink = previous
