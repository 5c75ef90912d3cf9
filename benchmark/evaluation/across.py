"""Benchmark suites: the statistics *across* datasets that say whether a difference between pipelines holds
beyond a single dataset, the plain-language verdict and the suite.json document (the suite file itself is
:mod:`medbench.running.suitefile`).

Analysis (:func:`analyse`, from the datasets' results.json documents alone):

* per pipeline and dataset: ROC-AUC and balanced accuracy (mean over seeds) with the 95% stratified
  bootstrap CI of the results' ``statistics`` (one seed) or the sd over seeds (several);
* ranks per dataset (1 = best, ties share the average rank) on the analysis metric, and the mean
  rank, over the pipelines that have a value on *every* dataset (others are listed, not ranked);
* the Friedman test over datasets (Demšar, JMLR 7, 2006), decided on the Iman-Davenport F form
  Demšar recommends (the chi-square p-value is shown too), then the Nemenyi post-hoc test: critical
  difference ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentized range quantile
  ``/ sqrt(2)`` (2.343 for k = 3 at alpha 0.05); with two pipelines the Wilcoxon signed-rank test;
* classical vs deep: per dataset the best classical and the best deep pipeline, their paired test on
  the test images (DeLong for a binary ROC-AUC, the paired stratified bootstrap otherwise; read from the
  results' statistics when stored, computed from the stored predictions when not); a *win* needs that
  test significant (with several seeds: significant on every seed, the same way round); plus every
  classical x deep pair's win/tie/loss count (Holm over the pairs within a dataset) and the Wilcoxon
  signed-rank test of the best-classical minus best-deep differences across datasets;
* a plain-language verdict.

Tests across datasets need enough datasets: below :data:`MIN_DATASETS` (5) the analysis gives the
ranks and win/tie/loss counts but no p-value, and says so. The datasets are the sample: the tests
assume they are independent (datasets built from the same images are not).
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.datasets import identity
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import protocol
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.metrics import higher_is_better
from medbench.records import view

#: Fewest datasets for any test across datasets (Friedman/Nemenyi, Wilcoxon): with fewer, the
#: chi-square and F approximations behind the Friedman test are unreliable and the exact two-sided
#: Wilcoxon p-value cannot go below 2 / 2**N (0.125 at N = 4).

SCHEMA = "medbench.suite"
SCHEMA_VERSION = 1
MIN_DATASETS = 5
TABLE_METRICS = ("roc_auc", "balanced_accuracy")
FAMILIES = ("classical", "deep")
SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # a suite or dataset name


# --- per pipeline and dataset ----------------------------------------------------------------------

def _cells(res: dict[str, Any], stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{pipeline: {"name", "family", "seeds", metric: {"value", "sd", "ci"}}}`` for one dataset."""
    out: dict[str, dict[str, Any]] = {}
    for g in stats["pipelines"]:
        cell: dict[str, Any] = {"name": g["name"], "family": g["family"], "seeds": g["seeds"], "status": "ok"}
        for m in TABLE_METRICS:
            ms = g["metrics"].get(m) or {}
            one = len(g["job_ids"]) == 1
            ci = (stats["jobs"].get(g["job_ids"][0]) or {}).get("metrics_ci", {}).get(m) if one else None
            cell[m] = {"value": ms.get("mean"), "sd": ms.get("sd"), "ci": ci}
        out[g["pipeline"]] = cell
    for job in res["jobs"]:
        if job["status"] != "ok" and job["pipeline"] not in out:
            out[job["pipeline"]] = {"name": job.get("name", job["pipeline"]), "family": job.get("family", "unknown"),
                                    "seeds": [job["seed"]], "status": "failed", "error": job.get("error", ""),
                                    **{m: {"value": None, "sd": None, "ci": None} for m in TABLE_METRICS}}
    return out


def _dataset_info(name: str, res: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    ds, split = res["dataset"], res["split"]
    test = sum((split.get("counts", {}).get("test") or {}).values())
    return {"name": name, "title": ds["title"], "spec": ds["spec"], "task": ds.get("task"),
            "class_names": ds["class_names"], "n_images": ds["n_images"], "n_test": test,
            "fingerprint": ds["fingerprint"], "split": split["fingerprint"], "split_method": split["method"],
            "seeds": sorted({j["seed"] for j in res["jobs"]}),
            "failed_jobs": [{"pipeline": j["pipeline"], "seed": j["seed"], "error": j.get("error", "")}
                            for j in res["jobs"] if j["status"] != "ok"],
            "bootstrap": stats["settings"]}


# --- paired tests on one dataset -------------------------------------------------------------------

def _jobs(res: dict[str, Any], pipeline: str) -> dict[int, dict[str, Any]]:
    return {j["seed"]: j for j in view.ok_jobs(res) if j["pipeline"] == pipeline}


def _stored(stats: dict[str, Any], a: str, b: str, seed: int) -> dict[str, Any] | None:
    """The stored ROC-AUC comparison of ``a`` vs ``b`` on ``seed`` (turned round when stored as b vs a)."""
    stored = list(stats.get("comparisons") or []) + list((stats.get("headline") or {}).get("comparisons") or [])
    for c in stored:
        if c["seed"] != seed or not c.get("paired") or not c.get("roc_auc") or c["roc_auc"].get("p") is None:
            continue
        auc = c["roc_auc"]
        if (c["a_pipeline"], c["b_pipeline"]) == (a, b):
            return {"diff": auc["diff"], "ci": auc["ci"], "p": auc["p"], "test": auc.get("test", "DeLong")}
        if (c["a_pipeline"], c["b_pipeline"]) == (b, a):
            ci = None if auc["ci"] is None else [-auc["ci"][1], -auc["ci"][0]]
            return {"diff": -auc["diff"], "ci": ci, "p": auc["p"], "test": auc.get("test", "DeLong")}
    return None


def _computed(res: dict[str, Any], stats: dict[str, Any], ja: dict[str, Any], jb: dict[str, Any],
              metric: str) -> dict[str, Any]:
    """The paired test of jobs ``ja`` - ``jb`` from their stored test predictions (the one rule of
    :mod:`medbench.evaluation.paired`, with the run's own bootstrap settings)."""
    a, b = view.JobView(ja), view.JobView(jb)
    problem = evaluation_paired.pairing_problem(a, b)
    if problem:
        return {"diff": None, "ci": None, "p": None, "test": f"none ({problem})"}
    run = view.RunView(res)
    cfg = stats["settings"]
    boot = evaluation_paired.Bootstraps(run.n_classes, run.positive_index, cfg["n_resamples"], cfg["seed"],
                                        cfg.get("ci_method", "stratified"))  # the run's own resampling
    r = evaluation_paired.paired_metric(a, b, metric, boot, cfg.get("level", protocol.CI_LEVEL))
    return {k: r[k] for k in ("diff", "ci", "p", "test")}


def paired(res: dict[str, Any], stats: dict[str, Any], a: str, b: str, metric: str) -> dict[str, Any]:
    """Pipeline ``a`` against ``b`` on one dataset, seed by seed (same test images): ``diff`` (a - b,
    mean over seeds), ``p`` (the largest p over seeds: significant only if every seed is), ``same_sign``,
    ``test`` and ``per_seed``."""
    ja, jb = _jobs(res, a), _jobs(res, b)
    per_seed = []
    for seed in sorted(set(ja) & set(jb)):
        found = _stored(stats, a, b, seed) if metric == "roc_auc" else None
        per_seed.append({"seed": seed, **(found or _computed(res, stats, ja[seed], jb[seed], metric))})
    diffs = [s["diff"] for s in per_seed]
    ps = [s["p"] for s in per_seed]
    known = bool(per_seed) and all(st.finite(d) for d in diffs) and all(p is not None for p in ps)
    return {"a": a, "b": b, "per_seed": per_seed,
            "diff": float(np.mean(diffs)) if known else None,
            "ci": per_seed[0]["ci"] if known and len(per_seed) == 1 else None,
            "p": max(ps) if known else None,  # intersection-union: every seed must be significant
            "same_sign": known and (all(d > 0 for d in diffs) or all(d < 0 for d in diffs)),
            "test": per_seed[0]["test"] if per_seed else "none (no seed in common)"}


def _outcome(p: float | None, diff: float | None, same_sign: bool, alpha: float) -> str:
    """``win`` (a significantly better), ``loss``, ``tie`` (not significant) or ``untested``."""
    if p is None or diff is None:
        return "untested"
    if p < alpha and same_sign:
        return "win" if diff > 0 else "loss"
    return "tie"


# --- across datasets -------------------------------------------------------------------------------

def _cliques(order: list[str], mean: dict[str, float], cd: float | None) -> list[list[str]]:
    """Groups of pipelines (in mean-rank order) whose ranks lie within ``cd`` of each other: the bars
    of a critical-difference diagram (maximal groups of two or more; ``cd`` None: one group of all)."""
    if cd is None:
        return [order] if len(order) > 1 else []
    groups: list[list[str]] = []
    for i, a in enumerate(order):
        members = [b for b in order[i:] if mean[b] - mean[a] <= cd + 1e-12]
        if len(members) > 1 and not any(set(members) <= set(g) for g in groups):
            groups.append(members)
    return groups


def _ranks(names: list[str], cells: dict[str, dict[str, dict[str, Any]]], pipelines: list[str],
           metric: str) -> dict[str, Any]:
    """Ranks (1 = best) per dataset over the pipelines with a value on every dataset."""
    complete, excluded = [], []
    for p in pipelines:
        missing = [d for d in names if not st.finite(((cells[d].get(p) or {}).get(metric) or {}).get("value"))]
        if missing:
            why = ", ".join(f"{d} ({(cells[d].get(p) or {}).get('status', 'not run')})" for d in missing)
            excluded.append({"pipeline": p, "reason": f"no {metric} on {why}"})
        else:
            complete.append(p)
    scores = np.array([[cells[d][p][metric]["value"] for p in complete] for d in names], dtype=float)
    scores = scores.reshape(len(names), len(complete))
    if names and complete:
        sign = -1.0 if higher_is_better(metric) else 1.0  # rank 1 = best in the metric's direction
        ranks = np.vstack([sps.rankdata(sign * row, method="average") for row in scores])
    else:
        ranks, complete = np.zeros((len(names), 0)), []
    mean = {p: float(ranks[:, i].mean()) for i, p in enumerate(complete)}
    order = sorted(complete, key=lambda p: (mean[p], complete.index(p)))
    return {"pipelines": order, "excluded": excluded, "mean": mean, "scores": scores, "matrix": ranks,
            "complete": complete,
            "per_dataset": {d: {p: float(ranks[i, complete.index(p)]) for p in complete} for i, d in enumerate(names)}}


def _omnibus(rk: dict[str, Any], n: int, alpha: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The test across datasets (Friedman, or Wilcoxon for two pipelines) and the Nemenyi post-hoc."""
    k = len(rk["pipelines"])
    base = {"n_datasets": n, "k": k, "min_datasets": MIN_DATASETS, "alpha": alpha}
    if k < 2:
        why = f"{count(k, 'pipeline')} with a value on every dataset, and a ranking needs at least 2"
        return {**base, "status": "too_few_pipelines", "test": None, "significant": False, "reason": why}, None
    test = "Friedman" if k > 2 else "Wilcoxon signed-rank"
    if n < MIN_DATASETS:
        return {**base, "status": "too_few_datasets", "test": test, "significant": False,
                "reason": f"{_too_few(n)} (below that the Friedman test's approximations are unreliable, and "
                          f"with N = {n} a two-sided Wilcoxon p-value cannot go below 2/2^N = {2 / 2 ** n:.3g}); "
                          f"the ranks describe these datasets only"}, None
    scores = rk["scores"]
    if k == 2:
        d = scores[:, 0] - scores[:, 1]
        p = st.wilcoxon_p(d)
        return {**base, "status": "ok", "test": test, "p": p, "significant": p < alpha,
                "pair": rk["complete"]}, None
    fr = st.friedman(scores)
    sig = fr["p"] < alpha
    omni = {**base, "status": "ok", "test": test, **fr, "significant": sig,
            "decision": "Iman-Davenport F (Demšar 2006); the chi-square p is shown for reference"}
    cd = st.critical_difference(k, n, alpha)
    order, mean = rk["pipelines"], rk["mean"]
    pairs = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            diff = mean[b] - mean[a]
            p = st.nemenyi_p(diff, k, n)
            pairs.append({"better": a, "worse": b, "rank_diff": diff, "p": min(1.0, p),
                          "significant": bool(sig and diff > cd)})
    post = {"method": "Nemenyi", "alpha": alpha, "q_alpha": st.nemenyi_q(k, alpha), "cd": cd, "applies": sig,
            "pairs": pairs, "cliques": _cliques(order, mean, cd if sig else None)}
    return omni, post


def _best(cells: dict[str, dict[str, Any]], family: str, metric: str) -> str | None:
    """The family's best pipeline on one dataset by ``metric`` first, then the ranking rule
    (:func:`medbench.records.results.rank_key`)."""
    cands = [p for p, c in cells.items() if c["family"] == family and st.finite(c[metric]["value"])]
    if not cands:
        return None
    return min(cands, key=lambda p: evaluation.rank_key({m: cells[p][m]["value"] for m in TABLE_METRICS}, p,
                                                         first=metric))


def _family_comparison(runs: list[tuple[str, dict[str, Any], dict[str, Any]]],
                       cells: dict[str, dict[str, dict[str, Any]]], metric: str, alpha: float,
                       rk: dict[str, Any]) -> dict[str, Any]:
    """Best classical vs best deep per dataset, every classical x deep pair, and the test across datasets."""
    rows = []
    for name, res, stats in runs:
        c, d = _best(cells[name], "classical", metric), _best(cells[name], "deep", metric)
        if c is None or d is None:
            missing = " and ".join(f for f, p in (("classical", c), ("deep", d)) if p is None)
            rows.append({"dataset": name, "classical": c, "deep": d, "outcome": "untested", "diff": None,
                         "ci": None, "p": None, "test": "none", "reason": f"no successful {missing} pipeline"})
            continue
        t = paired(res, stats, c, d, metric)
        rows.append({"dataset": name, "classical": c, "deep": d, "diff": t["diff"], "ci": t["ci"], "p": t["p"],
                     "test": t["test"], "n_seeds": len(t["per_seed"]),
                     "outcome": _outcome(t["p"], t["diff"], t["same_sign"], alpha)})
    counts = {o: sum(r["outcome"] == o for r in rows) for o in ("win", "tie", "loss", "untested")}
    diffs = [cells[r["dataset"]][r["classical"]][metric]["value"] - cells[r["dataset"]][r["deep"]][metric]["value"]
             for r in rows if r["classical"] and r["deep"]]
    n = len(diffs)
    across: dict[str, Any] = {"test": "Wilcoxon signed-rank test of the per-dataset differences best classical - best deep",
                              "n_datasets": n, "min_datasets": MIN_DATASETS}
    if n == 0:
        across.update(status="no_pairs", p=None, significant=False,
                      reason="no dataset has both a successful classical and a successful deep pipeline")
    elif n < MIN_DATASETS:
        across.update(status="too_few_datasets", p=None, significant=False,
                      reason=f"{_too_few(n)} with both a classical and a deep pipeline (with N = {n} a two-sided "
                             f"Wilcoxon p-value cannot go below 2/2^N = {2 / 2 ** n:.3g})")
    else:
        d = np.asarray(diffs)
        p = st.wilcoxon_p(d)
        across.update(status="ok", p=p, significant=p < alpha, median_diff=float(np.median(d)),
                      higher={"classical": int(np.sum(d > 0)), "deep": int(np.sum(d < 0)), "equal": int(np.sum(d == 0))})
    pairs = _pair_matrix(runs, rk, cells, metric, alpha)
    return {"metric": metric, "rows": rows, "counts": counts, "across": across, "pairs": pairs}


def _pair_matrix(runs, rk, cells, metric: str, alpha: float) -> list[dict[str, Any]]:
    """Win/tie/loss of every classical x deep pair (ranked pipelines) across datasets; within a
    dataset the pairs' p-values are Holm-adjusted."""
    classical = [p for p in rk["pipelines"] if cells[runs[0][0]][p]["family"] == "classical"] if runs else []
    deep = [p for p in rk["pipelines"] if cells[runs[0][0]][p]["family"] == "deep"] if runs else []
    pairs = [(c, d) for c in classical for d in deep]
    table = {pair: {"classical": pair[0], "deep": pair[1], "win": 0, "tie": 0, "loss": 0, "untested": 0,
                    "per_dataset": {}} for pair in pairs}
    for name, res, stats in runs:
        tests = [paired(res, stats, c, d, metric) for c, d in pairs]
        adjusted = st.holm([t["p"] for t in tests])
        for pair, t, p_adj in zip(pairs, tests, adjusted):
            outcome = _outcome(p_adj, t["diff"], t["same_sign"], alpha)
            table[pair][outcome] += 1
            table[pair]["per_dataset"][name] = {"diff": t["diff"], "p": t["p"], "p_holm": p_adj, "outcome": outcome}
    return list(table.values())


def analyse(runs: Sequence[tuple[str, dict[str, Any]]], *, metric: str = "roc_auc", alpha: float = protocol.ALPHA,
            failed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The cross-dataset analysis of ``runs`` (``(dataset name, results.json dict)`` pairs, in suite
    order); ``failed`` names datasets that produced no results (name -> error). JSON-ready and
    deterministic (the statistics are read from each results file, or computed with its settings)."""
    if metric not in protocol.RANK_METRICS:
        raise MedbenchError(f"analysis metric {metric!r} is not one of {', '.join(protocol.RANK_METRICS)}")
    if not 0 < alpha <= 0.5:
        raise MedbenchError(f"alpha {alpha} must be in (0, 0.5]")
    names = [name for name, _ in runs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise MedbenchError(f"dataset name {dup!r} is given twice: each dataset of a suite needs its own name")
    shared = _shared([(name, res, None) for name, res in runs])
    duplicates = _duplicates(runs)
    left_out = {d["name"] for d in duplicates}
    runs = [(name, res) for name, res in runs if name not in left_out]
    names = [name for name, _ in runs]
    with_stats = [(name, res, evaluation.statistics(res)) for name, res in runs]
    cells = {name: _cells(res, stats) for name, res, stats in with_stats}
    pipelines = list(dict.fromkeys(p for name in names for p in cells[name]))
    rk = _ranks(names, cells, pipelines, metric)
    omni, post = _omnibus(rk, len(names), alpha)
    families = _family_comparison(with_stats, cells, metric, alpha, rk)
    order = rk["pipelines"] + [p for p in pipelines if p not in rk["pipelines"]]
    info = {p: next((cells[d][p] for d in names if p in cells[d]), {}) for p in order}
    analysis = {
        "metric": metric, "alpha": alpha, "min_datasets": MIN_DATASETS,
        "datasets": [_dataset_info(name, res, stats) for name, res, stats in with_stats],
        "failed_datasets": [{"name": k, "error": v} for k, v in (failed or {}).items()],
        "pipelines": [{"pipeline": p, "name": info[p].get("name", p), "family": info[p].get("family", "unknown"),
                       "mean_rank": rk["mean"].get(p)} for p in order],
        "cells": {p: {d: cells[d][p] for d in names if p in cells[d]} for p in order},
        "ranks": {"pipelines": rk["pipelines"], "mean": rk["mean"], "per_dataset": rk["per_dataset"],
                  "excluded": rk["excluded"]},
        "omnibus": omni,
        "posthoc": post,
        "classical_vs_deep": families,
        "shared_data": shared,
        "duplicates": duplicates,
    }
    analysis["verdict"] = verdict(analysis)
    return analysis


def _duplicates(runs: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, str]]:
    """Every dataset after the first with the same fingerprint (the same data under another name), with
    the dataset it repeats: left out of the analysis, since a test across datasets counting the same data
    twice treats one sample as several (six copies of one dataset gave a 'significant' Wilcoxon p)."""
    out = []
    for group in identity.groups([(name, _identity_keys(res)) for name, res in runs]):
        out += [{"name": name, "same_as": group[0]} for name in group[1:]]
    return out


def _identity_keys(res: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two datasets the same data (:mod:`medbench.datasets.identity`): the fingerprint, or the resolved
    source (the same folder read at another image size has another fingerprint but is the same data)."""
    ds = res["dataset"]
    return (("fingerprint", ds["fingerprint"]), ("source", identity.source_identity(ds.get("spec"), ds.get("task"))))


def duplicate_note(dup: dict[str, str]) -> str:
    """One line on a dataset left out as a duplicate."""
    return (f"dataset {dup['name']} is the same data as {dup['same_as']} (same fingerprint or source): left out of the "
            f"analysis and the tests across datasets (the same data twice is not two independent samples)")


def _shared(runs) -> list[list[str]]:
    """Datasets that are the same data (same fingerprint): not independent samples."""
    return identity.groups([(name, _identity_keys(res)) for name, res, _ in runs])


def count(n: int, word: str) -> str:
    """``1 dataset``, ``3 datasets``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _too_few(n: int) -> str:
    return f"only {count(n, 'dataset')}, and medbench tests across datasets from {MIN_DATASETS} on"


# --- the verdict -----------------------------------------------------------------------------------

def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def verdict(analysis: dict[str, Any]) -> list[str]:
    """Plain-language conclusions, one sentence each (names as in the results; the report escapes them)."""
    metric = {"roc_auc": "ROC-AUC", "balanced_accuracy": "balanced accuracy"}[analysis["metric"]]
    names = {p["pipeline"]: p["name"] for p in analysis["pipelines"]}
    n = len(analysis["datasets"])
    lines = []
    if analysis["failed_datasets"]:
        lines.append(f"{count(len(analysis['failed_datasets']), 'dataset')} produced no results "
                     f"({_and([f['name'] for f in analysis['failed_datasets']])}) and are left out.")
    rk, omni, post = analysis["ranks"], analysis["omnibus"], analysis["posthoc"]
    if rk["pipelines"]:
        best = rk["pipelines"][0]
        lines.append(f"On {count(n, 'dataset')}, {names[best]} has the best mean rank by {metric} "
                     f"({rk['mean'][best]:.2f}; 1 = best of {len(rk['pipelines'])} pipelines).")
    if omni["status"] != "ok":
        lines.append(f"No test across datasets: {omni['reason']}.")
    elif omni["test"] == "Friedman":
        if not omni["significant"]:
            lines.append(f"The Friedman test finds no difference between the pipelines' ranks across datasets "
                         f"({_fmt_p(omni['p'])}, alpha {omni['alpha']}): no pipeline is shown to be better in general.")
        else:
            lines.append(f"The Friedman test finds that the pipelines' ranks differ across datasets "
                         f"({_fmt_p(omni['p'])}).")
            sig = [p for p in post["pairs"] if p["significant"]]
            if sig:
                lines.append(f"Nemenyi (critical difference {post['cd']:.2f} ranks): "
                             + "; ".join(f"{names[p['better']]} is better than {names[p['worse']]}" for p in sig)
                             + "; every other pair is within the critical difference.")
            else:
                lines.append(f"No pair of pipelines differs by more than Nemenyi's critical difference "
                             f"({post['cd']:.2f} ranks): which pipelines differ cannot be said.")
    else:
        a, b = omni["pair"]
        lines.append(f"Wilcoxon signed-rank test of {names[a]} vs {names[b]} across datasets: {_fmt_p(omni['p'])}"
                     + (" (a difference)." if omni["significant"] else " (no difference shown)."))
    fam = analysis["classical_vs_deep"]
    tested = [r for r in fam["rows"] if r["outcome"] != "untested"]
    if tested:
        c = fam["counts"]
        lines.append(f"Best classical vs best deep pipeline, per dataset (paired test on the test images, "
                     f"alpha {analysis['alpha']}): classical wins {c['win']}, ties {c['tie']}, loses {c['loss']}"
                     + (f", untested {c['untested']}" if c["untested"] else "") + ".")
        across = fam["across"]
        if across["status"] == "ok":
            lead, trail = (("classical", "deep") if across["median_diff"] > 0 else ("deep", "classical"))
            lines.append(f"Across datasets, the best {lead} pipeline scores higher than the best {trail} one "
                         f"(Wilcoxon signed-rank, {_fmt_p(across['p'])}; median difference "
                         f"{across['median_diff']:+.3f})." if across["significant"] else
                         f"Across datasets, neither family's best pipeline is shown to score higher (Wilcoxon "
                         f"signed-rank, {_fmt_p(across['p'])}).")
        else:
            lines.append("Too few datasets to test classical against deep across datasets; the counts above "
                         "describe these datasets only.")
    elif fam["rows"]:
        why = sorted({r.get("reason") or r["test"] for r in fam["rows"]})
        lines.append(f"Classical and deep pipelines are not compared: {'; '.join(why)}.")
    for group in analysis["shared_data"]:
        lines.append(f"Datasets {_and(group)} are the same data (same fingerprint or source): they are not independent"
                     + (f"; only {group[0]} is analysed." if analysis.get("duplicates") else "."))
    return lines


# --- the suite.json document -----------------------------------------------------------------------

def document(suite: Any, analysis: dict[str, Any], datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """suite.json: the suite as run, each dataset's status and results folder, and the analysis."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "medbench_version": __version__,
            "suite": suite.to_dict(), "datasets": datasets, "analysis": analysis}


SUITE_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "medbench suite.json",
    "type": "object",
    "required": ["schema", "schema_version", "suite", "datasets"],
    "properties": {
        "schema": {"const": SCHEMA},
        "schema_version": {"type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION},
        "suite": {"type": "object", "required": ["name", "title", "file", "datasets", "metric", "alpha"],
                  "properties": {"name": {"type": "string", "pattern": SLUG}, "title": {"type": "string"},
                                 "note": {"type": "string"}, "file": {"type": "string"},
                                 "metric": {"enum": list(protocol.RANK_METRICS)},
                                 "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
                                 "datasets": {"type": "array", "items": {
                                     "type": "object", "required": ["name", "dataset", "written"],
                                     "properties": {"name": {"type": "string", "pattern": SLUG},
                                                    "dataset": {"type": "string"}, "written": {"type": "string"}}}}}},
        "datasets": {"type": "array", "items": {
            "type": "object", "required": ["name", "status", "results"],
            "properties": {"name": {"type": "string", "pattern": SLUG}, "status": {"enum": ["ok", "error"]},
                           "results": {"type": "string"}, "error": {"type": "string"}}}},
        "analysis": {"type": "object"},
    },
}
