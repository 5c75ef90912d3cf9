"""The one way every loader deals with image files it cannot use (listed but missing, or undecodable).

:func:`handle_failures` takes the ``(id, reason)`` pairs a loader collected, counts them per label
(and per fine category where the source has one) and then either stops the load with one line that
names how many files, where, the first few and ``--allow-missing``, or (with ``allow_missing``)
warns once, records the summary under ``Dataset.problems[kind]`` (shown in the dataset card) and
returns the ids to drop. Loaders never skip a file silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from medbench.core import warn as core_warn
from medbench.core.errors import MedbenchError

#: How many files a summary lists by name (the counts cover all of them).
MAX_LISTED_FILES = 20
#: How many files the one-line error names.
MAX_NAMED_IN_ERROR = 3

REMEDY = {
    "missing": "restore them, or pass --allow-missing to run without them",
    "unreadable": "fix or remove them, or pass --allow-missing to skip them",
}




def summarize(failures: Sequence[tuple[str, str]], label_of: Mapping[str, str],
              category_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"count", "per_label", ["per_category"], "files"}`` for ``(id, reason)`` failures."""
    summary: dict[str, Any] = {
        "count": len(failures),
        "per_label": dict(sorted(Counter(label_of[i] for i, _ in failures).items())),
    }
    if category_of is not None:
        summary["per_category"] = dict(sorted(Counter(category_of[i] for i, _ in failures).items()))
    summary["files"] = [f"{i}: {reason}" for i, reason in failures[:MAX_LISTED_FILES]]
    return summary


def _counts_text(summary: dict[str, Any]) -> str:
    text = ", ".join(f"{k}: {v}" for k, v in summary["per_label"].items())
    if "per_category" in summary:
        text += "; of them " + ", ".join(f"{k}: {v}" for k, v in summary["per_category"].items())
    return text


def handle_failures(failures: Sequence[tuple[str, str]], *, kind: str, where: str, label_of: Mapping[str, str],
                    allow_missing: bool, problems: dict[str, Any], category_of: Mapping[str, str] | None = None,
                    out_of: int | None = None, prefix: str = "") -> set[str]:
    """Stop the load, or warn and record ``problems[kind]``, for files that could not be used.

    ``kind`` is ``"missing"`` or ``"unreadable"``; ``where`` says where they are (``"in /data/x"``);
    ``label_of`` maps every failed id to its class (``category_of`` to a finer category, optional);
    ``out_of`` is the number of files asked for, when the message should say "N of M". Returns the
    failed ids (empty when there are none); raises :class:`MedbenchError` unless ``allow_missing``.
    """
    if not failures:
        return set()
    summary = summarize(failures, label_of, category_of)
    of = f" of {out_of}" if out_of is not None else ""
    what = f"{len(failures)}{of} {kind} image file(s) {where}"
    if not allow_missing:
        first = "; ".join(f"{i} ({reason})" for i, reason in failures[:MAX_NAMED_IN_ERROR])
        raise MedbenchError(f"{prefix}{what} ({_counts_text(summary)}; first: {first}); {REMEDY[kind]}")
    core_warn.warn(f"{prefix}skipping {what} ({_counts_text(summary)}) (--allow-missing)")
    problems[kind] = summary
    return {i for i, _ in failures}
