"""The report's "Published results on this test set" section and ``medbench run``'s matching block.

Rows: the published figures for the run's test set (:func:`medbench.datasets.published.published_for`)
beside medbench's best classical and best deep pipeline of this run, all in percent; then the protocol
differences side by side (threshold rule, input size / resize vs pad, seeds, training scheme, weights)
and one sentence on whether the figures compare like with like. :func:`comparison_rows` is shared with
``medbench export``. Every data string in the markdown is escaped.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.datasets.published import PROTOCOLS as PUBLISHED_PROTOCOLS
from medbench.datasets.published import published_for
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import plain
from medbench.running import protocols as protocol_mod

__all__ = ["comparison_rows", "section", "terminal_block", "HEADERS", "ASPECTS"]

HEADERS = ["Model", "Input (px)", "Scheme", "ACC (%)", "AUC (%)", "Seeds", "Source"]
#: The protocol aspects listed side by side (keys of the protocols' tables) and their row titles.
ASPECTS = [("threshold", "Threshold rule"), ("input", "Input size (resize vs pad)"), ("seeds", "Seeds"),
           ("training", "Training scheme"), ("weights", "Weights")]


def _pct(mean: float | None, sd: float | None, n: int) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f} ± {sd:.2f}" if sd is not None and n > 1 else f"{mean:.2f}"


def _best(stats: dict[str, Any], family: str) -> dict[str, Any] | None:
    return next((g for g in stats.get("pipelines", []) if g.get("family") == family), None)


def _own_row(results: dict[str, Any], g: dict[str, Any], proto: str) -> dict[str, Any]:
    values = {}
    for m in ("accuracy", "roc_auc"):
        v = g["metrics"].get(m) or {}
        values[m] = None if v.get("mean") is None else 100 * v["mean"]
        values[m + "_sd"] = None if v.get("sd") is None else 100 * v["sd"]
    return {"model": g["name"], "input_size": results["dataset"]["image_shape"][0],
            "scheme": f"medbench {g['family']} (best)", **values, "seeds": len(g["seeds"]),
            "protocol": proto, "source": f"this run (--protocol {proto})", "checked": True, "checked_note": ""}


def comparison_rows(results: dict[str, Any], stats: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """``(test set title, rows)``: this run's best classical and best deep rows, then the published ones
    (``("", [])`` when nothing is published for the run's test set). Figures in percent."""
    title, published = published_for(results["dataset"])
    if not published:
        return "", []
    proto = protocol_mod.of(results.get("config"))
    own = [_own_row(results, g, proto) for g in (_best(stats, "classical"), _best(stats, "deep")) if g]
    return title, own + published


def _cells(row: dict[str, Any]) -> list[str]:
    source = row["source"] + ("" if row.get("checked", True) else " (not checked here)")
    return [row["model"], "–" if row.get("input_size") is None else str(row["input_size"]), row["scheme"],
            _pct(row.get("accuracy"), row.get("accuracy_sd"), row["seeds"]),
            _pct(row.get("roc_auc"), row.get("roc_auc_sd"), row["seeds"]), str(row["seeds"]), source]


def _verdict(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    proto = protocol_mod.of(results.get("config"))
    sources = sorted({r["protocol"] for r in rows if r["protocol"] in PUBLISHED_PROTOCOLS})
    n_seeds = len((results.get("config") or {}).get("seeds") or [])
    if proto == "medmnist" and set(sources) <= {"medmnist-v2", "medmnist-plus"}:
        padding = (results["dataset"].get("source") or {}).get("padding") or "images at the file's size (no padding)"
        return (f"Like with like on the protocol: this run followed `--protocol medmnist` (official split, ACC at "
                f"the 0.5 threshold, {n_seeds} seed{'s' if n_seeds != 1 else ''}, {padding}). The models, their "
                f"training and weights still differ (table below); compare rows of the same input size.")
    if proto == "medmnist":
        return ("This run followed `--protocol medmnist`; the published rows here follow another protocol (table "
                "below), so their ACC is not measured the same way. ROC-AUC does not depend on the threshold.")
    return ("The protocols differ: this run chose its binary threshold on validation (Youden's J), while the "
            "published ACC is at the arg-max / 0.5, so the ACC columns are not like with like (ROC-AUC does not "
            "depend on the threshold). Rerun with `--protocol medmnist` for the published protocol.")


def section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """The section's markdown lines (empty when nothing is published for the run's test set)."""
    title, rows = comparison_rows(results, stats)
    if not rows:
        return []
    proto = protocol_mod.of(results.get("config"))
    table = tabulate([[escape_md(c) for c in _cells(r)] for r in rows], headers=HEADERS, tablefmt="github",
                     disable_numparse=True)
    used = [p for p in dict.fromkeys(r["protocol"] for r in rows) if p in PUBLISHED_PROTOCOLS]
    diff_rows = [[escape_md(name), escape_md(protocol_mod.PROTOCOLS[proto][key]), *(escape_md(PUBLISHED_PROTOCOLS[p][key]) for p in used)]
                 for key, name in ASPECTS]
    diff = tabulate(diff_rows, headers=["", f"this run (--protocol {proto})", *used], tablefmt="github",
                    disable_numparse=True)
    notes = [f"- {escape_md(r['model'])} ({escape_md(r['scheme'])}, {r['input_size'] or '–'} px): {escape_md(r['checked_note'])}"
             for r in rows if not r.get("checked", True)]
    cites = [f"- {escape_md(p)}: {escape_md(PUBLISHED_PROTOCOLS[p]['citation'])}" for p in used]
    return ["## Published results on this test set", "",
            f"Test set: {escape_md(title)}. Protocol of this run: **{escape_md(proto)}**. Published figures as their sources "
            "report them (percent; mean ± sd where seeds > 1); MedMNIST+ rows: the best ACC per training scheme "
            "and input size.", "",
            table, "", _verdict(results, rows), "", "Protocol differences:", "", diff, "",
            *(["Not checked against their source here:", "", *notes, ""] if notes else []),
            "Sources:", "", *cites, ""]


def terminal_block(results: dict[str, Any], stats: dict[str, Any], limit: int = 6) -> str:
    """A short plain-text block for ``medbench run``'s output: this run's rows, the best published rows
    (by ACC, ``limit`` in all) and the protocol verdict; ``""`` when nothing is published."""
    title, rows = comparison_rows(results, stats)
    if not rows:
        return ""
    own = [r for r in rows if r["source"].startswith("this run")]
    best = sorted((r for r in rows if r not in own), key=lambda r: -(r.get("accuracy") or 0))[:limit]
    body = tabulate([[plain(c) for c in _cells(r)] for r in own + best], headers=HEADERS, tablefmt="simple",
                    disable_numparse=True)
    return f"published results on {plain(title)} (best {len(best)}; all in report.md):\n{body}\n" \
           f"{plain(_verdict(results, rows).replace('`', ''))}"
