"""report.md: the human-readable report of one run, built with tabulate from results.json alone.

:func:`render` is a pure function of the results (and whether ``figures/samples.png`` exists), so
``medbench report`` rebuilds the report a run wrote byte for byte: nothing time-dependent or random
goes in beyond what results.json holds, and the statistics come from its ``statistics`` section
(or are recomputed deterministically).

Every data string from results.json (names, paths, error messages, dataset notes) is escaped with
:mod:`medbench.reports.escape` (``escape_md``: text, ``escape_code``: code span), so it shows literally in report.md
and can never become markup or HTML in report.html. Failed jobs carry their ``family`` (results
written before they did show "unknown").
"""

from __future__ import annotations

import math
from typing import Any

from tabulate import tabulate

from medbench.evaluation import protocol
from medbench.evaluation.verdict import facts as verdict_facts
from medbench.evaluation.verdict import roc_auc_difference
from medbench.records import view
from medbench.reports import audit as audit_report
from medbench.reports import calibration as calibration_report
from medbench.reports import external as external_report
from medbench.reports import gallery as gallery_report
from medbench.reports import published as published_report
from medbench.reports import reloaded as reloaded_report
from medbench.reports import robustness as robustness_report
from medbench.reports import tables
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import md_code as escape_code
from medbench.reports.escape import md_fence
from medbench.reports.figures import SAMPLES, planned

ALPHA = protocol.ALPHA  # the protocol's, for the verdict's words


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _figure(results: dict[str, Any], key: str, caption: str = "") -> list[str]:
    spec = planned(results).get(key)
    if spec is None:
        return []
    return [f"![{spec.title}](figures/{spec.file})", ""] + ([f"*{caption}*", ""] if caption else [])


def _group(stats: dict[str, Any], pipeline: str) -> dict[str, Any]:
    return next(g for g in stats["pipelines"] if g["pipeline"] == pipeline)


def _job(results: dict[str, Any], job_id: str) -> dict[str, Any]:
    return next(j for j in tables.ok_jobs(results) if tables.job_key(j) == job_id)


def _value(results: dict[str, Any], stats: dict[str, Any], g: dict[str, Any], metric: str) -> str:
    """``0.956 [0.940, 0.971]`` for one seed; ``0.956 ± 0.003`` over several."""
    if len(g["seeds"]) > 1:
        return tables.fmt_mean_sd(g["metrics"][metric]) if metric in g["metrics"] else "–"
    job = _job(results, g["job_ids"][0])
    return tables.fmt_ci(job["metrics"].get(metric), tables.job_ci(stats, job, metric))


def _seeds_note(g: dict[str, Any]) -> str:
    return f" (mean ± sd over {len(g['seeds'])} seeds)" if len(g["seeds"]) > 1 else ""


def summary(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    groups = stats["pipelines"]
    if not groups:
        return ["No pipeline finished; see *Not run* below."]
    best = groups[0]
    binary = len(view.class_names(results)) == 2
    lacking = next((j["undefined"] for j in results["jobs"] if j.get("status") == "ok" and j.get("undefined")), None)
    if lacking:  # a test split lacking a class ranks nothing: the floor is trivially perfect on it
        why = next((v for v in lacking.values() if v.startswith("undefined: ")), "a class is missing")
        why = why.removeprefix("undefined: ")
        return [f"- **No best pipeline:** {escape_md(why)}, so the metrics that need them are undefined (–) and accuracy "
                f"is one class's recall: the majority floor is trivially perfect there and the test split ranks "
                f"nothing. Score on a test split holding every class."]
    line = (f"- **Best pipeline: {escape_md(best['name'])}** ({escape_md(best['family'])}): ROC-AUC {_value(results, stats, best, 'roc_auc')}, "
            f"accuracy {_value(results, stats, best, 'accuracy')}{_seeds_note(best)}.")

    facts = verdict_facts(results, stats)
    if facts["floor_only"]:  # the floor "winning" because everything real failed is no finding
        return ["- **No finding: only the floor finished.** Every real pipeline failed, so there is no best "
                "pipeline and no classical-vs-deep comparison; what failed and how to fix it:",
                *_failures(facts), *_deep_lines(facts)]
    failed_real = sorted({f["pipeline"] for f in facts["failed"] if f["family"] != "baseline"})
    if failed_real:
        line = line.replace(f"({escape_md(best['family'])}):", f"({escape_md(best['family'])}) (among the pipelines that finished; "
                            f"{', '.join(map(escape_md, failed_real))} failed: see below):", 1)
    if binary and "sensitivity" in best["metrics"]:
        thr = _job(results, best["job_ids"][0]).get("threshold") or {}
        where = (f"at the threshold {tables.fmt(thr.get('threshold'))} ({escape_md(thr.get('method', 'arg-max'))})"
                 if len(best["seeds"]) == 1 else "at each seed's threshold chosen on validation")
        line += (f" Sensitivity {_value(results, stats, best, 'sensitivity')} and specificity "
                 f"{_value(results, stats, best, 'specificity')} {where}.")
    lines = [line]
    lines += _classical_vs_deep(results, stats, facts)
    lines += audit_report.summary_line(results)
    floor = next((g for g in groups if g["family"] == "baseline"), None)
    if floor:
        acc, auc = (tables.fmt((floor["metrics"].get(m) or {}).get("mean")) for m in ("accuracy", "roc_auc"))
        lines.append(f"- Floor ({escape_md(floor['name'])}): accuracy {acc}, ROC-AUC {auc}: what knowing only the class "
                     "balance achieves.")
    return lines


def _classical_vs_deep(results: dict[str, Any], stats: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    head = stats.get("headline")
    families = {g["family"] for g in stats["pipelines"]}
    if not head:
        missing = [f for f in ("classical", "deep") if f not in families]
        failed = [f for f in facts["failed"] if f["family"] in missing]
        why = (" (it failed)" if failed else
               f"; add one to `--pipelines` (e.g. {' and '.join(_EXAMPLE[f] for f in missing)}) to compare them")
        return [f"- No {' or '.join(missing)} pipeline finished in this run{why}, so there is no classical-vs-deep "
                f"comparison.", *_failures(facts), *_deep_lines(facts)]
    c, d = _group(stats, head["classical"]), _group(stats, head["deep"])
    comps = [x for x in head["comparisons"] if x["paired"]]
    test = "DeLong" if stats["settings"]["roc_auc_test"].startswith("DeLong") else "paired-bootstrap"
    out = [f"- **Classical vs deep:** best classical **{escape_md(c['name'])}** vs best deep **{escape_md(d['name'])}**: ROC-AUC "
           f"{_value(results, stats, c, 'roc_auc')} vs {_value(results, stats, d, 'roc_auc')}."]
    if len(comps) == 1:
        x = comps[0]
        auc, acc = x["roc_auc"] or {}, x["accuracy"]
        out.append(f"  Difference (classical − deep): ROC-AUC {tables.fmt_diff(auc.get('diff'), auc.get('ci'))}, "
                   f"{test} {tables.fmt_p_eq(auc.get('p'))}; accuracy {tables.fmt_diff(acc['diff'], acc['ci'])}, "
                   f"McNemar {tables.fmt_p_eq(x['mcnemar']['p'])}.")
    elif comps:
        ms = head.get("roc_auc_diff") or {"mean": None, "sd": None}  # computed by medbench.records.results.summaries
        mean = "–" if ms["mean"] is None else tables.signed(ms["mean"])
        out.append(f"  Difference (classical − deep) in ROC-AUC over {len(comps)} seeds: "
                   f"{mean} ± {ms['sd'] or 0:.3f} (mean ± sd); per seed:")
        for x in comps:
            auc, acc = x["roc_auc"] or {}, x["accuracy"]
            out.append(f"    - seed {x['seed']}: ROC-AUC {tables.fmt_diff(auc.get('diff'), auc.get('ci'))}, "
                       f"{test} {tables.fmt_p_eq(auc.get('p'))}; accuracy {tables.fmt_diff(acc['diff'], acc['ci'])}, "
                       f"McNemar {tables.fmt_p_eq(x['mcnemar']['p'])}")
    lat_c, lat_d = c["runtime"]["latency_ms_per_image"]["mean"], d["runtime"]["latency_ms_per_image"]["mean"]
    if lat_c and lat_d:
        ratio = lat_d / lat_c
        speed = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
        fit_c, fit_d = c["runtime"]["fit_time_s"]["mean"], d["runtime"]["fit_time_s"]["mean"]
        out.append(f"- **Cost:** per image, {escape_md(c['name'])} takes {lat_c:.2f} ms and {escape_md(d['name'])} {lat_d:.2f} ms: "
                   f"the classical pipeline is **{speed}** (training: {tables.fmt(fit_c, 1)} s vs "
                   f"{tables.fmt(fit_d, 1)} s).")
    else:
        speed = None
    out.append("- **Verdict:** " + _verdict(comps, speed, facts))
    out += _deep_lines(facts) + _failures(facts)
    if facts["lower_bound"]:
        out.append(f"  - **A lower bound for deep:** {'; '.join(map(escape_md, facts['lower_bound']))}. A fully trained "
                   "deep model may do better than this comparison shows.")
    return out


#: What to add to --pipelines for a missing family (an example).
_EXAMPLE = {"classical": "`hog-svm`", "deep": "`cnn`"}


def _epochs(d: dict[str, Any]) -> str:
    runs = [e for e in d["epochs_run"] if e is not None]
    if not runs:
        return "epochs not recorded"
    text = str(runs[0]) if len(set(runs)) == 1 else f"{min(runs)}-{max(runs)}"
    limit = f" of at most {d['max_epochs']}" if d.get("max_epochs") is not None else ""
    return f"{text} epoch{'s' if runs != [1] else ''} run{limit}"


def _deep_lines(facts: dict[str, Any]) -> list[str]:
    """What "deep" was here (per deep pipeline) and which deep pipelines did not run, and why."""
    out = []
    for d in facts["deep"]:
        if d["status"] == "ok":
            parts = [_epochs(d), f"weights {escape_md(d['weights'])}", f"strategy {escape_md(d.get('strategy') or '–')}",
                     f"input {escape_md(d.get('input_size') or '–')}",
                     f"profile {escape_code(facts['profile']) if facts['profile'] else 'none (defaults and --option)'}"]
            if d["below_defaults"]:
                parts.append(f"below the pipeline's defaults: {', '.join(map(escape_md, d['below_defaults']))}")
            out.append(f"  - Deep here was **{escape_md(d['name'])}**: {'; '.join(parts)}.")
        elif d["status"] == "not run":
            out.append(f"  - Did not run: **{escape_md(d['name'])}** ({escape_md(d['reason'])}); to include it: {escape_md(d['remedy'])}.")
    return out


def _failures(facts: dict[str, Any]) -> list[str]:
    """Every failed job with its own remedy."""
    return [f"  - Failed: **{escape_md(f['pipeline'])}** ({escape_md(f['family'])}, seed {f['seed']}): {escape_md(_short_error(f['error']).rstrip('.'))}. "
            f"**Fix:** {escape_md(f['remedy'])}." for f in facts["failed"]]


def _short_error(text: str) -> str:
    first = str(text).split("; put ", 1)[0].split("\n", 1)[0]
    if len(first) > 160 and " (" in first:  # e.g. the download's own long message: the remedy says the rest
        first = first.split(" (", 1)[0]
    return first if len(first) <= 200 else first[:199] + "…"


def _mdd_words(facts: dict[str, Any] | None) -> str:
    """``this test set (n = 624) could only have detected ...`` from the power facts."""
    comps = (facts or {}).get("comparisons") or []
    auc = [c["roc_auc"]["mdd"] for c in comps if c["roc_auc"]["mdd"] is not None]
    acc = [c["accuracy"]["mdd"] for c in comps if c["accuracy"]["mdd"] is not None]
    if not comps or (not auc and not acc):
        return ""
    span = lambda v: f"{v[0]:.3f}" if len(v) == 1 else f"{min(v):.3f}-{max(v):.3f}"  # noqa: E731
    n = sorted({c["n"] for c in comps})
    test = comps[0]["roc_auc"]["test"] or "DeLong"
    bits = []
    if auc:
        bits.append(f"a ROC-AUC difference of {span(auc)} ({escape_md(test)})")
    if acc:
        disc = sorted({c['accuracy']['discordant'] for c in comps})
        bits.append(f"an accuracy difference of {span(acc)} (McNemar, {', '.join(map(str, disc))} discordant pairs)")
    seeds = f" in each of {len(comps)} seeds" if len(comps) > 1 else ""
    return (f"; the smallest difference this test set (n = {', '.join(map(str, n))}) could have detected{seeds} "
            f"with power {facts['power']:.0%} at alpha {facts['alpha']:g} is {' or '.join(bits)}: smaller "
            "differences may exist unseen")


def _verdict(comps: list[dict[str, Any]], speed: str | None, facts: dict[str, Any] | None = None) -> str:
    cost = f"the classical pipeline is {speed} per image." if speed else "no latency to compare."
    d = roc_auc_difference(comps)  # the verdict's numbers come from the evaluation, not from here
    if d is None:
        return f"no paired ROC-AUC comparison was possible; {cost}"
    n, mean, sig, direction = d["n"], d["mean"], d["significant"], d["direction"]
    if n == 1:
        if sig:
            return (f"classical is **{direction}** by {abs(mean):.3f} ROC-AUC (significant at the {ALPHA:.0%} level, "
                    f"{tables.fmt_p_eq(d['p'][0])}); {cost}")
        return (f"**no significant ROC-AUC difference** between classical and deep ({tables.signed(mean)}, "
                f"{tables.fmt_p_eq(d['p'][0])}){_mdd_words(facts)}; {cost}")
    if sig == 0:
        return (f"**no significant ROC-AUC difference** between classical and deep in any of {n} seeds "
                f"(mean {tables.signed(mean)}){_mdd_words(facts)}; {cost}")
    return (f"classical is **{direction}** by {abs(mean):.3f} ROC-AUC on average (significant at the {ALPHA:.0%} "
            f"level in {sig} of {n} seeds); {cost}")


def dataset_card(results: dict[str, Any], samples: bool) -> list[str]:
    ds, split = results["dataset"], results["split"]
    src = ds.get("source", {})
    lines = [
        f"- **{escape_md(ds['title'])}** ({escape_code(ds['spec'])}), task: {escape_md(ds.get('task') or '–')}; classes: "
        + ", ".join(f"{escape_md(c)} ({n})" for c, n in ds["class_counts"].items())
        + (f"; positive class: {escape_md(ds['positive_class'])}" if ds.get("positive_class") else ""),
        f"- {ds['n_images']} images, stored as {ds['image_shape'][0]}x{ds['image_shape'][1]} 8-bit {'RGB' if ds.get('channels') == 'rgb' else 'grayscale'}; "
        f"dataset fingerprint {escape_code(ds['fingerprint'][:16])}",
    ]
    if src:
        lines.append("- Source: " + "; ".join(f"{escape_md(k)}: {escape_md(v)}" for k, v in src.items()
                                              if not isinstance(v, dict | list)))
    lines.append(f"- Patient/group ids: {escape_md(ds['group_source'])} ({ds['n_groups']} groups)")
    for key, value in (ds.get("problems") or {}).items():
        lines.append(f"- Note ({escape_md(key)}): {escape_md(_short(value))}")
    lines.append(f"- Split: {escape_md(split['method'])} (split seed {split.get('seed')}); "
                 f"fingerprint {escape_code(split['fingerprint'])}; manifest {escape_code(split.get('manifest', 'split.json'))}")
    for note in split.get("notes", []):
        lines.append(f"- Split note: {escape_md(note)}")
    per_seed = split.get("per_seed") or {}
    if per_seed:
        lines.append("- One split per seed (`--resplit-per-seed`): "
                     + "; ".join(f"seed {escape_md(s)}: {escape_code(p['fingerprint'][:12])} ({escape_md(p.get('manifest', ''))})"
                                 for s, p in per_seed.items())
                     + ". The counts below are the first seed's.")
    counts = split["counts"]
    headers = ["Split", *map(escape_md, ds["class_names"]), "Total"]
    rows = [[escape_md(s), *[str(counts[s].get(c, 0)) for c in ds["class_names"]], str(sum(counts[s].values()))]
            for s in counts]
    out = lines + ["", _table(headers, rows), ""] + _figure(results, "class_distribution")
    if samples:
        out += [f"![Sample images per class](figures/{SAMPLES})", ""]
    else:
        out += [f"*Sample images: `figures/{SAMPLES}` is not in this folder. `medbench run` draws it from the "
                "images; results.json alone cannot recreate it.*", ""]
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if k != "files")
    if isinstance(value, list):
        return ", ".join(map(str, value[:5])) + (" …" if len(value) > 5 else "")
    return str(value)


def _bootstrap_words(stats: dict[str, Any]) -> str:
    s = stats["settings"]
    if s.get("ci_method", "stratified") == "stratified":
        return (f"{s['level']:.0%} CIs are percentile intervals of a stratified bootstrap over the test images "
                f"({s['n_resamples']} resamples, seed {s['seed']}; each class is resampled within itself, so class "
                "counts stay fixed and a constant predictor's accuracy has a zero-width interval)")
    how = {"ordinary": "every metric resampled over all images",
           "by-metric": "sensitivity, specificity, balanced accuracy and ROC-AUC resampled within each class, the "
                        "prevalence-dependent metrics over all images, the ECE's interval bias-corrected (basic: it can lie below "
                        "the estimate, which is biased upwards)",
           "by-metric-v2": "resampled as by-metric; bias-corrected and accelerated (BCa) intervals, a binary "
                           "ROC-AUC's DeLong's on the logit scale, the ECE's that of the debiased ECE, down to 0 "
                           "when perfect calibration is not rejected (it can lie below the estimate, which is "
                           "biased upwards)"}
    return (f"{s['level']:.0%} CIs are bootstrap intervals over the test images ({s['n_resamples']} resamples, seed "
            f"{s['seed']}; method `{s['ci_method']}`: {how.get(s['ci_method'], '')}; measured coverage: "
            "docs/coverage.md)")


def leaderboard_section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    n = tables.n_seeds(stats)
    resplit = bool(results["split"].get("per_seed"))
    if n > 1:
        same = "each seed on its own split" if resplit else "the same split for every seed"
        intro = (f"Ranked by mean test ROC-AUC. Cells: mean ± sd (ddof 1) over {n} seeds ({same}); the per-seed "
                 f"estimates follow with their CIs. {_bootstrap_words(stats)}.")
    else:
        intro = f"Ranked by test ROC-AUC. Cells: estimate [95% CI]. {_bootstrap_words(stats)}."
    out = [intro, "", _table(*tables.leaderboard(results, stats, escape_md)), ""]
    out += _excluded_estimates(results, stats)
    if n > 1:
        out += ["### Per seed", "", _table(*tables.per_seed_table(results, stats, escape_md)), ""]
    out += _figure(results, "leaderboard")
    out += ["### Operating point", ""]
    if len(view.class_names(results)) == 2:
        out += ["Each pipeline's decision threshold on P(positive) was chosen on the validation split (how: *Chosen "
                "by*); sensitivity and specificity are measured on the test split at that threshold, beside the "
                "threshold-free ROC-AUC.", "", _table(*tables.operating_point_table(results, stats, escape_md)), ""]
    else:
        out += ["Multi-class task: the predicted class is the arg-max of the class probabilities (no threshold).", ""]
    return out


def _excluded_estimates(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """A warning naming every job metric whose bootstrap interval does not contain its own estimate (the
    interval is then no guide: usually too few test images, or a class with almost no test images)."""
    hits = []
    basic = {"ece", "classwise_ece"} if stats["settings"].get("ci_method") in ("by-metric", "by-metric-v2") \
        else set()  # bias-corrected: may exclude the plug-in estimate
    for job in tables.ranked(results, stats):
        for metric, value in job["metrics"].items():
            if metric in basic:
                continue
            ci = tables.job_ci(stats, job, metric)
            if (isinstance(value, (int, float)) and not isinstance(value, bool) and ci and None not in ci
                    and math.isfinite(value) and not ci[0] - 1e-9 <= value <= ci[1] + 1e-9):
                hits.append(f"{escape_md(tables.name(job))} (seed {job['seed']}) {escape_md(metric)} {value:.3f} outside "
                            f"[{ci[0]:.3f}, {ci[1]:.3f}]")
    if not hits:
        return []
    return [f"> **Warning: a bootstrap interval excludes its own estimate** ({'; '.join(hits)}). The resamples "
            "do not behave like the test set - a sign of too few test images (or of a class with very few): "
            "treat these intervals, and the figures' error bars (clipped at the estimate), as unreliable.", ""]


def significance_section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    if not stats["comparisons"]:
        return ["Fewer than two pipelines finished (with a seed in common): nothing to compare.", ""]
    ref = _group(stats, stats["reference"])
    s = stats["settings"]
    auc = ("DeLong's test, with its normal-approximation CI" if s["roc_auc_test"].startswith("DeLong")
           else "a paired stratified bootstrap (CI and two-sided p)")
    return [f"Every pipeline against the best one, **{escape_md(ref['name'])}**, on the same test images and seed "
            f"(Δ = pipeline − {escape_md(ref['name'])}). Accuracy: paired bootstrap CI (the same resamples for both) and "
            f"McNemar's test ({escape_md(s['mcnemar'])}) on the images exactly one of the two gets right. ROC-AUC: {auc}. "
            f"In brackets: Holm-adjusted p over the table's comparisons. A CI excluding 0 says the gap is unlikely "
            f"to be test-set noise; variation between training runs shows in the seeds.", "",
            _table(*tables.significance_table(results, stats, escape_md)), ""]


def per_class_section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    out = [_table(*tables.per_class_table(results, stats, escape_md)), ""]
    names = view.class_names(results)
    if len(names) == 2:
        pos = names[view.positive_index(results)]
        out += [f"Confusion counts (positive class: {escape_md(pos)}):", "",
                _table(*tables.confusion_table(results, stats, escape_md)), ""]
    else:
        for job in tables.ranked(results, stats):
            cm = job["metrics"]["confusion_matrix"]
            out += [f"**{escape_md(tables.name(job))}** (seed {job['seed']}; rows: true, columns: predicted)", "",
                    _table(["", *map(escape_md, names)], [[escape_md(names[i]), *map(str, row)] for i, row in enumerate(cm)]), ""]
    return out


def figures_section(results: dict[str, Any]) -> list[str]:
    out = _figure(results, "roc") + _figure(results, "confusion")
    if "training_curves" in planned(results):
        out += _figure(results, "training_curves")
    else:
        out += ["*No training curves: no deep model with a recorded training history in this run.*", ""]
    return out


def _incomplete(results: dict[str, Any]) -> list[str]:
    """A warning above everything when the run was interrupted (jobs its config planned are missing)."""
    note = view.incomplete_note(results)
    if note is None:
        return []
    return [f"> **Warning: {escape_md(note[0].upper() + note[1:])}.** Every figure below covers the finished jobs only; "
            "run the same command again to finish it.", ""]


def parameters_section(results: dict[str, Any]) -> list[str]:
    """Each finished job's parameters: those its tuning grid chose on validation, and those an ``--option``
    fixed (marked, so a reader knows the grid did not pick them)."""
    out = []
    for job in tables.ok_jobs(results):
        params, fixed = job.get("params") or {}, job.get("fixed_by_option") or {}
        if not params and not fixed:
            continue
        cells = [f"{escape_code(k)} = {escape_code(_short(v))}" + (" *(fixed by --option)*" if k in fixed else "")
                 for k, v in sorted({**params, **fixed}.items())]
        out.append(f"- **{escape_md(job.get('name') or job['pipeline'])}**, seed {job['seed']}: {', '.join(cells)}")
    if not out:
        return []
    return ["## Parameters", "", "Chosen on the validation split by each pipeline's tuning grid, unless marked "
            "*fixed by --option*.", "", *out, ""]


def not_run(results: dict[str, Any]) -> list[str]:
    return [f"- **{escape_md(j['pipeline'])}** ({escape_md(j.get('family') or 'unknown')}, seed {j['seed']}): {escape_md(j['error'])}"
            for j in results["jobs"] if j["status"] != "ok"]


def environment(results: dict[str, Any]) -> list[str]:
    env = results.get("environment") or {}
    libs = ", ".join(f"{escape_md(k)} {escape_md(v)}" for k, v in (env.get("libraries") or {}).items())
    lines = [f"- CPU: {escape_md(env.get('cpu'))} ({env.get('cpu_count')} logical CPUs, {env.get('memory_gb')} GB RAM), "
             f"{escape_md(env.get('platform'))}, Python {escape_md(env.get('python'))}"]
    gpus = sorted({(j.get("model_info") or {}).get("device_name") or "GPU" for j in tables.ok_jobs(results)
                   if (j.get("model_info") or {}).get("device") == "gpu"})
    lines.append(f"- GPU: {', '.join(map(escape_md, gpus))}" if gpus else "- GPU: none used (every pipeline ran on the CPU)")
    lines += [f"- Keras backend: {escape_md(env.get('keras_backend'))}", f"- Libraries: {libs}"]
    for job in tables.ok_jobs(results):
        info = job.get("model_info") or {}
        if info.get("device"):
            lines.append(f"- {escape_md(tables.name(job))} (seed {job['seed']}): device {escape_md(info.get('device'))}, backend "
                         f"{escape_md(info.get('backend'))}, precision {escape_md(info.get('precision'))}, "
                         f"batch size {info.get('batch_size')}")
    return lines


def _pipeline_count(results: dict[str, Any], stats: dict[str, Any]) -> str:
    """``2 pipelines``, or ``1 of 2 pipelines finished`` when some planned pipeline has no finished job."""
    finished = len(stats["pipelines"])
    planned = len(set((results.get("config") or {}).get("pipelines") or []) | {j["pipeline"] for j in results["jobs"]})
    if planned <= finished:
        return f"{finished} pipeline{'s' if finished != 1 else ''}"
    return f"{finished} of {planned} pipelines finished"


def render(results: dict[str, Any], stats: dict[str, Any] | None = None, samples: bool = False) -> str:
    """The report's markdown; ``samples``: whether ``figures/samples.png`` exists beside it."""
    stats = tables.stats_of(results, stats)
    ds, split = results["dataset"], results["split"]
    seeds = sorted({j["seed"] for j in tables.ok_jobs(results)})
    parts = [f"# medbench report: {escape_md(ds['title'])}", "",
             f"medbench {escape_md(results.get('medbench_version'))} · schema {results['schema_version']} · "
             f"{escape_md(results.get('created'))} · {_pipeline_count(results, stats)} · "
             f"seeds {', '.join(map(str, seeds)) or '–'} · split {escape_code(split['fingerprint'][:12])}", "",
             *_incomplete(results),
             "## Summary", "", *summary(results, stats), "",
             *_figure(results, "tradeoff", "Each point is a pipeline; the dashed line joins the Pareto front (no "
                                           "other pipeline is both faster and better). The majority floor is not "
                                           "a contender."),
             "## Dataset card", "", *dataset_card(results, samples),
             *audit_report.section(results),
             "## Leaderboard (test split)", "", *leaderboard_section(results, stats),
             *published_report.section(results, stats),
             "## Runtime and memory", "",
             "Latency is end to end (features recomputed, caches off) on a batch of test images; single image is "
             "the median over single-image calls. Means over seeds.", "",
             _table(*tables.runtime_table(results, stats, escape_md)), "",
             "## Calibration and operating point (test split)", "", *calibration_report.section(results, stats),
             *_figure(results, calibration_report.FIGURE_KEY, calibration_report.FIGURE_CAPTION),
             "## Metrics Reloaded (test split)", "", *reloaded_report.section(results, stats),
             *_figure(results, reloaded_report.FIGURE_KEY, reloaded_report.FIGURE_CAPTION),
             "## Significance", "", *significance_section(results, stats),
             "## Per-class metrics (test split)", "", *per_class_section(results, stats),
             "## Figures", "", *figures_section(results),
             "## Most confident mistakes (test split)", "", *gallery_report.section(results, stats),
             *external_report.section(results),
             *robustness_report.section(results, _figure(results, "robustness")),
             *parameters_section(results)]
    missing = not_run(results)
    if missing:
        parts += ["## Not run", "", *missing, ""]
    parts += ["## Environment", "", *environment(results), "",
              "## Reproduce", "", *md_fence(results.get("command", "")), "",
              "Rebuild this report (markdown, HTML, figures) from results.json without re-running: "
              "`medbench report <this folder>`.", ""]
    return "\n".join(parts)
