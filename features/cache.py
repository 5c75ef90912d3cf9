"""Content-keyed disk cache for expensive per-image computations (features, CNN embeddings).

Entries are keyed by a hash of the input array's bytes plus the computation's parameters, so a
second run on the same images with the same parameters does not recompute them, while any change
in pixels or parameters misses. Entries are written atomically. The cache lives in
``$MEDBENCH_CACHE_DIR/<namespace>`` and can be switched off for a block with :func:`disabled`
(the runner does this when it measures inference latency) or globally with ``MEDBENCH_NO_CACHE=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core.atomic import write_bytes
from medbench.core.paths import cache_dir

_state = threading.local()
_stats = {"hits": 0, "misses": 0}


def stats() -> dict[str, int]:
    """Cache hits and misses in this process since the last :func:`reset_stats`."""
    return dict(_stats)


def reset_stats() -> None:
    _stats.update(hits=0, misses=0)


def enabled() -> bool:
    if os.environ.get("MEDBENCH_NO_CACHE", "") not in ("", "0"):
        return False
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within this block every cache lookup misses and nothing is written."""
    old = getattr(_state, "enabled", True)
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = old


def array_digest(x: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{x.dtype.str}{x.shape}".encode())
    h.update(np.ascontiguousarray(x).data)
    return h.hexdigest()


def key_for(x: np.ndarray, params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256((array_digest(x) + blob).encode()).hexdigest()[:32]


def cached_array(namespace: str, x: np.ndarray, params: dict[str, Any],
                 compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """Return ``(result, hit)``: the cached result of ``compute()`` for input ``x`` and ``params``."""
    if not enabled():
        return compute(), False
    path = Path(cache_dir()) / namespace / f"{key_for(x, params)}.npy"
    if path.exists():
        try:
            result = np.load(path, allow_pickle=False)
            _stats["hits"] += 1
            return result, True
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a damaged entry is recomputed
    result = compute()
    _stats["misses"] += 1
    buf = io.BytesIO()
    np.save(buf, result, allow_pickle=False)
    try:
        write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only or full cache never fails a run
    return result, False
