"""``medbench compare --html FILE``: the comparison as a web page, with the figure the history report
draws (:func:`medbench.reports.history.series_figure`): one small panel per metric, BASE (#1) and NEW
(#2) per pipeline with their 95% CIs, a regression marked ▼ and an improvement ▲.

The page leads as the terminal report does: verdict, causes (option and code differences), regressions,
then the environment, the metrics and runtime tables and the notes. Every data string is escaped
(:mod:`medbench.reports.escape`); the figure sits in ``<FILE stem>-figures/`` beside the page.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tabulate import tabulate

from medbench.core.atomic import write_bytes, write_text
from medbench.core.warn import warn
from medbench.reports import compare, escape, html
from medbench.reports.figures import plain_text
from medbench.reports.history import DPI, series_figure

FIGURE = "compare.png"


def _rows_for_figure(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The metric rows drawn: the mean over seeds where there is one, else each pipeline's lowest seed."""
    rows = report["metrics"]
    if any(r["seed"] == "mean" for r in rows):
        return [r for r in rows if r["seed"] == "mean"]
    first = {}
    for r in rows:
        if r["pipeline"] not in first or (r["seed"] is not None and r["seed"] < first[r["pipeline"]]):
            first[r["pipeline"]] = r["seed"]
    return [r for r in rows if r["seed"] == first[r["pipeline"]]]


def as_series(report: dict[str, Any]) -> dict[str, Any]:
    """The comparison in the shape of a history series of two versions, BASE and NEW."""
    rows = _rows_for_figure(report)
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    tracks = []
    for r in rows:
        change = []
        if r["status"] == "regression" or r.get("marker") == "better":
            change = [{"index": 1, "direction": "worse" if r["status"] == "regression" else "better",
                       "value_after": r["new"]}]
        tracks.append({"pipeline": r["pipeline"], "metric": r["metric"], "values": [r["base"], r["new"]],
                       "ci": [r.get("base_ci"), r.get("new_ci")], "change_points": change})
    versions = [{"version": "BASE", "git_commit": None}, {"version": "NEW", "git_commit": None}]
    return {"versions": versions, "metrics": metrics, "tracks": tracks}


def page_markdown(report: dict[str, Any], figure: str | None) -> str:
    """The page's markdown (no raw HTML: the page is rendered with raw HTML off)."""
    def table(h, rows):
        return tabulate(rows, headers=h, tablefmt="github", disable_numparse=True)

    causes, env = compare.cause_lines(report, md=True), compare.environment_lines(report, md=True)
    verdict = compare.verdict_line(report, md=True).removeprefix("### medbench compare: ")
    verdict = verdict.replace("❌ regression", "**REGRESSION**", 1).replace("✅ no regression", "**PASS**: no regression", 1)
    out = ["# medbench compare", "", verdict, "",
           "## Causes", "", causes[0], "", *[f"- {line.strip()}" for line in causes[1:]], ""]
    out += ["## Regressions", ""]
    out += [table(*compare.regression_table(report, md=True)), ""] if report["regressions"] else ["None.", ""]
    if figure:
        out += ["## Metrics, BASE (#1) and NEW (#2)", "",
                f"![Every metric of every pipeline, BASE and NEW, with 95% confidence intervals]({figure})", ""]
    out += ["## Environment", "", env[0] if env else "", *[f"- {line.strip()}" for line in env[1:]], "",
            *[f"- {line}" for line in compare._context(report, True)], ""]
    h, rows = compare.metrics_table(report, md=True)
    if rows:
        out += ["## All metrics: NEW (change vs BASE)", "", table(h, rows), "", compare.LEGEND["md"], "",
                "## Runtime: ratio NEW/BASE", "", table(*compare.runtime_table(report, md=True)), "",
                "Throughput: higher is faster; every other ratio: higher is slower.", ""]
    notes = [n for n in report["notes"] if n not in compare._cause_notes(report)]
    if notes:
        out += ["## Notes", "", *[f"- {escape.md(n)}" for n in notes], ""]
    return "\n".join(out).rstrip() + "\n"


def write(report: dict[str, Any], path: str | Path) -> list[Path]:
    """Write the page to ``path`` and its figure beside it; returns the paths written. A figure that
    cannot be drawn is left out with a warning (the page is written all the same)."""
    path = Path(path)
    rel = f"{path.stem}-figures/{FIGURE}"
    written = []
    try:
        with plain_text():
            fig = series_figure(as_series(report), title="Every metric, BASE (#1) and NEW (#2)")
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=DPI)
        written.append(write_bytes(path.parent / rel, buf.getvalue()))
    except Exception as exc:  # noqa: BLE001 - a figure must never cost the page
        warn(f"could not draw {rel}: {type(exc).__name__}: {escape.plain(exc)}"[:300])
        rel = None
    written.insert(0, write_text(path, html.render(page_markdown(report, rel), title="medbench compare", toc=True)))
    return written
