"""The report's "Leakage and shortcuts" section, rendered from results.json's ``audit`` block alone.

Patient groups (where they came from, how many cross the splits, or that patients may cross them when no
scheme matched), near-duplicate counts per split, per pair of splits and per external set with a few
example pairs, what ``--dedupe`` removed, and the shortcut check (per-class properties and the metadata-only
classifier). :func:`summary_line` is the Summary's link to the section when the audit found something.
Every data string is escaped.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.reports import tables
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import md_code as escape_code

__all__ = ["TITLE", "section", "summary_line"]

TITLE = "Leakage and shortcuts"
ANCHOR = "#leakage-and-shortcuts"
_LABELS = {"format": "File format", "mode": "Colour mode", "bit_depth": "Bit depth", "width": "Original width",
           "height": "Original height", "aspect": "Aspect ratio", "border_fraction": "Border / padding fraction",
           "colour": "Colour (channels differ)"}


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def summary_line(results: dict[str, Any]) -> list[str]:
    """The Summary's bullet linking to the section, when the audit found anything (else nothing)."""
    findings = (results.get("audit") or {}).get("findings") or []
    if not findings:
        return []
    return [f"- **{TITLE}: {len(findings)} finding{'s' if len(findings) != 1 else ''}** (the data, before any "
            f"model): {escape_md(findings[0])}{' ...' if len(findings) > 1 else ''} See [{TITLE}]({ANCHOR})."]


def _groups(g: dict[str, Any]) -> list[str]:
    out = [f"- Patient groups: {escape_md(g['source'])}; {g['n_groups']} groups, "
           f"**{g['groups_in_several_splits']} in more than one split**"
           + (f" ({g.get('test_images_with_group_elsewhere', 0)} test images have an image of the same patient in "
              "train or validation)." if g["groups_in_several_splits"] else ".")]
    if not g["grouped"]:
        out.append("- **Patients may cross splits**: no patient ids are known (no naming scheme of docs/audit.md "
                   "matched, and neither `--groups CSV` nor `--group-pattern REGEX` was given), so every image is its "
                   "own group and images of one patient can sit in train and test at once.")
    return out


def _dup_rows(d: dict[str, Any]) -> list[list[str]]:
    rows = []
    for kind, entries in (("within", d["within"]), ("across", d["across"])):
        for name, e in entries.items():
            rows.append([escape_md(f"{kind} {name}"), str(e["pairs"]), str(e["images"]), str(e["same_name"]), _ex(e)])
    for ext in d["external"]:
        e = ext["all"]
        rows.append([escape_md(f"dataset vs {ext['dataset']}"), str(e["pairs"]), f"{e['images']} of {ext['n']}",
                     str(e["same_name"]), _ex(e)])
    return rows


def _ex(e: dict[str, Any]) -> str:
    return "; ".join(f"{escape_code(x['a'])} ~ {escape_code(x['b'])} ({x['distance']})" for x in e["examples"][:3]) or "–"


def _pictures(d: dict[str, Any]) -> list[str]:
    """The example pairs drawn at run time (``OUT/audit/*.png``), left and right as in the table."""
    shown = []
    entries = [*(("within " + k, e) for k, e in d["within"].items()),
               *(("across " + k, e) for k, e in d["across"].items()),
               *(("vs " + x["dataset"], x["all"]) for x in d["external"])]
    for where, e in entries:
        for x in e["examples"]:
            if x.get("thumbnail"):
                shown.append(f"![{escape_md(where)}: {escape_md(x['a'])} ~ {escape_md(x['b'])}]({x['thumbnail']})")
    if not shown:
        return []
    return ["Example pairs (left: the first image, right: its near-duplicate):", "", *(f"{s}  " for s in shown), ""]


def _shortcuts(s: dict[str, Any]) -> list[str]:
    out = []
    if s.get("note"):
        out += [f"Shortcuts: {escape_md(s['note'])}.", ""]
    per = s.get("per_class") or {}
    rows = []
    for key, by_class in per.items():
        for cls, summary in by_class.items():
            if "median" in summary:
                text = "–" if summary["median"] is None else (
                    f"median {tables.fmt(summary['median'])} (min {tables.fmt(summary['min'])}, "
                    f"max {tables.fmt(summary['max'])})")
            else:
                text = ", ".join(f"{escape_md(k)}: {n}" for k, n in summary.items())
            rows.append([escape_md(_LABELS.get(key, key)), escape_md(cls), text])
    if rows:
        out += [_table(["Property", "Class", "Distribution"], rows), ""]
    c = s.get("classifier") or {}
    top = c.get("top_property")
    if c.get("roc_auc") is not None:
        out.append(f"A metadata-only classifier ({escape_md(c.get('model', ''))}) on these properties alone: ROC-AUC "
                   f"{tables.fmt_ci(c['roc_auc'], c.get('roc_auc_ci'))}, accuracy "
                   f"{tables.fmt_ci(c.get('accuracy'), c.get('accuracy_ci'))} (majority floor "
                   f"{tables.fmt(c.get('majority_floor'))}); it relies most on {escape_md(_LABELS.get(top, top or '–'))}.")
    elif c.get("skipped"):
        out.append(f"The metadata-only classifier was not scored: {escape_md(c['skipped'])}.")
    if c.get("warning"):
        out += ["", f"**Shortcut:** {escape_md(c['warning'])}."]
    return out + [""]


def section(results: dict[str, Any]) -> list[str]:
    """The section's lines (none when results.json has no ``audit`` block)."""
    a = results.get("audit")
    if not a:
        return []
    d = a["duplicates"]
    out = [f"## {TITLE}", "",
           "Checked before any model was fitted (`medbench audit` prints the same); see docs/audit.md.", ""]
    if a.get("findings"):
        out += [*(f"- **{escape_md(f)}**" for f in a["findings"]), ""]
    else:
        out += ["Nothing found.", ""]
    out += [*_groups(a["groups"]), ""]
    out += [f"Near-duplicates: {escape_md(d['method'])} at most {d['threshold']} of 64 bits apart. \"Images\" counts the "
            "images of the later split (or the other set) that have one.", "",
            _table(["Where", "Pairs", "Images", "Same file name", "Examples (distance)"], _dup_rows(d)), "",
            *_pictures(d)]
    dd = a.get("dedupe")
    if dd:
        parts = [f"test: {dd['test']['removed']}"] + [f"{escape_md(e['dataset'])}: {e['removed']}" for e in dd["external"]]
        out += ["`--dedupe` removed these near-duplicates from the evaluated side before scoring "
                f"({', '.join(parts)}).", ""]
    out += _shortcuts(a["shortcuts"])
    return out
