"""MODEL_CARD.md of a saved pipeline: what it is, what it was trained on, how it scored, how to use it.

:func:`render` is a pure function of a facts dict; :func:`facts` assembles that dict from a saved
model's ``model.json`` (:func:`medbench.models.persist.read_meta`), the runner's job record (test
``metrics`` and ``runtime``) and, when the run computed them, the job's 95% bootstrap intervals
(``results["statistics"]["jobs"][job_id]["metrics_ci"]``); :func:`medbench.api.write_model_card` does
both and adds the card to the model folder's manifest. Every data string (pipeline, class and dataset names, paths, options)
is escaped with :mod:`medbench.reports.escape`, so it shows literally and never becomes markup.

The facts dict: ``pipeline``, ``name``, ``seed``, ``family``, ``summary``, ``steps``, ``params``,
``options``, ``class_names``, ``positive_class`` (index or None), ``threshold`` (the runner's
threshold dict or None), ``input`` (the image representation), ``dataset`` (the dataset card),
``split`` (``fingerprint``, ``method``, ``seed``, ``counts``), ``metrics`` and ``metrics_ci``
(optional), ``runtime`` (optional), ``size_bytes``, ``files`` (count), ``medbench_version``,
``source_hash``, ``libraries``, ``saved``, ``caveats`` (list of strings).
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.metrics import HEADLINE, RUNTIME_KEYS, label
from medbench.reports import tables
from medbench.reports.escape import md as escape_md
from medbench.reports.escape import md_code as escape_code

#: Dataset names whose images come from Kermany et al. 2018 (one Guangzhou paediatric centre).
KERMANY_DERIVED = ("pneumoniamnist", "chest_xray", "chest-xray", "chest_xray_pneumonia", "coronahack")
SPECIFICITY_GAP = 0.10  # sensitivity - specificity above this is called out


def _kermany_derived(dataset: dict[str, Any]) -> bool:
    words = " ".join(str(dataset.get(k) or "") for k in ("name", "spec", "title")).lower()
    return any(name in words for name in KERMANY_DERIVED)


def caveats(meta: dict[str, Any], metrics: dict[str, Any] | None) -> list[str]:
    """Dataset-shift and use caveats for a model (plain text; rendered escaped)."""
    ds = meta.get("dataset") or {}
    rep = meta.get("input") or {}
    out = [
        "Research use only: this model has not been validated for clinical decisions and must not be used "
        "to diagnose or treat anyone.",
        f"It has only seen images from {ds.get('title') or ds.get('name') or 'its training dataset'}; its "
        f"figures hold for images like those (same modality, view, population and acquisition). Other "
        f"hospitals, scanners, adult patients or other views are a dataset shift: expect lower and "
        f"differently balanced accuracy, and re-check the threshold on local validation data first.",
        f"Every input is reduced to {rep.get('height')}x{rep.get('width')} grayscale without keeping the aspect "
        f"ratio; details smaller than that resolution cannot inform the prediction.",
    ]
    if _kermany_derived(ds):
        out.append("The images derive from Kermany et al. (2018): paediatric (1-5 years) chest X-rays from one "
                   "centre in Guangzhou, with several images per patient. On Kermany-derived test sets "
                   "classifiers typically find pneumonia easily but reach a clearly lower specificity (normal "
                   "images called pneumonia); the same pattern, and worse, is expected elsewhere.")
    if rep.get("note"):
        out.append(str(rep["note"]) + ".")
    m = metrics or {}
    sens, spec = m.get("sensitivity"), m.get("specificity")
    if isinstance(sens, (int, float)) and isinstance(spec, (int, float)) and sens - spec > SPECIFICITY_GAP:
        out.append(f"On this test split specificity ({spec:.3f}) is well below sensitivity ({sens:.3f}): about "
                   f"{1 - spec:.0%} of normal images are predicted positive at the stored threshold.")
    return out


def facts(meta: dict[str, Any], *, record: dict[str, Any] | None = None,
          metrics_ci: dict[str, Any] | None = None, size_bytes: int | None = None,
          n_files: int | None = None) -> dict[str, Any]:
    """The facts :func:`render` shows, from ``model.json`` and (optional) the job record and its CIs."""
    record = record or {}
    metrics = record.get("metrics")
    return {
        "pipeline": meta.get("pipeline"),
        "name": record.get("name") or meta.get("pipeline"),
        "seed": meta.get("seed"),
        "family": meta.get("family") or record.get("family"),
        "summary": meta.get("summary") or record.get("summary"),
        "steps": [s.get("name") for s in meta.get("steps", [])],
        "step_classes": [s.get("class") for s in meta.get("steps", [])],
        "params": meta.get("params") or record.get("params") or {},
        "options": meta.get("options") or {},
        "class_names": meta.get("class_names") or [],
        "positive_class": meta.get("positive_class"),
        "threshold": meta.get("threshold"),
        "input": meta.get("input") or {},
        "dataset": meta.get("dataset") or {},
        "split": meta.get("split") or {},
        "metrics": metrics,
        "metrics_ci": metrics_ci or {},
        "runtime": record.get("runtime") or {},
        "size_bytes": size_bytes,
        "files": n_files,
        "medbench_version": meta.get("medbench_version"),
        "source_hash": (meta.get("source_hash") or {}).get("sha256"),
        "libraries": meta.get("libraries") or {},
        "saved": meta.get("saved"),
        "caveats": caveats(meta, metrics),
    }


_num = tables.fmt_num


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "–"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]


def _operating_point(f: dict[str, Any]) -> str:
    names, pos, thr = f["class_names"], f["positive_class"], f["threshold"]
    if thr is None or pos is None or len(names) != 2:
        return "the most probable class (no threshold: more than two classes)"
    method = f" ({escape_md(thr['method'])}" + (f", J = {_num(thr.get('youden_j'))})" if "youden_j" in thr else ")")
    return (f"{escape_md(names[pos])} when P({escape_md(names[pos])}) ≥ {_num(thr['threshold'], 4)}, otherwise "
            f"{escape_md(names[1 - pos])}{method}")


def _what(f: dict[str, Any]) -> list[str]:
    ds = f["dataset"]
    rep = f["input"]
    lines = [
        "## What it is", "",
        f"- Pipeline: {escape_code(f['pipeline'])}" + (f" – {escape_md(f['summary'])}" if f.get("summary") else "")
        + (f" (family {escape_md(f['family'])})" if f.get("family") else ""),
        "- Steps: " + " → ".join(escape_code(s) for s in f["steps"]),
        "- Chosen on validation / set by option: "
        + (", ".join(f"{escape_code(k)} = {escape_code(v)}" for k, v in sorted(f["params"].items())) or "nothing (no tuning grid)"),
    ]
    if f["options"]:
        lines.append("- Options: " + ", ".join(f"{escape_code(k)}={escape_code(v)}" for k, v in sorted(f["options"].items())))
    lines += [
        "- Task: " + (escape_md(ds.get("task")) if ds.get("task") else f"{len(f['class_names'])} classes") + "; classes: "
        + ", ".join(escape_md(c) for c in f["class_names"])
        + (f"; positive class: {escape_md(f['class_names'][f['positive_class']])}" if f["positive_class"] is not None else ""),
        f"- Operating point: predicts {_operating_point(f)}",
        f"- Input: {rep.get('height')}x{rep.get('width')} grayscale {escape_md(rep.get('dtype', 'uint8'))} images; image "
        f"files are decoded by {escape_md(rep.get('decode', ''))} (image representation version "
        f"{escape_md(rep.get('representation_version'))})",
        "",
    ]
    return lines


def _training(f: dict[str, Any]) -> list[str]:
    ds, split = f["dataset"], f["split"]
    lines = ["## Training data", "",
             f"- Dataset: {escape_md(ds.get('title') or ds.get('name'))} ({escape_code(ds.get('spec') or ds.get('name'))}), "
             f"{ds.get('n_images', '–')} images, fingerprint {escape_code(ds.get('fingerprint', '–'))}"]
    src = ds.get("source") or {}
    if src.get("citation") or src.get("licence"):
        lines.append("- Source: " + "; ".join(escape_md(src[k]) for k in ("citation", "licence", "url") if src.get(k)))
    lines += [f"- Split: {escape_md(split.get('method', '–'))} (seed {escape_md(split.get('seed'))}), fingerprint "
              f"{escape_code(split.get('fingerprint', '–'))}", ""]
    counts = split.get("counts") or {}
    if counts:
        names = f["class_names"]
        rows = [[s, *(str(counts[s].get(n, 0)) for n in names), str(sum(counts[s].values()))]
                for s in ("train", "val", "test") if s in counts]
        lines += _table(["split", *(escape_md(n) for n in names), "total"], rows)
    return lines


def _metrics(f: dict[str, Any]) -> list[str]:
    m = f["metrics"]
    if not m:
        return ["## Test metrics", "", "Not recorded with this model (see the run's report).", ""]
    ci = f["metrics_ci"]
    rows = []
    for key in HEADLINE:
        if key in m:
            lo_hi = ci.get(key)
            rows.append([label(key), _num(m[key]),
                         f"[{_num(lo_hi[0])}, {_num(lo_hi[1])}]" if lo_hi else "–"])
    lines = ["## Test metrics", "", f"On the {m.get('n', '–')} test images of the split above, scored once, at "
             "the operating point above. 95% CI: bootstrap interval over the test images (method by-metric-v2: "
             "sensitivity, specificity, balanced accuracy and ROC-AUC resampled within each class, the other metrics "
             "over all images, BCa intervals, a binary ROC-AUC's DeLong's on the logit scale, the ECE's that of the "
             "debiased ECE; measured coverage: docs/coverage.md)"
             + ("" if ci else " (not computed for this card)") + ".", ""]
    lines += _table(["metric", "value", "95% CI"], rows)
    cm = m.get("confusion_matrix")
    if cm:
        names = f["class_names"]
        lines += ["Confusion matrix (rows: true class, columns: predicted):", ""]
        lines += _table(["", *(escape_md(n) for n in names)], [[escape_md(n), *(str(v) for v in row)] for n, row in zip(names, cm)])
    return lines


def _runtime(f: dict[str, Any]) -> list[str]:
    rt = f["runtime"]
    rows = [[label(k), f"{_num(rt[k], RUNTIME_KEYS[k].digits)} {RUNTIME_KEYS[k].unit}"]
            for k in RUNTIME_KEYS if k != "model_size_bytes" and isinstance(rt.get(k), (int, float))]
    rows.append(["Size on disk", f"{_size(f['size_bytes'])} ({f['files'] or '–'} files)"])
    return ["## Runtime and size", "", "Measured during the run that trained it (features recomputed, one "
            "batch and single images) on the machine that ran it.", ""] + _table(["", "value"], rows)


def _use(f: dict[str, Any]) -> list[str]:
    return [
        "## Intended use", "",
        "Benchmarking and research on images like the training data: comparing pipelines, studying failure "
        "cases, re-running the operating point on new data. Predict with:", "",
        "```",
        "medbench predict MODEL_DIR IMAGES_OR_FOLDERS... --out predictions.csv",
        "```", "",
        "or in Python `medbench.load_model(MODEL_DIR).predict_proba(paths_or_uint8_images)`.", "",
        "## Caveats", "",
        *(f"- {escape_md(c)}" for c in f["caveats"]), "",
    ]


def _provenance(f: dict[str, Any]) -> list[str]:
    libs = ", ".join(f"{escape_md(k)} {escape_md(v)}" for k, v in sorted(f["libraries"].items())) or "–"
    return ["## Provenance", "",
            f"- Saved {escape_md(f.get('saved') or '–')} by medbench {escape_md(f.get('medbench_version') or '–')}, source hash "
            f"{escape_code(f.get('source_hash') or '–')}",
            f"- Libraries: {libs}",
            "- Files: listed with their SHA-256 in `manifest.json`; loading refuses any file that does not match",
            ""]


def render(card: dict[str, Any]) -> str:
    """MODEL_CARD.md text from :func:`facts` (pure: the same facts give the same bytes)."""
    title = f"# Model card: {escape_md(card['name'])} (seed {escape_md(card['seed'])})"
    lines = [title, ""]
    for part in (_what, _training, _metrics, _runtime, _use, _provenance):
        lines += part(card)
    return "\n".join(lines).rstrip() + "\n"
