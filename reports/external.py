"""The report's "External validation" section, rendered from results.json's ``external`` block alone.

Per external set: what it is (classes, counts, the class mapping, fingerprint), which metrics are undefined
on it and why, per pipeline and seed the internal and external value of each metric with their 95% CIs and
the drop, the ranking on the dataset and on the external set, and the paired tests between pipelines on the
external set (computed by the harness, :mod:`medbench.external`; rendered here). Every data string is escaped.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.metrics import label
from medbench.reports import tables
from medbench.reports.escape import md as E
from medbench.reports.escape import md_code as C

__all__ = ["section"]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _names(block: dict[str, Any]) -> dict[str, str]:
    return {r["pipeline"]: r.get("name") or r["pipeline"] for r in block["jobs"]}


def _values_table(block: dict[str, Any]) -> list[str]:
    headers = ["Pipeline", "Seed", "Metric", "Internal (test split) [95% CI]", "External [95% CI]",
               "Drop (internal − external)"]
    rows = []
    for r in block["jobs"]:
        for m, v in r["metrics"].items():
            if m in block["undefined"]:
                continue
            rows.append([E(r.get("name") or r["pipeline"]), str(r["seed"]), E(label(m)),
                         tables.fmt_ci(v["internal"], v.get("internal_ci")),
                         tables.fmt_ci(v["external"], v.get("external_ci")), tables.fmt_signed(v["drop"])])
    return [_table(headers, rows), ""]


def _ranking(block: dict[str, Any]) -> list[str]:
    names = _names(block)
    external = block.get("external_order", [])
    internal = [p for p in block.get("internal_order", []) if p in external]
    same = internal == external
    return [f"- Ranking on the dataset's test split: {' > '.join(E(names[p]) for p in internal) or '–'}",
            f"- Ranking on this external set: {' > '.join(E(names[p]) for p in external) or '–'}"
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
            out.append(f"- Best classical {E(names.get(head['classical'], head['classical']))} vs best deep "
                       f"{E(names.get(head['deep'], head['deep']))}, seed {x['seed']}: {E(x['reason'])}")
            continue
        auc, acc = x["roc_auc"] or {}, x["accuracy"]
        auc_text = ("ROC-AUC undefined on this set" if not auc else
                    f"ROC-AUC {tables.fmt_diff(auc.get('diff'), auc.get('ci'))}, {E(auc.get('test') or 'test')} "
                    f"{tables.fmt_p_eq(auc.get('p'))}")
        out.append(f"- **Classical vs deep on this set** (best classical {E(names.get(head['classical'], ''))} − "
                   f"best deep {E(names.get(head['deep'], ''))}, seed {x['seed']}): {auc_text}; {_accuracy_word(block)} "
                   f"{tables.fmt_diff(acc['diff'], acc['ci'])}, McNemar {tables.fmt_p_eq(x['mcnemar']['p'])}.")
    return [*out, ""]


def _one(results: dict[str, Any], block: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{E(c)} {n}" for c, n in block["counts"].items())
    mapping = ", ".join(f"{E(b)} → {E(a)}" for b, a in (block.get("mapping") or {}).items())
    out = [f"### {E(block['dataset'])}", "",
           f"{block['n']} images ({counts}); classes matched {mapping}; fingerprint {C(block['fingerprint'][:12])}. "
           f"Decoded at the dataset's image size and channels; every pipeline as fitted, at the operating point "
           f"chosen on the dataset's validation split.", ""]
    for kind, note in (block.get("problems") or {}).items():  # e.g. files skipped under --allow-missing
        note = note if isinstance(note, dict) else {"count": note}
        files = [str(f) for f in note.get("files") or []]
        more = " ..." if isinstance(note.get("count"), int) and len(files) < note["count"] else ""
        out += [f"**Left out ({E(kind)})**: {E(note.get('count', len(files)))} file(s) of this set are not scored"
                + (f": {', '.join(C(f) for f in files)}{more}" if files else "") + ".", ""]
    if block["undefined"]:
        shown = [label(m) for r in block["jobs"][:1] for m in r["metrics"]]
        reasons: dict[str, list[str]] = {}
        for m, why in block["undefined"].items():
            reasons.setdefault(why, []).append(label(m))
        out += [f"**Not every metric is defined here**: this set lacks some of the dataset's classes. Reported: "
                f"{', '.join(E(s) for s in shown) or 'none'}. Not reported: "
                + "; ".join(f"{', '.join(map(E, ms))} ({E(why)})" for why, ms in reasons.items())
                + ". The majority floor is shown but left out of the ranking and the paired tests (on a set of one "
                  "class it can be trivially perfect).", ""]
    out += _values_table(block)
    out += _ranking(block)
    out += _headline(block)
    stats = block["statistics"]
    if stats["comparisons"]:
        ref = _names(block).get(stats["reference"], stats["reference"])
        out += [f"Paired tests on this external set: every pipeline against the best one here, **{E(ref)}** "
                f"(Δ = pipeline − {E(ref)}; McNemar on {_accuracy_word(block)}, DeLong on ROC-AUC when both classes are present; "
                f"Holm-adjusted p in brackets).", "",
                _table(*tables.significance_table({"jobs": block["jobs"]}, stats, E)), ""]
    return out


def section(results: dict[str, Any]) -> list[str]:
    """The section's markdown lines (empty when the run had no ``--external``)."""
    blocks = results.get("external") or []
    if not blocks:
        return []
    out = ["## External validation", "",
           "Each fitted pipeline, unchanged, scored on every image of another dataset. The internal numbers are "
           "the test split's; the drop is internal − external. CIs: the same stratified bootstrap as the "
           "leaderboard, over the external images.", ""]
    for block in blocks:
        out += _one(results, block)
    return out
