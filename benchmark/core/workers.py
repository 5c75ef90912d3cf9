"""How many workers ``n_jobs`` means: the one rule every layer uses (``--n-jobs``, image decoding,
feature extraction).

``n_jobs`` is joblib's convention: a positive whole number is that many workers, ``-1`` every core,
``-N`` all but ``N - 1`` cores (never fewer than one); ``0`` (and anything that is not a whole number)
is a one-line error.
"""

from __future__ import annotations

import os
from typing import Any

from medbench.core.errors import MedbenchError


def check_n_jobs(n_jobs: Any) -> int:
    """``n_jobs`` as an int (positive, or negative for "all cores but N - 1"); else a one-line error."""
    whole = isinstance(n_jobs, int) and not isinstance(n_jobs, bool)
    if not whole:
        try:  # numpy integers
            whole = float(n_jobs).is_integer() and int(n_jobs) == n_jobs and not isinstance(n_jobs, float | str)
        except (TypeError, ValueError):
            whole = False
    if not whole or n_jobs == 0:
        raise MedbenchError(f"n_jobs {n_jobs!r} (--n-jobs {n_jobs}) is not a positive whole number, -1 (every "
                            f"core) or -N (all cores but N - 1)")
    return int(n_jobs)


def resolve_n_jobs(n_jobs: Any, cores: int | None = None) -> int:
    """The number of workers ``n_jobs`` means on this machine; ``None`` is every core."""
    cores = cores or os.cpu_count() or 1
    if n_jobs is None:
        return cores
    n = check_n_jobs(n_jobs)
    return n if n > 0 else max(1, cores + 1 + n)
