"""Patient groups: which images come from the same patient, from naming schemes or the user's own mapping.

:data:`PATIENT_SCHEMES` is the table of known naming schemes (each with the dataset it comes from); a scheme
matches either the file name (``name``) or the image's relative path (``path``). A user's ``--group-pattern
REGEX`` (one capture group, searched in the relative path) or ``--groups CSV`` (image path -> group id)
replaces them (:func:`regroup`). :func:`crossing` counts the groups seen in more than one split.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError


@dataclass(frozen=True)
class Scheme:
    name: str  # short name, recorded as the group source
    dataset: str  # the dataset this naming comes from
    pattern: str  # a regular expression with one capture group: the patient id
    where: str  # "name": matched at the start of the file name; "path": searched in the relative path
    example: str

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


#: Known patient naming schemes, tried in this order.
PATIENT_SCHEMES: tuple[Scheme, ...] = (
    Scheme("kermany", "Kermany et al. 2018 pediatric chest X-ray (chest_xray)", r"^(person\d+)_", "name",
           "person1000_bacteria_2931.jpeg -> person1000"),
    Scheme("kermany", "Kermany et al. 2018 pediatric chest X-ray (chest_xray)", r"^((?:[A-Za-z0-9]+-)?IM-\d+)-\d+",
           "name", "IM-0115-0001.jpeg -> IM-0115, NORMAL2-IM-0588-0001.jpeg -> NORMAL2-IM-0588"),
    Scheme("nih-chestxray14", "NIH ChestX-ray14", r"^(\d{8})_\d{3}\.png$", "name",
           "00001280_004.png -> 00001280"),
    Scheme("chexpert", "CheXpert (Stanford)", r"(?:^|/)(patient\d+)/study\d+/", "path",
           "train/patient00001/study1/view1_frontal.jpg -> patient00001"),
    Scheme("mimic-cxr", "MIMIC-CXR", r"(?:^|/)p\d{2}/(p\d{8})/s\d{8}/", "path",
           "files/p10/p10000032/s50414267/abc.jpg -> p10000032"),
)
_COMPILED = tuple((s, s.regex) for s in PATIENT_SCHEMES)


def match_scheme(image_id: str) -> tuple[str, Scheme] | None:
    """``(patient id, scheme)`` for the first scheme of :data:`PATIENT_SCHEMES` that matches, else None."""
    path = image_id.replace("\\", "/")
    name = os.path.basename(path)
    for scheme, regex in _COMPILED:
        m = regex.match(name) if scheme.where == "name" else regex.search(path)
        if m:
            return m.group(1), scheme
    return None


def describe(schemes: dict[str, int], parsed: int, total: int) -> str:
    """The group source text for ``schemes`` (name -> images matched)."""
    if not parsed:
        return "none (no patient ids in file names: each image is its own group)"
    names = ", ".join(f"{n} ({next(s.dataset for s in PATIENT_SCHEMES if s.name == n)})" for n in schemes)
    text = f"file name (patient ids, scheme: {names})"
    if parsed < total:
        text += f" for {parsed} of {total} images; each of the others is its own group"
    return text


def groups_from_schemes(ids: list[str]) -> tuple[np.ndarray, str]:
    """Group per image (its patient id, else the full id itself) and the group source text."""
    groups, schemes, parsed = [], {}, 0
    for i in ids:
        hit = match_scheme(i)
        if hit is None:
            groups.append(i)
            continue
        parsed += 1
        schemes[hit[1].name] = schemes.get(hit[1].name, 0) + 1
        groups.append(hit[0])
    return np.array(groups, dtype=str), describe(schemes, parsed, len(ids))


def check_pattern(pattern: str) -> re.Pattern[str]:
    """``--group-pattern``: a regular expression with exactly one capture group; else a one-line error."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise MedbenchError(f"--group-pattern {pattern!r} is not a regular expression ({exc})") from None
    if regex.groups != 1:
        raise MedbenchError(f"--group-pattern {pattern!r} has {regex.groups} capture groups; it needs exactly one "
                            "(the patient id), e.g. '^(\\d{8})_'")
    return regex


def groups_from_pattern(ids: list[str], pattern: str) -> tuple[np.ndarray, str]:
    """Groups from ``--group-pattern`` (searched in each relative path); an image it misses is its own group."""
    regex = check_pattern(pattern)
    groups, parsed = [], 0
    for i in ids:
        m = regex.search(i)
        if m and m.group(1):
            parsed += 1
            groups.append(f"pattern:{m.group(1)}")
        else:
            groups.append(i)
    if not parsed:
        raise MedbenchError(f"--group-pattern {pattern!r} matches none of the {len(ids)} image paths (first: "
                            f"{ids[0] if ids else '-'}); check the expression against a path")
    source = f"--group-pattern {pattern}"
    return np.array(groups, dtype=str), source + (f" for {parsed} of {len(ids)} images; each of the others is "
                                                   "its own group" if parsed < len(ids) else "")


def read_groups_csv(path: str | Path) -> dict[str, str]:
    """``--groups CSV``: a header row naming ``path`` (or ``image``/``id``) and ``group`` (or ``patient``)
    columns; image path -> group id. Every problem is a one-line error naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MedbenchError(f"--groups {path} does not exist; pass a CSV with columns path,group") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MedbenchError(f"--groups {path} cannot be read as UTF-8 text ({exc})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise MedbenchError(f"--groups {path} is empty; it needs a header row path,group and one row per image")
    header = [h.strip().lower() for h in rows[0]]
    col_path = next((header.index(c) for c in ("path", "image", "id", "file") if c in header), None)
    col_group = next((header.index(c) for c in ("group", "patient", "patient_id", "group_id") if c in header), None)
    if col_path is None or col_group is None:
        raise MedbenchError(f"--groups {path}: the header {rows[0]} must name a path column (path, image, id or "
                            "file) and a group column (group, patient, patient_id or group_id)")
    out: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(col_path, col_group) or not row[col_path].strip() or not row[col_group].strip():
            raise MedbenchError(f"--groups {path} line {n}: needs a path and a group id")
        key = row[col_path].strip().replace("\\", "/")
        if key in out and out[key] != row[col_group].strip():
            raise MedbenchError(f"--groups {path} line {n}: {key!r} is given two groups")
        out[key] = row[col_group].strip()
    return out


def groups_from_csv(ids: list[str], path: str | Path) -> tuple[np.ndarray, str]:
    """Groups from ``--groups CSV``: an id is looked up by its relative path, then by its file name."""
    table = read_groups_csv(path)
    by_name: dict[str, str | None] = {}
    for key, group in table.items():
        name = os.path.basename(key)
        by_name[name] = group if name not in by_name or by_name[name] == group else None
    groups, found = [], 0
    for i in ids:
        g = table.get(i) or by_name.get(os.path.basename(i))
        found += g is not None
        groups.append(f"csv:{g}" if g is not None else i)
    if not found:
        raise MedbenchError(f"--groups {path}: none of its {len(table)} paths is an image of the dataset (first "
                            f"image: {ids[0] if ids else '-'}); give paths relative to the dataset folder")
    source = f"--groups {Path(path).name}"
    return np.array(groups, dtype=str), source + (f" for {found} of {len(ids)} images; each of the others is its "
                                                   "own group" if found < len(ids) else "")


def regroup(ds: Any, groups_csv: str | Path | None = None, pattern: str | None = None) -> Any:
    """``ds`` with groups from ``--groups`` or ``--group-pattern`` (the dataset unchanged when neither)."""
    if groups_csv is None and not pattern:
        return ds
    if groups_csv is not None and pattern:
        raise MedbenchError("--groups and --group-pattern both give patient groups; use one of them")
    ids = ds.ids.tolist()
    groups, source = groups_from_csv(ids, groups_csv) if groups_csv is not None else groups_from_pattern(ids, pattern)
    ds.groups, ds.group_source = groups, source
    return ds


def crossing(groups: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Groups seen in more than one split: their count, per pair, and the images of test affected."""
    seen: dict[str, set[str]] = {s: set(groups[idx].tolist()) for s, idx in parts.items()}
    names = list(parts)
    pairs = {}
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            pairs[f"{a}-{b}"] = len(seen[a] & seen[b])
    multi = {g for a_i, a in enumerate(names) for b in names[a_i + 1:] for g in seen[a] & seen[b]}
    test_hit = 0
    if "test" in parts:
        others = set().union(*(seen[s] for s in names if s != "test")) if len(names) > 1 else set()
        test_hit = int(sum(g in others for g in groups[parts["test"]].tolist()))
    return {"groups_in_several_splits": len(multi), "pairs": pairs, "test_images_with_group_elsewhere": test_hit}
