"""Declared JSON schemas of the files medbench reads back (results.json, tolerance files) and the one
validator that turns a violation into a one-line :class:`MedbenchError`: ``<file>: <field>: <problem>``.

The schemas are JSON Schema (draft 2020-12) built from the metric catalogue
(:mod:`medbench.metrics`), so a metric or runtime key is named in one place only. One keyword is
medbench's own: ``"finite": true`` - the number must be finite (Python's json reads ``NaN``,
``Infinity`` and ``1e309``, which JSON itself has no room for). Metric and runtime values are
*not* finite-checked: a NaN or infinite metric reads as "no value" (and ``compare`` flags it when
BASE had one), but seeds, labels, probabilities, counts and intervals must be real numbers.

Before the schema, :func:`check_tree` walks the document once without recursion: deeper than
:data:`MAX_DEPTH` levels, or an integer no float can hold, is an error too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from medbench.core.errors import MedbenchError
from medbench.metrics import HEADLINE, METRICS, RUNTIME_KEYS

MAX_DEPTH = 64
MAX_ABS_INT = 10 ** 300

# --- building blocks --------------------------------------------------------------------------
FINITE = {"type": "number", "finite": True}
PROBABILITY = {"type": "number", "finite": True, "minimum": 0, "maximum": 1}
COUNT = {"type": "integer", "minimum": 0}
TEXT = {"type": "string"}
NAME = {"type": "string", "minLength": 1}
OPT_TEXT = {"type": ["string", "null"]}
OPT_FINITE = {"anyOf": [{"type": "null"}, FINITE]}
# A metric: a number, or null when undefined (ROC-AUC with one class); NaN / inf read as "no value".
METRIC_VALUE = {"type": ["number", "null"]}
# A headline metric, per-class rate or score: a finite value must lie in [0, 1] (medbench's "rate" keyword).
RATE_VALUE = {"type": ["number", "null"], "rate": True}
RUNTIME_VALUE = {"type": ["number", "null"]}
INTERVAL = {"anyOf": [{"type": "null"}, {"type": "array", "items": FINITE, "minItems": 2, "maxItems": 2}]}
# A confidence interval of a rate ([low, high] within [0, 1], low <= high) or of a difference of rates.
RATE_INTERVAL = {"anyOf": [{"type": "null"}, {"type": "array", "items": PROBABILITY, "minItems": 2, "maxItems": 2,
                                              "ordered": True}]}
DIFF_INTERVAL = {"anyOf": [{"type": "null"}, {"type": "array", "minItems": 2, "maxItems": 2, "ordered": True,
                                              "items": {**FINITE, "minimum": -1, "maximum": 1}}]}
DIFF = {"anyOf": [{"type": "null"}, {**FINITE, "minimum": -1, "maximum": 1}]}
PROBABILITY_OR_NULL = {"anyOf": [{"type": "null"}, PROBABILITY]}


def _range(metric: str) -> list[float]:
    """The range a headline metric's values lie in (the catalogue's ``low``, ``high``; MCC: [-1, 1])."""
    return [METRICS[metric].low, METRICS[metric].high]


def metric_value(metric: str) -> dict[str, Any]:
    """A headline metric's value: null, or a number within its range (NaN / inf read as "no value")."""
    return {"type": ["number", "null"], "rate": _range(metric)}


def metric_interval(metric: str) -> dict[str, Any]:
    """A CI of a headline metric: null or ``[low, high]`` within its range, low <= high."""
    lo, hi = _range(metric)
    return {"anyOf": [{"type": "null"}, {"type": "array", "minItems": 2, "maxItems": 2, "ordered": True,
                                         "items": {**FINITE, "minimum": lo, "maximum": hi}}]}


def metric_mean_sd(metric: str) -> dict[str, Any]:
    return {**MEAN_SD, "properties": {**MEAN_SD["properties"], "mean": {**OPT_FINITE, "rate": _range(metric)},
                                      "sd": {"anyOf": [{"type": "null"}, {**FINITE, "minimum": 0}]}}}


RELIABILITY = {"type": "object", "required": ["bins", "count", "confidence", "accuracy"], "properties": {
    "bins": {"type": "integer", "minimum": 1}, "edges": {"type": "array", "items": PROBABILITY},
    "count": {"type": "array", "items": COUNT},
    "confidence": {"type": "array", "items": PROBABILITY_OR_NULL},
    "accuracy": {"type": "array", "items": PROBABILITY_OR_NULL}, "ece": PROBABILITY_OR_NULL}}
PAIRED_DIFF = {"anyOf": [{"type": "null"}, {
    "type": "object", "required": ["diff", "ci", "p"],
    "properties": {"diff": DIFF, "ci": DIFF_INTERVAL, "p": PROBABILITY_OR_NULL, "p_holm": PROBABILITY_OR_NULL,
                   "test": TEXT}}]}
COUNTS_BY_CLASS = {"type": "object", "additionalProperties": COUNT}
MEAN_SD = {"type": "object", "required": ["mean", "sd"],
           "properties": {"mean": OPT_FINITE, "sd": OPT_FINITE, "n": COUNT, "values": {"type": "array"}}}
RATE_MEAN_SD = {**MEAN_SD, "properties": {**MEAN_SD["properties"], "mean": {**OPT_FINITE, "rate": True},
                                          "sd": {"anyOf": [{"type": "null"}, {**FINITE, "minimum": 0}]}}}

SPLIT_INFO = {
    "type": "object",
    "required": ["fingerprint", "method", "counts"],
    "properties": {
        "fingerprint": NAME, "method": TEXT, "seed": {"type": ["integer", "null"]},
        "notes": {"type": "array", "items": TEXT}, "manifest": TEXT,
        "counts": {"type": "object", "additionalProperties": COUNTS_BY_CLASS},
    },
}

HISTORY = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}}
MODEL_INFO = {
    "type": "object",
    "properties": {
        "device": OPT_TEXT, "device_name": OPT_TEXT, "backend": OPT_TEXT, "precision": OPT_TEXT,
        "batch_size": {"type": ["integer", "null"]}, "history": HISTORY,
        "best_epoch": {"type": ["integer", "null"], "minimum": 0},
        "finetune": {"type": ["object", "null"],
                     "properties": {"history": HISTORY, "best_epoch": {"type": ["integer", "null"], "minimum": 0}}},
        "training": {"type": ["object", "null"], "properties": {
            "images_per_s": {"type": ["number", "null"], "minimum": 0, "finite": True},
            "epoch_images_per_s": {"type": "array", "items": {"type": "number", "minimum": 0, "finite": True}},
            "compiled": {"type": "boolean"}, "jit_compile": {"type": "boolean"},
            "backend": OPT_TEXT, "mode": OPT_TEXT, "stage": OPT_TEXT}},
    },
}

# Every key optional: results.json files written before a key existed still validate.
ENVIRONMENT = {"type": "object", "properties": {
    "cpu": OPT_TEXT, "cpu_id": OPT_TEXT, "cpu_count": {"type": ["integer", "null"]}, "memory_gb": {"type": ["number", "null"]},
    "platform": OPT_TEXT, "python": OPT_TEXT, "machine": OPT_TEXT, "keras_backend": OPT_TEXT,
    "libraries": {"type": "object", "additionalProperties": OPT_TEXT},
    "gpus": {"type": ["array", "null"], "items": TEXT},
    "git_commit": {"type": ["string", "null"], "pattern": "^(unknown|[0-9a-f]{7,64})$"},
    "git_dirty": {"type": ["boolean", "null"]},
    "source_hash": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
    "lock_digest": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
    "deep": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
        "backend": OPT_TEXT, "device": OPT_TEXT, "device_name": OPT_TEXT}}]},
}}

JOB_METRICS = {
    "type": "object",
    "required": ["per_class", "confusion_matrix"],
    "properties": {
        **{m: metric_value(m) for m in HEADLINE},
        "n": COUNT,
        "per_class": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["precision", "recall", "f1"],
            "properties": {"precision": RATE_VALUE, "recall": RATE_VALUE, "f1": RATE_VALUE, "support": COUNT}}},
        "confusion_matrix": {"type": "array", "items": {"type": "array", "items": COUNT}},
    },
}

# The error gallery of a job (medbench.running.gallery): captions and the PNG files' names (only medbench's own pattern,
# so a results.json can never make a report link elsewhere) with their SHA-256.
GALLERY_FILE = {"type": "string", "pattern": r"^gallery/[0-9a-f]{16}/[0-9]{1,2}(-(gradcam|hog|occlusion))?\.png$"}
GALLERY = {
    "type": "object", "required": ["items"],
    "properties": {
        "items": {"type": "array", "maxItems": 99, "items": {
            "type": "object", "required": ["true", "predicted", "probability", "image"],
            "properties": {"id": {"type": ["string", "integer"]}, "true": COUNT, "predicted": COUNT,
                           "probability": PROBABILITY, "image": GALLERY_FILE,
                           "explanation_image": {"anyOf": [{"type": "null"}, GALLERY_FILE]},
                           "occlusion_image": GALLERY_FILE}}},
        "occlusion": {"type": "object", "properties": {  # medbench.running.occlusion's maps (absent: an older medbench)
            "label": TEXT, "text": OPT_TEXT, "note": OPT_TEXT, "patch": COUNT, "stride": COUNT, "copies": COUNT}},
        "explanation": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
            "kind": {"enum": ["gradcam", "hog"]}, "label": TEXT, "text": TEXT}}]},
        "note": OPT_TEXT,
        "sha256": {"type": "object", "propertyNames": GALLERY_FILE,
                   "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    },
}

JOB = {
    "type": "object",
    "required": ["pipeline", "seed", "status"],
    "properties": {
        "job_id": NAME, "pipeline": NAME, "name": NAME, "family": TEXT, "seed": {"type": "integer"},
        "status": {"enum": ["ok", "error"]}, "error": TEXT, "options": {"type": "object"},
        "split_fingerprint": TEXT,
        "threshold": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["threshold"],
            "properties": {"threshold": FINITE, "method": TEXT, "youden_j": OPT_FINITE,
                           # Metrics Reloaded's sensitivity at fixed specificity: thresholds chosen on validation
                           "at_specificity": {"type": "object", "additionalProperties": {
                               "type": "object", "required": ["target", "threshold"],
                               "properties": {"target": PROBABILITY, "threshold": PROBABILITY,
                                              "val_specificity": PROBABILITY, "val_sensitivity": PROBABILITY}}}}}]},
        "metrics": JOB_METRICS,
        "metric_notes": {"type": "object", "additionalProperties": TEXT},  # why a likelihood ratio is null
        "gallery": GALLERY,
        "runtime": {"type": "object", "properties": {k: {**RUNTIME_VALUE, "minimum": 0} for k in RUNTIME_KEYS}},
        "model_info": MODEL_INFO,
        "model_origin": {"enum": ["fitted", "reused"]},  # reused: scored with the kept model (absent: older)
        "fit_id": {"type": "string", "pattern": "^[0-9a-f]{32,64}$"},  # the kept model's digest (absent: older)
        "predictions": {
            "type": "object", "required": ["ids", "y_true", "y_pred", "proba"],
            "properties": {
                "ids": {"type": "array", "items": {"type": ["string", "integer"]}},
                "y_true": {"type": "array", "items": COUNT},
                "y_pred": {"type": "array", "items": COUNT},
                "proba": {"type": "array", "items": {"type": "array", "items": PROBABILITY, "minItems": 2}},
            },
        },
    },
    "if": {"properties": {"status": {"const": "ok"}}},
    "then": {"required": ["metrics", "runtime"]},
    "else": {"required": ["error"]},
}

COMPARISON = {
    "type": "object",
    "required": ["a", "b", "a_pipeline", "b_pipeline", "seed", "paired"],
    "properties": {
        "a": NAME, "b": NAME, "a_pipeline": NAME, "b_pipeline": NAME, "seed": {"type": "integer"},
        "paired": {"type": "boolean"}, "reason": TEXT, "n": COUNT,
        "accuracy": {"type": "object", "required": ["diff", "ci"], "properties": {"diff": DIFF, "ci": DIFF_INTERVAL}},
        "mcnemar": {"type": "object", "required": ["b", "c", "p"],
                    "properties": {"b": COUNT, "c": COUNT, "p": PROBABILITY_OR_NULL, "p_holm": PROBABILITY_OR_NULL,
                                   "method": TEXT}},
        "roc_auc": PAIRED_DIFF, "brier": PAIRED_DIFF, "ece": PAIRED_DIFF,
    },
    "if": {"properties": {"paired": {"const": True}}},
    "then": {"required": ["accuracy", "mcnemar", "roc_auc"]},
    "else": {"required": ["reason"]},
}

STATISTICS = {
    "type": "object",
    "required": ["settings", "jobs", "pipelines", "reference", "comparisons", "headline"],
    "properties": {
        "settings": {"type": "object", "required": ["n_resamples", "seed", "level", "mcnemar", "roc_auc_test"],
                     "properties": {"n_resamples": {"type": "integer", "minimum": 1}, "seed": {"type": "integer"},
                                    "level": {**FINITE, "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                                    "mcnemar": TEXT, "roc_auc_test": TEXT,
                                    "ci_method": {"enum": ["stratified", "ordinary", "by-metric", "by-metric-v2"]}}},
        "jobs": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["metrics_ci"],
            "properties": {"n": {"type": ["integer", "null"], "minimum": 0},
                           "metrics_ci": {"type": "object", "additionalProperties": RATE_INTERVAL,
                                          "properties": {m: metric_interval(m) for m in HEADLINE}},
                           "reliability": RELIABILITY}}},
        "pipelines": {"type": "array", "items": {
            "type": "object", "required": ["pipeline", "name", "family", "seeds", "job_ids", "metrics", "runtime"],
            "properties": {
                "pipeline": NAME, "name": NAME, "family": TEXT,
                "seeds": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                "job_ids": {"type": "array", "items": NAME, "minItems": 1},
                "metrics": {"type": "object", "properties": {m: metric_mean_sd(m) for m in HEADLINE}},
                "runtime": {"type": "object", "required": [k for k, v in RUNTIME_KEYS.items() if v.summary],
                            "properties": {k: MEAN_SD for k in RUNTIME_KEYS}},
            }}},
        "reference": OPT_TEXT,
        "comparisons": {"type": "array", "items": COMPARISON},
        "headline": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["classical", "deep", "comparisons"],
            "properties": {"classical": NAME, "deep": NAME, "comparisons": {"type": "array", "items": COMPARISON},
                           "roc_auc_diff": MEAN_SD}}]},
        "tradeoff": {"type": "object", "required": ["metric", "pareto_front"],
                     "properties": {"metric": {"enum": ["roc_auc", "accuracy"]},
                                    "pareto_front": {"type": "array", "items": NAME}}},
    },
}

# --- --external and --robustness (medbench.shift.external, medbench.shift.robustness) -----------------------
# each metric as the job's own metrics declare it (a rate in [0, 1], or whatever range the catalogue gives it)
_HEADLINE_RATES = {"type": "object", "properties": {m: JOB_METRICS["properties"].get(m, METRIC_VALUE) for m in HEADLINE}}
_KEPT = {"anyOf": [{"type": "null"}, FINITE]}  # chance-corrected: below 0 = worse than chance (medbench.shift.robustness)
# --robustness medmnist-c (medbench.shift.balanced_error): errors are 1 - balanced accuracy; BE / rBE are ratios
_PRESET = {"enum": ["medbench", "medmnist-c"]}  # medbench.shift.presets.NAMES
_OPT_FINITE = {"anyOf": [{"type": "null"}, FINITE]}
_OPT_ERROR = {"anyOf": [{"type": "null"}, PROBABILITY]}
_REFERENCE = {"type": "object", "required": ["model", "clean_error", "errors", "source"], "properties": {
    "model": TEXT, "dataset": NAME, "metric": NAME, "clean_error": PROBABILITY,
    "errors": {"type": "object", "additionalProperties": PROBABILITY}, "source": TEXT, "citation": TEXT}}
_BALANCED_ERROR = {"type": "object", "required": ["clean_error", "mean_error", "be", "rbe", "mean_be", "mean_rbe"],
                   "properties": {"clean_error": _OPT_ERROR,
                                  "mean_error": {"type": "object", "additionalProperties": _OPT_ERROR},
                                  "be": {"type": "object", "additionalProperties": _OPT_FINITE},
                                  "rbe": {"type": "object", "additionalProperties": _OPT_FINITE},
                                  "mean_be": _OPT_FINITE, "mean_rbe": _OPT_FINITE}}
JOB_EXTERNAL = {"type": "array", "items": {
    "type": "object", "required": ["dataset", "fingerprint", "n", "metrics", "undefined", "predictions"],
    "properties": {"dataset": NAME, "name": TEXT, "fingerprint": NAME, "n": COUNT, "counts": COUNTS_BY_CLASS,
                   "mapping": {"type": "object", "additionalProperties": NAME}, "metrics": JOB_METRICS,
                   "excluded": COUNTS_BY_CLASS,  # --class-map SRC=-: {SRC: images left out}
                   "undefined": {"type": "object", "additionalProperties": TEXT},
                   "problems": {"type": "object"},  # files left out (--allow-missing): count, per class, names
                   "predictions": JOB["properties"]["predictions"]}}}
JOB_ROBUSTNESS = {"type": "object", "required": ["seed", "clean", "corruptions"], "properties": {
    "seed": {"type": "integer"}, "preset": _PRESET, "clean": _HEADLINE_RATES,
    "corruptions": {"type": "object", "additionalProperties": {"type": "array", "items": {
        "type": "object", "required": ["severity", "metrics"],
        "properties": {"severity": {"type": "integer", "minimum": 1, "maximum": 5}, "metrics": _HEADLINE_RATES}}}}}}
JOB["properties"].update(external=JOB_EXTERNAL, robustness=JOB_ROBUSTNESS,
                         undefined={"type": "object", "additionalProperties": TEXT})  # a test split lacking a class
# the verdict's facts (medbench.evaluation.verdict): an option's pipeline default; a failed job's own remedy
JOB["properties"].update(option_defaults={"type": "object"}, remedy={"type": "object", "properties": {
    "kind": TEXT, "file": TEXT, "folder": TEXT, "path": TEXT, "env": OPT_TEXT, "option": TEXT, "text": TEXT}})
_EXTERNAL_VALUE = {"type": "object", "required": ["internal", "external", "drop"], "properties": {
    "internal": METRIC_VALUE, "internal_ci": INTERVAL, "external": METRIC_VALUE, "external_ci": INTERVAL,
    "drop": METRIC_VALUE}}


def _external_value(metric: str) -> dict[str, Any]:
    """One metric of an external block: values and CIs within the metric's range, the drop within +-its width."""
    lo, hi = _range(metric)
    return {**_EXTERNAL_VALUE, "properties": {
        "internal": metric_value(metric), "internal_ci": metric_interval(metric), "external": metric_value(metric),
        "external_ci": metric_interval(metric),
        "drop": {"anyOf": [{"type": "null"}, {**FINITE, "minimum": lo - hi, "maximum": hi - lo}]}}}


_HEADLINE_CURVES = {"type": "object", "additionalProperties": {"type": "array", "items": METRIC_VALUE},
                    "properties": {m: {"type": "array", "items": metric_value(m)} for m in HEADLINE}}
EXTERNAL = {"type": "array", "items": {
    "type": "object", "required": ["dataset", "fingerprint", "n", "counts", "undefined", "jobs", "statistics"],
    "properties": {
        "dataset": NAME, "name": TEXT, "fingerprint": NAME, "n": COUNT, "counts": COUNTS_BY_CLASS,
        "mapping": {"type": "object", "additionalProperties": NAME}, "excluded": COUNTS_BY_CLASS,
        "prevalence": {"type": "object", "required": ["class"],
                       "properties": {"class": NAME, "internal": RATE_VALUE, "external": RATE_VALUE}},
        "undefined": {"type": "object", "additionalProperties": TEXT}, "problems": {"type": "object"},
        "jobs": {"type": "array", "items": {
            "type": "object", "required": ["job_id", "pipeline", "seed", "metrics"],
            "properties": {"job_id": NAME, "pipeline": NAME, "name": NAME, "seed": {"type": "integer"}, "family": TEXT,
                           "metrics": {"type": "object", "additionalProperties": _EXTERNAL_VALUE,
                                       "properties": {m: _external_value(m) for m in HEADLINE}},
                           "chance": {"type": "boolean"},
                           "threshold": {"type": "object", "properties": {"internal": RATE_VALUE,
                                                                          "external_youden": RATE_VALUE}},
                           "expected_at_external": {"type": "object", "properties": {"ppv": RATE_VALUE,
                                                                                     "npv": RATE_VALUE}}}}},
        "statistics": STATISTICS,
        "internal_order": {"type": "array", "items": NAME}, "external_order": {"type": "array", "items": NAME}}}}
ROBUSTNESS = {"type": "object", "required": ["metric", "severities", "corruptions", "pipelines"], "properties": {
    "metric": NAME, "summary": TEXT, "severities": {"type": "array", "items": COUNT},
    "preset": _PRESET,  # absent in runs that predate presets (= medbench)
    "reference": _REFERENCE,
    "corruptions": {"type": "array", "items": {
        "type": "object", "required": ["name", "parameter", "levels"],
        "properties": {"name": NAME, "kind": NAME, "summary": TEXT, "parameter": TEXT,
                       "levels": {"type": "array", "items": FINITE, "minItems": 5, "maxItems": 5}}}},
    "pipelines": {"type": "array", "items": {
        "type": "object", "required": ["pipeline", "family", "clean", "curves", "kept", "mean_kept"],
        "properties": {
            "pipeline": NAME, "name": NAME, "family": TEXT, "seeds": {"type": "array", "items": {"type": "integer"}},
            "clean": {**_HEADLINE_RATES, "additionalProperties": METRIC_VALUE},
            "curves": {"type": "object", "additionalProperties": _HEADLINE_CURVES},
            "kept": {"type": "object", "additionalProperties": {"type": "array", "items": _KEPT}},
            "kept_by_corruption": {"type": "object", "additionalProperties": _KEPT}, "mean_kept": _KEPT,
            "balanced_error": _BALANCED_ERROR}}},
    "families": {"type": "object", "additionalProperties": {
        "type": "object", "properties": {"mean_kept": _KEPT, "pipelines": COUNT}}}}}


# --- the dataset audit (medbench.audit): results.json's "audit" block, also `medbench audit --json` ---------
_DUP_ENTRY = {"type": "object", "required": ["pairs", "images", "same_name", "examples"], "properties": {
    "pairs": COUNT, "images": COUNT, "same_name": COUNT, "examples": {"type": "array", "items": {
        "type": "object", "required": ["a", "b", "distance"],
        "properties": {"a": TEXT, "b": TEXT, "distance": {"type": "integer", "minimum": 0, "maximum": 64},
                       "thumbnail": {"type": "string", "pattern": r"^audit/[0-9a-f]{16}\.png$"}}}}}}
_DUP_MAP = {"type": "object", "additionalProperties": _DUP_ENTRY}
_OPT_RATE = {"anyOf": [{"type": "null"}, PROBABILITY]}
_RATE_CI = {"anyOf": [{"type": "null"}, {"type": "array", "items": PROBABILITY, "minItems": 2, "maxItems": 2}]}
AUDIT = {"type": "object", "required": ["groups", "duplicates", "shortcuts"], "properties": {
    "dataset": TEXT, "findings": {"type": "array", "items": TEXT}, "seconds": {**FINITE, "minimum": 0},
    "groups": {"type": "object", "required": ["source", "grouped", "n_groups", "groups_in_several_splits"],
               "properties": {"source": TEXT, "grouped": {"type": "boolean"}, "n_groups": COUNT,
                              "groups_in_several_splits": COUNT, "test_images_with_group_elsewhere": COUNT,
                              "pairs": {"type": "object", "additionalProperties": COUNT}, "warning": OPT_TEXT,
                              "schemes": {"type": "array", "items": {"type": "object"}}}},
    "duplicates": {"type": "object", "required": ["method", "threshold", "within", "across", "external"],
                   "properties": {"method": TEXT, "threshold": {"type": "integer", "minimum": 0, "maximum": 64},
                                  "within": _DUP_MAP, "across": _DUP_MAP, "external": {"type": "array", "items": {
                                      "type": "object", "required": ["dataset", "n", "all", "leaks"],
                                      "properties": {"dataset": NAME, "name": TEXT, "n": COUNT, "all": _DUP_ENTRY,
                                                     "by_split": _DUP_MAP, "leaks": COUNT}}}}},
    "shortcuts": {"type": "object", "required": ["per_class", "classifier"], "properties": {
        "note": OPT_TEXT, "per_class": {"type": "object"},
        "classifier": {"type": "object", "required": ["roc_auc", "roc_auc_ci", "top_property", "warning"],
                       "properties": {"roc_auc": _OPT_RATE, "roc_auc_ci": _RATE_CI, "accuracy": _OPT_RATE,
                                      "accuracy_ci": _RATE_CI, "majority_floor": _OPT_RATE,
                                      "top_property": OPT_TEXT, "warning": OPT_TEXT, "model": TEXT,
                                      "properties": {"type": "array", "items": TEXT}}}}},
    "dedupe": {"type": "object", "required": ["test", "external"], "properties": {
        "test": {"type": "object", "required": ["removed"], "properties": {"removed": COUNT}},
        "external": {"type": "array", "items": {"type": "object", "required": ["dataset", "removed"],
                                                "properties": {"dataset": NAME, "removed": COUNT, "left": COUNT}}}}},
}}


def results_schema(schema_name: str) -> dict[str, Any]:
    """The schema of results.json (every version up to the current one: later fields are optional)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "medbench results.json",
        "type": "object",
        "required": ["schema", "schema_version", "jobs", "dataset", "split"],
        "properties": {
            "schema": {"const": schema_name},
            "schema_version": {"type": "integer", "minimum": 1},
            "medbench_version": TEXT, "created": TEXT, "command": TEXT,
            "config": {"type": "object",  # --protocol: absent in runs that predate it (= medbench)
                       "properties": {"protocol": {"enum": ["medbench", "medmnist"]}}},
            "dataset": {
                "type": "object",
                "required": ["class_names", "title", "spec", "fingerprint", "n_images", "image_shape", "class_counts",
                             "group_source", "n_groups"],
                "properties": {
                    "name": TEXT, "spec": TEXT, "title": TEXT, "task": OPT_TEXT,
                    "class_names": {"type": "array", "items": NAME, "minItems": 2, "uniqueItems": True},
                    "positive_class": OPT_TEXT, "n_images": COUNT,
                    "image_shape": {"type": "array", "items": COUNT, "minItems": 2},
                    "class_counts": COUNTS_BY_CLASS, "fingerprint": NAME, "group_source": TEXT, "n_groups": COUNT,
                    "source": {"type": "object"}, "problems": {"type": "object"},
                },
            },
            "split": {**SPLIT_INFO, "properties": {**SPLIT_INFO["properties"],
                                                   "per_seed": {"type": "object", "additionalProperties": SPLIT_INFO}}},
            "environment": ENVIRONMENT,
            "jobs": {"type": "array", "items": JOB},
            "statistics": STATISTICS,
            "external": EXTERNAL,
            "robustness": ROBUSTNESS,
            "audit": AUDIT,
            "baseline": {"type": "object"},
            "history": {"type": "object"},
        },
    }


def tolerances_schema(metric_keys: tuple[str, ...], runtime_keys: tuple[str, ...], modes: tuple[str, ...],
                      missing: tuple[str, ...], seeds: tuple[str, ...]) -> dict[str, Any]:
    """The schema of a tolerances TOML file (after parsing; see :mod:`medbench.evaluation.tolerances`)."""
    drop = {"type": "number", "minimum": 0, "notNaN": True,
            "description": ">= 0 (the largest allowed drop; inf: never fails)"}
    ratio = {"type": "number", "minimum": 1, "notNaN": True,
             "description": ">= 1 (a slowdown ratio; inf: never fails)"}
    metrics = {"type": "object", "additionalProperties": False,
               "properties": {k: drop for k in ("*", *metric_keys)}}
    limits = {k: ratio for k in runtime_keys}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "medbench tolerances",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "compare": {"type": "object", "additionalProperties": False,
                        "properties": {"mode": {"enum": list(modes)}, "missing": {"enum": list(missing)},
                                       "seeds": {"enum": list(seeds)},
                                       "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                                                 "notNaN": True,
                                                 "description": "between 0 and 1 (a significance level)"}}},
            "metrics": metrics,
            "hard": metrics,
            "runtime": {"type": "object", "additionalProperties": False, "properties": {
                **limits, "check": {"type": "boolean"},
                "floor": {"type": "object", "additionalProperties": False,
                          "properties": {k: {**drop, "finite": True, "description": ">= 0 (a noise floor)"}
                                         for k in runtime_keys}}}},
            "pipelines": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": False,
                "properties": {"metrics": metrics, "hard": metrics, "mode": {"enum": list(modes)}, "missing": {"enum": list(missing)},
                               "runtime": {"type": "object", "additionalProperties": False, "properties": limits}}}},
        },
    }


# --- the validator -----------------------------------------------------------------------------

def _finite(validator, wanted, instance, schema) -> Iterator[ValidationError]:
    if wanted and _is_number(instance) and not math.isfinite(instance):
        yield ValidationError(f"must be a finite number, got {instance!r}")


def _not_nan(validator, wanted, instance, schema) -> Iterator[ValidationError]:
    if wanted and _is_number(instance) and math.isnan(instance):
        yield ValidationError("must be a number, got nan")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _rate(validator, wanted, instance, schema) -> Iterator[ValidationError]:
    """``"rate": true``: a finite value within [0, 1]; ``"rate": [low, high]``: within that range (MCC)."""
    lo, hi = (0, 1) if wanted is True else (wanted or (None, None))
    if lo is not None and _is_number(instance) and math.isfinite(instance) and not lo <= instance <= hi:
        yield ValidationError(f"{short(instance)} is out of range: must be within [{lo:g}, {hi:g}] (a rate or score)")


def _ordered(validator, wanted, instance, schema) -> Iterator[ValidationError]:
    if (wanted and isinstance(instance, list) and len(instance) == 2 and all(map(_is_number, instance))
            and instance[0] > instance[1]):
        yield ValidationError(f"[{instance[0]!r}, {instance[1]!r}] is not an interval: low must be <= high")


Validator = validators.extend(Draft202012Validator, validators={"finite": _finite, "notNaN": _not_nan,
                                                                "rate": _rate, "ordered": _ordered})


def field(path: Any) -> str:
    """``jobs[2].metrics.accuracy`` from a path of keys and indices."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def short(value: Any, limit: int = 60) -> str:
    """A value for an error message: its repr, cut to ``limit`` characters; containers by type and size."""
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null", int: "integer",
               float: "number"}


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _problem(err: ValidationError) -> tuple[list[Any], str]:
    """The field an error is about and what is wrong with it, in words."""
    path, kind, value = list(err.absolute_path), err.validator, err.instance
    if kind == "required":
        missing = next((k for k in err.validator_value if isinstance(value, dict) and k not in value), "?")
        return [*path, missing], "missing (required)"
    if kind == "type":
        wanted = [err.validator_value] if isinstance(err.validator_value, str) else err.validator_value
        got = _a(_JSON_TYPES.get(type(value), type(value).__name__))
        detail = f"of {len(value)} items" if isinstance(value, dict | list) else short(value)
        return path, f"must be {' or '.join(_a(w) for w in wanted)}, got {got} {detail}"
    if kind in ("finite", "notNaN", "rate", "ordered"):
        return path, err.message
    if kind in ("const", "enum"):
        allowed = [err.validator_value] if kind == "const" else err.validator_value
        return path, f"must be {' or '.join(map(repr, allowed))}, got {short(value)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        what = err.schema.get("description") or f"{_BOUNDS[kind]} {err.validator_value}"
        return path, f"{short(value)} is out of range: must be {what}"
    if kind in ("minItems", "maxItems"):
        return path, f"must have {'at least' if kind == 'minItems' else 'at most'} {err.validator_value} items, " \
                     f"got {len(value)}"
    if kind == "minLength":
        return path, "must not be empty"
    if kind == "pattern":
        return path, f"{short(value)} does not have the expected form ({err.validator_value})"
    if kind == "uniqueItems":
        return path, "has duplicate items"
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(err.schema.get("properties", {})))
        known = ", ".join(err.schema.get("properties", {}))
        return [*path, extra[0] if extra else "?"], f"is not a known key (expected one of: {known})"
    return path, short(err.message, 160)


def check_tree(data: Any, source: str) -> None:
    """Refuse documents nested deeper than :data:`MAX_DEPTH` or holding integers beyond any float."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise MedbenchError(f"{source}: {field(path[:MAX_DEPTH])}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= MAX_ABS_INT:
            raise MedbenchError(f"{source}: {field(path)}: integer too large ({len(str(abs(node)))} digits)")


def validate(data: Any, schema: dict[str, Any], source: str) -> None:
    """Raise ``MedbenchError("<source>: <field>: <problem>")`` for the most relevant violation, if any."""
    check_tree(data, source)
    err = best_match(Validator(schema).iter_errors(data))
    if err is not None:
        path, problem = _problem(err)
        raise MedbenchError(f"{source}: {field(path)}: {problem}")


def fail(source: str, path: Any, problem: str) -> MedbenchError:
    """The error for a violation found beyond the schema (cross-field checks), in the same form."""
    return MedbenchError(f"{source}: {field(path)}: {problem}")
