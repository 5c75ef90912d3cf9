"""The report's calibration section and its reliability diagram (rendering only).

:func:`section` is the markdown (the report adds the figure below it) of "Calibration and operating point": per pipeline the Brier score and
the expected calibration error (both lower is better), MCC, PPV and NPV at the operating point, each with
its 95% bootstrap CI, the best value of each column in bold (in the metric's own direction), and the
paired-bootstrap difference of the Brier score to the reference pipeline. :func:`reliability_diagram`
draws one panel per pipeline from the bins the harness computed (``statistics.jobs[<job id>].reliability``,
:func:`medbench.evaluation.stats.reliability`); it computes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tabulate import tabulate

from medbench.evaluation import stats as st
from medbench.metrics import CALIBRATION_BINS, METRICS, gain, metric_names
from medbench.records import view
from medbench.reports import tables
from medbench.reports.escape import md as escape_md

FIGURE_KEY = "reliability"
FIGURE_FILE = "reliability.png"
FIGURE_CAPTION = ("Each panel: the test images binned by top-label confidence; bars show each bin's accuracy, the "
                  "diagonal is perfect calibration. Bars below the diagonal: over-confident; above: under-confident. "
                  "Bins with no image are empty.")
COLUMNS = tables.CALIBRATION_ORDER


def has_calibration(jobs: list[dict[str, Any]]) -> bool:
    """Whether any job was scored with the calibration metrics (results written before them were not)."""
    return any(j["metrics"].get("brier") is not None for j in jobs)


def best_rows(values: list[float | None], metric: str) -> set[int]:
    """Rows holding the best value of ``metric`` in its own direction (lowest Brier / ECE, highest MCC)."""
    scored = [(gain(metric, v), i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not scored:
        return set()
    top = max(s for s, _ in scored)
    return {i for s, i in scored if s == top}


def first_jobs(results: dict[str, Any], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Each pipeline's lowest-seed finished job, in the statistics' pipeline order."""
    by_id = {view.record_id(j): j for j in view.ok_jobs(results)}
    return [by_id[g["job_ids"][0]] for g in stats["pipelines"] if g["job_ids"][0] in by_id]


def metric_header(metric: str) -> str:
    """A metric's column header: its label, with ↓ when lower is better."""
    return METRICS[metric].label + (" ↓" if not METRICS[metric].higher_is_better else "")


def metric_rows(jobs: list[dict[str, Any]], stats: dict[str, Any], cols: list[str]) -> list[list[str]]:
    """One row per job: name, seed, then each metric of ``cols`` with its 95% CI, the best of each column in bold
    (in the metric's own direction)."""
    rows = [[escape_md(tables.name(job)), str(job["seed"]),
             *[tables.fmt_ci(job["metrics"].get(c), tables.job_ci(stats, job, c)) for c in cols]] for job in jobs]
    for k, c in enumerate(cols):
        for i in best_rows([v if st.finite(v := j["metrics"].get(c)) else None for j in jobs], c):
            rows[i][2 + k] = f"**{rows[i][2 + k]}**"
    return rows


def _vs_reference(stats: dict[str, Any], job: dict[str, Any]) -> str:
    jid = view.record_id(job)
    if job["pipeline"] == stats.get("reference"):
        return "reference"
    for c in stats.get("comparisons") or []:
        if c.get("a") == jid and c.get("paired") and c.get("brier"):
            b = c["brier"]
            p = b.get("p_holm", b.get("p"))
            return f"{tables.fmt_diff(b.get('diff'), b.get('ci'))}, {tables.fmt_p_eq(p)}"
    return "–"


def section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    jobs = first_jobs(results, stats)
    if not has_calibration(jobs):
        return ["This results.json has no calibration metrics (it was written by an earlier medbench); run the "
                "benchmark again to measure them.", ""]
    n = len(view.class_names(results))
    cols = [c for c in COLUMNS if c in metric_names(n)]
    ref = next((g["name"] for g in stats["pipelines"] if g["pipeline"] == stats.get("reference")), None)
    headers = ["Pipeline", "Seed", *[metric_header(c) for c in cols],
               f"Brier − {escape_md(ref)} [95% CI], p (Holm)" if ref else "Brier diff"]
    rows = [[*row, _vs_reference(stats, job)] for row, job in zip(metric_rows(jobs, stats, cols), jobs)]
    out = [
        "How far the predicted probabilities can be taken at face value. **Brier score**: the mean squared "
        "difference between the predicted probabilities and the true class (one-hot), summed over the classes "
        "and halved (for two classes the usual (P(positive) − y)²); 0 is perfect. **ECE** (expected calibration "
        f"error): the top-label confidence (the largest class probability) in {CALIBRATION_BINS} equal-width bins "
        "over [0, 1], the size-weighted mean gap between each bin's mean confidence and its accuracy. "
        "Both are lower-is-better (↓; the best of each column is in bold). "
        + ("MCC, PPV (precision of the positive class) and NPV are measured at the operating point chosen on "
           "validation. " if n == 2 else "MCC (K-class form) is measured on the arg-max labels. ")
        + "Brier differences to the reference pipeline: paired bootstrap on the same test images.", "",
        tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), "",
    ]
    return out


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def reliability_diagram(results: dict[str, Any], stats: dict[str, Any]):
    """One reliability panel per pipeline (lowest seed), best pipeline first, from the stored bins."""
    jobs = [j for j in first_jobs(results, stats)
            if ((stats["jobs"].get(view.record_id(j)) or {}).get("reliability"))]
    if not jobs:
        raise ValueError("the statistics hold no reliability bins (results written by an earlier medbench)")
    ncols = min(4, len(jobs))
    nrows = math.ceil(len(jobs) / ncols)
    fig = _new_figure(max(2.7 * ncols, 5.4), 2.6 * nrows + 1.0)  # room for the legend below
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True)).ravel()
    for ax, job in zip(axes, jobs):
        rel = stats["jobs"][view.record_id(job)]["reliability"]
        bins = rel["bins"]
        edges = np.asarray(rel.get("edges") or np.linspace(0, 1, bins + 1))
        centres = (edges[:-1] + edges[1:]) / 2
        acc = np.array([np.nan if a is None else a for a in rel["accuracy"]])
        conf = np.array([np.nan if c is None else c for c in rel["confidence"]])
        ax.bar(centres, np.nan_to_num(acc), width=1 / bins, color="#4c72b0", edgecolor="white", linewidth=0.5,
               label="dark bars: accuracy of the bin's test images (an empty bin has no bar)")
        ax.bar(centres, np.nan_to_num(np.abs(conf - acc)), bottom=np.nan_to_num(np.fmin(acc, conf)), width=1 / bins,
               color="#dd8452", alpha=0.45, edgecolor="none",
               label="light bars: gap between the bin's accuracy and its mean confidence")
        ax.plot([0, 1], [0, 1], ls="--", color="0.3", lw=0.9, label="dashed line: perfect calibration "
                                                                     "(accuracy = confidence)")
        ece = job["metrics"].get("ece")
        title = f"{tables.name(job)} (seed {job['seed']})"
        ax.set_title(title if len(title) <= 34 else title[:33] + "…", fontsize=8.5)
        ax.text(0.03, 0.93, f"ECE {tables.fmt(ece)}\nn = {sum(rel['count'])}", transform=ax.transAxes, fontsize=7.5,
                va="top")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    for ax in axes[len(jobs):]:
        ax.set_axis_off()
    for ax in axes[(nrows - 1) * ncols:]:
        ax.set_xlabel("top-label confidence", fontsize=7.5)
    for ax in axes[::ncols]:
        ax.set_ylabel("accuracy", fontsize=7.5)
    handles, labels = axes[0].get_legend_handles_labels()  # below the panels: every mark explained, none covered
    fig.legend(handles, labels, loc="outside lower center", ncols=1, fontsize=7.5, frameon=False)
    fig.suptitle(f"Reliability diagrams, test split ({CALIBRATION_BINS} equal-width confidence bins)", fontsize=10)
    return fig
