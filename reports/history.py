"""Render a history analysis (:func:`medbench.stores.history.analyse`) as history.md, history.html and one figure
per series (PNG, matplotlib's Agg canvas; a grid of small panels, one per metric, versions labelled
``#1 abc1234``, the legend outside): per pipeline the value of each version with its confidence band, the versions where the metric changed, and the regressions table naming the first
version showing each regression with the paired-test p-value across that step. Rendering only; every
data string (pipeline names, versions, titles, machines) is escaped (:mod:`medbench.reports.escape`).
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

from tabulate import tabulate

from medbench.core.atomic import write_bytes, write_json, write_text
from medbench.metrics import label
from medbench.reports import escape, html, tables
from medbench.reports.figures import new_figure, plain_text

FIG_DIR = "figures"
DPI = 110
COLORS = ("#1f77b4", "#e6550d", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
          "#d62728")


_num, _signed = tables.fmt_num, tables.fmt_signed


def p_text(v: Any) -> str:
    return "–" if v is None else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def figure_name(i: int) -> str:
    """The file of series ``i``'s figure, one small panel per metric (an index only: no data strings)."""
    return f"history-{i + 1}.png"


#: A version named by its run's time stamp (the run had no git commit): ``20261207T143901+0000``.
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})")


def no_commit(v: dict[str, Any]) -> bool:
    """Whether version ``v`` was filed without a git commit or a --commit name (under its time stamp)."""
    return bool(_STAMP.match(v["version"])) and str(v.get("git_commit") or "unknown") == "unknown"


def short_version(v: dict[str, Any]) -> str:
    """A version's axis label: the commit's 7 characters (``+`` when dirty), a time stamp as ``MM-DD hh:mm``
    (no commit), else the --commit name, shortened."""
    name, commit = v["version"], str(v.get("git_commit") or "unknown")
    if commit != "unknown" and name.startswith(commit[:12]):
        return commit[:7] + ("+" if v.get("dirty") else "")
    m = _STAMP.match(name)
    if m and no_commit(v):
        return f"{m[2]}-{m[3]} {m[4]}:{m[5]}"
    return name if len(name) <= 12 else name[:11] + "…"


def _changes_table(changes: list[dict[str, Any]], versions: list[dict[str, Any]]) -> str:
    rows = []
    for c in changes:
        test = escape.md(c["test"]) if c.get("test") else escape.md(f"none ({c.get('reason') or 'not paired'})")
        rows.append([escape.md(c["pipeline"]), label(c["metric"]),
                     f"#{c['index'] + 1} {escape.md_code(c['version'])}",
                     f"#{c['previous_index'] + 1} {escape.md_code(c['previous'])}",
                     _num(c["before"]), _num(c["after"]), _signed(c["step"]), test, p_text(c.get("p"))])
    return _table(["Pipeline", "Metric", "First version", "Previous version", "Before (mean)", "After (mean)",
                   "Step", "Paired test across the step", "p"], rows)


def series_markdown(i: int, s: dict[str, Any]) -> list[str]:
    """The section of one series: versions, regressions, improvements, one figure and table per metric."""
    versions = s["versions"]
    out = [f"## {escape.md(s['title'] or s['dataset'])}: {escape.md(s['machine_text'])}", "",
           f"Dataset {escape.md_code(s['dataset'])}, split {escape.md_code(str(s['split'])[:12])}, machine "
           f"{escape.md_code(s['machine'])}; {len(versions)} version{'s' if len(versions) != 1 else ''}, oldest "
           "first (by the time each run was made).", "", "### Versions", ""]
    rows = [[f"#{k + 1}", escape.md_code(v["version"]),
             escape.md_code(str(v.get("git_commit") or v.get("commit") or "unknown")[:12]),
             {True: "yes", False: "no", None: "–"}[v.get("dirty")], escape.md(v.get("created") or "–"),
             escape.md(v.get("medbench_version") or "–")] for k, v in enumerate(versions)]
    out += [_table(["#", "Version", "Git commit", "Dirty", "Run at", "medbench"], rows), ""]
    bare = [f"#{k + 1}" for k, v in enumerate(versions) if no_commit(v)]
    if bare:
        one = len(bare) == 1
        out += [f"**Warning:** {', '.join(bare)} {'has' if one else 'have'} no git commit (run outside a git "
                f"checkout), so {'it is' if one else 'they are'} filed under the time {'it' if one else 'they'} ran. "
                "Name the version when you file a run: `medbench history add RUN --commit NAME` (e.g. a release "
                "tag).", ""]
    out += ["### Regressions", ""]
    if s["regressions"]:
        out += ["Each row is a change for the worse found by the change-point search; *First version* is the "
                "first version at the new level, the p-value is the paired test between it and the version "
                "before, on the same test images.", "", _changes_table(s["regressions"], versions), ""]
    else:
        out += ["No regression: no metric of any pipeline changed for the worse.", ""]
    if s["improvements"]:
        out += ["### Improvements", "", _changes_table(s["improvements"], versions), ""]
    out += ["### Metrics per version", "", f"![Every metric per version, with 95% confidence bands]"
                                           f"({FIG_DIR}/{figure_name(i)})", ""]
    for m in s["metrics"]:
        tracks = [t for t in s["tracks"] if t["metric"] == m]
        out += [f"**{label(m)}**", ""]
        rows = []
        for t in tracks:
            marks = {c["index"]: (" ▼" if c["direction"] == "worse" else " ▲") for c in t["change_points"]}
            cells = [(_num(v) if v is not None else t["status"][k]) + marks.get(k, "") for k, v in enumerate(t["values"])]
            rows.append([escape.md(t["pipeline"]), *cells, f"±{t['half_width']:.3f}"])
        out += [_table(["Pipeline", *[f"#{k + 1}" for k in range(len(versions))], "CI ±"], rows), ""]
    return out


def markdown(analysis: dict[str, Any]) -> str:
    series = analysis["series"]
    n_runs = sum(len(s["versions"]) for s in series)
    n_reg = sum(len(s["regressions"]) for s in series)
    out = ["# medbench history", "",
           f"Store {escape.md_code(analysis['store'])}: {n_runs} run{'s' if n_runs != 1 else ''} in {len(series)} "
           f"series (one per machine, dataset and split); **{n_reg} regression{'s' if n_reg != 1 else ''}** found.",
           "",
           "Change points: PELT (least-squares cost, `ruptures`) on each pipeline's per-version values. The "
           "penalty is h² (h: the median 95% CI half-width of the values, at least the tolerance / √2): a "
           "change is kept when the step between two segments is significant at about 5% for versions measured "
           "with that CI (growing as 2 ln n (h / 1.96)² in long histories). ▼ marks a change for the worse, ▲ "
           "for the better, at the first version of the new level.", ""]
    for note in analysis.get("notes") or []:
        out.append(f"- {escape.md(note)}")
    if analysis.get("notes"):
        out.append("")
    if not series:
        out += ["The store holds no runs yet: `medbench history add RUN`.", ""]
    for i, s in enumerate(series):
        out += series_markdown(i, s)
    return "\n".join(out).rstrip() + "\n"


def series_figure(s: dict[str, Any], title: str = "Metrics per version (oldest first; #N = version N of the "
                                                     "table above)"):
    """One series as a grid of small multiples, one panel per metric: value per version and CI band per
    pipeline, change points marked; one legend, outside the panels, explains every mark."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    versions, metrics = s["versions"], s["metrics"]
    ncols = min(4, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    width = max(2.6, 0.9 + 0.32 * len(versions))
    fig = new_figure(width * ncols + 2.4, 2.3 * nrows + 0.6, layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    x = list(range(1, len(versions) + 1))
    pipelines = list(dict.fromkeys(t["pipeline"] for t in s["tracks"]))
    color = {p: COLORS[k % len(COLORS)] for k, p in enumerate(pipelines)}
    for ax, metric in zip(axes, metrics):
        for t in (t for t in s["tracks"] if t["metric"] == metric):
            pts = [(xi, v) for xi, v in zip(x, t["values"]) if v is not None]
            if not pts:
                continue
            band = [(xi, b) for xi, b in zip(x, t["ci"]) if b is not None]
            if band:
                ax.fill_between([b[0] for b in band], [b[1][0] for b in band], [b[1][1] for b in band],
                                color=color[t["pipeline"]], alpha=0.15, linewidth=0)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color[t["pipeline"]], markersize=3,
                    linewidth=1.2)
            for c in t["change_points"]:
                worse = c["direction"] == "worse"
                ax.axvline(c["index"] + 0.5, color="#d62728" if worse else "#2ca02c", linestyle="--", linewidth=0.9)
                ax.plot([c["index"] + 1], [c["value_after"]], marker="v" if worse else "^", markersize=8,
                        color="#d62728" if worse else "#2ca02c", zorder=5)
        ax.set_title(label(metric), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    for ax in axes[:len(metrics)]:
        ax.set_xticks(x)
        ax.set_xticklabels([f"#{i} {escape.plain(short_version(v))}" for i, v in zip(x, versions)], rotation=40,
                           ha="right", fontsize=6.5)
        ax.tick_params(axis="x", labelbottom=True)
    handles = [Line2D([], [], color=color[p], marker="o", markersize=4, label=escape.plain(p)) for p in pipelines]
    handles += [Patch(color="0.5", alpha=0.25, label="band: 95% CI"),
                Line2D([], [], color="#d62728", marker="v", ls="--", lw=0.9, label="change for the worse"),
                Line2D([], [], color="#2ca02c", marker="^", ls="--", lw=0.9, label="change for the better")]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    return fig


def write(analysis: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """history.md, history.html, history.json and figures/ in ``out``; returns the paths and any figure
    that could not be drawn (the report is written without it)."""
    out = Path(out)
    failures = []
    with plain_text():
        for i, s in enumerate(analysis["series"]):
            try:
                fig = series_figure(s)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=DPI)
                write_bytes(out / FIG_DIR / figure_name(i), buf.getvalue())
            except Exception as exc:  # noqa: BLE001 - a figure must never cost the report
                failures.append(f"{figure_name(i)}: {type(exc).__name__}: {exc}")
    md = markdown(analysis)
    paths = {"md": write_text(out / "history.md", md),
             "html": write_text(out / "history.html", html.render(md, title="medbench history", toc=True)),
             "json": write_json(out / "history.json", analysis)}
    return {"paths": paths, "figure_failures": failures}
