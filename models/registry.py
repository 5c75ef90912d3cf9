"""The pipeline registry: every benchmarked pipeline by name, family and builder.

A pipeline is a scikit-learn :class:`~sklearn.pipeline.Pipeline` whose input ``X`` is the
dataset's ``uint8`` image array ``(N, H, W)``: feature transformers first, a classifier with
``fit`` / ``predict_proba`` last. The runner never needs to know which family it runs:

* it fits ``pipeline[:-1]`` (the features) on the training split and transforms train / val / test;
* it fits the last step on the training features, once per entry of ``param_grid`` (hyper-parameters
  tuned on the validation split only), passing ``validation_data=(X_val, y_val)`` when the step's
  ``fit`` accepts that keyword (early stopping);
* it reads ``predict_proba`` and, if present, the fitted last step's ``variant_`` (e.g. ``"random
  init"``, shown in the row name) and ``report_info_`` (a JSON-able dict stored in the results).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline

from medbench.core.errors import MedbenchError

FAMILIES = ("baseline", "classical", "deep")
# Modules whose import registers pipelines (kept cheap: no heavy imports at module level).
_MODULES = ("medbench.models.classical", "medbench.models.deep")


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know about the job it builds for."""

    n_classes: int
    image_shape: tuple[int, int]
    seed: int = 0
    n_jobs: int = -1
    options: dict[str, Any] = field(default_factory=dict)  # pipeline options from --option KEY=VALUE


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    family: str
    summary: str
    build: Callable[[BuildContext], Pipeline]
    # grid over the last step's parameters, keyed like scikit-learn pipeline parameters (``svm__C``)
    param_grid: dict[str, list] = field(default_factory=dict)
    default: bool = True  # part of "--pipelines all"/the default run

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")


_REGISTRY: dict[str, PipelineSpec] = {}
_loaded = False


def register(spec: PipelineSpec) -> PipelineSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"pipeline {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _MODULES:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:
                if exc.name != mod:
                    raise


def all_pipelines() -> dict[str, PipelineSpec]:
    _load()
    return dict(_REGISTRY)


def get(name: str) -> PipelineSpec:
    pipes = all_pipelines()
    if name not in pipes:
        raise MedbenchError(f"unknown pipeline {name!r}; known pipelines: {', '.join(pipes)}")
    return pipes[name]


def resolve(names: list[str] | None) -> list[PipelineSpec]:
    """Expand a user selection: ``None``/``["all"]`` -> defaults, family names -> their members."""
    pipes = all_pipelines()
    if not names or names == ["all"]:
        return [p for p in pipes.values() if p.default]
    out: list[PipelineSpec] = []
    for name in names:
        if name in FAMILIES:
            out.extend(p for p in pipes.values() if p.family == name and p.default)
        else:
            out.append(get(name))
    seen: set[str] = set()
    return [p for p in out if not (p.name in seen or seen.add(p.name))]
