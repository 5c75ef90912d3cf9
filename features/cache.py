"""Content-keyed disk cache for expensive per-image computations (features, codebooks, embeddings).

An entry's key (:mod:`medbench.core.cachekeys`) covers the input array's bytes, the computation's
parameters, the hash of the medbench source that computes it (``code``: by default the
``medbench.features`` and ``medbench.core`` packages) and the versions of the libraries involved
(``libs``). Editing ``hog.py`` or upgrading scikit-image therefore misses, never returns stale
features. Each entry ``<key>.npy`` has a sidecar ``<key>.json`` with its key inputs, which
:func:`describe` and ``medbench cache info`` read, and a ``<key>.sha256`` with the SHA-256 of the
``.npy`` file as written: a hit is used only when the bytes read match it (an entry replaced with
zeros, edited or damaged is recomputed, with a warning on stderr). Entries are written
atomically. The cache lives
in ``$MEDBENCH_CACHE_DIR/<namespace>`` and can be switched off for a block with :func:`disabled`
(the runner does this when it measures inference latency) or globally with ``MEDBENCH_NO_CACHE=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import cachekeys, readfile, settings
from medbench.core.atomic import write_bytes, write_json, write_text
from medbench.core.cachekeys import array_digest
from medbench.core.errors import MedbenchError
from medbench.core.paths import cache_dir
from medbench.core.warn import warn

__all__ = ["array_digest", "cached_array", "describe", "disabled", "enabled", "entry_intact", "read_checked",
           "reset_stats", "stats", "write_checked"]

FEATURE_CODE = ("medbench.features", "medbench.core")
DIGEST_SUFFIX = ".sha256"

_state = threading.local()
_stats = {"hits": 0, "misses": 0}


def stats() -> dict[str, int]:
    """Cache hits and misses in this process since the last :func:`reset_stats`."""
    return dict(_stats)


def reset_stats() -> None:
    _stats.update(hits=0, misses=0)


def enabled() -> bool:
    if settings.flag(settings.NO_CACHE_ENV):
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


def key_inputs(namespace: str, x: np.ndarray, params: dict[str, Any], *, code: Iterable[str] = FEATURE_CODE,
               libs: Iterable[str] = cachekeys.LIBS_CLASSICAL) -> dict[str, Any]:
    """Everything the entry for input ``x`` depends on (see :func:`medbench.core.cachekeys.key_inputs`)."""
    return cachekeys.key_inputs(namespace, code=code, libs=libs, input=array_digest(x), **params)


def cached_array(namespace: str, x: np.ndarray, params: dict[str, Any], compute: Callable[[], np.ndarray], *,
                 code: Iterable[str] = FEATURE_CODE,
                 libs: Iterable[str] = cachekeys.LIBS_CLASSICAL) -> tuple[np.ndarray, bool]:
    """Return ``(result, hit)``: the cached result of ``compute()`` for input ``x``, ``params``, code, libs."""
    if not enabled():
        return compute(), False
    inputs = key_inputs(namespace, x, params, code=code, libs=libs)
    path = Path(cache_dir()) / namespace / f"{cachekeys.digest(inputs)[:32]}.npy"
    if path.exists():
        result = _read_checked(path)
        if result is not None:
            _stats["hits"] += 1
            return result, True
    result = compute()
    _stats["misses"] += 1
    write_checked(path, result, inputs)
    return result, False


def write_checked(path: Path, result: np.ndarray, inputs: dict[str, Any] | None = None) -> bool:
    """Write array ``result`` as entry ``path`` (``.npy``, no pickle) with its SHA-256 beside it (and its key
    ``inputs`` as the ``.json`` sidecar, when given), atomically; False when the cache cannot be written."""
    buf = io.BytesIO()
    np.save(buf, result, allow_pickle=False)
    data = buf.getvalue()
    try:
        if inputs is not None:
            write_json(path.with_suffix(".json"), inputs)
        write_text(path.with_suffix(DIGEST_SUFFIX), hashlib.sha256(data).hexdigest() + "\n")
        write_bytes(path, data)  # last: an entry whose .npy exists has its digest beside it
    except OSError:
        return False  # a read-only or full cache never fails a run
    return True


def read_checked(path: Path) -> np.ndarray | None:
    """The array of entry ``path`` when it is there and its bytes match their SHA-256; else None."""
    return _read_checked(path) if path.exists() else None


def _read_checked(path: Path) -> np.ndarray | None:
    """The array in entry ``path`` if its bytes match the SHA-256 stored beside it; else None (recompute),
    with a warning when the entry was changed after it was written (edited, replaced or damaged)."""
    try:
        data = readfile.read_bytes(path, "cache entry", cap="cache entry")
        stored = readfile.read_bytes(path.with_suffix(DIGEST_SUFFIX), "cache digest", cap="sidecar").decode("ascii").strip()
    except (OSError, ValueError, MedbenchError):
        return None  # no digest (or unreadable): recompute and rewrite the entry
    if hashlib.sha256(data).hexdigest() != stored:
        warn(f"cache entry {path} does not match its SHA-256 (edited, replaced or damaged); "
             f"recomputing it")
        return None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # a damaged entry is recomputed


def entry_intact(path: Path) -> bool:
    """Whether entry ``path`` still matches the SHA-256 beside it (the check a run makes before reusing it)."""
    try:
        stored = path.with_suffix(DIGEST_SUFFIX).read_text(encoding="ascii").strip()
        return hashlib.sha256(path.read_bytes()).hexdigest() == stored
    except (OSError, ValueError):
        return False


def describe(namespace: str | None = None) -> list[dict[str, Any]]:
    """The stored key inputs of every entry (of one namespace, or all), for ``medbench cache info``."""
    root = Path(cache_dir())
    out = []
    for side in sorted(root.glob(f"{namespace or '*'}/*.json")):
        try:
            inputs = json.loads(readfile.read_bytes(side, "cache sidecar", cap="sidecar").decode("utf-8"))
        except (OSError, ValueError, RecursionError, MedbenchError):
            continue
        if isinstance(inputs, dict):
            out.append({"entry": str(side.with_suffix(".npy").relative_to(root)), **inputs})
    return out
