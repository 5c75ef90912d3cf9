"""Tables of a results dict (rows of plain strings), shared by the markdown report and the CLI.

Every table takes the results and their statistics section (:func:`medbench.records.results.statistics`;
computed when not passed). Single-seed cells read ``0.862 [0.835, 0.889]`` (estimate and 95%
bootstrap CI); with several seeds the leaderboard reads ``mean ± sd`` over the seeds and the
per-seed table carries the per-seed estimates with their CIs.

Cells holding data strings (pipeline, family and class names, threshold methods, reasons) pass
through ``esc``: :func:`medbench.reports.escape.md` for markdown, :func:`~medbench.reports.escape.plain`
(the default) for the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.metrics import METRICS, RUNTIME_KEYS, metric_names
from medbench.records import view
from medbench.reports.escape import plain

# Leaderboard order: the ranking metric, the operating point, then the rest.
TABLE_ORDER = ("roc_auc", "sensitivity", "specificity", "accuracy", "balanced_accuracy", "f1", "macro_f1")
# The calibration section's columns (reports/calibration.py): the rest of the catalogue.
CALIBRATION_ORDER = ("brier", "ece", "mcc", "ppv", "npv")
# The Metrics Reloaded section's columns (reports/reloaded.py).
RELOADED_ORDER = ("average_precision", "sens_at_spec90", "sens_at_spec95", "lr_positive", "lr_negative", "log_loss",
                  "classwise_ece")
assert sorted(TABLE_ORDER + CALIBRATION_ORDER + RELOADED_ORDER) == sorted(METRICS)
Table = tuple[list[str], list[list[str]]]
Escape = Callable[[Any], str]


def ok_jobs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return view.ok_jobs(results)


def _stats(results: dict[str, Any], stats: dict[str, Any] | None) -> dict[str, Any]:
    """The statistics to render: ``stats`` as given, else the results' stored section. Renderers never
    compute: the harness does (:func:`medbench.records.results.statistics`) and hands them over."""
    if stats is not None:
        return stats
    if not results.get("statistics"):
        raise ValueError("these results have no statistics section: compute it with medbench.records.results.statistics() "
                         "and pass it to the renderer")
    return results["statistics"]


stats_of = _stats


def ranked(results: dict[str, Any], stats: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Successful jobs, best pipeline first (:func:`medbench.records.results.rank_key`: mean test ROC-AUC over seeds, then balanced accuracy, then name), then by seed."""
    order = {g["pipeline"]: i for i, g in enumerate(_stats(results, stats)["pipelines"])}
    return sorted(ok_jobs(results), key=lambda j: (order.get(j["pipeline"], len(order)), j["seed"]))


def n_seeds(stats: dict[str, Any]) -> int:
    return max((len(g["seeds"]) for g in stats["pipelines"]), default=0)


def metric_columns(results: dict[str, Any]) -> list[str]:
    present = metric_names(len(view.class_names(results)))
    return [m for m in TABLE_ORDER if m in present]


def job_key(job: dict[str, Any]) -> str:
    return view.record_id(job)


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


_finite = st.finite


def fmt_num(v: Any, digits: int = 3) -> str:
    """``0.862``; ``–`` for anything that is not a number (None, a string, a bool)."""
    return "–" if not isinstance(v, (int, float)) or isinstance(v, bool) else f"{v:.{digits}f}"


def fmt_signed(v: Any, md: bool = True, digits: int = 3) -> str:
    """``+0.012`` / ``−0.034`` (a true minus sign in markdown, ``md``); ``–`` for None."""
    if v is None:
        return "–"
    s = f"{v:+.{digits}f}"
    return s.replace("-", "−") if md else s


def fmt_ci(value: float | None, ci: list[float] | None, digits: int = 3) -> str:
    """``0.862 [0.835, 0.889]``; the bare value when there is no interval (or the value is not finite)."""
    if value is None:
        return "–"
    if not ci or not _finite(value):
        return fmt(value, digits)
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def signed(v: float, digits: int = 3) -> str:
    """``+0.012`` / ``-0.010``; a value that rounds to zero has no sign (``0.000``)."""
    text = f"{v:+.{digits}f}"
    return text[1:] if _finite(v) and float(text) == 0 else text


def fmt_diff(diff: float | None, ci: list[float] | None, digits: int = 3) -> str:
    """A signed difference with its CI: ``+0.012 [-0.010, +0.034]``."""
    if diff is None:
        return "–"
    text = signed(diff, digits)
    return text if not ci else f"{text} [{signed(ci[0], digits)}, {signed(ci[1], digits)}]"


def fmt_mean_sd(ms: dict[str, Any], digits: int = 3) -> str:
    """``0.862 ± 0.004`` (mean ± sd over seeds); the mean alone for one seed."""
    if ms["mean"] is None:
        return "–"
    return f"{ms['mean']:.{digits}f}" + ("" if ms["sd"] is None else f" ± {ms['sd']:.{digits}f}")


def fmt_p(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_p_eq(p: float | None) -> str:
    """``p = 0.021`` / ``p < 0.001`` for running text."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


job_ci = evaluation.job_ci  # the stored CI of one job's metric (statistics, job, metric)


def leaderboard(results: dict[str, Any], stats: dict[str, Any] | None = None, esc: Escape = plain) -> Table:
    """One row per pipeline, best first: estimate [95% CI] for one seed, mean ± sd over several."""
    stats = _stats(results, stats)
    cols = metric_columns(results)
    multi = n_seeds(stats) > 1
    headers = ["#", "Pipeline", "Family", "Seeds" if multi else "Seed", *[METRICS[c].label for c in cols]]
    by_id = {job_key(j): j for j in ok_jobs(results)}
    rows = []
    for i, g in enumerate(stats["pipelines"], 1):
        seeds = ", ".join(map(str, g["seeds"]))
        if multi:
            cells = [fmt_mean_sd(g["metrics"][c]) if c in g["metrics"] else "–" for c in cols]
        else:
            job = by_id[g["job_ids"][0]]
            cells = [fmt_ci(job["metrics"].get(c), job_ci(stats, job, c)) for c in cols]
        rows.append([str(i), esc(g["name"]), esc(g["family"]), seeds, *cells])
    return headers, rows


def per_seed_table(results: dict[str, Any], stats: dict[str, Any] | None = None, esc: Escape = plain) -> Table:
    """Every (pipeline, seed) job: estimate [95% CI]."""
    stats = _stats(results, stats)
    cols = metric_columns(results)
    headers = ["Pipeline", "Seed", *[METRICS[c].label for c in cols]]
    rows = [[esc(name(job)), str(job["seed"]), *[fmt_ci(job["metrics"].get(c), job_ci(stats, job, c)) for c in cols]]
            for job in ranked(results, stats)]
    return headers, rows


def name(job: dict[str, Any]) -> str:
    """A job's display name (the pipeline's, with its variant)."""
    return job.get("name") or job["pipeline"]


def operating_point_table(results: dict[str, Any], stats: dict[str, Any] | None = None,
                          esc: Escape = plain) -> Table:
    """Binary tasks: the validation-chosen threshold, how it was chosen, and sensitivity / specificity
    at it beside the threshold-free ROC-AUC."""
    stats = _stats(results, stats)
    headers = ["Pipeline", "Seed", "Threshold", "Chosen by", "Youden's J (val)", "Sensitivity", "Specificity",
               "ROC-AUC"]
    rows = []
    for job in ranked(results, stats):
        thr = job.get("threshold") or {}
        m = job["metrics"]
        rows.append([esc(name(job)), str(job["seed"]), fmt(thr.get("threshold")), esc(thr.get("method", "arg-max")),
                     fmt(thr.get("youden_j")),
                     *[fmt_ci(m.get(k), job_ci(stats, job, k)) for k in ("sensitivity", "specificity", "roc_auc")]])
    return headers, rows


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# Runtime table order: inference first (per image, throughput, one image), then training cost; with the
# display digits of this table (the labels and units are the catalogue's, medbench.metrics.RUNTIME_KEYS).
RUNTIME_COLUMNS = (("latency_ms_per_image", 2), ("throughput_img_per_s", 0), ("single_image_latency_ms", 1),
                   ("feature_time_s", 1), ("fit_time_s", 1), ("peak_rss_mb", 0), ("model_size_bytes", None))


def training_cells(jobs: list[dict[str, Any]]) -> list[str]:
    """A deep pipeline's training throughput (images/s, mean over seeds of each job's median epoch after
    the first; for a frozen backbone, the dense head's embeddings/s, so marked) and how its train step ran (``compiled (jax)`` / ``eager (jax)``), from the jobs'
    ``model_info.training``; ``–`` for pipelines that record none (the classical ones)."""
    infos = [(j.get("model_info") or {}).get("training") for j in jobs]
    infos = [t for t in infos if isinstance(t, dict)]
    if not infos:
        return ["–", "–"]
    rates = [t["images_per_s"] for t in infos if _finite(t.get("images_per_s"))]
    rate = fmt(sum(rates) / len(rates), 0) if rates else "–"
    if rates and all(str(t.get("stage", "")).startswith("dense head") for t in infos):
        rate += " (head, embeddings/s)"  # frozen backbone: the images went through it once, untimed here
    states = dict.fromkeys(f"{'compiled' if t.get('compiled') else 'eager'} ({t.get('backend', '?')})" for t in infos)
    return [rate, ", ".join(states)]


def runtime_table(results: dict[str, Any], stats: dict[str, Any] | None = None, esc: Escape = plain) -> Table:
    """One row per pipeline (means over seeds): inference latency first, then training cost; deep pipelines
    add their training images/s and whether their train step ran compiled or eager (and on which backend)."""
    stats = _stats(results, stats)
    headers = ["Pipeline", "Family", *[RUNTIME_KEYS[k].label + ("" if digits is None else f" ({RUNTIME_KEYS[k].unit})")
                                       for k, digits in RUNTIME_COLUMNS], "Training (img/s)", "Train step"]
    by_id = {job_key(j): j for j in ok_jobs(results)}
    rows = []
    for g in stats["pipelines"]:
        rt = {k: (g["runtime"].get(k) or {}).get("mean") for k, _ in RUNTIME_COLUMNS}
        jobs = [by_id[i] for i in g.get("job_ids", []) if i in by_id]
        rows.append([esc(g["name"]), esc(g["family"]),
                     *[human_bytes(rt[k]) if digits is None else fmt(rt[k], digits) for k, digits in RUNTIME_COLUMNS],
                     *[esc(c) for c in training_cells(jobs)]])
    return headers, rows


def significance_table(results: dict[str, Any], stats: dict[str, Any] | None = None,
                       esc: Escape = plain) -> Table:
    """Each pipeline against the reference (best) pipeline, per seed, on the same test images."""
    stats = _stats(results, stats)
    names = {g["pipeline"]: g["name"] for g in stats["pipelines"]}
    auc_test = "DeLong" if stats["settings"]["roc_auc_test"].startswith("DeLong") else "Bootstrap"
    headers = ["Pipeline", "Seed", "Δ Accuracy [95% CI]", "Only pipeline right / only reference right",
               "McNemar p (Holm)", "Δ ROC-AUC [95% CI]", f"{auc_test} p (Holm)"]
    rows = []
    for c in stats["comparisons"]:
        shown = esc(names.get(c["a_pipeline"], c["a_pipeline"]))
        if not c["paired"]:
            rows.append([shown, str(c["seed"]), esc(c["reason"]), "–", "–", "–", "–"])
            continue
        mc, auc = c["mcnemar"], c["roc_auc"] or {}
        rows.append([shown, str(c["seed"]), fmt_diff(c["accuracy"]["diff"], c["accuracy"]["ci"]),
                     f"{mc['b']} / {mc['c']}", _p_holm(mc),
                     fmt_diff(auc.get("diff"), auc.get("ci")), _p_holm(auc) if auc else "–"])
    return headers, rows


def _p_holm(d: dict[str, Any]) -> str:
    p = fmt_p(d.get("p"))
    return p if d.get("p_holm") is None else f"{p} ({fmt_p(d['p_holm'])})"


def per_class_table(results: dict[str, Any], stats: dict[str, Any] | None = None, esc: Escape = plain) -> Table:
    names = view.class_names(results)
    headers = ["Pipeline", "Seed", *[f"{esc(c)} {m}" for c in names for m in ("P", "R", "F1")]]
    rows = []
    for job in ranked(results, stats):
        pc = job["metrics"]["per_class"]
        rows.append([esc(name(job)), str(job["seed"]),
                     *[fmt(pc[c][m]) for c in names for m in ("precision", "recall", "f1")]])
    return headers, rows


def confusion_table(results: dict[str, Any], stats: dict[str, Any] | None = None, esc: Escape = plain) -> Table:
    """Binary tasks: TN / FP / FN / TP per job (positive = the disease class)."""
    pos = view.positive_index(results)
    headers = ["Pipeline", "Seed", "TN", "FP", "FN", "TP"]
    rows = []
    for job in ranked(results, stats):
        cm = job["metrics"]["confusion_matrix"]
        neg = 1 - pos
        rows.append([esc(name(job)), str(job["seed"]),
                     *map(str, (cm[neg][neg], cm[neg][pos], cm[pos][neg], cm[pos][pos]))])
    return headers, rows
