"""Apply a per-image function to an image stack on all cores, in chunks, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from medbench.core.workers import resolve_n_jobs


def n_workers(n_jobs: int | None) -> int:
    """Worker processes for ``n_jobs`` (:func:`medbench.core.workers.resolve_n_jobs`, at most one per core);
    ``None`` is one (in process)."""
    cpus = os.cpu_count() or 1
    return 1 if n_jobs is None else min(resolve_n_jobs(n_jobs, cpus), cpus)


def _run_chunk(fn: Callable[[np.ndarray], np.ndarray], chunk: np.ndarray) -> np.ndarray:
    return np.stack([fn(img) for img in chunk])


def map_images(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, *, n_jobs: int | None = -1,
               desc: str = "features", chunk_size: int = 256) -> np.ndarray:
    """``np.stack([fn(img) for img in images])``, computed in parallel processes with a progress bar."""
    workers = n_workers(n_jobs)
    chunks = [images[i:i + chunk_size] for i in range(0, len(images), chunk_size)]
    disable = len(images) < 2 * chunk_size or None  # None: tqdm hides the bar when not a terminal
    with tqdm(total=len(images), desc=desc, unit="img", disable=disable, leave=False) as bar:
        if workers == 1 or len(chunks) == 1:
            out = []
            for c in chunks:
                out.append(_run_chunk(fn, c))
                bar.update(len(c))
        else:
            out = []
            parallel = Parallel(n_jobs=workers, return_as="generator")
            for c, res in zip(chunks, parallel(delayed(_run_chunk)(fn, c) for c in chunks)):
                out.append(res)
                bar.update(len(c))
    return np.concatenate(out) if out else np.empty((0,))
