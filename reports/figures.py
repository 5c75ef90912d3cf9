"""The report's figures (PNG, matplotlib's Agg canvas, no pyplot state), drawn from results.json alone.

:func:`planned` says which figures a results dict gets (the markdown links exactly those);
:func:`write_figures` draws them into ``OUT/figures/``. The sample-image grid needs pixels, which
results.json does not hold: :func:`save_samples` draws it at run time from the dataset, and a
report rebuilt later keeps the file that is there.

Per-pipeline curves (ROC, confusion matrices) show each pipeline's lowest seed; the leaderboard
and trade-off charts show every seed.

Names from the results are drawn as plain text: every figure is made with matplotlib's maths parsing
and TeX off (:func:`plain_text`), so a class called ``$\\undefined$`` is shown as typed; log-axis tick
labels, which matplotlib writes as maths, are written as plain Unicode instead (:mod:`medbench.reports.ticks`).
A figure that fails anyway is left out and named in :func:`write_figures`' failures (the report is still written).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from medbench.core.atomic import write_bytes
from medbench.records import view
from medbench.reports import calibration, tables
from medbench.reports import reloaded as reloaded_report
from medbench.reports import robustness as robustness_report
from medbench.reports.calibration import reliability_diagram  # noqa: F401 - drawn through FIGURES
from medbench.reports.escape import plain
from medbench.reports.ticks import plain_log_ticks

FAMILY_COLORS = {"baseline": "#8c8c8c", "classical": "#1f77b4", "deep": "#e6550d"}
SAMPLES = "samples.png"
DPI = 110


def _history(job: dict[str, Any]) -> dict[str, list[float]]:
    hist = (job.get("model_info") or {}).get("history") or {}
    return {k: v for k, v in hist.items() if isinstance(v, list) and v}


def _any_job(jobs: list[dict[str, Any]]) -> bool:
    return bool(jobs)


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: its file, title, drawing function (``draw(results, stats) -> Figure``, named so it
    is looked up when drawn) and when it is drawn (``when(ok_jobs)``)."""

    key: str
    file: str
    title: str
    draw: str = ""
    when: Callable[[list[dict[str, Any]]], bool] = _any_job


#: Every report figure, in report order: to add one, write its drawing function below and add a row here.
FIGURES = {spec.key: spec for spec in (
    FigureSpec("tradeoff", "tradeoff.png", "Test ROC-AUC against per-image latency", "tradeoff"),
    FigureSpec("leaderboard", "leaderboard.png", "Leaderboard with 95% confidence intervals", "leaderboard"),
    FigureSpec("class_distribution", "class_distribution.png", "Class distribution per split", "class_distribution",
               lambda jobs: True),
    FigureSpec("roc", "roc.png", "ROC curves on the test split", "roc_curves",
               lambda jobs: any(j["metrics"].get("roc_auc") is not None for j in jobs)),
    FigureSpec("confusion", "confusion.png", "Confusion matrices on the test split", "confusion_grid"),
    FigureSpec(calibration.FIGURE_KEY, calibration.FIGURE_FILE, "Reliability diagrams on the test split",
               "reliability_diagram", calibration.has_calibration),
    FigureSpec(reloaded_report.FIGURE_KEY, reloaded_report.FIGURE_FILE, "Decision curves (net benefit) on the test "
               "split", "decision_curve", reloaded_report.has_decision_curve),
    FigureSpec("training_curves", "training_curves.png", "Training curves of the deep models", "training_curves",
               lambda jobs: any(_history(j) for j in jobs if j.get("family") == "deep")),
    FigureSpec("robustness", robustness_report.FILE, "Robustness to corruptions of the test split", "robustness",
               lambda jobs: any(j.get("robustness") for j in jobs)),
)}


def planned(results: dict[str, Any]) -> dict[str, FigureSpec]:
    """The figures :func:`write_figures` draws for these results, by key (a pure function of them)."""
    jobs = view.ok_jobs(results)
    return {k: spec for k, spec in FIGURES.items() if spec.when(jobs)}


@contextmanager
def plain_text() -> Iterator[None]:
    """matplotlib settings under which every string is drawn as typed: no ``$...$`` maths, no TeX."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        yield


def write_figures(results: dict[str, Any], fig_dir: Path,
                  stats: dict[str, Any] | None = None) -> tuple[list[Path], list[str]]:
    """Draw every planned figure into ``fig_dir``; returns the paths written and, one line each, the
    figures that could not be drawn (a figure never costs the report)."""
    stats = tables.stats_of(results, stats)
    out, failures = [], []
    for spec in planned(results).values():
        try:
            with plain_text():
                out.append(_save(globals()[spec.draw](results, stats), Path(fig_dir) / spec.file))
        except Exception as exc:  # noqa: BLE001 - any drawing error costs this figure only
            failures.append(plain(f"could not draw figures/{spec.file}: {type(exc).__name__}: {exc}")[:300])
    return out, failures


# --- helpers -----------------------------------------------------------------------------------

def new_figure(width: float, height: float, *, dpi: float | None = None, layout: str | None = None):
    """A matplotlib Figure on its own Agg canvas (no pyplot state): every report, suite and history figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _figure(width: float, height: float):
    return new_figure(width, height, dpi=DPI, layout="constrained")


def _save(fig, path: Path) -> Path:

    plain_log_ticks(fig)  # log-axis tick labels are maths, which plain_text() would show raw
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return write_bytes(path, buf.getvalue())


def _jobs_by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {view.record_id(j): j for j in view.ok_jobs(results)}


def _first_jobs(results: dict[str, Any], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Each pipeline's lowest-seed job, best pipeline first."""
    by_id = _jobs_by_id(results)
    return [by_id[g["job_ids"][0]] for g in stats["pipelines"]]


def _bar(value: float, ci: list[float] | None) -> list[list[float]] | None:
    """matplotlib's ``[[below], [above]]`` error bar of ``value`` with interval ``ci``, each side clipped at 0:
    a bootstrap interval can exclude its own estimate (few test images), and matplotlib refuses negative
    bars - the figure is drawn anyway (the report says which intervals exclude their estimate)."""
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return [[max(value - ci[0], 0.0)], [max(ci[1] - value, 0.0)]]


def _color(family: str) -> str:
    return FAMILY_COLORS.get(family, "#555555")


def _family_legend(ax, families: list[str], extra: list | None = None, **kw) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color=_color(f), label=f) for f in dict.fromkeys(families)]
    ax.legend(handles=handles + (extra or []), fontsize=8, **kw)


# --- figures from results ------------------------------------------------------------------------

def tradeoff(results: dict[str, Any], stats: dict[str, Any]):
    """Mean test ROC-AUC (error bars: 95% CI for one seed, ± sd over several) against mean per-image
    latency on a log axis; the Pareto front (no other pipeline is both faster and better) marked."""
    from matplotlib.lines import Line2D


    groups = [g for g in stats["pipelines"] if g["runtime"]["latency_ms_per_image"]["mean"]]
    trade = stats.get("tradeoff") or {"metric": "roc_auc", "pareto_front": []}  # medbench.records.results.summaries
    metric = trade["metric"]
    fig = _figure(7.5, 4.6)
    ax = fig.subplots()
    xs, ys = [], []
    for g in groups:
        x, ms = g["runtime"]["latency_ms_per_image"]["mean"], g["metrics"][metric]
        y = ms["mean"]
        if len(g["seeds"]) == 1:
            ci = stats["jobs"][g["job_ids"][0]]["metrics_ci"].get(metric)
            yerr = _bar(y, ci)
        else:
            yerr = ms["sd"]
        ax.errorbar(x, y, yerr=yerr, fmt="o", ms=7, color=_color(g["family"]), ecolor=_color(g["family"]),
                    elinewidth=1.2, capsize=3, zorder=3)
        xs.append(x)
        ys.append(y)
    legend_extra = []
    row = {g["pipeline"]: i for i, g in enumerate(groups)}
    front = [row[p] for p in trade["pareto_front"] if p in row]
    if front:
        fx, fy = [xs[i] for i in front], [ys[i] for i in front]
        ax.step(fx, fy, where="post", ls="--", lw=1.2, color="black", zorder=2)
        ax.scatter(fx, fy, s=170, facecolors="none", edgecolors="black", lw=1.3, zorder=4)
        legend_extra.append(Line2D([], [], ls="--", marker="o", mfc="none", color="black", label="Pareto front"))
    ax.set_xscale("log")
    plain_log_ticks(fig)
    ax.set_xlabel("latency per image, ms (log scale; batch inference, features included)  \u2190 faster")
    label = "ROC-AUC" if metric == "roc_auc" else "accuracy"
    ax.set_ylabel(f"test {label}  \u2191 better")
    spread = "95% bootstrap CI" if all(len(g["seeds"]) == 1 for g in groups) else "\u00b1 sd over seeds"
    ax.set_title(f"Test {label} vs per-image latency (error bars: {spread})", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.15, y=0.08)
    _family_legend(ax, [g["family"] for g in groups], legend_extra, loc="lower right")
    _place_labels(fig, ax, [(g["name"], x, g["metrics"][metric]["mean"]) for g, x in zip(groups, xs)])
    return fig


OFFSETS = ((7, 5, "left"), (7, -13, "left"), (-7, 5, "right"), (-7, -13, "right"), (7, 14, "left"),
           (-7, 14, "right"), (7, -22, "left"), (-7, -22, "right"))


def _place_labels(fig, ax, points: list[tuple[str, float, float]]) -> None:
    """Label each point at the first of :data:`OFFSETS` whose text overlaps no earlier label or point."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()  # fix the layout, so display coordinates are final
    marks = [ax.transData.transform((x, y)) for _, x, y in points]
    taken: list = []
    for name, x, y in points:
        for dx, dy, ha in OFFSETS:
            text = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8, ha=ha)
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            hits_mark = any(box.x0 - 5 <= mx <= box.x1 + 5 and box.y0 - 5 <= my <= box.y1 + 5 for mx, my in marks)
            if not hits_mark and not any(box.overlaps(b) for b in taken) or (dx, dy, ha) == OFFSETS[-1]:
                taken.append(box)
                break
            text.remove()


def leaderboard(results: dict[str, Any], stats: dict[str, Any]):
    """Forest plot: ROC-AUC and accuracy per pipeline (best on top), each seed with its 95% CI,
    the mean over seeds as a black bar when there are several."""
    by_id = _jobs_by_id(results)
    groups = stats["pipelines"]
    metrics = [m for m in ("roc_auc", "accuracy") if any(g["metrics"][m]["mean"] is not None for g in groups)]
    fig = _figure(8.5, 1.2 + 0.42 * len(groups))
    axes = np.atleast_1d(fig.subplots(1, len(metrics), sharey=True))
    floor = next((g for g in groups if g["family"] == "baseline"), None)
    for ax, m in zip(axes, metrics):
        for row, g in enumerate(groups):
            n = len(g["job_ids"])
            for k, job_id in enumerate(g["job_ids"]):
                v = by_id[job_id]["metrics"].get(m)
                if v is None:
                    continue
                ci = stats["jobs"][job_id]["metrics_ci"].get(m)
                y = row + (k - (n - 1) / 2) * min(0.6 / max(n, 1), 0.18)
                xerr = _bar(v, ci)
                ax.errorbar(v, y, xerr=xerr, fmt="o", ms=5, color=_color(g["family"]), capsize=2.5, lw=1.2)
            if n > 1 and g["metrics"][m]["mean"] is not None:
                ax.plot(g["metrics"][m]["mean"], row, marker="|", ms=18, mew=2.2, color="black", zorder=4)
        ref = 0.5 if m == "roc_auc" else (floor["metrics"]["accuracy"]["mean"] if floor else None)
        if ref is not None:
            ax.axvline(ref, color="#8c8c8c", ls=":", lw=1)
        ax.set_xlabel("test ROC-AUC (dotted: chance)" if m == "roc_auc" else "test accuracy (dotted: majority class)")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(groups)), [g["name"] for g in groups], fontsize=9)
    axes[0].set_ylim(len(groups) - 0.5, -0.5)
    seeds = max(len(g["seeds"]) for g in groups)
    fig.suptitle("Leaderboard: estimates with 95% bootstrap CIs" + (" (one dot per seed; black bar: mean)"
                                                                     if seeds > 1 else ""), fontsize=10)
    from matplotlib.lines import Line2D

    fams = list(dict.fromkeys(g["family"] for g in groups))
    fig.legend(handles=[Line2D([], [], marker="o", ls="", color=_color(f), label=f) for f in fams],
               loc="outside lower center", ncols=len(fams), fontsize=8, frameon=False)
    return fig


def class_distribution(results: dict[str, Any], stats: dict[str, Any]):
    """Images per class in each split (bars labelled with counts)."""
    counts = results["split"]["counts"]
    classes = view.class_names(results)
    splits = list(counts)
    fig = _figure(6.5, 3.2)
    ax = fig.subplots()
    width = 0.8 / max(len(classes), 1)
    cmap = ["#6baed6", "#fd8d3c", "#74c476", "#9e9ac8", "#fdd0a2", "#c7e9c0"]
    for k, cls in enumerate(classes):
        xs = np.arange(len(splits)) + (k - (len(classes) - 1) / 2) * width
        vals = [counts[s].get(cls, 0) for s in splits]
        bars = ax.bar(xs, vals, width * 0.95, label=cls, color=cmap[k % len(cmap)])
        ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_xticks(range(len(splits)), [f"{s} ({sum(counts[s].values())})" for s in splits])
    ax.set_ylabel("images")
    ax.margins(y=0.15)
    ax.legend(fontsize=8, title="class", title_fontsize=8)
    ax.set_title("Class distribution per split", fontsize=10)
    return fig


def roc_curves(results: dict[str, Any], stats: dict[str, Any]):
    """ROC curve of every pipeline (lowest seed) on one plot, with its validation-chosen operating point
    (binary); multi-class tasks show the micro-averaged one-vs-rest curve."""
    pos = view.positive_index(results)
    n_classes = len(view.class_names(results))
    fig = _figure(6.2, 5.4)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls=":", color="#8c8c8c", lw=1)
    palette = _palette(len(stats["pipelines"]))
    for color, job in zip(palette, _first_jobs(results, stats)):
        auc = job["metrics"].get("roc_auc")
        if auc is None:
            continue
        y = np.asarray(job["predictions"]["y_true"])
        proba = np.asarray(job["predictions"]["proba"], dtype=float)
        if n_classes == 2:
            fpr, tpr, _ = roc_curve(y == pos, proba[:, pos])
        else:
            onehot = np.eye(n_classes, dtype=bool)[y]
            fpr, tpr, _ = roc_curve(onehot.ravel(), proba.ravel())
        ls = "--" if job.get("family") == "deep" else ("-" if job.get("family") == "classical" else ":")
        line, = ax.plot(fpr, tpr, lw=1.5, ls=ls, color=color, label=f"{job['name']} ({'' if n_classes == 2 else 'macro '}AUC {auc:.3f})")
        if n_classes == 2 and job["metrics"].get("sensitivity") is not None:
            ax.plot(1 - job["metrics"]["specificity"], job["metrics"]["sensitivity"], "o", ms=6,
                    color=line.get_color(), mec="black", mew=0.6)
    ax.set_xlabel("1 \u2212 specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    title = "ROC curves, test split" + ("; dots: operating point chosen on validation" if n_classes == 2
                                         else " (micro-averaged one-vs-rest)")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
    from matplotlib.lines import Line2D

    handles = ax.get_legend_handles_labels()[0]  # the curves (line style: solid classical, dashed deep)
    handles.append(Line2D([], [], ls=":", color="#8c8c8c", lw=1, label="chance (dotted diagonal)"))
    if n_classes == 2:
        handles.append(Line2D([], [], marker="o", ls="", ms=6, mfc="white", mec="black", mew=0.6,
                              label="operating point (threshold chosen on validation)"))
    ax.legend(handles=handles, fontsize=7.5, loc="lower right")
    return fig


def robustness(results: dict[str, Any], stats: dict[str, Any]):
    """ROC-AUC against corruption severity (drawn by :mod:`medbench.reports.robustness`)."""
    return robustness_report.figure(results, new_figure)


def decision_curve(results: dict[str, Any], stats: dict[str, Any]):
    """Net benefit against the threshold probability, binary tasks (drawn by :mod:`medbench.reports.reloaded`)."""
    return reloaded_report.decision_curve(results, stats, _figure, _palette)


def _palette(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def confusion_grid(results: dict[str, Any], stats: dict[str, Any]):
    """One confusion matrix per pipeline (lowest seed): counts, coloured by the share of each true class."""
    names = view.class_names(results)
    jobs = _first_jobs(results, stats)
    ncols = min(4, len(jobs))
    nrows = math.ceil(len(jobs) / ncols)
    side = 2.3 + 0.25 * len(names)
    fig = _figure(side * ncols, side * nrows * 0.95 + 0.4)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, job in zip(axes, jobs):
        cm = np.asarray(job["metrics"]["confusion_matrix"], dtype=float)
        share = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(names)):
            for k in range(len(names)):
                ax.text(k, i, f"{int(cm[i, k])}\n{share[i, k]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, k] > 0.6 else "black")
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=20)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title(f"{job['name']} (seed {job['seed']})", fontsize=8.5)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    for ax in axes[len(jobs):]:
        ax.set_axis_off()
    fig.suptitle("Confusion matrices, test split (colour: share of the true class)", fontsize=10)
    return fig


def _phases(job: dict[str, Any]) -> list[tuple[dict[str, list[float]], int | None, int]]:
    """``(history, best_epoch, first_epoch_offset)`` per training phase: the main fit, then a fine-tuning
    phase (``model_info.finetune.history``) continuing its epoch count, when there is one."""
    info = job.get("model_info") or {}
    phases = [(_history(job), info.get("best_epoch"), 0)]
    fine = info.get("finetune") if isinstance(info.get("finetune"), dict) else None
    if fine and _history({"model_info": fine}):
        offset = max((len(v) for v in phases[0][0].values()), default=0)
        phases.append((_history({"model_info": fine}), fine.get("best_epoch"), offset))
    return phases


def training_curves(results: dict[str, Any], stats: dict[str, Any]):
    """Per deep pipeline: each recorded metric per epoch, training (solid) and validation (dashed),
    every seed; dotted lines mark the best (restored) epoch, dash-dotted grey the start of fine-tuning."""
    from matplotlib.ticker import MaxNLocator

    by_id = _jobs_by_id(results)
    deep = []
    for g in stats["pipelines"]:
        jobs = [by_id[i] for i in g["job_ids"] if _history(by_id[i])]
        if g["family"] == "deep" and jobs:
            deep.append((g, jobs))
    bases: list[str] = []
    for _, jobs in deep:
        for job in jobs:
            for hist, _, _ in _phases(job):
                for key in hist:
                    if key.removeprefix("val_") not in bases:
                        bases.append(key.removeprefix("val_"))
    order = {"loss": 0, "accuracy": 1, "auc": 2}
    bases = sorted(bases, key=lambda k: (order.get(k, 3), k))[:3]
    fig = _figure(3.6 * len(bases), 2.8 * len(deep) + 0.3)
    axes = np.atleast_2d(fig.subplots(len(deep), len(bases), squeeze=False))
    for row, (g, jobs) in enumerate(deep):
        palette = _palette(len(jobs))
        for col, base in enumerate(bases):
            ax = axes[row, col]
            for color, job in zip(palette, jobs):
                for n, (hist, best, offset) in enumerate(_phases(job)):
                    for key, ls, what in ((base, "-", "train"), (f"val_{base}", "--", "val")):
                        if key in hist:
                            ep = offset + np.arange(1, len(hist[key]) + 1)
                            label = f"seed {job['seed']} {what}" if n == 0 else None
                            ax.plot(ep, hist[key], ls=ls, color=color, lw=1.4, label=label)
                    if best:
                        ax.axvline(offset + best, color=color, ls=":", lw=1)
                    if offset:
                        ax.axvline(offset + 0.5, color="#8c8c8c", ls="-.", lw=1)
            ax.set_title(f"{g['name']}: {base}", fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    tuned = any(len(_phases(j)) > 1 for _, jobs in deep for j in jobs)
    fig.suptitle("Training curves (solid: train, dashed: validation, dotted: best epoch"
                 + ("; dash-dotted grey: fine-tuning starts)" if tuned else ")"), fontsize=10)
    return fig


# --- the sample grid (run time only: needs the pixels) -------------------------------------------

def save_samples(ds, split, path: Path, per_class: int = 8, seed: int = 0) -> Path:
    """A grid of ``per_class`` training images of every class (drawn with a fixed seed), one row per class."""
    with plain_text():
        return _samples(ds, split, Path(path), per_class, seed)


def _samples(ds, split, path: Path, per_class: int, seed: int) -> Path:
    pool = np.asarray(split.train)
    rng = np.random.default_rng(seed)
    n_classes = len(ds.class_names)
    fig = _figure(1.05 * per_class + 1.4, 1.15 * n_classes + 0.5)
    axes = np.atleast_2d(fig.subplots(n_classes, per_class, squeeze=False))
    for c, name in enumerate(ds.class_names):
        members = pool[ds.labels[pool] == c]
        if len(members) == 0:
            members = np.flatnonzero(ds.labels == c)
        picks = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False)) if len(members) else []
        for k in range(per_class):
            ax = axes[c, k]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if k < len(picks):
                ax.imshow(ds.images[picks[k]], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[c, 0].set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle(f"{ds.title}: {per_class} random training images per class", fontsize=10)
    return _save(fig, Path(path))
