"""What a job scores beyond its own test split: external sets (``--external``) and corrupted copies of the
test split (``--robustness``). One :class:`Shift` value travels with every planned job.

:func:`prepare` loads the external sets once per run (:mod:`medbench.shift.external`); :meth:`Shift.key` is what
these extra results depend on and goes into every job key (:meth:`medbench.running.runner.Job.key_inputs`), so a
record made with other external sets, another class map or another ``--robustness`` preset is never reused;
:meth:`Shift.score` runs in the job, right after the fit. :func:`add_blocks` adds the top-level ``external``
and ``robustness`` blocks to results.json. With neither option, :attr:`Shift.active` is false and job keys
and records are exactly what they were without this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.datasets import identity
from medbench.datasets.dataset import Dataset
from medbench.shift import external, presets, robustness

__all__ = ["CODE", "Shift", "add_blocks", "prepare", "refuse_fitted_images"]

#: The medbench code these results depend on (added to a job's code hash when a shift is active).
CODE = ("medbench.shift.plan", "medbench.shift.external", "medbench.shift.robustness", "medbench.shift.corruptions",
        "medbench.shift.medmnistc_kinds", "medbench.shift.presets", "medbench.shift.medmnistc")


@dataclass(eq=False)
class Shift:
    externals: tuple[external.ExternalSet, ...] = ()
    robustness: presets.Preset | None = None  # --robustness PRESET, resolved for the dataset
    class_map: dict[str, Any] = field(default_factory=dict)  # one map, or {set: map} (SET::SRC=DST)

    @property
    def active(self) -> bool:
        return bool(self.externals) or self.robustness is not None

    def key(self) -> dict[str, Any]:
        return {"external": [e.key() for e in self.externals], "class_map": dict(sorted(self.class_map.items())),
                "robustness": False if self.robustness is None else self.robustness.key()}

    def score(self, fitted, X_test: np.ndarray, y_test: np.ndarray, class_names: list[str],
              threshold: float | None, positive: int | None, seed: int,
              metrics: dict[str, Any], at_specificity: Any = None) -> dict[str, Any]:
        """The job record's extra entries: ``external`` (list) and ``robustness`` (dict), as asked;
        ``at_specificity``: the job's validation thresholds of the sensitivity at fixed specificity."""
        out: dict[str, Any] = {}
        if self.externals:
            out["external"] = [external.score(fitted, e, class_names, threshold, positive, at_specificity)
                               for e in self.externals]
        if self.robustness is not None:
            out["robustness"] = robustness.score(fitted, X_test, y_test, class_names, threshold, positive, seed,
                                                 metrics, self.robustness)
        return out


def prepare(config, ds: Dataset, n_jobs: int | None = None) -> Shift:
    """The run's :class:`Shift` from its :class:`~medbench.running.config.RunConfig` (external sets loaded here)."""
    _refuse_same_sources(list(config.external), ds)
    maps = external.class_maps(config.class_map, list(config.external))
    per_set = any(external.SET_SEPARATOR in str(item) for item in config.class_map or ())
    # one map for every set (the key as before), or each set's own (--class-map SET::SRC=DST)
    class_map = {t: maps[t] for t in config.external} if per_set else external.parse_class_map(config.class_map)
    sets = tuple(external.load(text, ds, maps[text], allow_missing=config.allow_missing,
                               max_image_pixels=config.max_image_pixels, n_jobs=n_jobs)
                 for text in config.external)
    for ext in sets:
        if ext.fingerprint == ds.fingerprint:
            raise MedbenchError(f"--external {ext.text}: it is the run's dataset {ds.spec} (same fingerprint): "
                                f"external validation needs images from outside the dataset")
    preset = presets.resolve(config.robustness, ds.spec) if config.robustness else None
    return Shift(sets, preset, class_map)


def _refuse_same_sources(texts: list[str], ds: Dataset) -> None:
    """One line for an external set that is the run's dataset, or another external set under another spelling
    (``folder:x``, ``folder:./x``, ``folder:/abs/x``): :func:`medbench.datasets.identity.source_identity`."""
    seen = {identity.source_identity(ds.spec): f"the run's dataset {ds.spec}"}
    for text in texts:
        ident = identity.source_identity(text)
        if ident in seen:
            raise MedbenchError(f"--external {text}: it is {seen[ident]} (the same source, {ident}): give each "
                                f"external set once, and none that is the dataset itself")
        seen[ident] = f"--external {text}"


def refuse_fitted_images(shift: Shift, ds: Dataset, splits: list[Any]) -> None:
    """Refuse an external set holding images the pipelines are fitted or tuned on (the train and validation
    splits of any seed; same decoded pixels, whatever the file names): its "external" numbers would be
    training numbers (:mod:`medbench.datasets.identity`)."""
    if not shift.externals:
        return
    seen = np.unique(np.concatenate([np.concatenate([s.train, s.val]) for s in splits]))
    fitted = ds.images[seen]
    for ext in shift.externals:
        hits = identity.overlap(ext.images, fitted)
        if len(hits):
            ids = ", ".join(str(ext.ids[i]) for i in hits[:3])
            raise MedbenchError(f"--external {ext.text}: {len(hits)} of its {len(ext.ids)} images are images the "
                                f"pipelines are fitted or tuned on (the same pixels as training/validation images "
                                f"of {ds.spec}; e.g. {ids}): external validation needs images from outside the "
                                f"training data - remove them, or give an external set without them")


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
