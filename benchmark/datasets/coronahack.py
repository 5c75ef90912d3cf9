"""Loader for the Kaggle CoronaHack Chest X-Ray dataset (metadata CSV + train/test image folders).

Labels come from one CSV column chosen by the task (:data:`TASKS`), and
a class may require other columns to agree (task ``etiology``: *normal* needs ``Label == Normal``;
*bacteria* and *virus* need ``Label == Pnemonia``). Rows that fit no class are excluded, counted in
``problems["excluded"]`` (per value) and announced with a warning, never labelled by default. Files
listed in the CSV but absent, or present but undecodable, go through
:func:`medbench.datasets.failures.handle_failures` (counted per class and per fine category,
``Label_2_Virus_category``) and stop the load unless ``allow_missing`` is set.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import readfile
from medbench.core.errors import MedbenchError
from medbench.core.warn import warn
from medbench.datasets.dataset import Dataset
from medbench.datasets.derived import GROUP_SPLIT, colour_note, groups_for
from medbench.datasets.failures import MAX_LISTED_FILES, handle_failures
from medbench.datasets.images import DEFAULT_IMAGE_SIZE, is_image_file, load_images
from medbench.datasets.spec import DatasetKind, DatasetSpec, path_kind_row

METADATA_CSV = "Chest_xray_Corona_Metadata.csv"
IMAGE_DIR = "Coronahack-Chest-XRay-Dataset"
NAME_COLUMN = "X_ray_image_name"
SPLIT_COLUMN = "Dataset_type"
CATEGORY_COLUMN = "Label_2_Virus_category"
SPLIT_VALUES = {"TRAIN": "train", "TEST": "test"}
NO_CATEGORY = "(none)"
TITLE = "CoronaHack Chest X-Ray (Kaggle)"
#: What ``--channels auto`` gives: X-rays are gray; the 19 colour files of 5,907 are all COVID-19 (a shortcut).
AUTO_CHANNELS = "gray"
#: Each task: the CSV column its labels come from, the values of each class, what other columns a class
#: requires, and its positive class.
TASKS = {
    "pneumonia": {
        "description": "normal vs pneumonia (column Label)",
        "column": "Label",
        "classes": {"normal": ["Normal"], "pneumonia": ["Pnemonia"]},
        "positive_class": "pneumonia",
    },
    "etiology": {
        "description": "normal (Label Normal) vs bacterial vs viral pneumonia (Label Pnemonia, column "
        "Label_1_Virus_category); rows that fit none of these (the 2 Stress-Smoking (ARDS) rows, a "
        "pneumonia row without a category) are excluded and counted",
        "column": "Label_1_Virus_category",
        "classes": {"normal": [""], "bacteria": ["bacteria"], "virus": ["Virus"]},
        # a row is of a class only if these other columns agree, too
        "requires": {"normal": {"Label": ["Normal"]}, "bacteria": {"Label": ["Pnemonia"]},
                     "virus": {"Label": ["Pnemonia"]}},
        "positive_class": None,
    },
}
DEFAULT_TASK = "pneumonia"


def _image_root(root: Path) -> Path:
    """``Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset`` (Kaggle) or the single level."""
    for candidate in (root / IMAGE_DIR / IMAGE_DIR, root / IMAGE_DIR):
        if any((candidate / s).is_dir() for s in SPLIT_VALUES.values()):
            return candidate
    raise MedbenchError(f"coronahack: no image folders under {root}: expected {IMAGE_DIR}/{IMAGE_DIR}/train/ "
                        f"and test/ (as in the Kaggle download) or {IMAGE_DIR}/train/ and test/")


def _read_rows(csv_path: Path, columns: list[str]) -> list[dict[str, str]]:
    try:
        text = readfile.read_bytes(csv_path, "coronahack label table", cap="table").decode("utf-8-sig")
        with io.StringIO(text, newline="") as fh:
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


def _row_class(row: dict[str, str], column: str, class_of_value: dict[str, str],
               requires: dict[str, dict[str, list[str]]]) -> tuple[str | None, str]:
    """``(class, "")`` for a row that fits a class of the task, else ``(None, why)`` (for the count)."""
    value = row[column]
    cls = class_of_value.get(value)
    if cls is None:
        return None, value or "(empty)"
    for other, allowed in requires.get(cls, {}).items():
        if row[other] not in allowed:
            return None, f"{value or '(empty)'} with {other} {row[other] or '(empty)'}"
    return cls, ""


def load_coronahack(path: str | os.PathLike, *, spec: str | None = None, task: str | None = None,
                    image_size: int = DEFAULT_IMAGE_SIZE, allow_missing: bool = False, n_jobs: int | None = None,
                    max_image_pixels: int | None = None, channels: str = "auto") -> Dataset:
    """Load CoronaHack for ``task`` (default :data:`DEFAULT_TASK`); decode on
    ``n_jobs`` threads, refusing images over ``max_image_pixels``, as ``channels`` (``auto``: RGB only
    when some image has colour; see :func:`medbench.datasets.images.load_images`). ``auto`` is gray
    here (:data:`AUTO_CHANNELS`): chest X-rays are gray, and the few colour
    files (19 of the 5,907 present, every one a COVID-19 image) would be a shortcut to their label."""
    if channels == "auto":
        channels = AUTO_CHANNELS
    task = task or DEFAULT_TASK
    if task not in TASKS:
        raise MedbenchError(f"coronahack has no task {task!r}; choose one of: {', '.join(TASKS)}")
    task_facts = TASKS[task]
    column = task_facts["column"]
    requires: dict[str, dict[str, list[str]]] = task_facts.get("requires", {})
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
    needed = [NAME_COLUMN, SPLIT_COLUMN, CATEGORY_COLUMN, column, *(c for r in requires.values() for c in r)]
    rows = _read_rows(csv_path, list(dict.fromkeys(needed)))
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
        cls, why = _row_class(row, column, class_of_value, requires)
        if cls is None:
            excluded[why] += 1
            continue
        row["_id"] = f"{split}/{row[NAME_COLUMN]}"
        if row["_id"] in seen:
            duplicates.append(row["_id"])
            continue
        seen.add(row["_id"])
        row["_split"] = split
        row["_class"] = cls
        kept.append(row)
    if excluded:
        per_value = dict(sorted(excluded.items()))
        problems["excluded"] = {
            "count": sum(excluded.values()),
            "column": column,
            "per_value": per_value,
            "reason": f"the row fits no class of task {task!r}",
        }
        warn(f"coronahack: excluding {sum(excluded.values())} row(s) of {METADATA_CSV} that fit no class of "
             f"task {task!r} ({', '.join(f'{k}: {v}' for k, v in per_value.items())})")
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
    all_listed = {f"{SPLIT_VALUES.get(r[SPLIT_COLUMN].upper())}/{r[NAME_COLUMN]}" for r in rows}
    unlisted = sorted(i for i in on_disk - all_listed if is_image_file(os.path.basename(i)))
    if unlisted:
        problems["unlisted_files"] = {"count": len(unlisted), "files": unlisted[:MAX_LISTED_FILES]}
    category_of = {r["_id"]: r[CATEGORY_COLUMN] or NO_CATEGORY for r in kept}
    missing = [(r["_id"], "file not found") for r in kept if r["_id"] not in on_disk]
    gone = handle_failures(missing, kind="missing", out_of=len(kept), label_of=label_of, category_of=category_of,
                           where=f"under {image_root} (listed in {METADATA_CSV} for task {task!r})",
                           allow_missing=allow_missing, problems=problems, prefix="coronahack: ")
    if gone:
        problems["missing"]["folder"] = str(image_root)
        kept = [r for r in kept if r["_id"] not in gone]

    images, failures = load_images(image_root, [r["_id"] for r in kept], image_size,
                                   desc=f"decoding coronahack ({task})", n_jobs=n_jobs, max_pixels=max_image_pixels,
                                   channels=channels)
    failed = handle_failures(failures, kind="unreadable", where=f"under {image_root}", label_of=label_of,
                             category_of=category_of, allow_missing=allow_missing, problems=problems,
                             prefix="coronahack: ")
    if failed:
        kept = [r for r in kept if r["_id"] not in failed]

    left = Counter(r["_class"] for r in kept)
    for cls in class_names:
        if left[cls] == 0:
            raise MedbenchError(f"coronahack: no image of class {cls!r} (task {task!r}) is left after skipping "
                                f"missing or unreadable files under {image_root}; restore the files")

    ids = [r["_id"] for r in kept]
    groups, group_source = groups_for(ids)
    categories: dict[str, dict[str, int]] = {}
    for r in kept:
        per = categories.setdefault(r["_class"], {})
        per[r[CATEGORY_COLUMN] or NO_CATEGORY] = per.get(r[CATEGORY_COLUMN] or NO_CATEGORY, 0) + 1
    positive = task_facts.get("positive_class")
    return Dataset(
        name=f"coronahack-{task}",
        spec=spec or f"coronahack:{path}",
        title=f"{TITLE}, task {task}",
        class_names=class_names,
        images=images,
        labels=np.array([class_names.index(r["_class"]) for r in kept], dtype=np.int64),
        ids=np.array(ids, dtype=str),
        groups=groups,
        official_split=np.array([r["_split"] for r in kept], dtype=str),
        positive_class=class_names.index(positive) if positive else None,
        task="binary" if len(class_names) == 2 else "multiclass",
        source={"path": str(root), "metadata": str(csv_path), "images": str(image_root),
                "label_column": column, **colour_note(images, channels, f"coronahack {image_root}"),
                "fine_categories": {c: dict(sorted(v.items())) for c, v in categories.items()}},
        problems=problems,
        group_source=group_source,
    )


def _load_kind(spec: DatasetSpec, *, n_jobs: int | None, max_image_pixels: int) -> Dataset:
    size = {} if spec.image_size is None else {"image_size": spec.image_size}
    return load_coronahack(spec.path, spec=spec.text, task=spec.task, allow_missing=spec.allow_missing,
                           n_jobs=n_jobs, max_image_pixels=max_image_pixels, channels=spec.channels, **size)


DATASET_KINDS = [DatasetKind("coronahack", _load_kind, path_kind_row(
    "coronahack", title=TITLE, classes="tasks: " + ", ".join(TASKS), split=GROUP_SPLIT,
    source="Chest_xray_Corona_Metadata.csv plus Coronahack-Chest-XRay-Dataset/{train,test}/."), order=30)]
