"""Identical, fingerprinted train / validation / test splits.

Rules, in order:

1. A saved manifest (``--split-manifest``) is applied as is: every id must exist in the dataset.
2. The dataset's official split is used when it has one. A validation set always exists: when the
   official one is missing or tiny (fewer than ``min_val`` images or a class missing), it is merged
   into train and a new one is carved from train, stratified and group-aware (a patient's images
   stay on one side), with the split seed.
3. Otherwise a seeded, stratified, group-aware split into train / val / test.

The manifest lists the ids of each split; its SHA-256 fingerprint (over the sorted ids and labels
per split and the class names) appears in results and reports and identifies the split exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from medbench.core.atomic import write_json
from medbench.core.errors import MedbenchError
from medbench.datasets.dataset import SPLITS, Dataset

MANIFEST_VERSION = 1


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str
    seed: int
    notes: list[str] = field(default_factory=list)

    def indices(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def manifest(self, ds: Dataset) -> dict[str, Any]:
        splits = {s: sorted(ds.ids[self.indices(s)].tolist()) for s in SPLITS}
        labels = {s: [ds.class_names[ds.labels[i]] for i in self._sorted(ds, s)] for s in SPLITS}
        return {
            "manifest_version": MANIFEST_VERSION,
            "dataset": ds.name,
            "dataset_spec": ds.spec,
            "class_names": list(ds.class_names),
            "method": self.method,
            "seed": self.seed,
            "notes": list(self.notes),
            "fingerprint": fingerprint(ds.class_names, splits, labels),
            "counts": {s: ds.class_counts(self.indices(s)) for s in SPLITS},
            "ids": splits,
            "labels": labels,
        }

    def _sorted(self, ds: Dataset, s: str) -> np.ndarray:
        idx = self.indices(s)
        return idx[np.argsort(ds.ids[idx], kind="stable")]

    def fingerprint(self, ds: Dataset) -> str:
        return self.manifest(ds)["fingerprint"]


def fingerprint(class_names: list[str], ids: dict[str, list[str]], labels: dict[str, list[str]]) -> str:
    canon = json.dumps({"classes": list(class_names), "ids": ids, "labels": labels},
                       sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def _carve(ds: Dataset, pool: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``pool`` into (rest, held_out ~ fraction), stratified by label, grouped by patient."""
    n_splits = max(2, round(1 / fraction))
    labels, groups = ds.labels[pool], ds.groups[pool]
    min_class = np.bincount(labels, minlength=ds.n_classes)
    min_class = min_class[min_class > 0].min()
    if min_class < n_splits:
        raise MedbenchError(f"{ds.name}: a class has only {min_class} images, too few for a "
                            f"{fraction:.0%} stratified hold-out; add images or drop the class")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(cv.split(np.zeros(len(pool)), labels, groups))
    return np.sort(pool[rest]), np.sort(pool[held])


def make_split(ds: Dataset, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2,
               min_val: int = 50) -> Split:
    if ds.official_split is not None:
        parts = {s: np.flatnonzero(ds.official_split == s) for s in SPLITS}
        if len(parts["test"]) == 0:
            rest, test = _carve(ds, parts["train"], test_fraction, seed)
            parts["train"], parts["test"] = rest, test
            method, notes = "official train; test carved (stratified, group-aware)", []
        else:
            method, notes = "official", []
        val = parts["val"]
        too_small = len(val) < min_val or len(np.unique(ds.labels[val])) < len(np.unique(ds.labels[parts["train"]]))
        if too_small:
            pool = np.sort(np.concatenate([parts["train"], val]))
            train, val = _carve(ds, pool, val_fraction, seed)
            if len(parts["val"]):
                notes.append(f"official validation split has only {len(parts['val'])} images: merged into "
                             f"train and a {val_fraction:.0%} validation set carved from train instead")
            else:
                notes.append(f"no official validation split: {val_fraction:.0%} of train carved as validation")
            method += "; val carved from train (stratified, group-aware)"
            parts["train"], parts["val"] = train, val
        split = Split(parts["train"], parts["val"], parts["test"], method, seed, notes)
    else:
        everything = np.arange(len(ds))
        rest, test = _carve(ds, everything, test_fraction, seed)
        train, val = _carve(ds, rest, val_fraction / (1 - test_fraction), seed)
        split = Split(train, val, test, "stratified, group-aware random split", seed, [])
    _check_groups(ds, split)
    return split


def _check_groups(ds: Dataset, split: Split) -> None:
    """Record (not fail) patient overlap, which official splits can have."""
    sides = {s: set(ds.groups[split.indices(s)].tolist()) for s in SPLITS}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = sides[a] & sides[b]
        if shared:
            split.notes.append(f"{len(shared)} patient/group ids appear in both {a} and {b}")


def save_manifest(ds: Dataset, split: Split, path: str | Path) -> Path:
    return write_json(path, split.manifest(ds))


def load_manifest(ds: Dataset, path: str | Path) -> Split:
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
        ids = manifest["ids"]
    except FileNotFoundError:
        raise MedbenchError(f"split manifest {path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MedbenchError(f"{path} is not a medbench split manifest ({exc})") from None
    if manifest.get("class_names") != list(ds.class_names):
        raise MedbenchError(f"{path} was made for classes {manifest.get('class_names')}, "
                            f"but {ds.spec} has {ds.class_names}")
    where = {id_: i for i, id_ in enumerate(ds.ids.tolist())}
    parts = {}
    for s in SPLITS:
        missing = [i for i in ids.get(s, []) if i not in where]
        if missing:
            raise MedbenchError(f"{path}: {len(missing)} {s} ids are not in {ds.spec} (first: {missing[0]}); "
                                "was it made for another dataset or version?")
        parts[s] = np.array(sorted(where[i] for i in ids.get(s, [])), dtype=np.int64)
    split = Split(parts["train"], parts["val"], parts["test"], f"manifest {path.name}",
                  int(manifest.get("seed", 0)), list(manifest.get("notes", [])))
    own = manifest.get("labels")  # the manifest's own record must agree with its fingerprint too
    if not isinstance(own, dict) or fingerprint(manifest["class_names"], ids, own) != manifest.get("fingerprint"):
        raise MedbenchError(f"{path}: fingerprint does not match the file's own ids and labels (file edited)")
    if split.fingerprint(ds) != manifest.get("fingerprint"):
        raise MedbenchError(f"{path}: fingerprint does not match its ids and labels (labels changed or file edited)")
    return split
