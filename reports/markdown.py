"""report.md: the human-readable report of one run, built with tabulate from results.json alone."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from reports import tables


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def summary(results: dict[str, Any]) -> list[str]:
    ranked = tables.ranked(results)
    if not ranked:
        return ["No pipeline finished; see *Not run* below."]
    best = ranked[0]
    lines = [f"- Best pipeline by test ROC-AUC: **{best['name']}** "
             f"(ROC-AUC {tables.fmt(best['metrics']['roc_auc'])}, accuracy {tables.fmt(best['metrics']['accuracy'])})."]
    by_family = {}
    for job in ranked:
        by_family.setdefault(job["family"], job)
    if "classical" in by_family and "deep" in by_family:
        c, d = by_family["classical"], by_family["deep"]
        diff = (c["metrics"]["roc_auc"] or 0) - (d["metrics"]["roc_auc"] or 0)
        speed = d["runtime"]["latency_ms_per_image"] / max(c["runtime"]["latency_ms_per_image"], 1e-9)
        lines.append(f"- Best classical: **{c['name']}** vs best deep: **{d['name']}**: ROC-AUC difference "
                     f"{diff:+.3f} (classical − deep); the classical pipeline is {speed:.1f}x "
                     f"{'faster' if speed >= 1 else 'slower'} per image.")
    if "baseline" in by_family:
        b = by_family["baseline"]
        lines.append(f"- Floor (majority class): accuracy {tables.fmt(b['metrics']['accuracy'])}.")
    return lines


def dataset_card(results: dict[str, Any]) -> list[str]:
    ds, split = results["dataset"], results["split"]
    src = ds.get("source", {})
    lines = [
        f"- **{ds['title']}** (`{ds['spec']}`), task: {ds.get('task') or '–'}; classes: "
        + ", ".join(f"{c} ({n})" for c, n in ds["class_counts"].items())
        + (f"; positive class: {ds['positive_class']}" if ds.get("positive_class") else ""),
        f"- {ds['n_images']} images, stored as {ds['image_shape'][0]}x{ds['image_shape'][1]} 8-bit grayscale; "
        f"dataset fingerprint `{ds['fingerprint'][:16]}`",
    ]
    if src:
        lines.append("- Source: " + "; ".join(f"{k}: {v}" for k, v in src.items() if not isinstance(v, dict | list)))
    lines.append(f"- Patient/group ids: {ds['group_source']} ({ds['n_groups']} groups)")
    for key, value in (ds.get("problems") or {}).items():
        lines.append(f"- Note ({key}): {_short(value)}")
    lines.append(f"- Split: {split['method']} (split seed {split['seed']}); "
                 f"fingerprint `{split['fingerprint']}`; manifest `{split.get('manifest', 'split.json')}`")
    for note in split.get("notes", []):
        lines.append(f"- Split note: {note}")
    counts = split["counts"]
    headers = ["Split", *ds["class_names"], "Total"]
    rows = [[s, *[str(counts[s][c]) for c in ds["class_names"]], str(sum(counts[s].values()))] for s in counts]
    return lines + ["", _table(headers, rows)]


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if k != "files")
    if isinstance(value, list):
        return ", ".join(map(str, value[:5])) + (" …" if len(value) > 5 else "")
    return str(value)


def confusion_matrices(results: dict[str, Any]) -> list[str]:
    names = results["dataset"]["class_names"]
    out = []
    for job in tables.ranked(results):
        cm = job["metrics"]["confusion_matrix"]
        out += [f"**{job['name']}** (seed {job['seed']}; rows: true, columns: predicted)", "",
                _table(["", *names], [[names[i], *map(str, row)] for i, row in enumerate(cm)]), ""]
    return out


def not_run(results: dict[str, Any]) -> list[str]:
    return [f"- **{j['pipeline']}** (seed {j['seed']}): {j['error']}" for j in results["jobs"] if j["status"] != "ok"]


def environment(results: dict[str, Any]) -> list[str]:
    env = results["environment"]
    libs = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items())
    lines = [f"- {env.get('cpu')} ({env.get('cpu_count')} logical CPUs, {env.get('memory_gb')} GB RAM), "
             f"{env.get('platform')}, Python {env.get('python')}",
             f"- Keras backend: {env.get('keras_backend')}", f"- Libraries: {libs}"]
    for job in tables.ok_jobs(results):
        info = job.get("model_info") or {}
        if info.get("device"):
            lines.append(f"- {job['name']}: device {info.get('device')}, backend {info.get('backend')}, "
                         f"precision {info.get('precision')}, batch size {info.get('batch_size')}")
    return lines


def render(results: dict[str, Any]) -> str:
    ds = results["dataset"]
    parts = [f"# medbench report: {ds['title']}", "",
             f"medbench {results['medbench_version']} · schema {results['schema_version']} · {results['created']}", "",
             "## Summary", "", *summary(results), "",
             "## Dataset card", "", *dataset_card(results), "",
             "## Leaderboard (test split)", "",
             "Thresholds were chosen on the validation split (max Youden's J); the test split was scored once.", "",
             _table(*tables.leaderboard(results)), "",
             "## Runtime and memory", "",
             "Latency is end to end (features recomputed, caches off) on a batch of test images.", "",
             _table(*tables.runtime_table(results)), "",
             "## Per-class metrics (test split)", "", _table(*tables.per_class_table(results)), "",
             "## Confusion matrices (test split)", "", *confusion_matrices(results)]
    missing = not_run(results)
    if missing:
        parts += ["## Not run", "", *missing, ""]
    parts += ["## Environment", "", *environment(results), "",
              "## Reproduce", "", "```", results.get("command", ""), "```", ""]
    return "\n".join(parts)
