"""Render a comparison (the dict :func:`medbench.evaluation.gate.compare` returns, stored as compare.json):
the verdict line, the regressions / metrics / runtime tables, a text report for the terminal and a
markdown report for a pull-request comment. Rendering only: the judgement is in
:mod:`medbench.evaluation.gate`. Every data string (pipeline names, paths, notes) is escaped
(:mod:`medbench.reports.escape`): plain text for the terminal, literal markdown for the PR comment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tabulate import tabulate

from medbench.evaluation.gate import short_fingerprint
from medbench.evaluation.tolerances import RUNTIME
from medbench.metrics import RUNTIME_KEYS, higher_is_better, label
from medbench.reports import escape, tables

# ------------------------------------------------------------------------------------------ rendering
# asv-style markers (medbench.evaluation.gate.marker) as symbols; a judged regression is marked apart from a
# drop on a row that is not judged (one seed when the mean is judged).
MARKS = {
    "text": {"regression": " X", "worse": " -", "better": " +", "not significant": " ~", "newly failed": " !",
             "fixed": " *"},
    "md": {"regression": " ❌", "worse": " ↓", "better": " ⬆", "not significant": " ≈", "newly failed": " ‼",
           "fixed": " ✔"},
}
LEGEND = {
    "text": "X worse (a regression), - worse beyond tolerance but not judged, ~ beyond tolerance but not "
            "significant, + better beyond tolerance, ! newly failed, * fixed",
    "md": "❌ worse (regression) · ↓ worse, not judged · ≈ not significant · ⬆ better · ‼ newly failed · ✔ fixed",
}
DIFF_SHOWN = 12  # environment differences listed in full; the rest are counted
#: Environment differences that are causes (the code that ran), listed first with the option differences.
CODE_KEYS = ("medbench_version", "git_commit", "git_dirty", "source_hash", "lock_digest")
#: Notes of medbench.evaluation.gate that say the pipelines themselves differ (options, variant): causes too.
CAUSE_NOTES = (": options differ", ": ran as ")


_num = tables.fmt_num


def _signed(v: Any, md: bool, digits: int = 3) -> str:
    return tables.fmt_signed(v, md=md, digits=digits)


def _seed(seed: Any) -> str:
    return "mean" if seed == "mean" else ("–" if seed is None else str(seed))


def _text(md: bool) -> Callable[[Any], str]:
    """The escaping of data strings: literal markdown, or one line of terminal text."""
    return escape.md if md else escape.plain


def _mark(row: dict[str, Any], md: bool) -> str:
    """The symbol of a row's marker (a judged regression has its own)."""
    key = "regression" if row.get("status") == "regression" else row.get("marker", "")
    return MARKS["md" if md else "text"].get(key, "")


def _what(r: dict[str, Any], md: bool) -> str:
    """A regression in a few words: pipeline, seed, check and change."""
    seed = "" if r["seed"] is None else f" seed {_seed(r['seed'])}"
    change = ""
    if r["kind"] == "metric":
        change = " has no value in NEW" if r.get("vanished") else f" {_signed(r['change'], md)}"
    return f"{_text(md)(r['pipeline'])}{seed} {label(r['check'])}{change}"


def verdict_line(report: dict[str, Any], md: bool = False) -> str:
    """One line: PASS / REGRESSION, what failed, and every limit set to inf (not checked)."""
    s = report["summary"]
    if report["verdict"] == "pass":
        head = "✅ no regression" if md else "PASS: no regression"
        text = f"{head} ({s['checks']} checks on {s['pipelines']} pipelines)"
    else:
        worst = ", ".join(_what(r, md) for r in report["regressions"][:4])
        more = ", …" if len(report["regressions"]) > 4 else ""
        head = "❌ regression" if md else "REGRESSION"
        text = f"{head}: {s['regressions']} of {s['checks']} checks failed ({worst}{more})"
    unchecked = report.get("unchecked") or []
    if unchecked:
        what = ", ".join(_text(md)(u) for u in unchecked)
        text += f" (tolerance for {what} is inf: not checked)"
    if report["forced"]:
        text += (" — " if md else " - ") + "FORCED comparison of different data/splits"
    return ("### medbench compare: " if md else "medbench compare: ") + text


def regression_table(report: dict[str, Any], md: bool = False) -> tuple[list[str], list[list[str]]]:
    headers = ["Pipeline", "Seed", "Check", "BASE", "NEW", "Change", "Allowed", "Noise"]
    rows = []
    for r in report["regressions"]:
        if r["kind"] == "metric":
            worse = ("−" if md else "-") if higher_is_better(r["check"]) else "+"  # Brier, ECE: a rise is worse
            allowed = "–" if r["allowed"] is None else worse + f"{r['allowed']:g}"
            vals = [_num(r["base"]), _num(r["new"]), _signed(r["change"], md), allowed, _text(md)(r["noise"])]
        elif r["kind"] == "runtime":
            unit, digits = RUNTIME_KEYS[r["check"]].unit, RUNTIME_KEYS[r["check"]].digits
            vals = [f"{_num(r['base'], digits)} {unit}", f"{_num(r['new'], digits)} {unit}",
                    f"x{r['change']:.2f} slower", f"x{r['allowed']:g}", "–"]
        else:
            vals = ["–", "–", r["check"], "–", _text(md)(r["noise"])]
        rows.append([_text(md)(r["pipeline"]), _seed(r["seed"]), label(r["check"]), *vals])
    return headers, rows


def metrics_table(report: dict[str, Any], md: bool = False, reloaded: bool | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """One row per pipeline and seed (and mean): NEW value (change vs BASE) per metric. ``reloaded``: only the
    Metrics Reloaded metrics (True), only the others (False) or all (None)."""
    cols = [m for m in dict.fromkeys(r["metric"] for r in report["metrics"])
            if reloaded is None or (m in tables.RELOADED_ORDER) == reloaded]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in report["metrics"]:
        if r["vanished"]:
            cell = "none"
        elif r["new"] is None:
            cell = "–"
        else:
            change = "=" if r["delta"] == 0 else _signed(r["delta"], md)
            cell = f"{_num(r['new'])} ({change})"
        if md and r["status"] == "regression":
            cell = f"**{cell}**"
        cells.setdefault((r["pipeline"], _seed(r["seed"])), {})[r["metric"]] = cell + _mark(r, md)
    headers = ["Pipeline", "Seed", *[label(c) for c in cols]]
    return headers, [[_text(md)(p), s, *[row.get(c, "–") for c in cols]] for (p, s), row in cells.items()]


def runtime_table(report: dict[str, Any], md: bool = False) -> tuple[list[str], list[list[str]]]:
    """One row per pipeline and seed: ratio NEW/BASE per runtime figure (throughput: higher is faster)."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in report["runtime"]:
        cell = "–" if r["ratio"] is None else f"x{r['ratio']:.2f}{_mark(r, md)}"
        cells.setdefault((r["pipeline"], _seed(r["seed"])), {})[r["key"]] = cell
    headers = ["Pipeline", "Seed", *[label(c) for c in RUNTIME]]
    return headers, [[_text(md)(p), s, *[row.get(c, "–") for c in RUNTIME]] for (p, s), row in cells.items()]


def _context(report: dict[str, Any], md: bool) -> list[str]:
    b, n, tol = report["base"], report["new"], report["tolerances"]
    code = escape.md_code if md else escape.plain
    same = "identical in both runs" if report["comparable"] else "DIFFERENT (forced)"
    n_ci = sum(r["ci_overlap"] is not None for r in report["metrics"])
    n_paired = sum(r.get("p") is not None for r in report["metrics"])
    rows = len(report["metrics"])
    if n_paired:
        noise = (f"noise: paired tests on the same test images on {n_paired} of {rows} rows (McNemar, DeLong, "
                 "paired bootstrap; p Holm-corrected over pipelines), confidence intervals on " f"{n_ci}")
    elif n_ci:
        noise = (f"noise: both runs have confidence intervals on {n_ci} of {rows} rows "
                 "(overlapping CIs: a change within noise); no paired tests (not the same stored test images)")
    else:
        noise = "noise: no paired tests and no confidence intervals in the results (tolerances only)"
    t = _text(md)

    def run(r: dict[str, Any]) -> str:
        return f"{code(r['path'])} (medbench {t(r['medbench_version'])}, {t(r['created'])}, {t(r['machine'])})"
    alpha = f", alpha {tol['alpha']:g}" if tol.get("alpha") is not None and tol["mode"] == "significant" else ""
    return [
        f"BASE {run(b)}", f"NEW  {run(n)}",
        f"dataset {code(n['dataset'])}, split {code(short_fingerprint(n['split_fingerprint']))} ({t(n['split_method'])}): " + same,
        f"tolerances: {code(tol['source'])} (mode {tol['mode']}{alpha}, seeds judged on the {tol['seeds']}); "
        f"runtime {'judged' if report['runtime_judged'] else 'not judged'}",
        gate_text(tol),
        noise,
    ]


def gate_text(tol: dict[str, Any]) -> str:
    """The rule a metric drop fails by, in one sentence (from compare.json's ``tolerances``)."""
    hard = tol.get("hard") or {}
    if tol["mode"] == "significant":
        rule = (f"gate: a drop fails when beyond its tolerance and significant (paired test, Holm over "
                f"pipelines, p < {tol['alpha']:g})")
    else:
        rule = "gate: a drop fails when beyond its tolerance"
    if hard or any((p.get("hard") or {}) for p in (tol.get("pipelines") or {}).values()):
        limits = ", ".join(f"{'every metric' if k == '*' else k} {'none' if v is None else f'{v:g}'}"
                           for k, v in hard.items())
        rule += f", or beyond its hard limit whatever the p-value ({limits or 'per pipeline'})"
    return rule


def _cause_notes(report: dict[str, Any]) -> list[str]:
    return [n for n in report["notes"] if any(c in n for c in CAUSE_NOTES)]


def _diff_line(d: dict[str, Any], md: bool) -> str:
    t, code = _text(md), (escape.md_code if md else escape.plain)
    arrow = " → " if md else " -> "

    def val(v: Any, key: str) -> str:
        if v is None:
            return "not recorded"
        return code(v[:12]) if key in ("git_commit", "source_hash", "lock_digest") else t(v)
    return f"{t(d['label'])}: {val(d['base'], d['key'])}{arrow}{val(d['new'], d['key'])}"


def _recorded_by_both(d: dict[str, Any]) -> bool:
    """A difference both runs recorded: an entry only one run recorded (a run outside tox has no lock
    digest, one outside a git clone no dirty flag) is not a difference, it is unknown
    (:func:`unrecorded_lines`)."""
    return d["base"] is not None and d["new"] is not None


def cause_lines(report: dict[str, Any], md: bool) -> list[str]:
    """What changed in what ran, first: option differences of the pipelines and code differences."""
    diffs = [d for d in (report.get("environment") or {}).get("differences") or [] if _recorded_by_both(d)]
    causes = [f"options: {_text(md)(n)}" for n in _cause_notes(report)]
    causes += [f"code: {_diff_line(d, md)}" for d in diffs if d["key"] in CODE_KEYS]
    if not causes:
        return ["causes: no option or code difference recorded between BASE and NEW"]
    return [f"causes: {len(causes)} difference{'s' if len(causes) != 1 else ''} in what ran (BASE"
            f"{' → ' if md else ' -> '}NEW)", *[f"  {c}" for c in causes]]


def unrecorded_lines(report: dict[str, Any], md: bool) -> list[str]:
    """One line naming what only one of the two runs recorded (cannot be compared), after the differences."""
    diffs = [d for d in (report.get("environment") or {}).get("differences") or [] if not _recorded_by_both(d)]
    t = _text(md)
    out = []
    for side, run in (("new", "NEW"), ("base", "BASE")):
        names = [t(d["label"]) for d in diffs if d[side] is None]
        if names:
            out.append(f"not recorded by {run} (cannot be compared): {', '.join(names)}")
    return out


def environment_lines(report: dict[str, Any], md: bool) -> list[str]:
    """What else differs between BASE's and NEW's environments (libraries, machine), one line each; the
    code differences are causes (:func:`cause_lines`)."""
    diffs = (report.get("environment") or {}).get("differences")
    if diffs is None:
        return []
    unrecorded = unrecorded_lines(report, md)
    diffs = [d for d in diffs if d["key"] not in CODE_KEYS and _recorded_by_both(d)]
    if not diffs:
        return ["environment: otherwise identical (libraries, machine)", *unrecorded]
    arrow = " → " if md else " -> "
    out = [f"environment: {len(diffs)} other difference{'s' if len(diffs) != 1 else ''} (BASE{arrow}NEW)"]
    out += [f"  {_diff_line(d, md)}" for d in diffs[:DIFF_SHOWN]]
    if len(diffs) > DIFF_SHOWN:
        out.append(f"  … and {len(diffs) - DIFF_SHOWN} more (compare.json: environment.differences)")
    return out + unrecorded


def _issue_lines(report: dict[str, Any], md: bool) -> list[str]:
    """Pipeline-level findings that are not already rows of the regressions table."""
    t = _text(md)
    return [f"{r['status'].upper()}: {t(r['pipeline'])}" + ("" if r["seed"] is None else f" seed {r['seed']}")
            + f": {t(r['detail'])}" for r in report["pipelines"] if r["status"] != "regression"]


def text_report(report: dict[str, Any]) -> str:
    def table(h, rows):
        return tabulate(rows, headers=h, tablefmt="simple", disable_numparse=True)

    out = [verdict_line(report), *cause_lines(report, False), ""]
    if report["regressions"]:
        out += ["Regressions", table(*regression_table(report)), ""]
    out += [*environment_lines(report, False), *_context(report, False), ""]
    issues = _issue_lines(report, md=False)
    if issues:
        out += ["Pipelines", *issues, ""]
    h, rows = metrics_table(report, reloaded=False)
    if rows:  # the Metrics Reloaded columns in a table of their own: each stays within a terminal's width
        out += ["Metrics: NEW (change vs BASE)", table(h, rows), ""]
        h, more = metrics_table(report, reloaded=True)
        if len(h) > 2:
            out += ["Metrics Reloaded: NEW (change vs BASE)", table(h, more), ""]
        out += ["Runtime: ratio NEW/BASE (throughput: higher is faster)", table(*runtime_table(report)), ""]
        out.append("marks: " + LEGEND["text"])
    out += [f"note: {escape.plain(n)}" for n in report["notes"] if n not in _cause_notes(report)]
    return "\n".join(out).rstrip() + "\n"


def markdown_report(report: dict[str, Any]) -> str:
    """Compact markdown for a pull-request comment: verdict, regressions first, details folded."""
    def table(h, rows):
        return tabulate(rows, headers=h, tablefmt="github", disable_numparse=True)

    env, causes = environment_lines(report, md=True), cause_lines(report, md=True)
    out = [verdict_line(report, md=True), "", causes[0], *[f"- {line.strip()}" for line in causes[1:]], ""]
    if report["regressions"]:
        out += ["**Regressions**", "", table(*regression_table(report, md=True)), ""]
    out += [env[0] if env else "", *[f"- {line.strip()}" for line in env[1:]], "",
            "<br>".join(_context(report, True)), ""]
    forced = [n for n in report["notes"] if n.startswith("FORCED")]
    bullets = [escape.md(n) for n in forced] + _issue_lines(report, md=True)
    if bullets:
        out += [f"- {line}" for line in bullets] + [""]
    h, rows = metrics_table(report, md=True)
    if rows:
        n_pipes = report["summary"]["pipelines"]
        out += [f"<details><summary>All metrics ({n_pipes} pipelines): NEW (change vs BASE)</summary>", "",
                table(h, rows), "", LEGEND["md"], "", "</details>", ""]
        out += ["<details><summary>Runtime: ratio NEW/BASE</summary>", "",
                table(*runtime_table(report, md=True)), "",
                "Throughput: higher is faster; every other ratio: higher is slower.", "", "</details>", ""]
    rest = [n for n in report["notes"] if n not in forced and n not in _cause_notes(report)]
    if rest:
        out += [f"- {escape.md(n)}" for n in rest] + [""]
    return "\n".join(out).rstrip() + "\n"
