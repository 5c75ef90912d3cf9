"""What a job scores beyond its own test split: external sets (``--external``) and corrupted copies of the
test split (``--robustness``). One :class:`Shift` value travels with every planned job.

:func:`prepare` loads the external sets once per run (:mod:`medbench.external`); :meth:`Shift.key` is what
these extra results depend on and goes into every job key (:meth:`medbench.runner.Job.key_inputs`), so a
record made with other external sets, another class map or without ``--robustness`` is never reused;
:meth:`Shift.score` runs in the job, right after the fit. :func:`add_blocks` adds the top-level ``external``
and ``robustness`` blocks to results.json. With neither option, :attr:`Shift.active` is false and job keys
and records are exactly what they were without this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbench import external, robustness
from medbench.datasets.dataset import Dataset

__all__ = ["CODE", "Shift", "add_blocks", "prepare"]

#: The medbench code these results depend on (added to a job's code hash when a shift is active).
CODE = ("medbench.shift", "medbench.external", "medbench.robustness", "medbench.corruptions")


@dataclass(eq=False)
class Shift:
    externals: tuple[external.ExternalSet, ...] = ()
    robustness: bool = False
    class_map: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.externals) or self.robustness

    def key(self) -> dict[str, Any]:
        return {"external": [e.key() for e in self.externals], "class_map": dict(sorted(self.class_map.items())),
                "robustness": self.robustness}

    def score(self, fitted, X_test: np.ndarray, y_test: np.ndarray, class_names: list[str],
              threshold: float | None, positive: int | None, seed: int,
              metrics: dict[str, Any]) -> dict[str, Any]:
        """The job record's extra entries: ``external`` (list) and ``robustness`` (dict), as asked."""
        out: dict[str, Any] = {}
        if self.externals:
            out["external"] = [external.score(fitted, e, class_names, threshold, positive) for e in self.externals]
        if self.robustness:
            out["robustness"] = robustness.score(fitted, X_test, y_test, class_names, threshold, positive, seed,
                                                 metrics)
        return out


def prepare(config, ds: Dataset, n_jobs: int | None = None) -> Shift:
    """The run's :class:`Shift` from its :class:`~medbench.config.RunConfig` (external sets loaded here)."""
    class_map = external.parse_class_map(config.class_map)
    sets = tuple(external.load(text, ds, class_map, allow_missing=config.allow_missing,
                               max_image_pixels=config.max_image_pixels, n_jobs=n_jobs)
                 for text in config.external)
    return Shift(sets, bool(config.robustness), class_map)


def add_blocks(results: dict[str, Any], n_resamples: int, seed: int) -> dict[str, Any]:
    """``results`` with its top-level ``external`` and ``robustness`` blocks (only those that have data)."""
    out = {k: v for k, v in results.items() if k not in ("external", "robustness")}
    ext = external.summarize(results, n_resamples, seed)
    if ext is not None:
        out["external"] = ext
    rob = robustness.summarize(results)
    if rob is not None:
        out["robustness"] = rob
    return out
