"""The report's "Robustness to shift" section and its figure, rendered from results.json's ``robustness`` block.

The section: the corruption table (what each severity means), the summary table (per pipeline the clean
ROC-AUC, the share of it kept under each corruption - mean over its 5 severities - and the mean over all 30
corrupted copies), the mean per family, with a MedMNIST-C preset the balanced errors, BE and rBE beside the
published AlexNet reference (:func:`balanced_error_lines`), and per pipeline and corruption the ROC-AUC at each
severity. The
figure (:func:`figure`): one panel per corruption, ROC-AUC against severity, a line per pipeline. Every number
comes from the block (computed by :mod:`medbench.shift.robustness`); every data string is escaped.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.metrics import label
from medbench.reports import tables
from medbench.reports.escape import md as escape_md

__all__ = ["FILE", "balanced_error_lines", "figure", "section"]

FILE = "robustness.png"
_LINESTYLE = {"deep": "--", "classical": "-", "baseline": ":"}


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def section(results: dict[str, Any], figure_lines: list[str]) -> list[str]:
    """The section's markdown lines (empty without ``--robustness``); ``figure_lines`` link the figure."""
    block = results.get("robustness")
    if not block:
        return []
    metric = block["metric"]
    names = [c["name"] for c in block["corruptions"]]
    preset = block.get("preset", "medbench")
    out = ["## Robustness to shift", "",
           "Every fitted pipeline, unchanged and at its validation threshold, scored on corrupted copies of the "
           f"test split: {len(names)} corruptions x 5 severities (preset {escape_md(preset)}), deterministic per "
           "seed. Kept = "
           f"({escape_md(label(metric))} on the corrupted copy - 0.5) / ({escape_md(label(metric))} on the clean test split - 0.5), "
           f"the share of the skill above chance that is left (mean over seeds); – where the clean "
           f"{escape_md(label(metric))} is at or below chance, which leaves nothing to keep; the summary is "
           f"{escape_md(block.get('summary', ''))}.", ""]
    out += [_table(["Corruption", "What", "Parameter", "Severity 1..5"],
                   [[escape_md(c["name"]), escape_md(c.get("summary", "")), escape_md(c["parameter"]),
                     ", ".join(f"{v:g}" for v in c["levels"])] for c in block["corruptions"]]), ""]
    rows = []
    for p in block["pipelines"]:
        rows.append([escape_md(p.get("name") or p["pipeline"]), escape_md(p["family"]), tables.fmt_num(p["clean"].get(metric)),
                     *[tables.fmt_num(p["kept_by_corruption"].get(n)) for n in names], tables.fmt_num(p["mean_kept"])])
    out += [f"**{escape_md(label(metric))} kept** (mean over the 5 severities per corruption; last column: over all "
            f"{5 * len(names)}):", "",
            _table(["Pipeline", "Family", f"Clean {label(metric)}", *map(escape_md, names), "Mean kept"], rows), ""]
    fams = block.get("families") or {}
    if fams:
        out += ["Mean kept per family (mean over its pipelines): " + "; ".join(
            f"{escape_md(f)} {tables.fmt_num(v.get('mean_kept'))} ({v.get('pipelines')} pipeline(s))"
            for f, v in fams.items()) + " (the majority floor is left out: it ranks nothing, so kept is undefined).", ""]
    out += balanced_error_lines(block)
    out += figure_lines
    sev_rows = []
    for p in block["pipelines"]:
        for n in names:
            sev_rows.append([escape_md(p.get("name") or p["pipeline"]), escape_md(n),
                             *[tables.fmt_num(v) for v in p["curves"][n].get(metric, [])]])
    out += [f"{escape_md(label(metric))} at each severity (0 = clean):", "",
            _table(["Pipeline", "Corruption", *map(str, block["severities"])], sev_rows), ""]
    return out


def _num(v: Any) -> str:
    """``tables.fmt_num``, with a rounding-level negative shown as 0.000 (not -0.000)."""
    text = tables.fmt_num(v)
    return "0.000" if text == "-0.000" else text


def balanced_error_lines(block: dict[str, Any]) -> list[str]:
    """MedMNIST-C's BE and rBE per pipeline beside the reference (AlexNet) row; empty without a reference."""
    ref = block.get("reference")
    if not ref:
        return []
    names = [c["name"] for c in block["corruptions"]]
    errors = ref["errors"]
    alex_mean = sum(errors[n] for n in names if n in errors) / max(1, sum(n in errors for n in names))
    model = escape_md(ref.get("model", "reference"))
    rows = [[f"{model} (MedMNIST-C, 224 px)", "reference", _num(ref["clean_error"]), _num(alex_mean),
             "1.000", "1.000"]]
    per = []
    for p in block["pipelines"]:
        be = p.get("balanced_error")
        if not be:
            continue
        errs = [v for v in be["mean_error"].values() if v is not None]
        rows.append([escape_md(p.get("name") or p["pipeline"]), escape_md(p["family"]), _num(be["clean_error"]),
                     _num(sum(errs) / len(errs) if errs and len(errs) == len(be["mean_error"]) else None),
                     _num(be["mean_be"]), _num(be["mean_rbe"])])
        per.append((p, be))
    out = [f"**Balanced error against MedMNIST-C's {model}** (MedMNIST-C's measures, on this run's images). "
           "Error = 1 - balanced accuracy at the pipeline's operating point; per corruption, E = the mean error over "
           f"its 5 severities, A = {model}'s published one; BE = E / A, rBE = (E - clean error) / (A - {model}'s "
           "clean error), the error the corruption adds relative to what it adds to the reference; BE and rBE "
           f"below are the means over the {len(names)} corruptions. 1.0 = as {model}; below 1 = more robust. "
           f"{model}'s figures are at 224 px; this run corrupts its own images at the run's image size with the "
           f"same parameters, so the comparison is of the protocol, not of identical images. Source: "
           f"{escape_md(ref.get('source', ''))}.", "",
           _table(["Model", "Family", "Clean error", "Mean corrupted error", "BE", "rBE"], rows), ""]
    if per:
        heads = ["Corruption", f"{model} error"] + [f"{escape_md(p.get('name') or p['pipeline'])} error / BE / rBE"
                                                    for p, _ in per]
        body = [[escape_md(n), _num(errors.get(n)),
                 *[" / ".join(_num(be[k].get(n)) for k in ("mean_error", "be", "rbe")) for _, be in per]]
                for n in names]
        out += ["Per corruption (error = mean over the 5 severities):", "", _table(heads, body), ""]
    return out


def figure(results: dict[str, Any], new_figure):
    """One panel per corruption: the metric against severity, a line per pipeline (style by family)."""
    block = results["robustness"]
    metric = block["metric"]
    names = [c["name"] for c in block["corruptions"]]
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig = new_figure(10.5, 3.0 * rows + 0.6, dpi=110, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, name in enumerate(names):
        ax = axes[i // cols][i % cols]
        for k, p in enumerate(block["pipelines"]):
            ys = [float("nan") if v is None else v for v in p["curves"][name].get(metric, [])]
            ax.plot(block["severities"][:len(ys)], ys, marker="o", ms=3, lw=1.4, color=cmap(k % 10),
                    ls=_LINESTYLE.get(p["family"], "-."), label=str(p.get("name") or p["pipeline"]))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("severity", fontsize=8)
        ax.grid(True, alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel(label(metric), fontsize=8)
    for j in range(len(names), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    handles, labels_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncol=min(4, max(1, len(labels_))), fontsize=8)
    fig.suptitle(f"{label(metric)} on corrupted copies of the test split (solid: classical, dashed: deep)",
                 fontsize=10)
    return fig
