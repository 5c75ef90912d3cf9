"""Regression tolerances for ``medbench compare``: sensible defaults, overridable by a small TOML file.

A metric *fails* when it drops by more than its tolerance (absolute: ``0.01`` is one percentage
point of accuracy). A runtime figure fails when it gets slower by more than its ratio (``1.5``: NEW
takes more than 1.5x BASE's time; for throughput, BASE/NEW). Every key is optional::

    [compare]
    mode = "absolute"      # or "significant": a drop beyond tolerance fails only when the two runs'
                           # confidence intervals do not overlap (without CIs: same as "absolute")
    missing = "fail"       # BASE pipeline absent or failed in NEW: "fail" or "warn"
    seeds = "mean"         # several seeds: judge the mean over seeds ("mean") or every seed ("each")

    [metrics]              # largest allowed drop; "*" sets every metric; inf never fails
    accuracy = 0.01
    sensitivity = 0.02

    [runtime]
    check = true           # false: report runtime ratios, never fail on them (= --no-runtime)
    fit_time_s = 1.5
    latency_ms_per_image = 1.5

    [runtime.floor]        # not judged when both runs are faster than this (timer noise)
    fit_time_s = 1.0

    [pipelines.hog-xgboost]          # per-pipeline overrides: missing, mode, metrics, runtime
    missing = "warn"
    metrics = { roc_auc = 0.02 }
    runtime = { fit_time_s = 2.0 }
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.metrics import HEADLINE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FILENAME = "tolerances.toml"
MODES = ("absolute", "significant")
MISSING = ("fail", "warn")
SEEDS = ("mean", "each")

DEFAULT_METRICS: dict[str, float] = {
    "*": 0.01,
    "accuracy": 0.01, "balanced_accuracy": 0.01, "f1": 0.01, "macro_f1": 0.01, "roc_auc": 0.01,
    "sensitivity": 0.02, "specificity": 0.02,
}
# Runtime figures medbench compares: (direction, default slowdown ratio, default noise floor).
# "lower" is better for times; for throughput ("higher") the floor is a ceiling: not judged when both
# runs are faster than it.
RUNTIME: dict[str, tuple[str, float, float]] = {
    "fit_time_s": ("lower", 1.5, 1.0),
    "latency_ms_per_image": ("lower", 1.5, 0.05),
    "single_image_latency_ms": ("lower", 1.5, 1.0),
    "throughput_img_per_s": ("higher", 1.5, 20000.0),
}


@dataclass
class Rules:
    """Overrides for one pipeline (``None``: inherit the file's global setting)."""

    metrics: dict[str, float] = field(default_factory=dict)
    runtime: dict[str, float] = field(default_factory=dict)
    missing: str | None = None
    mode: str | None = None


@dataclass
class Tolerances:
    mode: str = "absolute"
    missing: str = "fail"
    seeds: str = "mean"
    metrics: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    runtime_check: bool = True
    runtime: dict[str, float] = field(default_factory=lambda: {k: v[1] for k, v in RUNTIME.items()})
    floors: dict[str, float] = field(default_factory=lambda: {k: v[2] for k, v in RUNTIME.items()})
    pipelines: dict[str, Rules] = field(default_factory=dict)
    source: str = "built-in defaults"

    def metric_tolerance(self, pipeline: str, metric: str) -> float:
        for table in (self.pipelines.get(pipeline, Rules()).metrics, self.metrics):
            for key in (metric, "*"):
                if key in table:
                    return table[key]
        return DEFAULT_METRICS["*"]

    def runtime_limit(self, pipeline: str, key: str) -> float:
        rules = self.pipelines.get(pipeline, Rules())
        return rules.runtime.get(key, self.runtime.get(key, math.inf))

    def missing_policy(self, pipeline: str) -> str:
        return self.pipelines.get(pipeline, Rules()).missing or self.missing

    def mode_for(self, pipeline: str) -> str:
        return self.pipelines.get(pipeline, Rules()).mode or self.mode

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``inf`` written as ``null``: never fails), stored in compare.json."""
        def fin(d: dict[str, float]) -> dict[str, float | None]:
            return {k: (None if math.isinf(v) else v) for k, v in d.items()}
        return {
            "source": self.source, "mode": self.mode, "missing": self.missing, "seeds": self.seeds,
            "metrics": fin(self.metrics), "runtime_check": self.runtime_check, "runtime": fin(self.runtime),
            "runtime_floor": dict(self.floors),
            "pipelines": {name: {k: v for k, v in (("metrics", fin(r.metrics)), ("runtime", fin(r.runtime)),
                                                 ("missing", r.missing), ("mode", r.mode)) if v}
                          for name, r in self.pipelines.items()},
        }


def defaults() -> Tolerances:
    return Tolerances()


def _where(src: str, key: str) -> str:
    return f"{src}: {key}"


def _number(src: str, key: str, value: Any, *, ratio: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise MedbenchError(f"{_where(src, key)} must be a number, got {value!r}")
    if value < (1 if ratio else 0):
        need = ">= 1 (a slowdown ratio)" if ratio else ">= 0"
        raise MedbenchError(f"{_where(src, key)} = {value} must be {need}")
    return float(value)


def _choice(src: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise MedbenchError(f"{_where(src, key)} must be one of {', '.join(map(repr, allowed))}, "
                            f"got {value!r}")
    return value


def _table(src: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MedbenchError(f"{_where(src, key)} must be a table, got {value!r}")
    return value


def _check_keys(src: str, prefix: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise MedbenchError(f"{_where(src, prefix + bad[0])} is not a known key; expected one of "
                            f"{', '.join(allowed)}")


def _metrics(src: str, prefix: str, table: dict[str, Any]) -> dict[str, float]:
    _check_keys(src, prefix, table, ("*", *HEADLINE))
    return {k: _number(src, prefix + k, v) for k, v in table.items()}


def _runtime(src: str, prefix: str, table: dict[str, Any], *, top: bool) -> tuple[dict[str, float], dict]:
    extra = ("check", "floor") if top else ()
    _check_keys(src, prefix, table, (*RUNTIME, *extra))
    limits = {k: _number(src, prefix + k, v, ratio=True) for k, v in table.items() if k in RUNTIME}
    return limits, {k: table[k] for k in extra if k in table}


def parse(data: dict[str, Any], source: str = "<tolerances>") -> Tolerances:
    """Tolerances from a parsed TOML document (unknown keys are errors: a typo must not pass silently)."""
    tol = Tolerances(source=source)
    _check_keys(source, "", data, ("compare", "metrics", "runtime", "pipelines"))
    comp = _table(source, "compare", data.get("compare", {}))
    _check_keys(source, "compare.", comp, ("mode", "missing", "seeds"))
    tol.mode = _choice(source, "compare.mode", comp.get("mode", tol.mode), MODES)
    tol.missing = _choice(source, "compare.missing", comp.get("missing", tol.missing), MISSING)
    tol.seeds = _choice(source, "compare.seeds", comp.get("seeds", tol.seeds), SEEDS)
    metrics = _metrics(source, "metrics.", _table(source, "metrics", data.get("metrics", {})))
    if "*" in metrics:  # "*" in the file replaces every built-in default; named metrics still win
        tol.metrics = {}
    tol.metrics.update(metrics)
    limits, extra = _runtime(source, "runtime.", _table(source, "runtime", data.get("runtime", {})), top=True)
    tol.runtime.update(limits)
    if "check" in extra:
        if not isinstance(extra["check"], bool):
            raise MedbenchError(f"{_where(source, 'runtime.check')} must be true or false, "
                                f"got {extra['check']!r}")
        tol.runtime_check = extra["check"]
    floors = _table(source, "runtime.floor", extra.get("floor", {}))
    _check_keys(source, "runtime.floor.", floors, tuple(RUNTIME))
    tol.floors.update({k: _number(source, f"runtime.floor.{k}", v) for k, v in floors.items()})
    for name, rules in _table(source, "pipelines", data.get("pipelines", {})).items():
        pre = f"pipelines.{name}."
        rules = _table(source, pre.rstrip("."), rules)
        _check_keys(source, pre, rules, ("metrics", "runtime", "missing", "mode"))
        metrics = _table(source, pre + "metrics", rules.get("metrics", {}))
        runtime = _table(source, pre + "runtime", rules.get("runtime", {}))
        tol.pipelines[name] = Rules(
            metrics=_metrics(source, pre + "metrics.", metrics),
            runtime=_runtime(source, pre + "runtime.", runtime, top=False)[0],
            missing=_choice(source, pre + "missing", rules["missing"], MISSING) if "missing" in rules
            else None,
            mode=_choice(source, pre + "mode", rules["mode"], MODES) if "mode" in rules else None,
        )
    return tol


def loads(text: str, source: str = "<tolerances>") -> Tolerances:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MedbenchError(f"{source} is not valid TOML ({exc})") from None
    return parse(data, source)


def load(path: str | Path) -> Tolerances:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MedbenchError(f"cannot read tolerances file {path} ({exc.strerror or exc})") from None
    return loads(text, str(path))


def find_for(results_path: str | Path) -> Path | None:
    """The ``tolerances.toml`` stored beside a results.json (a baseline's own tolerances), if any."""
    path = Path(results_path)
    folder = path if path.is_dir() else path.parent
    candidate = folder / FILENAME
    return candidate if candidate.is_file() else None
