"""Loader for the MedMNIST v2 2D sets (``info.MEDMNIST``): official ``.npz``, verified download on first
use, official split, colour kept for the colour sets under ``channels="auto"``. ``NAME@SIZE``
(``pneumoniamnist@224``) loads the MedMNIST+ file of that size (MD5s in :mod:`medbench.datasets.sizes`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.datasets import info
from medbench.datasets.dataset import Dataset
from medbench.datasets.download import fetch
from medbench.datasets.npz import apply_channels, read_npz, resolve_channels
from medbench.datasets.sizes import SIZES, size_facts, split_name
from medbench.datasets.spec import DatasetKind, DatasetSpec


def load_medmnist(name: str, spec: str | None = None, *, channels: str = "auto", size: int | None = None) -> Dataset:
    """Load MedMNIST set ``name`` (a key of ``info.MEDMNIST``) with its official split, as ``channels``
    (``auto``: RGB for the colour sets, gray for the others; ``gray``: ITU-R 601-2 luminance; ``rgb``:
    gray sets repeated into three channels). ``size``: 64, 128 or 224 for the MedMNIST+ file (default 28)."""
    facts = size_facts(name, size)
    chosen = resolve_channels(channels, facts["channels"] == "rgb")
    path = fetch(facts["file"], facts["url"], facts["md5"])
    arrays = read_npz(path)
    if arrays.layout != "medmnist" or set(arrays.parts) != {"train", "val", "test"}:
        raise MedbenchError(f"{path} is not a MedMNIST npz (no train/val/test arrays); delete it to re-download")
    images, labels, ids, split = [], [], [], []
    for s, (x, y) in arrays.parts.items():
        if len(x) != facts["n_samples"][s]:
            raise MedbenchError(f"{path}: {s} split has {len(x)} images, {facts['title']} has "
                                f"{facts['n_samples'][s]}; delete the file to re-download it")
        if x.shape[1:3] != (facts["image_size"],) * 2:
            raise MedbenchError(f"{path}: {s} images are {x.shape[1]}x{x.shape[2]} px, {facts['title']} has "
                                f"{facts['image_size']}x{facts['image_size']}; delete the file to re-download it")
        images.append(apply_channels(x, chosen))
        labels.append(y)
        ids.extend(f"{s}/{i:05d}" for i in range(len(x)))
        split.extend([s] * len(x))
    class_names = list(facts["label_names"])
    y_all = np.concatenate(labels)
    if y_all.max() >= len(class_names):
        raise MedbenchError(f"{path}: label {int(y_all.max())} is not one of {facts['title']}'s "
                            f"{len(class_names)} classes; delete the file to re-download it")
    source = {k: facts[k] for k in ("url", "md5", "licence", "citation") if k in facts} | {"path": str(path)}
    if facts.get("medmnist_task") == "ordinal-regression":
        source["task_note"] = "MedMNIST's task is ordinal regression; medbench scores it as classification"
    return Dataset(
        name=name,
        spec=spec or name,
        title=facts["title"],
        class_names=class_names,
        images=np.concatenate(images),
        labels=y_all,
        ids=np.array(ids),
        groups=np.array(ids),
        official_split=np.array(split),
        positive_class=class_names.index(facts["positive_class"]) if facts.get("positive_class") else None,
        task=facts["task"],
        source=source,
        group_source="none (MedMNIST publishes no patient ids; official split used)",
    )


def _load_kind(spec: DatasetSpec, **_: Any) -> Dataset:
    name, size = split_name(spec.kind)
    if spec.task not in (None, info.MEDMNIST[name]["task"]):
        raise MedbenchError(f"dataset {spec.kind} has no task {spec.task!r}")
    return load_medmnist(name, spec.text, channels=spec.channels, size=size)


def _unsupported(spec: DatasetSpec, **_: Any) -> Dataset:
    raise MedbenchError(f"dataset {spec.kind} is not supported: {info.MEDMNIST_EXCLUDED[spec.kind]}")


def class_list(names: list[str]) -> str:
    """``2 classes: "malignant", "normal, benign"``: counted and quoted, so a name with a comma reads as one."""
    return f"{len(names)} classes: " + ", ".join(f'"{n}"' for n in names)


def _row(name: str, facts: dict[str, Any]) -> dict[str, str]:
    n = facts["n_samples"]
    ordinal = facts.get("medmnist_task") == "ordinal-regression"
    task = " (MedMNIST: ordinal regression; scored as classes)" if ordinal else ""
    return {"dataset": name, "title": f"{facts['title']}, {facts['channels']}",
            "classes": class_list(facts["label_names"]) + task,
            "split": f"official: train {n['train']} / val {n['val']} / test {n['test']}",
            "source": facts["url"] + " (also " + ", ".join(f"@{s}" for s in SIZES) + " px: MedMNIST+)"}


DATASET_KINDS = [DatasetKind(name, _load_kind, _row(name, facts), needs_path=False, order=0)
                 for name, facts in info.MEDMNIST.items()] + [
    DatasetKind(f"{name}@{size}", _load_kind, {}, needs_path=False, listed=False, order=0)  # row: the 28 px one's
    for name in info.MEDMNIST for size in SIZES] + [
    DatasetKind(name, _unsupported, {"dataset": name, "title": "not supported", "classes": "-", "split": "-",
                                     "source": why}, needs_path=False, listed=False, order=1)
    for name, why in info.MEDMNIST_EXCLUDED.items()]
