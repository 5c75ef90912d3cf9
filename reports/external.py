"""The report's "External validation" section, rendered from results.json's ``external`` block alone.

Per external set: what it is (classes, counts, the class mapping, the classes left out, fingerprint), a
warning when a pipeline is no better than chance on it (ROC-AUC interval containing 0.5), both prevalences,
which metrics are undefined on it and why; per pipeline and seed the prevalence-free metrics first (ROC-AUC,
balanced accuracy, sensitivity, specificity), then PPV / NPV at the external prevalence beside what the
internal operating point would give there, then the rest, each with its 95% CIs and its change written
"worse by" / "better by" in the metric's own direction; the internal threshold next to the external set's
own Youden threshold (information only); the ranking on the dataset and on the external set, and the paired tests between pipelines on the
external set (computed by the harness, :mod:`medbench.shift.external`; rendered here). Every data string is escaped.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.metrics import higher_is_better, label
from medbench.reports import tables
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import md_code as escape_code

__all__ = ["section"]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _names(block: dict[str, Any]) -> dict[str, str]:
    return {r["pipeline"]: r.get("name") or r["pipeline"] for r in block["jobs"]}


#: Metrics that do not depend on the prevalence: the report leads with them.
PREVALENCE_FREE = ("roc_auc", "balanced_accuracy", "sensitivity", "specificity")
#: Predictive values: shown at the external prevalence, beside what the internal operating point would give there.
PREDICTIVE = ("ppv", "npv")


def _change(drop: float | None) -> str:
    """``worse by 0.187`` / ``better by 0.012`` / ``no change``: ``drop`` is positive when worse, in the
    metric's own direction (:func:`medbench.shift.external.summarize`)."""
    if drop is None:
        return "–"
    if abs(drop) < 0.0005:
        return "no change"
    return f"{'worse' if drop > 0 else 'better'} by {abs(drop):.3f}"


def _rows(block: dict[str, Any], metrics: tuple[str, ...] | None, skip: tuple[str, ...] = ()) -> list[tuple]:
    out = []
    for r in block["jobs"]:
        names = list(r["metrics"]) if metrics is None else [m for m in metrics if m in r["metrics"]]
        out += [(r, m, r["metrics"][m]) for m in names if m not in block["undefined"] and m not in skip]
    return out


def _values_table(block: dict[str, Any]) -> list[str]:
    headers = ["Pipeline", "Seed", "Metric", "Internal (test split) [95% CI]", "External [95% CI]", "Change"]
    rows = []
    for r, m, v in _rows(block, PREVALENCE_FREE):
        chance = " **no better than chance here**" if m == "roc_auc" and r.get("chance") else ""
        rows.append([escape_md(r.get("name") or r["pipeline"]), str(r["seed"]), escape_md(label(m)),
                     tables.fmt_ci(v["internal"], v.get("internal_ci")),
                     tables.fmt_ci(v["external"], v.get("external_ci")) + chance, _change(v["drop"])])
    if not rows:
        return []
    return ["**Prevalence-free metrics** (they do not change with the share of each class; change = external "
            "against internal, in each metric's own direction):", "", _table(headers, rows), ""]


def _prevalence_line(block: dict[str, Any]) -> list[str]:
    prev = block.get("prevalence")
    if not prev:
        return []
    pct = lambda v: "–" if v is None else f"{v:.1%}"  # noqa: E731
    return [f"Prevalence of {escape_md(prev['class'])}: {pct(prev.get('internal'))} in the dataset's test split, "
            f"{pct(prev.get('external'))} in this external set.", ""]


def _predictive_table(block: dict[str, Any]) -> list[str]:
    prev = (block.get("prevalence") or {}).get("external")
    headers = ["Pipeline", "Seed", "Metric", "Internal (test split)", "Expected at the external prevalence",
               "External [95% CI]", "Change"]
    rows = []
    for r, m, v in _rows(block, PREDICTIVE):
        expected = (r.get("expected_at_external") or {}).get(m)
        rows.append([escape_md(r.get("name") or r["pipeline"]), str(r["seed"]), escape_md(label(m)),
                     tables.fmt_ci(v["internal"], v.get("internal_ci")), tables.fmt(expected),
                     tables.fmt_ci(v["external"], v.get("external_ci")), _change(v["drop"])])
    if not rows:
        return []
    at = f" ({prev:.1%})" if prev is not None else ""
    return [f"**PPV and NPV at the external prevalence{at}.** They depend on the prevalence: *expected* is what the "
            "internal sensitivity and specificity would give at the external prevalence (Bayes' rule), so the gap "
            "between *expected* and *external* is the model's own change, the rest the prevalence's.", "",
            _table(headers, rows), ""]


def _other_table(block: dict[str, Any]) -> list[str]:
    headers = ["Pipeline", "Seed", "Metric", "Internal (test split) [95% CI]", "External [95% CI]", "Change"]
    rows = [[escape_md(r.get("name") or r["pipeline"]), str(r["seed"]), escape_md(label(m)) + ("" if higher_is_better(m) else
                                                                              " (lower is better)"),
             tables.fmt_ci(v["internal"], v.get("internal_ci")), tables.fmt_ci(v["external"], v.get("external_ci")),
             _change(v["drop"])] for r, m, v in _rows(block, None, PREVALENCE_FREE + PREDICTIVE)]
    if not rows:
        return []
    return ["**Other metrics**: accuracy, F1 and MCC depend on the prevalence too; Brier and ECE (calibration) are "
            "better when lower.", "", _table(headers, rows), ""]


def _threshold_table(block: dict[str, Any]) -> list[str]:
    rows = [[escape_md(r.get("name") or r["pipeline"]), str(r["seed"]), tables.fmt(r["threshold"].get("internal")),
             tables.fmt(r["threshold"].get("external_youden"))]
            for r in block["jobs"] if r.get("threshold")]
    if not rows:
        return []
    return ["**Thresholds**: the external set is scored at the threshold chosen on the dataset's validation split; "
            "the external set's own Youden-optimal threshold is shown for information only (never used for a "
            "score: choosing it on the set it scores would flatter it).", "",
            _table(["Pipeline", "Seed", "Threshold used (internal validation)", "External set's own Youden threshold"],
                   rows), ""]


def _ranking(block: dict[str, Any]) -> list[str]:
    names = _names(block)
    external = block.get("external_order", [])
    internal = [p for p in block.get("internal_order", []) if p in external]
    same = internal == external
    return [f"- Ranking on the dataset's test split: {' > '.join(escape_md(names[p]) for p in internal) or '–'}",
            f"- Ranking on this external set: {' > '.join(escape_md(names[p]) for p in external) or '–'}"
            + (" (**the same order**)" if same else " (**the order changed**)"), ""]


def _accuracy_word(block: dict[str, Any]) -> str:
    """On a set of one class "accuracy" is that class's recall: say so wherever it is tested."""
    if "accuracy" not in block["undefined"]:
        return "accuracy"
    kept = [m for m in ("sensitivity", "specificity") if m not in block["undefined"]]
    return f"accuracy (here: {kept[0]})" if kept else "accuracy"


def _headline(block: dict[str, Any]) -> list[str]:
    stats = block["statistics"]
    head = stats.get("headline")
    if not head:
        return ["- No classical-vs-deep comparison on this set: the run lacks a finished classical or deep "
                "pipeline.", ""]
    names = _names(block)
    out = []
    for x in head["comparisons"]:
        if not x["paired"]:
            out.append(f"- Best classical {escape_md(names.get(head['classical'], head['classical']))} vs best deep "
                       f"{escape_md(names.get(head['deep'], head['deep']))}, seed {x['seed']}: {escape_md(x['reason'])}")
            continue
        auc, acc = x["roc_auc"] or {}, x["accuracy"]
        auc_text = ("ROC-AUC undefined on this set" if not auc else
                    f"ROC-AUC {tables.fmt_diff(auc.get('diff'), auc.get('ci'))}, {escape_md(auc.get('test') or 'test')} "
                    f"{tables.fmt_p_eq(auc.get('p'))}")
        out.append(f"- **Classical vs deep on this set** (best classical {escape_md(names.get(head['classical'], ''))} − "
                   f"best deep {escape_md(names.get(head['deep'], ''))}, seed {x['seed']}): {auc_text}; {_accuracy_word(block)} "
                   f"{tables.fmt_diff(acc['diff'], acc['ci'])}, McNemar {tables.fmt_p_eq(x['mcnemar']['p'])}.")
    return [*out, ""]


def _one(results: dict[str, Any], block: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{escape_md(c)} {n}" for c, n in block["counts"].items())
    mapping = ", ".join(f"{escape_md(b)} → {escape_md(a)}" for b, a in (block.get("mapping") or {}).items())
    left_out = "; ".join(f"{escape_md(c)} ({n} images)" for c, n in (block.get("excluded") or {}).items())
    out = [f"### {escape_md(block['dataset'])}", "",
           f"{block['n']} images ({counts}); classes matched {mapping}; fingerprint {escape_code(block['fingerprint'][:12])}. "
           + (f"Left out (`--class-map SRC=-`): {left_out}. " if left_out else "")
           + "Decoded at the dataset's image size and channels; every pipeline as fitted, at the operating point "
           "chosen on the dataset's validation split.", ""]
    chance = sorted({r.get("name") or r["pipeline"] for r in block["jobs"] if r.get("chance")})
    if chance:
        out += [f"> **No better than chance here:** the external ROC-AUC interval of {', '.join(map(escape_md, chance))} "
                "contains 0.5.", ""]
    for kind, note in (block.get("problems") or {}).items():  # e.g. files skipped under --allow-missing
        note = note if isinstance(note, dict) else {"count": note}
        files = [str(f) for f in note.get("files") or []]
        more = " ..." if isinstance(note.get("count"), int) and len(files) < note["count"] else ""
        out += [f"**Left out ({escape_md(kind)})**: {escape_md(note.get('count', len(files)))} file(s) of this set are not scored"
                + (f": {', '.join(escape_code(f) for f in files)}{more}" if files else "") + ".", ""]
    out += _prevalence_line(block)
    if block["undefined"]:
        shown = [label(m) for r in block["jobs"][:1] for m in r["metrics"]]
        reasons: dict[str, list[str]] = {}
        for m, why in block["undefined"].items():
            reasons.setdefault(why, []).append(label(m))
        out += [f"**Not every metric is defined here**: this set lacks some of the dataset's classes. Reported: "
                f"{', '.join(escape_md(s) for s in shown) or 'none'}. Not reported: "
                + "; ".join(f"{', '.join(map(escape_md, ms))} ({escape_md(why)})" for why, ms in reasons.items())
                + ". The majority floor is shown but left out of the ranking and the paired tests (on a set of one "
                  "class it can be trivially perfect).", ""]
    out += _values_table(block) + _predictive_table(block) + _other_table(block) + _threshold_table(block)
    out += _ranking(block)
    out += _headline(block)
    stats = block["statistics"]
    if stats["comparisons"]:
        ref = _names(block).get(stats["reference"], stats["reference"])
        out += [f"Paired tests on this external set: every pipeline against the best one here, **{escape_md(ref)}** "
                f"(Δ = pipeline − {escape_md(ref)}; McNemar on {_accuracy_word(block)}, DeLong on ROC-AUC when both classes are present; "
                f"Holm-adjusted p in brackets).", "",
                _table(*tables.significance_table({"jobs": block["jobs"]}, stats, escape_md)), ""]
    return out


def section(results: dict[str, Any]) -> list[str]:
    """The section's markdown lines (empty when the run had no ``--external``)."""
    blocks = results.get("external") or []
    if not blocks:
        return []
    out = ["## External validation", "",
           "Each fitted pipeline, unchanged, scored on every image of another dataset. The internal numbers are "
           "the test split's; *change* says whether the external value is worse or better, in each metric's own "
           "direction (a Brier score that rises is worse). CIs: the same stratified bootstrap as the "
           "leaderboard, over the external images.", ""]
    for block in blocks:
        out += _one(results, block)
    return out
