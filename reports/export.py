"""``medbench export``: a run's leaderboard (with CIs) and the published rows for its test set, as one table
for a paper: CSV, a LaTeX ``tabular`` or Parquet (pyarrow, optional), and the rows behind
``Results.to_dataframe()``.

Rows (:func:`rows`): one per pipeline of the run, best first (single seed: the estimate and its 95% CI;
several: mean and sd over seeds), then the published rows (:mod:`medbench.reports.published`). Every
metric is a fraction in 0..1 (published percentages divided by 100); a figure a row lacks is empty.
The LaTeX cells escape every data string (:func:`medbench.reports.escape.latex`); ACC and AUC are shown
in percent there.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from medbench.core.csvcell import cell
from medbench.core.errors import MedbenchError
from medbench.reports import tables
from medbench.reports.escape import latex
from medbench.reports.published import comparison_rows

__all__ = ["FORMATS", "TEXT_COLUMNS", "dataframe", "rows", "to_csv", "to_latex", "to_parquet"]

FORMATS = ("csv", "latex", "parquet")
#: The text columns, then per metric ``M``, ``M_sd``, ``M_ci_low``, ``M_ci_high``.
TEXT_COLUMNS = ["row", "model", "family", "scheme", "input_size", "seeds", "protocol", "source", "checked"]


def _metric_values(m: str, value: float | None, sd: float | None, ci: tuple[float, float] | None) -> dict[str, Any]:
    return {m: value, f"{m}_sd": sd, f"{m}_ci_low": ci[0] if ci else None, f"{m}_ci_high": ci[1] if ci else None}


def rows(results: dict[str, Any], stats: dict[str, Any] | None = None, *,
         published: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
    """``(columns, rows)``: the run's pipelines best first, then (``published``) the published rows."""
    stats = tables.stats_of(results, stats)
    metrics = tables.metric_columns(results)
    by_id = {tables.job_key(j): j for j in tables.ok_jobs(results)}
    proto = str((results.get("config") or {}).get("protocol") or "medbench")
    size = results["dataset"]["image_shape"][0]
    out: list[dict[str, Any]] = []
    for g in stats["pipelines"]:
        row = {"row": "this run", "model": g["name"], "family": g["family"], "scheme": "medbench " + g["family"],
               "input_size": size, "seeds": len(g["seeds"]), "protocol": proto, "source": "this run", "checked": True}
        for m in metrics:
            if len(g["seeds"]) > 1:
                ms = g["metrics"].get(m) or {}
                row |= _metric_values(m, ms.get("mean"), ms.get("sd"), None)
            else:
                job = by_id[g["job_ids"][0]]
                row |= _metric_values(m, job["metrics"].get(m), None, tables.job_ci(stats, job, m))
        out.append(row)
    if published:
        for r in comparison_rows(results, stats)[1]:
            if r["source"].startswith("this run"):
                continue
            row = {"row": "published", "model": r["model"], "family": "published", "scheme": r["scheme"],
                   "input_size": r.get("input_size"), "seeds": r["seeds"], "protocol": r["protocol"],
                   "source": r["source"], "checked": r["checked"]}
            for m in metrics:
                pct, sd = r.get(m), r.get(f"{m}_sd")
                row |= _metric_values(m, None if pct is None else round(pct / 100, 6),
                                      None if sd is None else round(sd / 100, 6), None)
            out.append(row)
    columns = TEXT_COLUMNS + [f"{m}{suffix}" for m in metrics for suffix in ("", "_sd", "_ci_low", "_ci_high")]
    return columns, [{c: r.get(c) for c in columns} for r in out]


def to_csv(results: dict[str, Any], stats: dict[str, Any] | None = None) -> str:
    columns, data = rows(results, stats)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(c) for c in columns])
    for r in data:
        writer.writerow(["" if r[c] is None else cell(r[c]) for c in columns])
    return buf.getvalue()


def _latex_figure(r: dict[str, Any], m: str) -> str:
    value, sd, lo, hi = (r.get(f"{m}{s}") for s in ("", "_sd", "_ci_low", "_ci_high"))
    if value is None:
        return "--"
    text = f"{100 * value:.2f}"
    if sd is not None:
        text += f" $\\pm$ {100 * sd:.2f}"
    elif lo is not None and hi is not None:
        text += f" [{100 * lo:.1f}, {100 * hi:.1f}]"
    return text


LATEX_HEADERS = ["Model", "Family / scheme", "Input (px)", "Seeds", "ACC (\\%)", "AUC (\\%)", "Source"]


def to_latex(results: dict[str, Any], stats: dict[str, Any] | None = None) -> str:
    """A ``tabular`` (booktabs rules) of the leaderboard and the published rows: ACC and AUC in percent,
    estimate [95% CI] for one seed, mean $\\pm$ sd over several; every data string escaped."""
    _, data = rows(results, stats)
    spec = "lllrrrl"
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", " & ".join(LATEX_HEADERS) + " \\\\", "\\midrule"]
    for i, r in enumerate(data):
        if i and r["row"] == "published" and data[i - 1]["row"] != "published":
            lines.append("\\midrule")
        scheme = r["family"] if r["row"] == "this run" else r["scheme"]
        source = r["source"] + ("" if r["checked"] else " (not checked)")
        cells = [latex(r["model"]), latex(scheme), "--" if r["input_size"] is None else str(r["input_size"]),
                 str(r["seeds"]), _latex_figure(r, "accuracy"), _latex_figure(r, "roc_auc"), latex(source)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def dataframe(results: dict[str, Any], stats: dict[str, Any] | None = None, *, published: bool = True):
    """The rows as a pandas DataFrame (pandas is optional: a one-line error says how to install it)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise MedbenchError("a DataFrame needs pandas, which is not installed; install it with "
                            "`pip install 'medbench[tables]'` (or `pip install pandas`)") from exc
    columns, data = rows(results, stats, published=published)
    return pd.DataFrame(data, columns=columns)


def to_parquet(results: dict[str, Any], stats: dict[str, Any] | None = None) -> bytes:
    """The rows as Parquet bytes (pyarrow is optional: a one-line error says how to install it)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MedbenchError("--format parquet needs pyarrow, which is not installed; install it with "
                            "`pip install 'medbench[tables]'` (or `pip install pyarrow`), or use --format csv") from exc
    columns, data = rows(results, stats)
    table = pa.Table.from_pylist(data)
    buf = pa.BufferOutputStream()
    pq.write_table(table.select(columns), buf)
    return buf.getvalue().to_pybytes()
