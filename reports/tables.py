"""Tables of a results dict (rows of plain values), shared by the markdown report and the CLI."""

from __future__ import annotations

from typing import Any

from benchmark.metrics import HEADLINE

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Bal. acc.",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "f1": "F1",
    "macro_f1": "Macro F1",
    "roc_auc": "ROC-AUC",
}


def ok_jobs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [j for j in results["jobs"] if j["status"] == "ok"]


def ranked(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Successful jobs, best first: by test ROC-AUC, then accuracy."""
    return sorted(ok_jobs(results), key=lambda j: (-(j["metrics"].get("roc_auc") or 0), -j["metrics"]["accuracy"]))


def metric_columns(results: dict[str, Any]) -> list[str]:
    binary = len(results["dataset"]["class_names"]) == 2
    return [m for m in HEADLINE if binary or m not in ("sensitivity", "specificity", "f1")]


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def leaderboard(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = metric_columns(results)
    headers = ["#", "Pipeline", "Family", "Seed", *[METRIC_LABELS[c] for c in cols], "Threshold"]
    rows = []
    for i, job in enumerate(ranked(results), 1):
        thr = job.get("threshold")
        rows.append([str(i), job["name"], job["family"], str(job["seed"]),
                     *[fmt(job["metrics"].get(c)) for c in cols], fmt(thr["threshold"]) if thr else "argmax"])
    return headers, rows


def human_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def runtime_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["Pipeline", "Seed", "Features (s)", "Fit (s)", "Predict test (s)", "Latency (ms/img)",
               "Throughput (img/s)", "Single image (ms)", "Peak RSS (MB)", "Model size"]
    rows = []
    for job in ranked(results):
        rt = job["runtime"]
        rows.append([job["name"], str(job["seed"]), fmt(rt["feature_time_s"], 1), fmt(rt["fit_time_s"], 1),
                     fmt(rt["predict_time_s"], 2), fmt(rt["latency_ms_per_image"], 2),
                     fmt(rt["throughput_img_per_s"], 0), fmt(rt["single_image_latency_ms"], 1),
                     fmt(rt["peak_rss_mb"], 0), human_bytes(rt.get("model_size_bytes"))])
    return headers, rows


def per_class_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = results["dataset"]["class_names"]
    headers = ["Pipeline", *[f"{c} {m}" for c in names for m in ("P", "R", "F1")]]
    rows = []
    for job in ranked(results):
        pc = job["metrics"]["per_class"]
        rows.append([job["name"], *[fmt(pc[c][m]) for c in names for m in ("precision", "recall", "f1")]])
    return headers, rows
