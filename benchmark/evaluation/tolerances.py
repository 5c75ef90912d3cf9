"""Regression tolerances for ``medbench compare``: sensible defaults, overridable by a small TOML file.

A metric *fails* when it drops by more than its tolerance (absolute: ``0.01`` is one percentage
point of accuracy). A runtime figure fails when it gets slower by more than its ratio (``1.5``: NEW
takes more than 1.5x BASE's time; for throughput, BASE/NEW).

A file is validated against :data:`SCHEMA_JSON` (:mod:`medbench.records.schemas`): an unknown key, a NaN,
a negative drop or a ratio below 1 is one line naming the file and the key. A limit of ``inf`` is
accepted but never silent: ``compare``'s verdict line names every such limit (:meth:`Tolerances.unchecked`).
Every key is optional::

    [compare]
    mode = "absolute"      # or "significant": a drop beyond tolerance fails only when it is also
                           # significant: a paired test on the same test images (McNemar, DeLong,
                           # paired bootstrap), Holm-corrected over pipelines, p < alpha; without
                           # stored predictions, when the two runs' CIs do not overlap
    alpha = 0.05           # significance level of "significant" mode
    missing = "fail"       # BASE pipeline absent or failed in NEW: "fail" or "warn"
    seeds = "mean"         # several seeds: judge the mean over seeds ("mean") or every seed ("each")

    [metrics]              # largest allowed drop; "*" sets every metric on a [0, 1] scale (LR+, LR- and
                           # log loss only when inf: name them); inf never fails
    accuracy = 0.01
    sensitivity = 0.02

    [hard]                 # hard limits: a drop beyond one fails whatever the p-value, in every mode
    "*" = 0.10             # (a collapse on a small test set must not hide behind a wide CI); none by
    specificity = 0.15     # default; each must be >= the metric's tolerance

    [runtime]
    check = true           # false: report runtime ratios, never fail on them (= --no-runtime)
    fit_time_s = 1.5
    latency_ms_per_image = 1.5

    [runtime.floor]        # not judged when both runs are faster than this (timer noise)
    fit_time_s = 1.0

    [pipelines.hog-xgboost]          # per-pipeline overrides: missing, mode, metrics, hard, runtime
    missing = "warn"
    metrics = { roc_auc = 0.02 }
    hard = { roc_auc = 0.08 }
    runtime = { fit_time_s = 2.0 }
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core import readfile
from medbench.core.errors import MedbenchError
from medbench.metrics import HEADLINE, METRICS, RUNTIME_KEYS
from medbench.records import schemas

FILENAME = "tolerances.toml"
MODES = ("absolute", "significant")
MISSING = ("fail", "warn")
SEEDS = ("mean", "each")

DEFAULT_METRICS: dict[str, float] = {
    "*": 0.01,
    "accuracy": 0.01, "balanced_accuracy": 0.01, "f1": 0.01, "macro_f1": 0.01, "roc_auc": 0.01,
    "sensitivity": 0.02, "specificity": 0.02,
    # lower is better: a "drop" of the Brier score or ECE is a rise by more than this
    "brier": 0.01, "ece": 0.02, "mcc": 0.02, "ppv": 0.02, "npv": 0.02,
    # Metrics Reloaded (medbench.metrics_reloaded): the sensitivity at a fixed specificity moves with a threshold
    # chosen on validation (0.03); the likelihood ratios are unbounded (LR+ in units of the ratio itself);
    # log loss is in nats (lower is better)
    "average_precision": 0.01, "sens_at_spec90": 0.03, "sens_at_spec95": 0.03,
    "lr_positive": 0.5, "lr_negative": 0.05, "log_loss": 0.02, "classwise_ece": 0.02,
}
# Runtime figures medbench compares (their direction is in the catalogue, medbench.metrics.RUNTIME_KEYS):
# (default slowdown ratio, default noise floor). For times the floor is a floor: not judged when both
# runs are faster than it; for throughput (higher is better) it is a ceiling.
RUNTIME: dict[str, tuple[float, float]] = {
    "fit_time_s": (1.5, 1.0),
    "latency_ms_per_image": (1.5, 0.05),
    "single_image_latency_ms": (1.5, 1.0),
    "throughput_img_per_s": (1.5, 20000.0),
}
assert set(RUNTIME) <= set(RUNTIME_KEYS)
SCHEMA_JSON = schemas.tolerances_schema(HEADLINE, tuple(RUNTIME), MODES, MISSING, SEEDS)


#: Metrics on an unbounded scale (likelihood ratios, log loss): a finite ``"*"`` (a drop of a rate, e.g. 0.10 =
#: ten percentage points) does not reach them - they keep their own default unless a file names them; ``"*" =
#: inf`` (never fail) does.
UNBOUNDED = frozenset(m for m, v in METRICS.items() if math.isinf(v.high))


def _lookup(tables: tuple[dict[str, float], ...], metric: str) -> float | None:
    """The first of ``metric`` or ``"*"`` found in the tables, most specific table first (a finite ``"*"``
    skipped for the :data:`UNBOUNDED` metrics)."""
    for table in tables:
        for key in (metric, "*"):
            if key in table and (key == metric or metric not in UNBOUNDED or math.isinf(table[key])):
                return table[key]
    return None


def lower_is_better(key: str) -> bool:
    return RUNTIME_KEYS[key].lower_is_better


@dataclass
class Rules:
    """Overrides for one pipeline (``None``: inherit the file's global setting)."""

    metrics: dict[str, float] = field(default_factory=dict)
    hard: dict[str, float] = field(default_factory=dict)
    runtime: dict[str, float] = field(default_factory=dict)
    missing: str | None = None
    mode: str | None = None


@dataclass
class Tolerances:
    mode: str = "absolute"
    missing: str = "fail"
    seeds: str = "mean"
    alpha: float = 0.05
    metrics: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    hard: dict[str, float] = field(default_factory=dict)
    runtime_check: bool = True
    runtime: dict[str, float] = field(default_factory=lambda: {k: v[0] for k, v in RUNTIME.items()})
    floors: dict[str, float] = field(default_factory=lambda: {k: v[1] for k, v in RUNTIME.items()})
    pipelines: dict[str, Rules] = field(default_factory=dict)
    source: str = "built-in defaults"

    def metric_tolerance(self, pipeline: str, metric: str) -> float:
        found = _lookup((self.pipelines.get(pipeline, Rules()).metrics, self.metrics), metric)
        return DEFAULT_METRICS.get(metric if metric in UNBOUNDED else "*", DEFAULT_METRICS["*"]) if found is None \
            else found

    def hard_limit(self, pipeline: str, metric: str) -> float:
        """The drop beyond which ``metric`` fails whatever its p-value (inf: no hard limit)."""
        found = _lookup((self.pipelines.get(pipeline, Rules()).hard, self.hard), metric)
        return math.inf if found is None else found

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
            "alpha": self.alpha,
            "metrics": fin(self.metrics), "hard": fin(self.hard), "runtime_check": self.runtime_check, "runtime": fin(self.runtime),
            "runtime_floor": dict(self.floors),
            "pipelines": {name: {k: v for k, v in (("metrics", fin(r.metrics)), ("hard", fin(r.hard)),
                                                 ("runtime", fin(r.runtime)),
                                                 ("missing", r.missing), ("mode", r.mode)) if v}
                          for name, r in self.pipelines.items()},
        }


    def unchecked(self) -> list[str]:
        """The limits this file sets to ``inf`` (never fail), in words, for the verdict line."""
        out = ["every metric" if k == "*" else k for k, v in self.metrics.items() if math.isinf(v)]
        out += [f"hard {'every metric' if k == '*' else k}" for k, v in self.hard.items() if math.isinf(v)]
        out += [k for k, v in self.runtime.items() if math.isinf(v)]
        for name, rules in self.pipelines.items():
            out += [f"{name} {'every metric' if k == '*' else k}" for k, v in rules.metrics.items() if math.isinf(v)]
            out += [f"{name} {k}" for k, v in rules.runtime.items() if math.isinf(v)]
        return out


def defaults() -> Tolerances:
    return Tolerances()


def parse(data: dict[str, Any], source: str = "<tolerances>") -> Tolerances:
    """Tolerances from a parsed TOML document, validated against :data:`SCHEMA_JSON` (unknown keys are
    errors: a typo must not pass silently)."""
    schemas.validate(data, SCHEMA_JSON, source)
    tol = Tolerances(source=source)
    comp = data.get("compare", {})
    tol.mode, tol.missing, tol.seeds = (comp.get(k, getattr(tol, k)) for k in ("mode", "missing", "seeds"))
    tol.alpha = float(comp.get("alpha", tol.alpha))
    metrics = {k: float(v) for k, v in data.get("metrics", {}).items()}
    if "*" in metrics:  # "*" in the file replaces every built-in default; named metrics still win
        tol.metrics = {}
    tol.metrics.update(metrics)
    runtime = data.get("runtime", {})
    tol.runtime.update({k: float(v) for k, v in runtime.items() if k in RUNTIME})
    tol.runtime_check = runtime.get("check", True)
    tol.floors.update({k: float(v) for k, v in runtime.get("floor", {}).items()})
    tol.hard = {k: float(v) for k, v in data.get("hard", {}).items()}
    for name, rules in data.get("pipelines", {}).items():
        tol.pipelines[name] = Rules(
            metrics={k: float(v) for k, v in rules.get("metrics", {}).items()},
            hard={k: float(v) for k, v in rules.get("hard", {}).items()},
            runtime={k: float(v) for k, v in rules.get("runtime", {}).items()},
            missing=rules.get("missing"), mode=rules.get("mode"))
    _check_hard_limits(tol, source)
    return tol


def _check_hard_limits(tol: Tolerances, source: str) -> None:
    """A hard limit below its metric's tolerance would fail changes the tolerance allows: refuse it."""
    for pipeline in ("*", *tol.pipelines):
        for metric in HEADLINE:
            hard, allowed = tol.hard_limit(pipeline, metric), tol.metric_tolerance(pipeline, metric)
            if hard < allowed - 1e-12:
                who = "every pipeline" if pipeline == "*" else f"pipeline {pipeline}"
                raise MedbenchError(f"{source}: the hard limit of {metric} for {who} ({hard:g}) is below its "
                                    f"tolerance ({allowed:g}): a hard limit must be at least the tolerance")


def loads(text: str, source: str = "<tolerances>") -> Tolerances:
    return parse(readfile.parse_toml(text, source, "tolerances file"), source)


def load(path: str | Path) -> Tolerances:
    return loads(readfile.read_text(path, "tolerances file (UTF-8 TOML)"), str(path))


def find_for(results_path: str | Path) -> Path | None:
    """The ``tolerances.toml`` stored beside a results.json (a baseline's own tolerances), if any."""
    path = Path(results_path)
    folder = path if path.is_dir() else path.parent
    candidate = folder / FILENAME
    return candidate if candidate.is_file() else None
