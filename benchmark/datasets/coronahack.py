"""Loader for the Kaggle CoronaHack Chest X-Ray dataset (metadata CSV + train/test image folders).

Labels come from one CSV column chosen by the task (``info.PATH_KINDS["coronahack"]["tasks"]``);
rows whose value maps to no class of the task are excluded and counted. Files listed in the CSV
but absent, or present but undecodable, are counted per class and per fine category
(``Label_2_Virus_category``) and stop the load unless ``allow_missing`` is set.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.datasets import info
from medbench.datasets.dataset import Dataset
from medbench.datasets.folder import MAX_LISTED_FILES, groups_for, warn
from medbench.datasets.images import DEFAULT_IMAGE_SIZE, is_image_file, load_images

METADATA_CSV = "Chest_xray_Corona_Metadata.csv"
IMAGE_DIR = "Coronahack-Chest-XRay-Dataset"
NAME_COLUMN = "X_ray_image_name"
SPLIT_COLUMN = "Dataset_type"
CATEGORY_COLUMN = "Label_2_Virus_category"
SPLIT_VALUES = {"TRAIN": "train", "TEST": "test"}
NO_CATEGORY = "(none)"


def _image_root(root: Path) -> Path:
    """``Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset`` (Kaggle) or the single level."""
    for candidate in (root / IMAGE_DIR / IMAGE_DIR, root / IMAGE_DIR):
        if any((candidate / s).is_dir() for s in SPLIT_VALUES.values()):
            return candidate
    raise MedbenchError(f"coronahack: no image folders under {root}: expected {IMAGE_DIR}/{IMAGE_DIR}/train/ "
                        f"and test/ (as in the Kaggle download) or {IMAGE_DIR}/train/ and test/")


def _read_rows(csv_path: Path, columns: list[str]) -> list[dict[str, str]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise MedbenchError(f"coronahack: {csv_path} is empty; restore it from the Kaggle download")
            header = [h.strip() for h in header]
            absent = [c for c in columns if c not in header]
            if absent:
                raise MedbenchError(f"coronahack: {csv_path} has no column {', '.join(absent)}; "
                                    f"is it the Kaggle dataset's {METADATA_CSV}?")
            pos = {c: header.index(c) for c in columns}
            rows = []
            for line, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) < len(header):
                    cells = cells + [""] * (len(header) - len(cells))
                row = {c: cells[i].strip() for c, i in pos.items()}
                row["_line"] = str(line)
                rows.append(row)
            return rows
    except OSError as exc:
        raise MedbenchError(f"coronahack: cannot read {csv_path} ({exc.strerror or exc})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise MedbenchError(f"coronahack: {csv_path} is not a readable CSV file ({exc})") from exc


def _counts(rows: list[dict[str, str]], label_of: dict[str, str]) -> dict[str, Any]:
    return {
        "count": len(rows),
        "per_label": dict(sorted(Counter(label_of[r["_id"]] for r in rows).items())),
        "per_category": dict(sorted(Counter(r[CATEGORY_COLUMN] or NO_CATEGORY for r in rows).items())),
        "files": [r["_id"] for r in rows[:MAX_LISTED_FILES]],
    }


def _describe(summary: dict[str, Any]) -> str:
    per_label = ", ".join(f"{k}: {v}" for k, v in summary["per_label"].items())
    per_cat = ", ".join(f"{k}: {v}" for k, v in summary["per_category"].items())
    return f"{per_label}; of them {per_cat}"


def load_coronahack(path: str | os.PathLike, *, spec: str | None = None, task: str | None = None,
                    image_size: int = DEFAULT_IMAGE_SIZE, allow_missing: bool = False) -> Dataset:
    """Load CoronaHack for ``task`` (default ``info.PATH_KINDS["coronahack"]["default_task"]``)."""
    facts = info.PATH_KINDS["coronahack"]
    tasks = facts["tasks"]
    task = task or facts["default_task"]
    if task not in tasks:
        raise MedbenchError(f"coronahack has no task {task!r}; choose one of: {', '.join(tasks)}")
    task_facts = tasks[task]
    column = task_facts["column"]
    root = Path(path).expanduser()
    if not root.is_dir():
        raise MedbenchError(f"coronahack: {root} is not a folder; pass the folder of the Kaggle download "
                            f"that holds {METADATA_CSV} and {IMAGE_DIR}/")
    root = root.resolve()
    csv_path = root / METADATA_CSV
    if not csv_path.is_file():
        raise MedbenchError(f"coronahack: metadata file {csv_path} not found; pass the folder of the Kaggle "
                            f"download that holds {METADATA_CSV} and {IMAGE_DIR}/")
    image_root = _image_root(root)
    rows = _read_rows(csv_path, list(dict.fromkeys([NAME_COLUMN, SPLIT_COLUMN, CATEGORY_COLUMN, column])))
    problems: dict[str, Any] = {}

    class_names = list(task_facts["classes"])
    class_of_value = {v: c for c, values in task_facts["classes"].items() for v in values}
    kept, excluded, duplicates = [], Counter(), []
    seen: set[str] = set()
    for row in rows:
        split = SPLIT_VALUES.get(row[SPLIT_COLUMN].upper())
        if split is None:
            raise MedbenchError(f"coronahack: {csv_path} line {row['_line']}: {SPLIT_COLUMN} is "
                                f"{row[SPLIT_COLUMN]!r}, expected TRAIN or TEST")
        if not row[NAME_COLUMN]:
            raise MedbenchError(f"coronahack: {csv_path} line {row['_line']}: empty {NAME_COLUMN}")
        if row[column] not in class_of_value:
            excluded[row[column] or "(empty)"] += 1
            continue
        row["_id"] = f"{split}/{row[NAME_COLUMN]}"
        if row["_id"] in seen:
            duplicates.append(row["_id"])
            continue
        seen.add(row["_id"])
        row["_split"] = split
        row["_class"] = class_of_value[row[column]]
        kept.append(row)
    if excluded:
        problems["excluded"] = {
            "count": sum(excluded.values()),
            "column": column,
            "per_value": dict(sorted(excluded.items())),
            "reason": f"value maps to no class of task {task!r}",
        }
    if duplicates:
        problems["duplicate_rows"] = {"count": len(duplicates), "files": duplicates[:MAX_LISTED_FILES]}
    listed = Counter(r["_class"] for r in kept)
    for cls in class_names:
        if listed[cls] == 0:
            raise MedbenchError(f"coronahack: {csv_path} lists no image of class {cls!r} for task {task!r}")
    kept.sort(key=lambda r: (r["_split"] != "train", r[NAME_COLUMN]))
    label_of = {r["_id"]: r["_class"] for r in kept}

    # files on disk: which listed ones are missing, which present ones are not listed
    on_disk: set[str] = set()
    for split in SPLIT_VALUES.values():
        folder = image_root / split
        if folder.is_dir():
            on_disk.update(f"{split}/{e.name}" for e in os.scandir(folder) if e.is_file())
    missing = [r for r in kept if r["_id"] not in on_disk]
    all_listed = {f"{SPLIT_VALUES.get(r[SPLIT_COLUMN].upper())}/{r[NAME_COLUMN]}" for r in rows}
    unlisted = sorted(i for i in on_disk - all_listed if is_image_file(os.path.basename(i)))
    if unlisted:
        problems["unlisted_files"] = {"count": len(unlisted), "files": unlisted[:MAX_LISTED_FILES]}
    if missing:
        summary = _counts(missing, label_of)
        what = (f"{len(missing)} of {len(kept)} images that {METADATA_CSV} lists for task {task!r} are missing "
                f"({_describe(summary)}) under {image_root}")
        if not allow_missing:
            raise MedbenchError(f"coronahack: {what}; pass --allow-missing to run without them")
        warn(f"coronahack: {what}; going on without them (--allow-missing)")
        problems["missing"] = summary | {"folder": str(image_root)}
        gone = {r["_id"] for r in missing}
        kept = [r for r in kept if r["_id"] not in gone]

    images, failures = load_images(image_root, [r["_id"] for r in kept], image_size,
                                   desc=f"decoding coronahack ({task})")
    if failures:
        failed = dict(failures)
        bad = [r for r in kept if r["_id"] in failed]
        summary = _counts(bad, label_of)
        summary["files"] = [f"{i}: {failed[i]}" for i in summary["files"]]
        what = f"{len(bad)} image file(s) under {image_root} are unreadable ({_describe(summary)})"
        if not allow_missing:
            first = "; ".join(f"{rel} ({reason})" for rel, reason in failures[:3])
            raise MedbenchError(f"coronahack: {what}, first: {first}; fix or remove them, "
                                f"or pass --allow-missing to skip them")
        warn(f"coronahack: {what}; skipping them (--allow-missing)")
        problems["unreadable"] = summary
        kept = [r for r in kept if r["_id"] not in failed]

    left = Counter(r["_class"] for r in kept)
    for cls in class_names:
        if left[cls] == 0:
            raise MedbenchError(f"coronahack: no image of class {cls!r} (task {task!r}) is left after skipping "
                                f"missing or unreadable files under {image_root}; restore the files")

    ids = [r["_id"] for r in kept]
    groups, group_source = groups_for([r[NAME_COLUMN] for r in kept])
    categories: dict[str, dict[str, int]] = {}
    for r in kept:
        per = categories.setdefault(r["_class"], {})
        per[r[CATEGORY_COLUMN] or NO_CATEGORY] = per.get(r[CATEGORY_COLUMN] or NO_CATEGORY, 0) + 1
    positive = task_facts.get("positive_class")
    return Dataset(
        name=f"coronahack-{task}",
        spec=spec or f"coronahack:{path}",
        title=f"{facts['title']}, task {task}",
        class_names=class_names,
        images=images,
        labels=np.array([class_names.index(r["_class"]) for r in kept], dtype=np.int64),
        ids=np.array(ids, dtype=str),
        groups=groups,
        official_split=np.array([r["_split"] for r in kept], dtype=str),
        positive_class=class_names.index(positive) if positive else None,
        task="binary" if len(class_names) == 2 else "multiclass",
        source={"path": str(root), "metadata": str(csv_path), "images": str(image_root),
                "label_column": column, "fine_categories": {c: dict(sorted(v.items())) for c, v in categories.items()}},
        problems=problems,
        group_source=group_source,
    )
