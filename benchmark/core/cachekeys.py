"""Cache keys that follow everything that can change a cached value, and the one file-hash helper.

A key is the SHA-256 of a canonical JSON document of its *inputs*: what is computed (``kind``), the
hash of the medbench source that computes it (:func:`source_hash`, read from the installed package's
files, so nobody has to remember to bump a number), the versions of the libraries involved
(:func:`library_versions`) and the parameters and data digests. The inputs are stored beside each
entry, so medbench can say why it reused or recomputed something (:func:`explain`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import readfile

#: Distribution names per library family, as recorded in cache keys.
LIBS_IMAGE = ("numpy", "pillow", "scikit-image", "opencv-python-headless", "opencv-python")
LIBS_CLASSICAL = ("numpy", "scikit-image", "opencv-python-headless", "opencv-python", "scikit-learn", "xgboost")
LIBS_DEEP = ("numpy", "keras", "tensorflow", "jax", "torch")

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks (never the whole file in memory)."""
    h = hashlib.new(algorithm)
    if os.path.lexists(path) and not readfile.is_regular(path):  # a FIFO would block, a device never end
        raise readfile.UnreadableFile(f"{path} is not a regular file (a FIFO, device or folder): give a file")
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def array_digest(x: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes, hashed through its buffer (no copy when contiguous)."""
    h = hashlib.sha256(f"{x.dtype.str}{x.shape}".encode())
    if x.flags.c_contiguous:
        h.update(memoryview(x).cast("B") if x.size else b"")
    else:  # hash row by row: never a full contiguous copy of a large view
        for row in x.reshape(x.shape[0], -1) if x.ndim > 1 else x[:, None]:
            h.update(np.ascontiguousarray(row).data)
    return h.hexdigest()


def _package_files(module: str) -> list[tuple[str, Path]]:
    """``(name, path)`` of every source file of ``module`` (all ``.py`` files below it for a package)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(module)
    if spec.submodule_search_locations:
        files: list[tuple[str, Path]] = []
        for root in spec.submodule_search_locations:
            files.extend((f"{module}:{p.relative_to(root).as_posix()}", p) for p in sorted(Path(root).rglob("*.py")))
        return files
    return [(module, Path(spec.origin))]


@functools.cache
def source_hash(*modules: str) -> str:
    """SHA-256 over the source files of the given medbench modules or packages (paths + contents).

    ``source_hash("medbench.features", "medbench.core")`` changes whenever any file below those
    packages changes, so every cache keyed on it follows the code.
    """
    h = hashlib.sha256()
    for module in sorted(set(modules)):
        for name, path in _package_files(module):
            h.update(f"{name}\n".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@functools.cache
def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` for the installed ones among ``names`` (missing ones are left out)."""
    out = {}
    for name in names:
        version = _version(name)
        if version is not None:
            out[name] = version
    return out


def canonical(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no whitespace; paths and numpy values as text)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return str(obj)


def key_inputs(kind: str, *, code: Iterable[str], libs: Iterable[str], **params: Any) -> dict[str, Any]:
    """Everything a cached value depends on: ``kind``, source hashes of ``code``, ``libs`` versions, params."""
    code = tuple(sorted(set(code)))
    return {"kind": kind, "code": {"modules": list(code), "sha256": source_hash(*code)},
            "libraries": library_versions(libs), "params": json.loads(canonical(params))}


def digest(inputs: dict[str, Any]) -> str:
    """The key: SHA-256 of the canonical JSON of ``inputs``."""
    return hashlib.sha256(canonical(inputs).encode()).hexdigest()


def explain(stored: dict[str, Any] | None, current: dict[str, Any]) -> str:
    """One line saying why an entry with inputs ``stored`` does (not) match ``current``."""
    if stored is None:
        return "no entry"
    diffs = []
    for part in ("kind", "code", "libraries", "params"):
        if stored.get(part) != current.get(part):
            if part == "libraries":
                a, b = stored.get(part) or {}, current.get(part) or {}
                changed = [f"{k} {a.get(k)}->{b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
                diffs.append("libraries changed (" + ", ".join(changed) + ")")
            elif part == "code":
                diffs.append("medbench source changed (" + ", ".join(current["code"]["modules"]) + ")")
            elif part == "params":
                a, b = stored.get(part) or {}, current.get(part) or {}
                changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                diffs.append("parameters changed (" + ", ".join(changed) + ")")
            else:
                diffs.append(f"{part} changed")
    return "; ".join(diffs) if diffs else "same inputs"
