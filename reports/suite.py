"""The suite report (rendering only): ``suite.md``, ``suite.html`` and ``figures/cd.png`` drawn from
a suite.json document (:func:`medbench.running.suitefile.document`: the suite, its datasets and the analysis).

The markdown is a pure function of the document; every data string (dataset, pipeline and family
names, paths, errors) is escaped (:mod:`medbench.reports.escape`), and the HTML is converted by
:mod:`medbench.reports.html` (raw HTML never passed through). The critical-difference diagram
(Demšar 2006) shows each ranked pipeline at its mean rank (1 = best), Nemenyi's critical difference
and bars joining the pipelines that are not significantly different; without a test (too few
datasets, or no difference found) it shows the mean ranks alone and says why.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tabulate import tabulate

from medbench.core.atomic import write_bytes, write_text
from medbench.core.warn import warn
from medbench.evaluation.across import count
from medbench.reports import html, tables
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import md_code as escape_code
from medbench.reports.escape import plain
from medbench.reports.figures import FAMILY_COLORS, new_figure, plain_text

CD_FIGURE = "cd.png"
DPI = 110
METRIC_LABELS = {"roc_auc": "ROC-AUC", "balanced_accuracy": "Balanced accuracy"}
OUTCOME = {"win": "classical wins", "loss": "deep wins", "tie": "tie (not significant)", "untested": "untested"}


_stderr = warn  # one warning line (medbench.core.warn)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _names(analysis: dict[str, Any]) -> dict[str, str]:
    return {p["pipeline"]: p["name"] for p in analysis["pipelines"]}


def _cell(cell: dict[str, Any] | None, metric: str) -> str:
    """``0.862 [0.835, 0.889]`` (one seed), ``0.862 ± 0.004`` (several), ``failed`` or ``–``."""
    if cell is None:
        return "not run"
    if cell["status"] != "ok":
        return "failed"
    m = cell[metric]
    if m["value"] is None:
        return "–"
    if len(cell["seeds"]) > 1:
        return tables.fmt_mean_sd({"mean": m["value"], "sd": m["sd"]})
    return tables.fmt_ci(m["value"], m["ci"])


def _rank(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


# --- sections -----------------------------------------------------------------------------------

def _head(doc: dict[str, Any]) -> list[str]:
    s, a = doc["suite"], doc["analysis"]
    lines = [f"# {escape_md(s['title'])}", "",
             f"*Suite {escape_code(s['name'])} from {escape_code(s['file'])}, medbench {escape_md(doc.get('medbench_version', '?'))}: "
             f"{count(len(a['datasets']), 'dataset')}, {count(len(a['pipelines']), 'pipeline')}, ranked by "
             f"{METRIC_LABELS[a['metric']]} (alpha {a['alpha']}).*", ""]
    if s.get("note"):
        lines += ["> " + escape_md(" ".join(s["note"].split())), ""]
    return lines + ["## Verdict", ""] + [f"- {escape_md(line)}" for line in a["verdict"]] + [""]


def _datasets(doc: dict[str, Any], ext: str) -> list[str]:
    a = doc["analysis"]
    rows = [[escape_md(d["name"]), escape_md(d["title"]), escape_code(d["spec"]), escape_md(d["task"] or "–"), escape_md(", ".join(d["class_names"])),
             str(d["n_test"]), ", ".join(map(str, d["seeds"])), f"[report]({d['name']}/report.{ext})"]
            for d in a["datasets"]]
    out = ["## Datasets", ""]
    if rows:
        out += [_table(["Dataset", "Title", "Spec", "Task", "Classes", "Test images", "Seeds", "Report"], rows), ""]
    for f in a["failed_datasets"]:
        out.append(f"- **{escape_md(f['name'])}: no results.** {escape_md(f['error'])}")
    for dup in a.get("duplicates") or []:
        out.append(f"- **{escape_md(dup['name'])}: left out.** The same data as {escape_md(dup['same_as'])} (same fingerprint or source): "
                   "not an independent sample, so not analysed.")
    failed_jobs = [(d["name"], j) for d in a["datasets"] for j in d["failed_jobs"]]
    for name, j in failed_jobs:
        out.append(f"- {escape_md(name)}: {escape_md(j['pipeline'])} (seed {j['seed']}) failed: {escape_md(j['error'])}")
    if a["failed_datasets"] or failed_jobs or a.get("duplicates"):
        out.append("")
    return out


def _scores(a: dict[str, Any], metric: str) -> list[str]:
    names, ds = _names(a), [d["name"] for d in a["datasets"]]
    multi = any(len(c["seeds"]) > 1 for p in a["cells"].values() for c in p.values())
    rows = [[escape_md(names[p["pipeline"]]), escape_md(p["family"]),
             *[_cell(a["cells"][p["pipeline"]].get(d), metric) for d in ds], _rank(p["mean_rank"])]
            for p in a["pipelines"]]
    what = "mean ± sd over seeds" if multi else "estimate [95% stratified bootstrap CI]"
    return [f"## {METRIC_LABELS[metric]} per pipeline and dataset", "",
            f"{METRIC_LABELS[metric]} on each test split, {what}; the mean rank is by "
            f"{METRIC_LABELS[a['metric']]}.", "",
            _table(["Pipeline", "Family", *map(escape_md, ds), "Mean rank"], rows), ""]


def _ranks(a: dict[str, Any]) -> list[str]:
    names, rk = _names(a), a["ranks"]
    ds = [d["name"] for d in a["datasets"]]
    out = [f"## Ranks by {METRIC_LABELS[a['metric']]}", "",
           "1 = best on that dataset; tied pipelines share the average rank. Only pipelines with a value on "
           "every dataset are ranked.", ""]
    if rk["pipelines"]:
        rows = [[escape_md(names[p]), *[_rank(rk["per_dataset"][d][p]) for d in ds], _rank(rk["mean"][p])]
                for p in rk["pipelines"]]
        out += [_table(["Pipeline", *map(escape_md, ds), "Mean rank"], rows), ""]
    out += [f"- not ranked: {escape_md(names.get(x['pipeline'], x['pipeline']))}: {escape_md(x['reason'])}" for x in rk["excluded"]]
    return out + ([""] if rk["excluded"] else [])


def _omnibus(a: dict[str, Any]) -> list[str]:
    o, post, names = a["omnibus"], a["posthoc"], _names(a)
    out = ["## Test across datasets", ""]
    if o["status"] != "ok":
        out += [f"No test: {escape_md(o['reason'])}.", ""]
    elif o["test"] == "Friedman":
        f_text = "infinite (the rankings agree on every dataset)" if o["F"] is None else f"{o['F']:.3f}"
        out += [f"Friedman test over N = {o['n_datasets']} datasets and k = {o['k']} pipelines: "
                f"chi-square = {o['chi2']:.3f} (df {o['df']}, {tables.fmt_p_eq(o['p_chi2'])}); Iman-Davenport "
                f"F = {f_text} (df {o['df1']}, {o['df2']}), **{tables.fmt_p_eq(o['p'])}**: "
                + ("the ranks differ." if o["significant"] else "no difference shown."), ""]
        if post:
            out += [f"Nemenyi post-hoc test: q_alpha = {post['q_alpha']:.3f}, critical difference "
                    f"CD = {post['cd']:.3f} ranks"
                    + ("." if post["applies"] else " (not applied: the Friedman test found no difference)."), ""]
            rows = [[escape_md(names[p["better"]]), escape_md(names[p["worse"]]), f"{p['rank_diff']:.2f}", tables.fmt_p(p["p"]),
                     "yes" if p["significant"] else "no"] for p in post["pairs"]]
            out += [_table(["Better mean rank", "Worse mean rank", "Rank difference", "p (Nemenyi)",
                            "Significant"], rows), ""]
    else:
        x, y = o["pair"]
        out += [f"Wilcoxon signed-rank test of {escape_md(names[x])} vs {escape_md(names[y])} over N = {o['n_datasets']} datasets: "
                f"**{tables.fmt_p_eq(o['p'])}**.", ""]
    if a["ranks"]["pipelines"]:
        out += [f"![Critical-difference diagram](figures/{CD_FIGURE})", "", f"*Mean ranks (1 = best). {_cd_note(a)}*",
                ""]
    return out


def _cd_note(a: dict[str, Any]) -> str:
    """What the diagram's bars mean, or why it has none."""
    o, post = a["omnibus"], a["posthoc"]
    if post and post["applies"]:
        return "Pipelines joined by a bar are not significantly different (Nemenyi)."
    if o["status"] == "too_few_datasets":
        return f"No critical difference: too few datasets for a test ({o['n_datasets']} < {o['min_datasets']})."
    if o["status"] != "ok" or o["test"] != "Friedman":
        return "No critical difference: there is no Friedman test here."
    return "No critical difference: the Friedman test found no difference between the ranks."


def _families(a: dict[str, Any]) -> list[str]:
    fam, names = a["classical_vs_deep"], _names(a)
    label = METRIC_LABELS[fam["metric"]]
    out = ["## Classical vs deep", "",
           f"Per dataset, the best classical against the best deep pipeline by {label}, on the same test images. "
           f"A win needs the paired test to be significant at alpha {a['alpha']} (with several seeds: on every "
           f"seed, the same way round; p is the largest over seeds).", ""]
    rows = []
    for r in fam["rows"]:
        rows.append([escape_md(r["dataset"]), escape_md(names.get(r["classical"], r["classical"] or "–")),
                     escape_md(names.get(r["deep"], r["deep"] or "–")), tables.fmt_diff(r["diff"], r["ci"]),
                     tables.fmt_p(r["p"]), escape_md(r.get("reason") or r["test"]), OUTCOME[r["outcome"]]])
    out += [_table(["Dataset", "Best classical", "Best deep", f"Δ {label} (classical − deep) [95% CI]", "p", "Test",
                    "Outcome"], rows), ""]
    c = fam["counts"]
    out += [f"Classical wins {c['win']}, ties {c['tie']}, loses {c['loss']}"
            + (f", untested {c['untested']}" if c["untested"] else "") + ".", ""]
    ac = fam["across"]
    if ac["status"] == "ok":
        h = ac["higher"]
        out += [f"Across datasets, {escape_md(ac['test'])}: classical higher on {h['classical']}, deep higher on "
                f"{h['deep']}, equal on {h['equal']}; median difference {tables.signed(ac['median_diff'])}, "
                f"**{tables.fmt_p_eq(ac['p'])}**.", ""]
    elif ac["status"] != "no_pairs":
        out += [f"No test across datasets: {escape_md(ac['reason'])}.", ""]
    if fam["pairs"]:
        rows = [[escape_md(names[p["classical"]]), escape_md(names[p["deep"]]), str(p["win"]), str(p["tie"]), str(p["loss"]),
                 str(p["untested"])] for p in fam["pairs"]]
        out += ["Every ranked classical x deep pair (wins of the classical pipeline; paired test per dataset, "
                "Holm-adjusted over the pairs within a dataset):", "",
                _table(["Classical", "Deep", "Wins", "Ties", "Losses", "Untested"], rows), ""]
    return out


def _method(a: dict[str, Any]) -> list[str]:
    return ["## How to read this", "",
            "- Each dataset's estimates, intervals and paired tests come from its own results.json (see its "
            "report). DeLong's test compares two ROC-AUCs of a binary task; otherwise the paired stratified "
            "bootstrap of the difference.",
            "- The tests across datasets (Demšar, *Statistical Comparisons of Classifiers over Multiple Data "
            "Sets*, JMLR 7, 2006) treat the datasets as the sample: Friedman's test of the ranks (decided on "
            "the Iman-Davenport F form), Nemenyi's post-hoc test (critical difference from the studentized "
            "range), the Wilcoxon signed-rank test for two. They assume independent datasets: datasets built "
            "from the same images are not, and the p-values then overstate the evidence.",
            f"- medbench runs them only with at least {a['min_datasets']} datasets; with fewer, the ranks and "
            "counts describe these datasets and nothing more.", ""]


def render(doc: dict[str, Any], ext: str = "md") -> str:
    """suite.md (``ext="md"``: links to each dataset's report.md) or the markdown behind suite.html
    (``ext="html"``: links to report.html)."""
    a = doc["analysis"]
    parts = [*_head(doc), *_datasets(doc, ext)]
    if a["datasets"]:
        parts += [*_scores(a, "roc_auc"), *_scores(a, "balanced_accuracy"), *_ranks(a), *_omnibus(a),
                  *_families(a)]
    parts += _method(a)
    return "\n".join(parts).rstrip() + "\n"


# --- the critical-difference diagram -----------------------------------------------------------------

def _figure(width: float, height: float):
    return new_figure(width, height, dpi=DPI)


def cd_diagram(analysis: dict[str, Any]):
    """The critical-difference diagram of ``analysis`` (a matplotlib Figure; needs ranked pipelines)."""
    rk, post = analysis["ranks"], analysis["posthoc"]
    order, mean = rk["pipelines"], rk["mean"]
    info = {p["pipeline"]: p for p in analysis["pipelines"]}
    k = len(order)
    if not k:
        raise ValueError("no ranked pipelines to draw")
    applies = bool(post and post["applies"])
    cliques = post["cliques"] if applies else []
    left_n = math.ceil(k / 2)
    rows = max(left_n, k - left_n)
    width, height = 8.0, 1.35 + 0.3 * rows + 0.18 * len(cliques)
    fig = _figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    lo, hi = 1, max(k, 2)
    x0, x1 = 2.3, width - 2.3

    def x(rank: float) -> float:
        return x0 + (rank - lo) / (hi - lo) * (x1 - x0)

    axis_y = 0.75
    ax.plot([x0, x1], [axis_y, axis_y], color="black", lw=1)
    for r in range(lo, hi + 1):
        ax.plot([x(r), x(r)], [axis_y - 0.08, axis_y], color="black", lw=1)
        ax.text(x(r), axis_y - 0.12, str(r), ha="center", va="bottom", fontsize=9)
    title = "Mean rank (1 = best)" + ("" if applies else "; " + _cd_note(analysis).rstrip(".").lower())
    ax.text(width / 2, 0.12, plain(title), ha="center", va="top", fontsize=9, color="#333333")
    if applies:
        cd = post["cd"]
        ax.plot([x(lo), x(lo + cd)], [0.38, 0.38], color="black", lw=2)
        for end in (lo, lo + cd):
            ax.plot([x(end), x(end)], [0.32, 0.44], color="black", lw=1)
        ax.text(x(lo + cd) + 0.1, 0.38, f"CD = {cd:.2f}", va="center", fontsize=9)
    bar_top = axis_y + 0.15
    for i, group in enumerate(cliques):
        y = bar_top + 0.18 * i
        ax.plot([x(mean[group[0]]) - 0.04, x(mean[group[-1]]) + 0.04], [y, y], color="black", lw=3,
                solid_capstyle="round")
    label_top = bar_top + 0.18 * len(cliques) + 0.15
    for i, p in enumerate(order):
        left = i < left_n
        row = i if left else k - 1 - i
        y = label_top + 0.3 * row
        xr = x(mean[p])
        tx = x0 - 0.15 if left else x1 + 0.15
        color = FAMILY_COLORS.get(info.get(p, {}).get("family", ""), "#555555")
        ax.plot([xr, xr, tx], [axis_y, y, y], color=color, lw=1.2)
        ax.text(tx - 0.05 if left else tx + 0.05, y, plain(f"{info.get(p, {}).get('name', p)} ({mean[p]:.2f})"),
                ha="right" if left else "left", va="center", fontsize=9, color=color)
    return fig


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return write_bytes(path, buf.getvalue())


# --- writing ------------------------------------------------------------------------------------

def write_suite_report(doc: dict[str, Any], out_dir: Path, warn: Callable[[str], None] = _stderr) -> Path:
    """Write ``suite.md``, ``suite.html`` and ``figures/cd.png`` into ``out_dir``; returns suite.md's path.
    A diagram that cannot be drawn costs only the diagram (one ``warn`` line)."""
    out_dir = Path(out_dir)
    if doc["analysis"]["ranks"]["pipelines"]:
        try:
            with plain_text():
                _save(cd_diagram(doc["analysis"]), out_dir / "figures" / CD_FIGURE)
        except Exception as exc:  # noqa: BLE001 - a figure must never cost the report
            warn(plain(f"could not draw figures/{CD_FIGURE}: {type(exc).__name__}: {exc}")[:300])
    title = f"medbench suite: {doc['suite']['title']}"
    write_text(out_dir / "suite.html", html.render(render(doc, ext="html"), title))
    return write_text(out_dir / "suite.md", render(doc, ext="md"))
