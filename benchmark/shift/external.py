"""``--external``: external validation sets, scored by every fitted pipeline, and their statistics.

An external set B is loaded at the run's dataset A's image size and channels (:func:`load`) and
fingerprinted like A. Its classes are matched to A's by name, case-insensitively, after ``--class-map
SRC=DST`` (B's name SRC is A's DST); ``--class-map SRC=-`` leaves B's class SRC out (its images are not
scored; the entry and the block record ``excluded``: ``{SRC: images left out}``); a class of B left
unmatched is a one-line error listing both sets. B may hold a *subset* of A's classes (e.g. positives only): the metrics that need the missing classes (ROC-AUC,
specificity, F1, ... - everything but accuracy, balanced accuracy and the recall of a class that is present)
are then undefined (null) and each says why (:func:`defined_metrics`).

:func:`score` runs inside a job, right after the fit: every image of B through the fitted pipeline, unchanged,
at the operating point chosen on A's validation split. The job record gets ``external``: one entry per set
(``dataset``, ``fingerprint``, ``n``, ``metrics``, ``undefined``, ``predictions``).

:func:`summarize` builds the top-level ``external`` block of results.json: per set, the CIs of every job's
external metrics, the paired tests between pipelines on B (McNemar, DeLong, Holm; best classical vs best deep)
- :func:`medbench.records.results.compute_statistics` run on B's predictions, so the tests are the ones in
:mod:`medbench.evaluation.stats` - and per job the internal and external value of each metric and the ``drop``.

One convention for a drop, everywhere (issue 29): ``drop = gain(metric, internal - external)``
(:func:`medbench.metrics.gain`), i.e. **positive = worse on the external set in the metric's own direction**
(a Brier score that rises from 0.10 to 0.29 drops by +0.19), as ``medbench compare`` calls a drop a change
for the worse. Binary tasks also get ``prevalence`` (the positive class's share of A's test split and of B),
per job ``expected_at_external`` (the PPV / NPV A's sensitivity and specificity would give at B's prevalence,
by Bayes' rule: what the prevalence change alone explains), ``threshold`` (the operating point chosen on A's
validation split, which scores B, beside ``external_youden``: B's own Youden-optimal threshold, information
only, never used for a score) and ``chance``: true when B's ROC-AUC interval contains 0.5.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.folder import load_folder
from medbench.datasets.identity import source_identity
from medbench.datasets.spec import DatasetSpec
from medbench.evaluation import protocol
from medbench.evaluation import section as evaluation
from medbench.evaluation import stats as st
from medbench.evaluation.prevalence import operating_point, prevalence, worse_is_positive
from medbench.features import cache
from medbench.metrics import HEADLINE, classification_metrics, predict_with_threshold
from medbench.records import view

#: Metrics that stay defined on a set holding a subset of the classes (the mean recall over the classes present).
RECALL_ALIASES = ("accuracy", "balanced_accuracy")
#: ``--class-map SRC=-``: leave the external class SRC out.
LEAVE_OUT = "-"

__all__ = ["ExternalSet", "defined_metrics", "entry_metrics", "load", "match_classes", "parse_class_map", "score", "summarize"]


def parse_class_map(items: Any) -> dict[str, str]:
    """``["No_findings=NORMAL", "Covid=-"]`` -> ``{"No_findings": "NORMAL", "Covid": "-"}`` (keys: B's names as
    written; they match B's classes case-insensitively only where that is unambiguous, see :func:`match_classes`;
    ``-``: leave that class out). The item is split at its last ``=``, so an external class name may contain
    ``=``; a dataset class name may not."""
    out: dict[str, str] = {}
    for item in items or ():
        src, eq, dst = str(item).rpartition("=")  # the last "=": an external class name may hold one (a=b=NORMAL)
        if not eq or not src.strip() or not dst.strip():
            raise MedbenchError(f"--class-map {item!r} is not SRC=DST (the external set's class name = the "
                                f"dataset's, e.g. No_findings=NORMAL)")
        key = src.strip()
        if key in out and out[key] != dst.strip():
            raise MedbenchError(f"--class-map maps {key!r} twice ({out[key]!r} and {dst.strip()!r}); "
                                f"give each external class once")
        out[key] = dst.strip()
    return out


SET_SEPARATOR = "::"  # --class-map SET::SRC=DST: a map for one external set only


def class_maps(items: Any, texts: list[str]) -> dict[str, dict[str, str]]:
    """``{external set text: its class map}``: ``SRC=DST`` items apply to every set, ``SET::SRC=DST`` items to
    the set ``SET`` only (its text as given to --external, or the same source spelled otherwise), so two
    external sets with different class names can share a run."""

    shared, own = [], {t: [] for t in texts}
    for item in items or ():
        where, sep, rest = str(item).partition(SET_SEPARATOR)
        if not sep:
            shared.append(item)
            continue
        hit = [t for t in texts if where == t or source_identity(where) == source_identity(t)]
        if not hit:
            raise MedbenchError(f"--class-map {item!r}: {where!r} is not one of this run's external sets "
                                f"({', '.join(texts) or 'none'}); write SET{SET_SEPARATOR}SRC=DST with SET as "
                                f"given to --external")
        own[hit[0]].append(rest)
    return {t: parse_class_map([*shared, *own[t]]) for t in texts}


def _find(name: str, names: Any) -> str | None | list[str]:
    """``name`` itself when it is one of ``names``; else the one name equal to it but for case; a list of the
    candidates when several differ from it only in case (``A`` and ``a``: never merged); None when none."""
    names = list(names)
    if name in names:
        return name
    folded = [n for n in names if n.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else (folded or None)


def match_classes(b_names: list[str], a_names: list[str], class_map: dict[str, str], where: str
                  ) -> dict[str, str]:
    """``{B's class: A's class}`` (classes mapped to ``-`` are left out); a class of B that matches none of A's
    is a one-line error listing both. Names match exactly, or but for case where only one name fits: classes
    ``A`` and ``a`` stay two classes."""
    out, unmatched, used = {}, [], set()
    for b in b_names:
        key = _find(b, class_map)
        if isinstance(key, list):
            raise MedbenchError(f"--class-map {', '.join(key)}: the keys differ only in case and the external set "
                                f"{where} has {b!r}: write its class name exactly")
        if key is not None and _find(key, b_names) != b:
            key = None  # the key names another class of B exactly (B has both 'A' and 'a')
        target = b if key is None else class_map[key]
        used.add(key)
        if target == LEAVE_OUT:
            continue
        hit = _find(target, a_names)
        if isinstance(hit, list):
            raise MedbenchError(f"external set {where}: class {b!r} matches {' and '.join(hit)} of the dataset but "
                                f"for case: name it exactly, or map it with --class-map {b}=CLASS")
        if hit is None:
            unmatched.append(b if target == b else f"{b}->{target}")
        else:
            out[b] = hit
    if unmatched:
        raise MedbenchError(f"external set {where}: class(es) {', '.join(unmatched)} match none of the dataset's "
                            f"classes ({', '.join(a_names)}); the external set has {', '.join(b_names)}: "
                            f"rename them, map them with --class-map SRC=DST or leave them out with SRC=-")
    unused = [k for k in class_map if k not in used]
    if unused:
        raise MedbenchError(f"--class-map {unused[0]}=...: the external set {where} has no class {unused[0]!r} "
                            f"(it has {', '.join(b_names)})")
    if not out:
        raise MedbenchError(f"--class-map leaves every class of the external set {where} out ({', '.join(b_names)}); "
                            f"keep at least one")
    return out


@dataclass(eq=False)
class ExternalSet:
    """An external set, decoded like the run's dataset, with labels in the dataset's class indices."""

    text: str
    name: str
    fingerprint: str
    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    mapping: dict[str, str]
    counts: dict[str, int]
    excluded: dict[str, int] = field(default_factory=dict)  # --class-map SRC=-: {SRC: images left out}
    problems: dict[str, Any] = field(default_factory=dict)  # files left out under --allow-missing, etc.

    def key(self) -> dict[str, Any]:
        """What a job's result on this set depends on (part of the job key)."""
        return {"dataset": self.text, "fingerprint": self.fingerprint, "mapping": self.mapping,
                "shape": list(self.images.shape), **({"excluded": self.excluded} if self.excluded else {})}


def load(text: str, ds: Dataset, class_map: dict[str, str], *, allow_missing: bool = False,
         max_image_pixels: int | None = None, n_jobs: int | None = None) -> ExternalSet:
    """Load external set ``text`` at ``ds``'s image size and channels and match its classes (every image of
    it: its own split, if any, is ignored). ``folder:`` sets may hold a single class folder."""
    h, w = ds.image_shape
    spec = DatasetSpec.parse(text, image_size=h, channels=ds.channels, allow_missing=allow_missing,
                             max_image_pixels=max_image_pixels).checked()
    if spec.kind == "folder" and spec.path:
        ext = load_folder(spec.path, spec=spec.text, image_size=h, allow_missing=allow_missing, n_jobs=n_jobs,
                          max_image_pixels=max_image_pixels, channels=ds.channels, min_classes=1)
    else:
        ext = load_dataset(spec, n_jobs=n_jobs)
    if ext.image_shape != ds.image_shape or ext.channels != ds.channels:
        raise MedbenchError(f"external set {text}: its images are {ext.image_shape} {ext.channels}, the dataset's "
                            f"{ds.image_shape} {ds.channels}; use an external set that can be decoded at that "
                            f"size (a folder: or coronahack: set)")
    mapping = match_classes(list(ext.class_names), list(ds.class_names), class_map, text)
    index = {c: i for i, c in enumerate(ds.class_names)}
    names = list(ext.class_names)
    keep = np.array([names[i] in mapping for i in ext.labels], dtype=bool)
    excluded = {c: int(np.sum(np.asarray(ext.labels) == i)) for i, c in enumerate(names) if c not in mapping}
    labels = np.array([index[mapping[names[i]]] for i in np.asarray(ext.labels)[keep]], dtype=np.int64)
    if not len(labels):
        raise MedbenchError(f"external set {text}: no images left once {', '.join(excluded)} is left out")
    counts = {c: int(n) for c, n in zip(ds.class_names, np.bincount(labels, minlength=ds.n_classes))}
    images = ext.images if keep.all() else ext.images[keep]
    return ExternalSet(text=spec.text, name=ext.name, fingerprint=ext.fingerprint, images=images,
                       labels=labels, ids=np.asarray(ext.ids)[keep], mapping=mapping, counts=counts,
                       excluded=excluded, problems=dict(ext.problems))


def defined_metrics(class_names: list[str], present: set[int], positive: int | None,
                    where: str = "the external set") -> dict[str, str]:
    """``{metric: why it is not reported}`` for a set holding only the classes ``present`` (empty: all are).

    Binary task, one class present: only that class's recall (sensitivity or specificity) is reported;
    accuracy and balanced accuracy equal it there (kept in the record, and used to rank, but not reported as
    if they meant what they mean on the test split); the rest is undefined. Several classes present out of
    more: accuracy and balanced accuracy (over the classes present) are reported, the rest is undefined."""
    if len(present) == len(class_names):
        return {}
    absent = ", ".join(c for i, c in enumerate(class_names) if i not in present)
    why = f"undefined: {where} has no {absent} images"
    if len(class_names) == 2:
        pos = 1 if positive is None else positive
        recall = "sensitivity" if pos in present else "specificity"
        out = {m: why for m in HEADLINE if m != recall}
        for m in RECALL_ALIASES:
            if m in out:
                out[m] = f"equals the {recall} on a set with one class (not comparable with the test split's)"
        return out
    return {m: why for m in HEADLINE if m not in RECALL_ALIASES}


def entry_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, class_names: list[str],
                  positive: int | None, where: str = "the external set",
                  at_specificity: Any = None) -> tuple[dict[str, Any], dict[str, str]]:
    """``(metrics, undefined)`` of predictions on a set that may lack classes: the metrics it cannot define
    are None (and say why in ``undefined``). Used for external sets and the test split (``where``), when
    scoring and when a stored record is recomputed (:mod:`medbench.shift.recompute`); ``at_specificity``: the
    job's validation thresholds (the test split's)."""
    with warnings.catch_warnings():  # a one-class set: scikit-learn warns about what defined_metrics drops
        warnings.simplefilter("ignore", UserWarning)
        metrics = classification_metrics(y_true, y_pred, proba, class_names, positive, at_specificity)
    undefined = defined_metrics(class_names, set(np.unique(y_true).tolist()), positive, where)
    for m in undefined:
        if m in metrics and m not in RECALL_ALIASES:
            metrics[m] = None
    return metrics, undefined


def score(fitted, ext: ExternalSet, class_names: list[str], threshold: float | None,
          positive: int | None, at_specificity: Any = None) -> dict[str, Any]:
    """One entry of a job's ``external`` list: B's metrics and predictions at the validation threshold (and the
    sensitivity at fixed specificity at the job's validation thresholds, ``at_specificity``)."""
    with cache.disabled():
        proba = np.asarray(fitted.predict_proba(ext.images))
    pred = predict_with_threshold(proba, threshold, positive)
    metrics, undefined = entry_metrics(ext.labels, pred, proba, class_names, positive, at_specificity=at_specificity)
    return {"dataset": ext.text, "name": ext.name, "fingerprint": ext.fingerprint, "n": int(len(ext.labels)),
            "counts": ext.counts, "mapping": ext.mapping, **({"excluded": ext.excluded} if ext.excluded else {}),
            "metrics": metrics, "undefined": undefined,
            **({"problems": ext.problems} if ext.problems else {}),
            "predictions": {"ids": ext.ids.tolist(), "y_true": ext.labels.tolist(), "y_pred": pred.tolist(),
                            "proba": np.round(proba, 6).tolist()}}


def summarize(results: dict[str, Any], n_resamples: int = protocol.BOOTSTRAP_RESAMPLES,
              seed: int = protocol.BOOTSTRAP_SEED) -> list[dict[str, Any]] | None:
    """The top-level ``external`` block (one entry per external set), or None when no job has one."""
    jobs = view.ok_jobs(results)
    texts = list(dict.fromkeys(e["dataset"] for j in jobs for e in j.get("external") or []))
    if not texts:
        return None
    internal = results.get("statistics") or evaluation.statistics(results)
    run = view.RunView(results)

    def section(records: list[dict[str, Any]]) -> dict[str, Any]:  # the statistics of one external set
        return evaluation.compute([view.JobView(r) for r in records], run.n_classes, run.positive_index,
                                  n_resamples, seed)

    blocks = []
    for text in texts:
        ext_jobs = []
        for job in jobs:
            entry = next((e for e in job.get("external") or [] if e["dataset"] == text), None)
            if entry is not None:
                ext_jobs.append({**{k: job[k] for k in ("job_id", "pipeline", "seed", "status", "family")
                                    if k in job}, "name": job.get("name", job["pipeline"]),
                                 "metrics": entry["metrics"], "predictions": entry["predictions"],
                                 "threshold": job.get("threshold")})  # its validation thresholds
        first = next(e for j in jobs for e in j.get("external") or [] if e["dataset"] == text)
        # On a set lacking a class the floor (always the majority class) can be trivially perfect: it is shown
        # but left out of the ranking and the paired tests there.
        tested = [j for j in ext_jobs if not first["undefined"] or j.get("family") != "baseline"]
        stats = section(tested)
        cis = stats if len(tested) == len(ext_jobs) else section(ext_jobs)
        rows = []
        for job in ext_jobs:
            jid = view.record_id(job)
            inner = next(j for j in jobs if view.record_id(j) == jid)
            metrics = {}
            for m in HEADLINE:
                if m not in inner["metrics"] or m in first["undefined"]:
                    continue
                a, b = st.number(inner["metrics"].get(m)), st.number(job["metrics"].get(m))
                metrics[m] = {"internal": a, "internal_ci": evaluation.job_ci(internal, inner, m),
                              "external": b, "external_ci": evaluation.job_ci(cis, job, m),
                              "drop": None if a is None or b is None else a - b}
            rows.append({"job_id": jid, "pipeline": job["pipeline"], "name": job["name"], "seed": job["seed"],
                         "family": job.get("family", "unknown"), "metrics": worse_is_positive(metrics),
                         **operating_point(results, inner, job, metrics)})
        blocks.append({"dataset": text, "name": first["name"], "fingerprint": first["fingerprint"],
                       "n": first["n"], "counts": first["counts"], "mapping": first["mapping"],
                       **({"excluded": first["excluded"]} if first.get("excluded") else {}),
                       **prevalence(results, jobs, first),
                       "undefined": first["undefined"], "jobs": rows, "statistics": stats,
                       **({"problems": first["problems"]} if first.get("problems") else {}),
                       "internal_order": [g["pipeline"] for g in internal.get("pipelines", [])],
                       "external_order": [g["pipeline"] for g in stats["pipelines"]]})
    return blocks

