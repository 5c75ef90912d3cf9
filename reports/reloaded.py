"""The report's "Metrics Reloaded" section and its decision-curve figure (rendering only).

:func:`section` is the markdown of Metrics Reloaded's classification metrics (Maier-Hein et al., Nature Methods
2024; computed by :mod:`medbench.metrics_reloaded`): per pipeline (lowest seed) average precision, sensitivity at
specificity 0.90 / 0.95 (thresholds chosen on validation, listed below the table), LR+ / LR-, log loss and
class-wise ECE, each with its 95% bootstrap CI, the best of each column in bold in the metric's own direction,
and why a metric is undefined where it is. :func:`decision_curve` (binary tasks) draws each pipeline's net benefit
against the threshold probability beside treating every image and treating none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tabulate import tabulate

from medbench.metrics import METRICS, metric_names
from medbench.metrics_reloaded import SPECIFICITY_TARGETS, net_benefit
from medbench.records import view
from medbench.reports import tables
from medbench.reports.calibration import first_jobs, metric_header, metric_rows
from medbench.reports.escape import md as escape_md

COLUMNS = tables.RELOADED_ORDER
FIGURE_KEY = "decision_curve"
FIGURE_FILE = "decision_curve.png"
FIGURE_CAPTION = ("Decision curve (test split): the net benefit of treating the images whose P(positive) is at "
                  "least the threshold probability pt, TP/n − FP/n · pt/(1 − pt), against treating every image "
                  "(grey) and treating none (0). A pipeline is useful at pt where its curve lies above both.")
#: The threshold probabilities of the decision curve.
THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)


def has_reloaded(jobs: list[dict[str, Any]]) -> bool:
    """Whether any job was scored with these metrics (results written before them were not)."""
    return any("log_loss" in (j.get("metrics") or {}) for j in jobs)


def has_decision_curve(jobs: list[dict[str, Any]]) -> bool:
    """A binary task whose jobs store their test predictions."""
    return any(len((j.get("metrics") or {}).get("confusion_matrix") or []) == 2 and j.get("predictions")
               for j in jobs)


def section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    jobs = first_jobs(results, stats)
    if not has_reloaded(jobs):
        return ["This results.json has no Metrics Reloaded metrics (it was written by an earlier medbench); run "
                "the benchmark again to measure them.", ""]
    n = len(view.class_names(results))
    cols = [c for c in COLUMNS if c in metric_names(n)]
    rows = metric_rows(jobs, stats, cols)
    out = [
        "Metrics Reloaded's image-classification metrics (Maier-Hein et al., Nature Methods 2024; definitions in "
        "docs/metrics.md). **AP**: average precision, the area under the precision-recall curve "
        + ("of the positive class. " if n == 2 else "one-vs-rest, macro-averaged over the classes. ")
        + ("**Sens@Spec90 / Sens@Spec95**: the test sensitivity at the threshold chosen on validation as the "
           "lowest one whose validation specificity is at least 0.90 / 0.95. **LR+** = sensitivity / "
           "(1 − specificity) and **LR−** = (1 − sensitivity) / specificity at the operating point. "
           if n == 2 else "")
        + "**Log loss**: the mean negative log-probability of the true class (nats; probabilities clipped as "
          "scikit-learn). **Class-wise ECE**: the one-vs-rest ECE of each class's probability (15 equal-width "
          "bins), averaged over the classes. ↓: lower is better; the best of each column is in bold; intervals "
          "are 95% bootstrap intervals; pipelines are compared by a paired bootstrap (`medbench compare`).", "",
        tabulate(rows, headers=["Pipeline", "Seed", *[metric_header(c) for c in cols]], tablefmt="github",
                 disable_numparse=True), "",
    ]
    if n == 2:
        out += _thresholds(jobs)
    why = [f"{escape_md(tables.name(j))} (seed {j['seed']}) {escape_md(METRICS[m].label)}: {escape_md(r)}"
           for j in jobs for m, r in (j.get("metric_notes") or {}).items() if m in cols]
    if why:
        out += ["Undefined here: " + "; ".join(why) + ".", ""]
    return out


def _thresholds(jobs: list[dict[str, Any]]) -> list[str]:
    rows = []
    for job in jobs:
        block = (job.get("threshold") or {}).get("at_specificity") or {}
        cells = []
        for m in SPECIFICITY_TARGETS:
            e = block.get(m)
            cells.append("–" if not e else f"{e['threshold']:.4f} (val. spec. {tables.fmt_num(e.get('val_specificity'))}"
                                           f", sens. {tables.fmt_num(e.get('val_sensitivity'))})")
        rows.append([escape_md(tables.name(job)), str(job["seed"]), *cells])
    if not any(c != "–" for r in rows for c in r[2:]):
        return []
    headers = ["Pipeline", "Seed", *[f"Threshold for specificity ≥ {t:.2f} (validation)"
                                     for t in SPECIFICITY_TARGETS.values()]]
    return [tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]


def decision_curve(results: dict[str, Any], stats: dict[str, Any], new_figure, palette):
    """Net benefit of every pipeline (lowest seed) against the threshold probability, with treat-all and
    treat-none; binary tasks only. ``new_figure(width, height)`` and ``palette(n)``: the report's figure helpers."""
    pos = view.positive_index(results)
    if pos is None:
        raise ValueError("a decision curve needs a binary task")
    jobs = [j for j in first_jobs(results, stats) if j.get("predictions")]
    fig = new_figure(6.6, 4.8)
    ax = fig.subplots()
    prevalence = None
    for color, job in zip(palette(len(jobs)), jobs):
        y = np.asarray(job["predictions"]["y_true"])
        proba = np.asarray(job["predictions"]["proba"], dtype=float)
        nb = net_benefit(y, proba[:, pos], THRESHOLDS, pos)
        prevalence = float(np.mean(y == pos))
        ls = "--" if job.get("family") == "deep" else ("-" if job.get("family") == "classical" else ":")
        ax.plot(nb["threshold"], nb["model"], lw=1.5, ls=ls, color=color, label=f"{tables.name(job)}")
    if jobs:
        nb = net_benefit(np.asarray(jobs[0]["predictions"]["y_true"]), np.zeros(len(jobs[0]["predictions"]["y_true"])),
                         THRESHOLDS, pos)
        ax.plot(THRESHOLDS, nb["treat_all"], color="0.55", lw=1.2, label="treat all")
        ax.axhline(0.0, color="black", lw=0.9, label="treat none")
    top = max(prevalence or 0.0, 0.05)
    ax.set_ylim(-0.1 * top, 1.1 * top)
    ax.set_xlim(0, 1)
    ax.set_xlabel("threshold probability pt (treat when P(positive) ≥ pt)")
    ax.set_ylabel("net benefit = TP/n − FP/n · pt/(1 − pt)")
    ax.set_title("Decision curves, test split (solid: classical, dashed: deep)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper right")
    return fig
