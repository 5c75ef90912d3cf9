"""results.json (versioned schema) and metrics.csv: assembling a run's job records into files."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark.atomic import write_json, write_text
from benchmark.errors import MedbenchError
from benchmark.metrics import HEADLINE

SCHEMA = "medbench.results"
SCHEMA_VERSION = 1

CSV_RUNTIME = ("feature_time_s", "fit_time_s", "predict_time_s", "latency_ms_per_image",
               "throughput_img_per_s", "single_image_latency_ms", "peak_rss_mb", "model_size_bytes")


def assemble(*, config: dict[str, Any], dataset: dict[str, Any], split: dict[str, Any],
             environment: dict[str, Any], jobs: list[dict[str, Any]], command: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "medbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "config": config,
        "dataset": dataset,
        "split": split,
        "environment": environment,
        "jobs": [{k: v for k, v in job.items() if k not in ("cached", "traceback")} for job in jobs],
    }


def write(results: dict[str, Any], out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    write_text(out_dir / "metrics.csv", metrics_csv(results))
    return write_json(out_dir / "results.json", results)


def metrics_csv(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    cols = ["name", "pipeline", "family", "seed", "status", *HEADLINE, "threshold", *CSV_RUNTIME]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for job in results["jobs"]:
        row: dict[str, Any] = {"name": job.get("name", job["pipeline"]), "pipeline": job["pipeline"],
                               "family": job.get("family", ""), "seed": job["seed"], "status": job["status"]}
        if job["status"] == "ok":
            row.update({m: _fmt(job["metrics"].get(m)) for m in HEADLINE})
            row["threshold"] = _fmt(job["threshold"]["threshold"]) if job.get("threshold") else ""
            row.update({k: _fmt(job["runtime"].get(k)) for k in CSV_RUNTIME})
        writer.writerow(row)
    return buf.getvalue()


def _fmt(v: Any) -> Any:
    return "" if v is None else (round(v, 6) if isinstance(v, float) else v)


def load(path: str | Path) -> dict[str, Any]:
    """Read a results.json (or the results folder holding one) and check its schema."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise MedbenchError(f"{path} does not exist: pass a results folder or its results.json") from None
    except (OSError, ValueError) as exc:
        raise MedbenchError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise MedbenchError(f"{path} is not a medbench results file (no \"schema\": \"{SCHEMA}\")")
    if results.get("schema_version", 0) > SCHEMA_VERSION:
        raise MedbenchError(f"{path} has schema version {results['schema_version']}; this medbench reads "
                            f"up to {SCHEMA_VERSION}: upgrade medbench")
    return results
