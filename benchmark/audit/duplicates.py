"""Near-duplicate images (:mod:`medbench.audit.phash`) within each split, across splits and between datasets.

:func:`within_dataset` gives, per split, the near-duplicate pairs inside it and, per pair of splits, those
across it; :func:`between` compares a dataset with another set (an external validation set, or another
dataset of a suite). Every entry counts pairs, the images involved on the evaluated side, the pairs whose
file names are equal too (a re-packaged copy), and lists a few example pairs (ids and distance).
:func:`evaluated_duplicates` names what ``--dedupe`` removes: test images with a near-duplicate in train or
validation, and external images with a near-duplicate in the dataset's train or validation split.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from medbench.audit import phash as ph
from medbench.datasets.dataset import SPLITS

METHOD = "pHash (32x32 gray, DCT, top-left 8x8 vs median: 64 bits), Hamming distance"
N_EXAMPLES = 5
#: Splits a model is fitted or tuned on: an evaluated image that duplicates one of these is leakage.
FIT_SPLITS = ("train", "val")


def _base(ids: np.ndarray) -> np.ndarray:
    return np.array([os.path.basename(str(i)).lower() for i in ids.tolist()], dtype=str)


def _entry(ids_a: np.ndarray, ids_b: np.ndarray, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> dict[str, Any]:
    """One pair-type's counts and examples (``b`` is the evaluated side)."""
    order = np.lexsort((j, i, d))[:N_EXAMPLES]
    same = int(np.sum(_base(ids_a[i]) == _base(ids_b[j]))) if len(i) else 0
    return {"pairs": int(len(i)), "images": int(len(np.unique(j))), "same_name": same,
            "examples": [{"a": str(ids_a[i[k]]), "b": str(ids_b[j[k]]), "distance": int(d[k])} for k in order]}


def _collect(a: np.ndarray, b: np.ndarray | None, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = list(ph.close_pairs(a, b, threshold))
    if not parts:
        return (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0, dtype=np.uint8),)
    return tuple(np.concatenate(x) for x in zip(*parts))  # type: ignore[return-value]


def within_dataset(ids: np.ndarray, hashes: np.ndarray, parts: dict[str, np.ndarray],
                   threshold: int = ph.HAMMING_THRESHOLD) -> dict[str, Any]:
    """``{"within": {split: entry}, "across": {"a-b": entry}, "test_leaks": [test positions]}``."""
    i, j, d = _collect(hashes, None, threshold)
    where = np.full(len(ids), "", dtype=object)
    for s, idx in parts.items():
        where[idx] = s
    within, across = {}, {}
    sa, sb = where[i], where[j]
    names = [s for s in SPLITS if s in parts]
    for s in names:
        m = (sa == s) & (sb == s)
        within[s] = _entry(ids, ids, i[m], j[m], d[m])
    for k, a in enumerate(names):
        for b in names[k + 1:]:
            m1, m2 = (sa == a) & (sb == b), (sa == b) & (sb == a)
            # oriented a -> b (b: the later, evaluated split)
            ii, jj, dd = np.concatenate([i[m1], j[m2]]), np.concatenate([j[m1], i[m2]]), np.concatenate([d[m1], d[m2]])
            across[f"{a}-{b}"] = _entry(ids, ids, ii, jj, dd)
    leaks = set()
    for s in FIT_SPLITS:
        m1, m2 = (sa == s) & (sb == "test"), (sa == "test") & (sb == s)
        leaks.update(j[m1].tolist())
        leaks.update(i[m2].tolist())
    return {"within": within, "across": across, "test_leaks": sorted(leaks)}


def between(ids_a: np.ndarray, hashes_a: np.ndarray, parts_a: dict[str, np.ndarray] | None, ids_b: np.ndarray,
            hashes_b: np.ndarray, threshold: int = ph.HAMMING_THRESHOLD) -> dict[str, Any]:
    """Dataset A against set B: an entry for all of A and, with ``parts_a``, one per split of A; and
    ``leaks``: the positions in B with a near-duplicate in A's train or validation split (all of A without
    ``parts_a``)."""
    i, j, d = _collect(hashes_a, hashes_b, threshold)
    out: dict[str, Any] = {"n": int(len(ids_b)), "all": _entry(ids_a, ids_b, i, j, d), "by_split": {}}
    fit = np.ones(len(i), dtype=bool)
    if parts_a is not None:
        where = np.full(len(ids_a), "", dtype=object)
        for s, idx in parts_a.items():
            where[idx] = s
        for s in SPLITS:
            if s in parts_a:
                m = where[i] == s
                out["by_split"][s] = _entry(ids_a, ids_b, i[m], j[m], d[m])
        fit = np.isin(where[i], FIT_SPLITS)
    out["leaks"] = sorted(set(j[fit].tolist()))
    return out
