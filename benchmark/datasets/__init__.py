"""Dataset registry: turn a dataset spec (``pneumoniamnist``, ``folder:PATH``, ``coronahack:PATH``)
into a :class:`~benchmark.datasets.dataset.Dataset`."""

from __future__ import annotations

from typing import Any

from medbench.core.errors import MedbenchError
from medbench.datasets import info
from medbench.datasets.dataset import SPLITS, Dataset

__all__ = ["Dataset", "SPLITS", "load_dataset", "describe_datasets"]


def load_dataset(spec: str, *, task: str | None = None, image_size: int | None = None,
                 allow_missing: bool = False) -> Dataset:
    """Load a dataset by spec.

    ``task`` selects a labelling for sources that offer several (CoronaHack); ``image_size``
    is the side length path-based images are resized to (default 224); ``allow_missing`` lets a
    run go on without missing or unreadable image files (they are still counted and reported).
    """
    spec = spec.strip()
    kind, _, path = spec.partition(":")
    if kind in info.MEDMNIST and not path:
        if task not in (None, info.MEDMNIST[kind]["task"]):
            raise MedbenchError(f"dataset {kind} has no task {task!r}")
        from medbench.datasets.medmnist import load_medmnist

        return load_medmnist(kind, spec)
    if kind in info.PATH_KINDS:
        if not path:
            raise MedbenchError(f"dataset spec {spec!r} needs a path: use {info.PATH_KINDS[kind]['usage']}")
        opts: dict[str, Any] = {"allow_missing": allow_missing}
        if image_size is not None:
            opts["image_size"] = image_size
        if kind == "folder":
            from medbench.datasets.folder import load_folder

            if task is not None:
                raise MedbenchError("folder datasets have one task (their class folders); drop --task")
            return load_folder(path, spec=spec, **opts)
        if kind == "coronahack":
            from medbench.datasets.coronahack import load_coronahack

            return load_coronahack(path, spec=spec, task=task, **opts)
    known = ", ".join(list(info.MEDMNIST) + [v["usage"] for v in info.PATH_KINDS.values()])
    raise MedbenchError(f"unknown dataset {spec!r}; known datasets: {known}")


def describe_datasets() -> list[dict[str, str]]:
    """Rows for ``medbench datasets``."""
    rows = []
    for name, facts in info.MEDMNIST.items():
        n = facts["n_samples"]
        rows.append({
            "dataset": name,
            "title": facts["title"],
            "classes": ", ".join(facts["label_names"]),
            "split": f"official: train {n['train']} / val {n['val']} / test {n['test']}",
            "source": facts["url"],
        })
    for facts in info.PATH_KINDS.values():
        tasks = facts.get("tasks")
        rows.append({
            "dataset": facts["usage"],
            "title": facts["title"],
            "classes": "tasks: " + ", ".join(tasks) if tasks else "one per sub-folder",
            "split": "official train/test if present, else seeded stratified group split",
            "source": facts["description"],
        })
    return rows
