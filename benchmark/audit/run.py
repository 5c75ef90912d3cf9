"""The whole audit of a dataset and its split, as results.json's ``audit`` block, and ``--dedupe``.

:func:`audit` runs the three checks (patient groups, near-duplicates, shortcuts) on a loaded dataset, its
split and any other sets (external validation sets, other datasets of a suite) and returns the block
(``groups``, ``duplicates``, ``shortcuts``, ``findings``: one line per problem found, ``seconds``).
``medbench run`` calls it before any model is fitted; ``medbench audit`` writes the same document.
:func:`dedupe` removes the near-duplicates from the evaluated side (the test split, the external sets) and
records what it removed in the block.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medbench.audit import duplicates as dup
from medbench.audit import phash as ph
from medbench.audit import shortcuts as sc
from medbench.audit import thumbnails
from medbench.core.atomic import json_roundtrip
from medbench.core.errors import MedbenchError
from medbench.datasets import groups as grp
from medbench.datasets import load_dataset
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.folder import load_folder
from medbench.datasets.spec import DatasetSpec
from medbench.datasets.splits import make_split
from medbench.records import schemas

N_LISTED = 20  # removed ids listed in results.json (the count is always complete)


@dataclass(eq=False)
class OtherSet:
    """A set compared with the dataset: its spec text, name, ids and decoded images."""

    text: str
    name: str
    ids: np.ndarray
    images: np.ndarray


def _groups_block(ds: Dataset, parts: dict[str, np.ndarray]) -> dict[str, Any]:
    cross = grp.crossing(ds.groups, parts)
    source = ds.group_source
    none = source.startswith("none")
    warning = None
    if none:
        warning = (f"patients may cross splits: no patient ids are known (group source: {source}); each image is "
                   "its own group (give --groups CSV or --group-pattern REGEX when the file names carry patient ids)")
    elif cross["groups_in_several_splits"]:
        warning = (f"{cross['groups_in_several_splits']} patient groups appear in more than one split; "
                   f"{cross['test_images_with_group_elsewhere']} test images have an image of the same patient in "
                   "train or validation")
    return {"source": source, "grouped": not none, "n_groups": int(len(set(ds.groups.tolist()))), **cross,
            "schemes": [{"name": s.name, "dataset": s.dataset, "example": s.example} for s in grp.PATIENT_SCHEMES],
            "warning": warning}


def _dup_findings(block: dict[str, Any]) -> list[str]:
    lines = []
    for pair in ("train-test", "val-test"):
        e = block["across"].get(pair)
        if e and e["pairs"]:
            a, b = pair.split("-")
            lines.append(f"{e['images']} {b} images are near-duplicates of {a} images ({e['pairs']} pairs)")
    for ext in block["external"]:
        if ext["leaks"]:
            lines.append(f"{ext['leaks']} of the {ext['n']} images of {ext['dataset']} are near-duplicates of the "
                         f"dataset's train or validation images ({ext['all']['same_name']} pairs also share the "
                         "file name): scoring them is not an external validation")
    return lines


def audit(ds: Dataset, parts: dict[str, np.ndarray], others: Sequence[OtherSet] = (),
          threshold: int = ph.HAMMING_THRESHOLD) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """``(block, leaks)``: the ``audit`` block and, for :func:`dedupe`, the positions of evaluated images with
    a near-duplicate on the fitted side (``"test"``: positions in ``ds``; a set's text: positions in it)."""
    t0 = time.perf_counter()
    groups = _groups_block(ds, parts)
    hashes = ph.phash(ds.images)
    within = dup.within_dataset(ds.ids, hashes, parts, threshold)
    leaks: dict[str, list[int]] = {"test": within.pop("test_leaks")}
    ext_blocks = []
    for other in others:
        res = dup.between(ds.ids, hashes, parts, other.ids, ph.phash(other.images), threshold)
        leaks[other.text] = res.pop("leaks")
        ext_blocks.append({"dataset": other.text, "name": other.name, **res, "leaks": len(leaks[other.text])})
    duplicates = {"method": dup.METHOD, "threshold": threshold, **within, "external": ext_blocks}
    train, test = parts.get("train", np.arange(0)), parts.get("test", np.arange(0))
    shortcuts = sc.audit(ds, train, test)
    findings = [w for w in (groups["warning"],) if w] + _dup_findings(duplicates)
    if shortcuts["classifier"].get("warning"):
        findings.append(shortcuts["classifier"]["warning"])
    block = {"dataset": ds.spec, "groups": groups, "duplicates": duplicates, "shortcuts": shortcuts,
             "findings": findings, "seconds": round(time.perf_counter() - t0, 3)}
    return block, leaks


def split_parts(split: Any) -> dict[str, np.ndarray]:
    return {s: np.asarray(split.indices(s)) for s in SPLITS}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def dedupe(ds: Dataset, split: Any, externals: Sequence[Any], block: dict[str, Any],
           leaks: dict[str, list[int]]) -> tuple[Any, tuple[Any, ...]]:
    """``(split, externals)`` without the evaluated near-duplicates: test images that duplicate a train or
    validation image, external images that duplicate one. What was removed is recorded in ``block["dedupe"]``."""
    record: dict[str, Any] = {"test": {"removed": 0, "ids": []}, "external": []}
    drop = set(leaks.get("test", []))
    if drop:
        keep = np.array([i for i in split.test if i not in drop], dtype=np.int64)
        if not len(keep):
            raise MedbenchError("--dedupe: every test image is a near-duplicate of a train or validation image; "
                                "nothing is left to score")
        removed = sorted(ds.ids[list(drop)].tolist())
        split = replace(split, test=keep, method=split.method + "; test near-duplicates of train/val removed "
                        "(--dedupe)", notes=[*split.notes, f"--dedupe removed {len(drop)} test images that are "
                                             "near-duplicates of train or validation images"])
        record["test"] = {"removed": len(drop), "ids": removed[:N_LISTED]}
    out = []
    for ext in externals:
        gone = sorted(set(leaks.get(ext.text, [])))
        if gone:
            keep = np.setdiff1d(np.arange(len(ext.labels)), gone)
            if not len(keep):
                raise MedbenchError(f"--dedupe: every image of external set {ext.text} is a near-duplicate of the "
                                    "dataset's train or validation images; nothing is left to score")
            ids = [str(ext.ids[g]) for g in gone]
            labels = ext.labels[keep]
            counts = {c: int((labels == k).sum()) for k, c in enumerate(ext.counts)}
            ext = replace(ext, images=ext.images[keep], labels=labels, ids=ext.ids[keep], counts=counts,
                          fingerprint=_digest(ext.fingerprint, "dedupe", *ids))
            record["external"].append({"dataset": ext.text, "removed": len(gone), "left": int(len(keep)),
                                       "ids": sorted(ids)[:N_LISTED]})
        out.append(ext)
    block["dedupe"] = record
    total = record["test"]["removed"] + sum(e["removed"] for e in record["external"])
    block["findings"].append(f"--dedupe removed {total} near-duplicate images from the evaluated side (test: "
                             f"{record['test']['removed']}" + "".join(f"; {e['dataset']}: {e['removed']}"
                                                                      for e in record["external"]) + ")")
    return split, tuple(out)


def before_fit(ds: Dataset, split: Any, cfg: Any, shift: Any, log: Any = None, out_dir: Any = None
               ) -> tuple[Any, dict[str, Any]]:
    """``medbench run``'s audit, after the split is made and before any model is fitted: the block, and with
    ``cfg.dedupe`` the split (and ``shift``'s external sets, replaced in place) without the near-duplicates.
    With ``out_dir``, the example pairs are drawn under ``out_dir/audit/`` (:mod:`medbench.audit.thumbnails`)."""
    externals = tuple(getattr(shift, "externals", ()) or ())
    others = [OtherSet(e.text, e.name, e.ids, e.images) for e in externals]
    block, leaks = audit(ds, split_parts(split), others)
    if out_dir is not None:
        thumbnails.attach(block, ds, {o.text: o for o in others}, out_dir)
    if cfg.dedupe:
        split, kept = dedupe(ds, split, externals, block, leaks)
        if externals:
            shift.externals = kept
    if log:
        log(f"medbench: audit ({block['seconds']:.1f}s): " + ("; ".join(block["findings"]) or "nothing found"))
    return split, block


def load_other(text: str, image_size: int, *, allow_missing: bool = False, n_jobs: int | None = None) -> OtherSet:
    """An external set for :func:`audit_spec`, decoded at ``image_size`` (a folder may hold one class)."""
    spec = DatasetSpec.parse(text, image_size=image_size, allow_missing=allow_missing).checked()
    if spec.kind == "folder" and spec.path:
        other = load_folder(spec.path, spec=spec.text, image_size=image_size, allow_missing=allow_missing,
                            n_jobs=n_jobs, min_classes=1)
    else:
        other = load_dataset(spec, n_jobs=n_jobs)
    return OtherSet(spec.text, other.name, np.asarray(other.ids), other.images)


def audit_spec(dataset: str, external: Sequence[str] = (), *, groups: str | None = None,
               group_pattern: str | None = None, image_size: int | None = None, task: str | None = None,
               allow_missing: bool = False, split_seed: int = 0, val_fraction: float = 0.1,
               test_fraction: float = 0.2, n_jobs: int | None = None) -> dict[str, Any]:
    """``medbench audit``: load ``dataset`` (and the ``external`` sets), split it as ``medbench run`` would
    with the same options, and return the audit block (:func:`audit`)."""
    if groups and group_pattern:
        raise MedbenchError("--groups and --group-pattern both give patient groups; use one of them")
    ds = load_dataset(dataset, task=task, image_size=image_size, allow_missing=allow_missing, n_jobs=n_jobs)
    ds = grp.regroup(ds, groups, group_pattern)
    split = make_split(ds, seed=split_seed, val_fraction=val_fraction, test_fraction=test_fraction)
    others = [load_other(t, ds.image_shape[0], allow_missing=allow_missing, n_jobs=n_jobs) for t in external]
    block, _ = audit(ds, split_parts(split), others)
    block["split"] = {"method": split.method, "fingerprint": split.fingerprint(ds),
                      "counts": {s: int(len(split.indices(s))) for s in SPLITS}}
    schemas.validate(json_roundtrip(block), schemas.AUDIT, "medbench audit")  # the document results.json declares
    return block


def between_datasets(sets: Sequence[OtherSet], threshold: int = ph.HAMMING_THRESHOLD) -> list[dict[str, Any]]:
    """Near-duplicates between every pair of datasets (e.g. the datasets of a suite): one entry per pair,
    ``{"a": text, "b": text, **entry}`` with the pair counts, the images of ``b`` involved, the pairs sharing a
    file name and a few examples (:func:`medbench.audit.duplicates.between`)."""
    hashes = [ph.phash(s.images) for s in sets]
    out = []
    for i, a in enumerate(sets):
        for j in range(i + 1, len(sets)):
            res = dup.between(a.ids, hashes[i], None, sets[j].ids, hashes[j], threshold)
            out.append({"a": a.text, "b": sets[j].text, **res["all"]})
    return out
