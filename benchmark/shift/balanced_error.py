"""MedMNIST-C's BE and rBE of one pipeline, against a published reference model's errors (AlexNet).

As MedMNIST-C defines them (``medmnistc/eval.py``): the error is 1 - balanced accuracy (at the operating point
the run used); for each corruption c, with E_c the mean error over its 5 severities and E_clean the error on
the clean test split,

* BE_c = E_c / A_c, where A_c is the reference's mean error over the 5 severities of c;
* rBE_c = (E_c - E_clean) / (A_c - A_clean), the error the corruption adds, relative to what it adds to the
  reference;

and BE, rBE are the means over the corruptions. 1.0 = as the reference (AlexNet at 224 px), below 1 = more
robust. Computed on the seed-mean errors (both are linear in them). None where an error is missing or the
reference's added error is zero.
"""

from __future__ import annotations

from typing import Any

from medbench.evaluation import stats as st

__all__ = ["METRIC", "compute"]

METRIC = "balanced_accuracy"


def _error(value: Any) -> float | None:
    v = st.number(value)
    return None if v is None else 1.0 - v


def _mean(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values) / len(values)  # type: ignore[arg-type]


def compute(clean: dict[str, Any], curves: dict[str, dict[str, list[Any]]],
            reference: dict[str, Any]) -> dict[str, Any]:
    """``clean`` (metric -> seed-mean value) and ``curves`` (step -> metric -> [clean, severity 1..5]) of one
    pipeline -> its ``balanced_error`` entry: clean error, mean error, BE and rBE per step, and the means."""
    e0 = _error(clean.get(METRIC))
    a0 = float(reference["clean_error"])
    mean_error: dict[str, float | None] = {}
    be: dict[str, float | None] = {}
    rbe: dict[str, float | None] = {}
    for name, curve in curves.items():
        a = reference["errors"].get(name)
        e = _mean([_error(v) for v in (curve.get(METRIC) or [None])[1:]])
        mean_error[name] = e
        be[name] = None if e is None or a is None or a == 0 else e / a
        rbe[name] = (None if e is None or e0 is None or a is None or a == a0
                     else (e - e0) / (a - a0))
    return {"clean_error": e0, "mean_error": mean_error, "be": be, "rbe": rbe,
            "mean_be": _mean(list(be.values())), "mean_rbe": _mean(list(rbe.values()))}
