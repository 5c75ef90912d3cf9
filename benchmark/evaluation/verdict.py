"""The facts the Summary's verdict rests on, as data: what "deep" was, what did not run, and what the tests
could have seen. :func:`facts` is a pure function of results.json (and its statistics); the report only
renders what it returns (:mod:`medbench.reports.markdown`), so ``medbench report`` rebuilds it exactly.

The facts (a plain dict):

* ``profile``: the run's ``--profile`` (or None).
* ``deep``: one entry per deep pipeline that ran, failed, or is in the default run but was left out:
  ``pipeline``, ``name``, ``status`` (``ok`` / ``failed`` / ``not run``), and for ``ok``: ``epochs_run``
  (per seed), ``max_epochs``, ``weights`` (``imagenet`` / ``random`` / ``random (trained from scratch)``),
  ``strategy``, ``input_size``, ``below_defaults`` (``["epochs 2 (default 15)", ...]``: the training
  options of :data:`BUDGET_OPTIONS` set below the pipeline's own default, read from the job record's
  ``option_defaults``); for ``failed`` / ``not run``: ``reason`` and ``remedy``.
* ``failed``: every failed job (any family) with its own ``remedy``: a structured one from the job record
  (e.g. missing ImageNet weights: which file to put in which folder), else what to fix and rerun.
* ``lower_bound``: the reasons the classical-vs-deep comparison is a lower bound for deep (under-trained,
  random initialisation, a default deep pipeline failed or did not run); empty when deep was complete.
* ``floor_only``: only the floor (majority) finished while real pipelines failed - its "best" is no finding.
* ``comparisons``: per seed of the headline (best classical vs best deep), the ROC-AUC and accuracy
  differences with their p-values and the **minimum detectable difference** (power 0.8, alpha 0.05) of the
  test actually used (:mod:`medbench.evaluation.power`): DeLong's from its standard error (the stored interval's
  half-width / z), McNemar's from the discordant pairs ``b + c`` of ``n``.
* ``outcome``: ``better`` / ``worse`` (classical vs deep, significant in at least one seed), ``none`` (no
  significant difference) or None (no paired ROC-AUC comparison).
"""

from __future__ import annotations

from typing import Any

from medbench.evaluation import power
from medbench.models import profiles, registry

ALPHA = power.ALPHA
POWER = power.POWER
#: Training options whose value below the pipeline's own default means a shorter / smaller training than
#: the pipeline is meant to have (option name -> words).
BUDGET_OPTIONS = {"epochs": "epochs", "finetune_epochs": "fine-tuning epochs", "patience": "early-stopping patience"}

__all__ = ["ALPHA", "BUDGET_OPTIONS", "POWER", "facts", "roc_auc_difference"]


def _default_deep() -> list[str]:
    """medbench's own deep pipelines of the default run (``--pipelines all``)."""
    return [s.name for s in registry.resolve(["deep"]) if registry.plugin_of(s.name) is None]


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _below_defaults(job: dict[str, Any]) -> list[str]:
    resolved, defaults = job.get("resolved_options") or {}, job.get("option_defaults") or {}
    out = []
    for key, value in sorted(resolved.items()):
        bare = key.rsplit("__", 1)[-1]
        v, d = _number(value), _number(defaults.get(key))
        if bare in BUDGET_OPTIONS and v is not None and d is not None and v < d:
            out.append(f"{BUDGET_OPTIONS[bare]} {v:g} (default {d:g})")
    return out


def _weights(info: dict[str, Any]) -> str:
    if "transfer_learning" not in info:
        return "random (trained from scratch)"
    kind = (info.get("weights") or {}).get("kind")
    return kind or ("imagenet" if info.get("transfer_learning") else "random")


def _remedy(job: dict[str, Any]) -> str:
    rem = job.get("remedy")
    if isinstance(rem, dict) and rem.get("kind") == "weights missing" and rem.get("file"):
        alt = [f"set {rem['env']}=/path/to/{rem['file']}"] if rem.get("env") else []
        alt.append(f"pass --option {rem.get('option')}=/path/to/{rem['file']}")
        return (f"put {rem['file']} in {rem.get('folder')} ({' or '.join(alt)}), then run the same command "
                f"again (finished jobs are reused)")
    if isinstance(rem, dict) and rem.get("text"):
        return str(rem["text"])
    return "fix what the error names and run the same command again (finished jobs are reused)"


def _deep(results: dict[str, Any], profile: str | None) -> list[dict[str, Any]]:
    jobs = [j for j in results["jobs"] if j.get("family") == "deep"]
    ran = list(dict.fromkeys(j["pipeline"] for j in jobs))
    out = []
    for pipe in ran:
        mine = sorted((j for j in jobs if j["pipeline"] == pipe), key=lambda j: j["seed"])
        ok = [j for j in mine if j["status"] == "ok"]
        if not ok:
            out.append({"pipeline": pipe, "name": pipe, "status": "failed", "seeds": [j["seed"] for j in mine],
                        "reason": mine[0].get("error", ""), "remedy": _remedy(mine[0])})
            continue
        info = ok[0].get("model_info") or {}
        size = info.get("input_size")
        out.append({
            "pipeline": pipe, "name": ok[0].get("name") or pipe, "status": "ok", "seeds": [j["seed"] for j in ok],
            "epochs_run": [(j.get("model_info") or {}).get("epochs_run") for j in ok],
            "best_epoch": [(j.get("model_info") or {}).get("best_epoch") for j in ok],
            "max_epochs": info.get("max_epochs"), "weights": _weights(info), "strategy": info.get("strategy"),
            "input_size": f"{size[0]}x{size[1]}" if isinstance(size, list) and len(size) == 2 else None,
            "below_defaults": _below_defaults(ok[0]),
            "failed_seeds": [j["seed"] for j in mine if j["status"] != "ok"]})
    planned = (results.get("config") or {}).get("pipelines") or []
    for pipe in _default_deep():
        if pipe not in ran and pipe not in planned:
            in_profile = profile in profiles.PROFILES and pipe in profiles.PROFILES[profile].pipelines
            why = (f"not in the {profile!r} profile's pipelines" if profile and not in_profile else "not in --pipelines")
            out.append({"pipeline": pipe, "name": pipe, "status": "not run", "reason": why,
                        "remedy": f"add {pipe} to --pipelines"})
    return out


def _lower_bound(deep: list[dict[str, Any]]) -> list[str]:
    reasons = []
    for d in deep:
        if d["status"] == "ok":
            if d["below_defaults"]:
                reasons.append(f"{d['name']} trained with {', '.join(d['below_defaults'])}")
            if d["weights"] == "random" or (d.get("strategy") or "").find("RANDOM-INIT") >= 0:
                reasons.append(f"{d['name']} started from random weights, not ImageNet")
        else:
            reasons.append(f"{d['name']} {'failed' if d['status'] == 'failed' else 'did not run'}")
    return reasons


def _comparisons(stats: dict[str, Any]) -> list[dict[str, Any]]:
    head = stats.get("headline") or {}
    level = (stats.get("settings") or {}).get("level", 0.95)
    auc_test = (stats.get("settings") or {}).get("roc_auc_test", "")
    out = []
    for x in head.get("comparisons") or []:
        if not x.get("paired"):
            continue
        auc, acc, mc = x.get("roc_auc") or {}, x.get("accuracy") or {}, x.get("mcnemar") or {}
        n = x.get("n")
        discordant = (mc.get("b") or 0) + (mc.get("c") or 0)
        se = power.se_from_interval(auc.get("ci"), level)
        out.append({
            "seed": x["seed"], "n": n,
            "roc_auc": {"diff": auc.get("diff"), "p": auc.get("p"), "test": auc.get("test") or auc_test,
                        "se": se, "mdd": power.normal_mdd(se)},
            "accuracy": {"diff": acc.get("diff"), "p": mc.get("p"), "test": "McNemar", "discordant": discordant,
                         "mdd": power.mcnemar_mdd(n, discordant) if n else None},
        })
    return out


def roc_auc_difference(comparisons: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a verdict states about classical minus deep ROC-AUC, from the headline's paired comparisons (one per
    seed): ``n`` comparisons with a test, ``mean`` difference, ``significant`` (how many at :data:`ALPHA`),
    ``direction`` (``better`` / ``worse``), ``p`` (each comparison's) - or None when no comparison has a test.
    The one place the verdict's words come from (the report and the terminal render it)."""
    aucs = [c["roc_auc"] for c in comparisons if c.get("paired", True) and c.get("roc_auc")
            and c["roc_auc"].get("p") is not None and c["roc_auc"].get("diff") is not None]
    if not aucs:
        return None
    mean = sum(a["diff"] for a in aucs) / len(aucs)
    return {"n": len(aucs), "mean": mean, "significant": sum(a["p"] < ALPHA for a in aucs),
            "direction": "better" if mean > 0 else "worse", "p": [a["p"] for a in aucs]}


def facts(results: dict[str, Any], stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict's facts (see the module docstring) for one run; ``stats``: its statistics section (default:
    the stored one)."""
    stats = stats or results.get("statistics") or {}
    profile = (results.get("config") or {}).get("profile")
    deep = _deep(results, profile)
    failed = [{"pipeline": j["pipeline"], "family": j.get("family") or "unknown", "seed": j["seed"],
               "error": j.get("error", ""), "remedy": _remedy(j)}
              for j in results["jobs"] if j["status"] != "ok"]
    groups = stats.get("pipelines") or []
    comps = _comparisons(stats)
    diff = roc_auc_difference(comps)
    outcome = None if diff is None else ("none" if not diff["significant"] else diff["direction"])
    real_failed = [f for f in failed if f["family"] != "baseline"]
    return {
        "profile": profile, "alpha": ALPHA, "power": POWER, "deep": deep, "failed": failed,
        "lower_bound": _lower_bound(deep) if any(d["status"] == "ok" for d in deep) else [],
        "floor_only": bool(groups) and all(g["family"] == "baseline" for g in groups) and bool(real_failed),
        "comparisons": comps, "outcome": outcome,
    }
