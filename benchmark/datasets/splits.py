"""Identical, fingerprinted train / validation / test splits.

Rules, in order:

1. A saved manifest (``--split-manifest``) is applied as is, after validation (:func:`load_manifest`):
   the file must match :data:`MANIFEST_SCHEMA` (a JSON Schema, checked with ``jsonschema``; the error
   names the field), no id may appear twice in a split or in two splits, no split may be empty,
   every id must exist in the dataset with the label the manifest records, the classes must be the
   dataset's, and the fingerprint must match both the file's own ids and labels and the dataset.
   Its notes on how it was made are kept; patient/group overlap is recomputed from its ids, never
   copied from the file.
2. The dataset's official split is used when it has one. A validation set always exists: when the
   official one is missing or tiny (fewer than ``min_val`` images or a class missing), it is merged
   into train and a new one is carved from train, stratified and group-aware (a patient's images
   stay on one side), with the split seed.
3. Otherwise a seeded, stratified, group-aware split into train / val / test.

The manifest lists the ids of each split; its SHA-256 fingerprint (over the sorted ids and labels
per split and the class names) appears in results and reports and identifies the split exactly.
The split seed must be a non-negative integer below 2**32 and the fractions must leave a train set.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from medbench.core import readfile
from medbench.core.atomic import write_json
from medbench.core.errors import MedbenchError
from medbench.datasets.dataset import SPLITS, Dataset

MANIFEST_VERSION = 1
MAX_SEED = 2**32 - 1
#: Validation and test shares are each above 0 and below this.
MAX_FRACTION = 0.5

_ID_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}
_LABEL_LIST = {"type": "array", "items": {"type": "string"}}

#: What a split manifest (``split.json``) must look like; :func:`load_manifest` checks it first.
MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "medbench split manifest",
    "type": "object",
    "required": ["manifest_version", "class_names", "fingerprint", "ids", "labels"],
    "properties": {
        "manifest_version": {"type": "integer", "minimum": 1, "maximum": MANIFEST_VERSION},
        "dataset": {"type": "string"},
        "dataset_spec": {"type": "string"},
        "class_names": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "method": {"type": "string"},
        "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
        "notes": {"type": "array", "items": {"type": "string"}},
        "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "counts": {"type": "object"},
        "ids": {"type": "object", "required": list(SPLITS), "additionalProperties": False,
                "properties": {s: _ID_LIST for s in SPLITS}},
        "labels": {"type": "object", "required": list(SPLITS), "additionalProperties": False,
                   "properties": {s: _LABEL_LIST for s in SPLITS}},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}
_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "integer": "a whole number"}


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


def check_seed(seed: Any) -> int:
    """``seed`` as an int in ``0..2**32-1``; else a one-line error naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise MedbenchError(f"split seed {seed!r} is not a whole number from 0 to {MAX_SEED} (--split-seed)")
    return int(seed)


def check_fractions(val_fraction: Any, test_fraction: Any) -> tuple[float, float]:
    """The validation and test shares (``--val-fraction``, ``--test-fraction``), each a number above 0 and
    below :data:`MAX_FRACTION` (so training always keeps more than nothing); else a one-line error."""
    for flag, value in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0 < value < MAX_FRACTION:
            raise MedbenchError(f"{flag} {value!r}: the {flag[2:].replace('-', ' ')} must be a number between 0 "
                                f"and {MAX_FRACTION}")
    return float(val_fraction), float(test_fraction)


def make_split(ds: Dataset, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2,
               min_val: int = 50) -> Split:
    seed = check_seed(seed)
    check_fractions(val_fraction, test_fraction)
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


_GROUP_NOTE = re.compile(r"patient/group ids? appears? in both")


def _check_groups(ds: Dataset, split: Split) -> None:
    """Record (not fail) patient overlap, which official splits can have."""
    sides = {s: set(ds.groups[split.indices(s)].tolist()) for s in SPLITS}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = sides[a] & sides[b]
        if shared:
            split.notes.append(f"{len(shared)} patient/group ids appear in both {a} and {b}")


def save_manifest(ds: Dataset, split: Split, path: str | Path) -> Path:
    return write_json(path, split.manifest(ds))


def _field(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_problem(error: jsonschema.ValidationError) -> str:
    """One short line for a schema violation, naming the field (never dumping a long value)."""
    field = _field(error)
    where = f"field {field}" if field else "the top level"
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = [k for k in expected if k not in error.instance]
        return f"field {field + '.' if field else ''}{missing[0]} is missing"
    if kind == "type":
        actual = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
        return f"{where} must be {_TYPE_WORDS.get(expected, expected)}, not {actual}"
    if kind == "minItems":
        return f"{where} is empty" if not error.instance else f"{where} needs at least {expected} entries"
    if kind == "uniqueItems":
        seen: set[Any] = set()
        dup = next(json.dumps(v) for v in error.instance if json.dumps(v) in seen or seen.add(json.dumps(v)))
        return f"{where} lists {dup} more than once"
    if kind == "pattern":
        return f"{where} is not a 64-digit lower-case SHA-256 hex digest"
    if kind == "minLength":
        return f"{where} is an empty string"
    if kind == "minimum":
        return f"{where} is {error.instance!r}, below the smallest allowed value {expected}"
    if kind == "maximum":
        return f"{where} is {error.instance!r}, above the largest allowed value {expected}"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where} has unexpected key(s) {', '.join(map(repr, extra))}: only {', '.join(SPLITS)} are allowed"
    message = error.message
    return f"{where}: {message[:200]}{'...' if len(message) > 200 else ''}"


def validate_manifest(manifest: Any, path: str | Path, class_names: list[str] | None = None) -> None:
    """Check a parsed manifest's structure: :data:`MANIFEST_SCHEMA`; its classes (when ``class_names``, the
    dataset's, is given); then what a schema cannot say (ids in two splits, labels that do not match the
    ids or the class names). Raises a one-line :class:`MedbenchError` naming the file and the problem."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(manifest))
    if error is not None:
        raise MedbenchError(f"split manifest {path}: {_schema_problem(error)}")
    ids, labels, classes = manifest["ids"], manifest["labels"], manifest["class_names"]
    if class_names is not None and classes != list(class_names):
        raise MedbenchError(f"split manifest {path} was made for classes {classes}, but the dataset has "
                            f"{list(class_names)}")
    owner: dict[str, str] = {}
    for s in SPLITS:
        for i in ids[s]:
            if i in owner:
                raise MedbenchError(f"split manifest {path}: id {i!r} is in both {owner[i]} and {s}; "
                                    "an image must be in one split only")
            owner[i] = s
        if len(labels[s]) != len(ids[s]):
            raise MedbenchError(f"split manifest {path}: field labels.{s} has {len(labels[s])} entries but "
                                f"ids.{s} has {len(ids[s])}")
        unknown = next((c for c in labels[s] if c not in classes), None)
        if unknown is not None:
            raise MedbenchError(f"split manifest {path}: field labels.{s} has label {unknown!r}, which is not "
                                f"one of its class_names {classes}")


def load_manifest(ds: Dataset, path: str | Path) -> Split:
    """Read and validate a split manifest (see the module docstring) and apply it to ``ds``."""
    path = Path(path)
    try:
        manifest = json.loads(readfile.read_bytes(path, "split manifest", cap="manifest").decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise MedbenchError(f"{path} is not a medbench split manifest ({exc})") from None
    except RecursionError:
        raise MedbenchError(f"{path} is not a medbench split manifest (nested too deeply)") from None
    validate_manifest(manifest, path, ds.class_names)
    ids, own = manifest["ids"], manifest["labels"]
    where = {id_: i for i, id_ in enumerate(ds.ids.tolist())}
    parts = {}
    for s in SPLITS:
        missing = [i for i in ids[s] if i not in where]
        if missing:
            raise MedbenchError(f"split manifest {path}: {len(missing)} {s} ids are not in {ds.spec} (first: "
                                f"{missing[0]}); was it made for another dataset or version?")
        parts[s] = np.array(sorted(where[i] for i in ids[s]), dtype=np.int64)
    if fingerprint(manifest["class_names"], ids, own) != manifest["fingerprint"]:
        raise MedbenchError(f"split manifest {path}: fingerprint does not match the file's own ids and labels "
                            "(file edited)")
    for s in SPLITS:
        for i, label in zip(ids[s], own[s], strict=True):
            actual = ds.class_names[ds.labels[where[i]]]
            if label != actual:
                raise MedbenchError(f"split manifest {path}: {s} id {i!r} is labelled {label!r} in the manifest "
                                    f"but {actual!r} in {ds.spec} (labels changed or file edited)")
    # How the split was made is the manifest's to say; what its ids imply is recomputed here, never copied
    # (a manifest edited to move a patient's images into test keeps its old overlap note otherwise).
    notes = [n for n in manifest.get("notes", []) if not _GROUP_NOTE.search(n)]
    split = Split(parts["train"], parts["val"], parts["test"], f"manifest {path.name}",
                  int(manifest.get("seed", 0)), notes)
    if split.fingerprint(ds) != manifest["fingerprint"]:
        raise MedbenchError(f"split manifest {path}: fingerprint does not match its ids and labels "
                            "(labels changed or file edited)")
    _check_groups(ds, split)
    return split
