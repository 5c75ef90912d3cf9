"""Loader for image folders: ``PATH/{train,val,test}/CLASS/*`` or ``PATH/CLASS/*``.

Class names are the sorted class sub-folder names (the union over splits). Image files are those
with an extension in :data:`medbench.datasets.images.IMAGE_EXTENSIONS` (any case), found anywhere
below a class folder; hidden files and folders are skipped and other files are counted in
``problems["ignored_files"]``. Ids are paths relative to PATH with forward slashes. Groups are
patient ids parsed from Kermany-style file names (:func:`medbench.datasets.derived.patient_id`); an image without one is its
own group (its full id: ``NORMAL/img000.png`` and ``PNEUMONIA/img000.png`` are two groups, never one
"patient"). Unreadable files go through :func:`medbench.datasets.failures.handle_failures`.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from medbench.core import names
from medbench.core.errors import MedbenchError
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.derived import GROUP_SPLIT, colour_note, groups_for, positive_class_index
from medbench.datasets.failures import MAX_LISTED_FILES, handle_failures
from medbench.datasets.images import DEFAULT_IMAGE_SIZE, is_image_file, load_images
from medbench.datasets.spec import DatasetKind, DatasetSpec, path_kind_row

TITLE = "Image folder"

def _visible_dirs(path: Path) -> list[str]:
    try:
        found = sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise MedbenchError(f"cannot list folder {path} ({exc.strerror or exc}); check its permissions") from exc
    bad = next((d for d in found if not names.is_utf8(d)), None)
    if bad is not None:  # a class or split name ends up in every table: it must be text
        raise MedbenchError(f"folder {names.printable(path / bad)}: {names.NOT_UTF8}")
    return found


def _scan_class(folder: Path, root: Path, ignored: list[str], not_utf8: list[str]) -> list[str]:
    """Relative paths (forward slashes) of image files anywhere below ``folder``, sorted; image files whose
    name is not UTF-8 go to ``not_utf8`` instead (a failure the caller reports, never a crash later)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if not names.is_utf8(rel):
                (not_utf8 if is_image_file(names.printable(name)) else ignored).append(names.printable(rel))
            elif is_image_file(name):
                found.append(rel)
            elif not name.startswith("."):
                ignored.append(rel)
    return found


def load_folder(path: str | os.PathLike, *, spec: str | None = None, image_size: int = DEFAULT_IMAGE_SIZE,
                allow_missing: bool = False, n_jobs: int | None = None,
                max_image_pixels: int | None = None, channels: str = "auto", min_classes: int = 2) -> Dataset:
    """Load an image-folder dataset (see the module docstring for the layout and rules); decode on
    ``n_jobs`` threads, refusing images over ``max_image_pixels``, as ``channels`` (``auto``: RGB only
    when some image is not gray; see :func:`medbench.datasets.images.load_images`). ``min_classes=1`` is for
    an external validation set, which may hold one class (``medbench run --external``)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise MedbenchError(f"dataset folder {root} does not exist; pass the folder that holds the class "
                            f"sub-folders (or train/ val/ test/)")
    if not root.is_dir():
        raise MedbenchError(f"dataset path {root} is not a folder; pass the folder that holds the class "
                            f"sub-folders (or train/ val/ test/)")
    root = root.resolve()
    top = _visible_dirs(root)
    split_dirs = {d.lower(): d for d in top if d.lower() in SPLITS}
    problems: dict[str, Any] = {}
    ignored: list[str] = []
    if split_dirs:
        layout = [(s, split_dirs[s]) for s in SPLITS if s in split_dirs]
        others = [d for d in top if d.lower() not in SPLITS]
        if others:
            problems["ignored_folders"] = others
    else:
        layout = [(None, "")]
    ignored.extend(names.printable(e.name) for e in os.scandir(root) if e.is_file() and not e.name.startswith("."))
    not_utf8: list[tuple[str, str]] = []  # (printable id, class)

    # (split, class, rel path) for every image file
    entries: list[tuple[str | None, str, str]] = []
    classes_per_split: dict[str | None, list[str]] = {}
    for split, sub in layout:
        base = root / sub if sub else root
        classes = _visible_dirs(base)
        if not classes:
            where = f"{base}/" if sub else f"{root}"
            raise MedbenchError(f"no class folders in {where}: put each class's images in its own sub-folder "
                                f"(e.g. {base}/NORMAL/, {base}/PNEUMONIA/)")
        classes_per_split[split] = classes
        if sub:
            ignored.extend(names.printable(f"{sub}/{e.name}") for e in os.scandir(base)
                           if e.is_file() and not e.name.startswith("."))
        for cls in classes:
            bad: list[str] = []
            files = _scan_class(base / cls, root, ignored, bad)
            not_utf8.extend((rel, cls) for rel in bad)
            if not files:
                raise MedbenchError(f"empty class folder {base / cls}: add images or remove the folder")
            entries.extend((split, cls, rel) for rel in files)

    class_names = sorted({c for cs in classes_per_split.values() for c in cs})
    if len(class_names) < min_classes:
        hint = (f"; if {root / class_names[0]} holds the dataset, pass that folder instead"
                if class_names and not split_dirs else "")
        raise MedbenchError(f"dataset folder {root} has {len(class_names)} class folder(s) "
                            f"({', '.join(class_names)}): a classification needs at least 2{hint}")
    lacking = {s: sorted(set(class_names) - set(cs)) for s, cs in classes_per_split.items()}
    notes = [f"{s}/ has no class folder {', '.join(m)}" for s, m in lacking.items() if m]
    if notes:
        problems["class_mismatch"] = notes
    if ignored:
        problems["ignored_files"] = {"count": len(ignored), "files": ignored[:MAX_LISTED_FILES]}

    rels = [rel for _, _, rel in entries]
    label_of = {rel: cls for _, cls, rel in entries} | {rel: cls for rel, cls in not_utf8}
    images, failures = load_images(root, rels, image_size, desc=f"decoding {root.name}", n_jobs=n_jobs,
                                   max_pixels=max_image_pixels, channels=channels)
    failures = [(rel, names.NOT_UTF8) for rel, _ in not_utf8] + list(failures)
    failed = handle_failures(failures, kind="unreadable", where=f"in {root}", label_of=label_of,
                             allow_missing=allow_missing, problems=problems)
    if failed:
        entries = [e for e in entries if e[2] not in failed]
        left = Counter(cls for _, cls, _ in entries)
        emptied = [c for c in class_names if left[c] == 0]
        if emptied:
            raise MedbenchError(f"class {emptied[0]} in {root} has no readable images left after skipping "
                                f"unreadable files; fix the files or remove the class folder")

    colour = colour_note(images, channels, f"{root}")
    index = {c: i for i, c in enumerate(class_names)}
    ids = [rel for _, _, rel in entries]
    groups, group_source = groups_for(ids)
    return Dataset(
        name=root.name,
        spec=spec or f"folder:{path}",
        title=f"{TITLE} {root.name}",
        class_names=class_names,
        images=images,
        labels=np.array([index[cls] for _, cls, _ in entries], dtype=np.int64),
        ids=np.array(ids, dtype=str),
        groups=groups,
        official_split=np.array([s for s, _, _ in entries], dtype=str) if split_dirs else None,
        positive_class=positive_class_index(class_names),
        task="binary" if len(class_names) == 2 else "multiclass",
        source={"path": str(root), "layout": "split folders" if split_dirs else "class folders", **colour},
        problems=problems,
        group_source=group_source,
    )


def _load_kind(spec: DatasetSpec, *, n_jobs: int | None, max_image_pixels: int) -> Dataset:
    if spec.task is not None:
        raise MedbenchError("folder datasets have one task (their class folders); drop --task")
    size = {} if spec.image_size is None else {"image_size": spec.image_size}
    return load_folder(spec.path, spec=spec.text, allow_missing=spec.allow_missing, n_jobs=n_jobs,
                       max_image_pixels=max_image_pixels, channels=spec.channels, **size)


DATASET_KINDS = [DatasetKind("folder", _load_kind, path_kind_row(
    "folder", title=TITLE, classes="one per sub-folder", split=GROUP_SPLIT,
    source="One sub-folder per class, optionally under train/ val/ test/ (e.g. the Kaggle chest-xray-pneumonia "
           "layout)."), order=10)]
