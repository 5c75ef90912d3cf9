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

import ast
import importlib
import importlib.metadata
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline

from medbench.core.errors import MedbenchError
from medbench.core.registry import Registry
from medbench.core.warn import warn

FAMILIES = ("baseline", "classical", "deep")
# Modules whose import registers pipelines (kept cheap: no heavy imports at module level).
_MODULES = ("medbench.models.classical", "medbench.models.deep")
#: Entry-point group through which another package adds pipelines: each entry point names a module
#: (imported, so its ``register(...)`` calls run) or a callable returning one PipelineSpec or a list of them.
ENTRY_POINT_GROUP = "medbench.pipelines"


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


_REGISTRY: Registry[PipelineSpec] = Registry("pipeline")  # the one mechanism (medbench.core.registry)
_loaded = False


def register(spec: PipelineSpec) -> PipelineSpec:
    """Register a pipeline (its module does so where it defines the pipeline; a plugin through its entry point)."""
    return _REGISTRY.add(spec.name, spec)


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _MODULES:
            importlib.import_module(mod)
        _load_plugins()


def _load_plugins() -> None:
    """Pipelines from other packages' ``medbench.pipelines`` entry points; a broken plugin only warns."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()  # importing a module runs its register(...) calls
            if isinstance(obj, PipelineSpec):
                specs: Any = [obj]
            elif callable(obj) and not isinstance(obj, types.ModuleType):
                made = obj()
                specs = [made] if isinstance(made, PipelineSpec) else list(made or [])
            else:
                specs = []
            for spec in specs:
                if spec.name not in _REGISTRY:
                    register(spec)
        except Exception as exc:  # noqa: BLE001 - someone else's package must not break medbench
            warn(f"pipeline plugin {ep.name!r} ({ep.value}) could not be loaded: "
                 f"{type(exc).__name__}: {exc}; its pipelines are not available")


def plugin_of(name: str) -> str | None:
    """The distribution that registered pipeline ``name`` (None for medbench's own)."""
    spec = all_pipelines().get(name)
    module = getattr(spec.build, "__module__", "") if spec else ""
    if not module or module.startswith("medbench."):
        return None
    return module.split(".", 1)[0]


def all_pipelines() -> dict[str, PipelineSpec]:
    _load()
    return _REGISTRY.as_dict()


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


def _literal(value: Any) -> Any:
    """An option value as typed: ``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"None"`` -> None, a bare word -> the string."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value.strip()


def resolve_options(spec: PipelineSpec, pipe: Pipeline, options: dict[str, Any]) -> dict[str, Any]:
    """``--option`` items for one pipeline -> scikit-learn parameters of its built ``pipe``.

    A key is a full ``step__param`` name (``svm__C``) or a bare parameter name that ends exactly one
    of them (``C`` -> ``svm__C``, ``epochs`` -> ``cnn__epochs``). Any other key is an error that lists
    the valid names: an option is never silently ignored. Values are parsed as Python literals.
    """
    valid = [k for k in pipe.get_params(deep=True) if "__" in k and k.split("__", 1)[0] in pipe.named_steps]
    resolved: dict[str, Any] = {}
    for key, value in options.items():
        if key in valid:
            full = key
        else:
            matches = [k for k in valid if k.rsplit("__", 1)[-1] == key]
            if len(matches) != 1:
                why = "is ambiguous" if matches else "is not a parameter of this pipeline"
                names = ", ".join(sorted(matches or valid))
                raise MedbenchError(f"--option {spec.name}.{key}={value}: {key!r} {why}; valid names: {names}")
            full = matches[0]
        if full in resolved:
            raise MedbenchError(f"--option {spec.name}.{key}={value} sets {full} a second time")
        resolved[full] = _literal(value)
    return resolved


def apply_options(spec: PipelineSpec, pipe: Pipeline, options: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``options`` (:func:`resolve_options`), set them on ``pipe`` and check them.

    Steps with a ``check_params()`` method (the Keras estimators) validate their parameters here, so a
    bad value is one line before any data is touched. Returns the resolved ``{step__param: value}``.
    """
    resolved = resolve_options(spec, pipe, options)
    pipe.set_params(**resolved)
    for step_name, step in pipe.steps:
        check = getattr(step, "check_params", None)
        if callable(check):
            try:
                check()
            except MedbenchError:
                raise
            except (ValueError, TypeError) as exc:
                raise MedbenchError(f"--option for {spec.name} ({step_name}): {exc}") from None
    return resolved


def validate_options(specs: list[PipelineSpec], options: dict[str, dict[str, Any]], *,
                     n_classes: int = 2, image_shape: tuple[int, int] = (28, 28)) -> None:
    """Check every ``--option`` before a run starts: unknown pipelines, names and bad values raise."""
    known = all_pipelines()
    for name in options:
        if name not in known:
            raise MedbenchError(f"--option names unknown pipeline {name!r}; known pipelines: {', '.join(known)}")
    for spec in specs:
        if options.get(spec.name):
            apply_options(spec, spec.build(BuildContext(n_classes=n_classes, image_shape=image_shape)),
                          options[spec.name])
