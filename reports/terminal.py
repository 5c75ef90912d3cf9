"""How ``medbench run`` ends on the terminal: a leaderboard that fits the terminal's width and a closing
block (the verdict in one sentence, the best classical and best deep rows, where report.html and
results.json are).

The wide leaderboard (every metric with its 95% CI) stays in report.md and metrics.csv; the terminal
copy first drops the intervals, then the metric columns from the right (ROC-AUC stays), then shortens
pipeline names, until it fits, and says what it left out. Every data string is plain terminal text
(:func:`medbench.reports.escape.plain`).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

from tabulate import tabulate

from medbench.evaluation.verdict import roc_auc_difference
from medbench.reports import tables
from medbench.reports.escape import plain

_INTERVAL = re.compile(r"\s*(\[[^\]]*\]|± \S+)$")
#: The columns before the metrics in :func:`medbench.reports.tables.leaderboard`: #, Pipeline, Family, Seed(s).
_FIXED = 4
_NARROWEST_NAME = 12


def _render(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers, tablefmt="simple", disable_numparse=True)


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _shorten(name: str, width: int) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def fitted_leaderboard(results: dict[str, Any], stats: dict[str, Any], width: int | None = None) -> str:
    """The leaderboard as a plain-text table no wider than ``width`` columns (default: the terminal's)."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    headers, rows = tables.leaderboard(results, stats)
    text = _render(headers, rows)
    if _width(text) <= width:
        return text
    notes = []
    rows = [r[:_FIXED] + [_INTERVAL.sub("", c) for c in r[_FIXED:]] for r in rows]
    notes.append("intervals")
    n_metrics = len(headers) - _FIXED
    while _width(text := _render(headers, rows)) > width and len(headers) > _FIXED + 1:
        headers, rows = headers[:-1], [r[:-1] for r in rows]
    dropped = n_metrics - (len(headers) - _FIXED)
    if dropped:
        notes.append(f"{dropped} metric column{'s' if dropped != 1 else ''}")
    name_w = max((len(r[1]) for r in rows), default=0)
    while _width(text) > width and name_w > _NARROWEST_NAME:
        name_w -= 1
        text = _render(headers, [[r[0], _shorten(r[1], name_w), *r[2:]] for r in rows])
    note = f"({' and '.join(notes)} left out to fit {width} columns; full table: report.md, metrics.csv)"
    return "\n".join([text, *textwrap.wrap(note, max(width, 40))])


def fit_table(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """A listing (rows of ``{column: text}``) no wider than ``width`` (default: the terminal's): a table
    when it fits, else one block per row (its first column as the title, the others indented, wrapped)."""
    width = max(40, width or shutil.get_terminal_size((100, 24)).columns)
    if not rows:
        return ""
    headers = list(rows[0])
    cells = [[plain(r.get(h, "")) for h in headers] for r in rows]
    table = tabulate(cells, headers, tablefmt="simple", disable_numparse=True)
    if _width(table) <= width:
        return table
    key_w = max(len(h) for h in headers[1:]) + 2
    out = []
    for row in cells:
        out.append(row[0])
        for h, text in zip(headers[1:], row[1:]):
            out += textwrap.wrap(text or "-", width, initial_indent=f"  {h + ':':<{key_w}}",
                                 subsequent_indent=" " * (key_w + 2), break_on_hyphens=False)
        out.append("")
    return "\n".join(out).rstrip()


def _row(results: dict[str, Any], stats: dict[str, Any], pipeline: str | None) -> str | None:
    g = next((g for g in stats["pipelines"] if g["pipeline"] == pipeline), None)
    if g is None:
        return None
    jobs = {tables.job_key(j): j for j in tables.ok_jobs(results)}

    def value(metric: str) -> str:
        if len(g["seeds"]) > 1:
            return tables.fmt_mean_sd(g["metrics"][metric]) if metric in g["metrics"] else "–"
        job = jobs.get(g["job_ids"][0]) or {}
        return tables.fmt_ci((job.get("metrics") or {}).get(metric), tables.job_ci(stats, job, metric))

    latency = g["runtime"]["latency_ms_per_image"]["mean"]
    cost = f", {latency:.3g} ms per image" if latency else ""
    seeds = f" over {len(g['seeds'])} seeds" if len(g["seeds"]) > 1 else ""
    return f"{plain(g['name'])}: ROC-AUC {value('roc_auc')}, accuracy {value('accuracy')}{seeds}{cost}"


def verdict(results: dict[str, Any], stats: dict[str, Any]) -> str:
    """The run's answer in one plain sentence: is the best classical pipeline as good as the best deep one?"""
    groups = stats["pipelines"]
    if not groups:
        return "no pipeline finished, so there is no verdict (see the report's *Not run* section)."
    head = stats.get("headline")
    if not head:
        best = groups[0]
        families = {g["family"] for g in groups}
        missing = [f for f in ("classical", "deep") if f not in families]
        failed = sorted({plain(j["pipeline"]) for j in _failed(results) if j.get("family") in missing})
        why = (f" ({', '.join(failed)} failed: see the error{'s' if len(failed) > 1 else ''} below)" if failed
               else " (run with --pipelines all for both)")
        return (f"best pipeline {plain(best['name'])} ({plain(best['family'])}); no {' or '.join(missing) or 'paired'} "
                f"pipeline finished, so there is no classical-vs-deep comparison{why}.")
    by = {g["pipeline"]: g for g in groups}
    c, d = by[head["classical"]], by[head["deep"]]
    names = f"classical {plain(c['name'])} vs deep {plain(d['name'])}"
    lat_c, lat_d = c["runtime"]["latency_ms_per_image"]["mean"], d["runtime"]["latency_ms_per_image"]["mean"]
    cost = ""
    if lat_c and lat_d:
        ratio = lat_d / lat_c
        cost = (f"; the classical pipeline is {ratio:.1f}x faster per image" if ratio >= 1
                else f"; the classical pipeline is {1 / ratio:.1f}x slower per image")
    d = roc_auc_difference(head["comparisons"])  # the verdict's numbers come from the evaluation
    if d is None:
        return f"{names}: no paired ROC-AUC comparison was possible{cost}."
    n, mean, sig, direction = d["n"], d["mean"], d["significant"], d["direction"]
    if n == 1:
        p = tables.fmt_p_eq(d["p"][0])
        if sig:
            return f"{names}: classical is {direction} by {abs(mean):.3f} ROC-AUC ({p}, significant){cost}."
        return f"{names}: no significant ROC-AUC difference ({tables.signed(mean)}, {p}){cost}."
    if sig == 0:
        return (f"{names}: no significant ROC-AUC difference in any of {n} seeds "
                f"(mean {tables.signed(mean)}){cost}.")
    return (f"{names}: classical is {direction} by {abs(mean):.3f} ROC-AUC on average (significant in {sig} "
            f"of {n} seeds){cost}.")


def _failed(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [j for j in results["jobs"] if j["status"] != "ok"]


def failure_lines(results: dict[str, Any]) -> list[str]:
    """``medbench: error: PIPELINE (seeds 0, 1): ERROR``: each distinct error of a pipeline once."""
    by: dict[tuple[str, str], list[int]] = {}
    for j in _failed(results):
        by.setdefault((j["pipeline"], j.get("error", "")), []).append(j["seed"])
    return [f"medbench: error: {plain(p)} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}): "
            f"{plain(err)}" for (p, err), seeds in by.items()]


def closing_block(results: dict[str, Any], stats: dict[str, Any], out_dir: Path) -> list[str]:
    """The lines that end a run: verdict, best classical and deep rows, the report and results paths."""
    best = {fam: next((g["pipeline"] for g in stats["pipelines"] if g["family"] == fam), None)
            for fam in ("classical", "deep")}
    out = [f"Verdict: {verdict(results, stats)}"]
    for fam in ("classical", "deep"):
        row = _row(results, stats, best[fam])
        failed = sorted({plain(j["pipeline"]) for j in _failed(results) if j.get("family") == fam})
        none = f"no {fam} pipeline finished" + (f" ({', '.join(failed)} failed)" if failed else "")
        out.append(f"Best {fam + ':':<11}" + (row or none))
    out += [f"Report:  {plain(out_dir / 'report.html')}", f"Results: {plain(out_dir / 'results.json')}"]
    return out
