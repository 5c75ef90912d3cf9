"""Dataset identity: when two datasets are the same data, whatever they are called.

One check, used by external sets (``--external``), suites and their analysis:

* the **fingerprint** (labels and pixels as decoded: the same files at another image size differ);
* the **resolved source** (:func:`source_identity`): the dataset kind, its path with links and ``..`` resolved,
  and the task - the same folder read at ``image_size = 31`` and at 32 is one dataset, and ``folder:x``,
  ``folder:./x`` and ``folder:/abs/x`` are one external set;
* the **images themselves** (:func:`pixel_digests`, :func:`overlap`): an external set whose images are images
  the pipelines were fitted or tuned on (``--dataset npz:tiny.npz --external pneumoniamnist`` where tiny.npz
  was cut from PneumoniaMNIST) is refused, whatever its name and fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["groups", "overlap", "pixel_digests", "source_identity"]


def source_identity(spec_text: str | None, task: str | None = None) -> str | None:
    """``kind:/resolved/path[#task]`` (or ``kind[#task]`` for a named dataset such as ``pneumoniamnist``) of a
    ``KIND:PATH`` dataset text; None when there is none (an old results.json without its spec)."""
    if not spec_text:
        return None
    kind, colon, rest = str(spec_text).partition(":")
    if colon and rest:
        try:
            where = str(Path(rest).expanduser().resolve())
        except (OSError, RuntimeError, ValueError):
            where = rest
        ident = f"{kind}:{where}"
    else:
        ident = kind
    return f"{ident}#{task}" if task else ident


def pixel_digests(images: np.ndarray) -> list[bytes]:
    """One 16-byte digest per image of its decoded pixels (the same image decoded the same way: the same digest)."""
    arr = np.ascontiguousarray(images)
    return [hashlib.blake2b(arr[i].tobytes(), digest_size=16).digest() for i in range(len(arr))]


def overlap(images: np.ndarray, others: np.ndarray, shape_must_match: bool = True) -> np.ndarray:
    """Indices of ``images`` whose pixels equal one of ``others``' (empty when the shapes differ)."""
    if len(images) == 0 or len(others) == 0 or (shape_must_match and images.shape[1:] != others.shape[1:]):
        return np.zeros(0, dtype=np.int64)
    seen = set(pixel_digests(others))
    return np.array([i for i, d in enumerate(pixel_digests(images)) if d in seen], dtype=np.int64)


def groups(items: Sequence[tuple[str, Iterable[Any]]]) -> list[list[str]]:
    """Names that share any identity key (keys: e.g. fingerprint and resolved source; None ignored), in order;
    only groups of two or more are returned."""
    owner: dict[Any, int] = {}
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (_, keys) in enumerate(items):
        for key in keys:
            if key is None:
                continue
            if key in owner:
                a, b = find(owner[key]), find(i)
                parent[max(a, b)] = min(a, b)
            else:
                owner[key] = i
    out: dict[int, list[str]] = {}
    for i, (name, _) in enumerate(items):
        out.setdefault(find(i), []).append(name)
    return [g for g in out.values() if len(g) > 1]
