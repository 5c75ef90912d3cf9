"""Dataset registry: turn a dataset spec (a MedMNIST name such as ``pneumoniamnist``, ``folder:PATH``,
``npz:PATH``, ``coronahack:PATH``, ``KIND:PATH`` from a plugin) into a
:class:`~medbench.datasets.dataset.Dataset`.

Plugins: a distribution may add a dataset kind through the entry-point group
:data:`PLUGIN_GROUP` (``medbench.datasets``). An entry point named ``KIND`` points at a callable
``load(path: str, *, spec: str, task: str | None, image_size: int | None, allow_missing: bool, **kw)
-> Dataset`` (``kw`` currently holds ``n_jobs``, ``max_image_pixels`` and ``channels``); ``load_dataset("KIND:PATH")``
calls it and ``describe_datasets()`` lists it, titled by the first line of its docstring. A plugin
that cannot be imported costs a one-line warning, never a crash; a built-in kind of the same name
wins (with a warning).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.datasets import info
from medbench.datasets.coronahack import load_coronahack
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.failures import warn
from medbench.datasets.folder import load_folder
from medbench.datasets.images import check_max_pixels
from medbench.datasets.medmnist import load_medmnist
from medbench.datasets.npz import load_npz
from medbench.datasets.spec import DatasetSpec

__all__ = ["Dataset", "DatasetSpec", "SPLITS", "PLUGIN_GROUP", "load_dataset", "describe_datasets", "dataset_plugins"]

PLUGIN_GROUP = "medbench.datasets"

def _builtin_kinds() -> set[str]:
    return set(info.MEDMNIST) | set(info.PATH_KINDS)


def dataset_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed dataset-kind plugins by kind (built-in names are left out, with a warning)."""
    plugins: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if ep.name in _builtin_kinds():
            warn(f"dataset plugin {ep.name!r} ({ep.value}) is ignored: {ep.name} is a built-in dataset kind")
        elif ep.name in plugins:
            warn(f"dataset plugin {ep.name!r} is installed twice ({plugins[ep.name].value}, {ep.value}); "
                       f"using the first")
        else:
            plugins[ep.name] = ep
    return plugins


def _load_plugin(ep: importlib.metadata.EntryPoint) -> Callable[..., Any] | None:
    """The plugin's loader, or ``None`` after a one-line warning when it cannot be imported."""
    try:
        loader = ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not take medbench down
        warn(f"dataset plugin {ep.name!r} ({ep.value}) could not be loaded "
                   f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); ignoring it")
        return None
    if not callable(loader):
        warn(f"dataset plugin {ep.name!r} ({ep.value}) is not callable; ignoring it")
        return None
    return loader


def load_dataset(spec: str | DatasetSpec, *, n_jobs: int | None = None, **load: Any) -> Dataset:
    """Load a dataset by spec: its text (``pneumoniamnist``, ``folder:PATH``, ...) or a :class:`DatasetSpec`.

    ``load`` sets (or, for a DatasetSpec, overrides) the spec's load options: ``task`` selects a
    labelling for sources that offer several (CoronaHack); ``image_size`` is the side length path-based
    images are resized to (default 224; 8..4096); ``allow_missing`` lets a run go on without missing or
    unreadable image files (they are still counted and reported); images larger than
    ``max_image_pixels`` (default Pillow's 89,478,485) are refused as unreadable. ``channels``:
    ``auto`` (default) keeps colour where the source has it (the MedMNIST colour sets; folders and npz
    files whose images are not all gray, R == G == B) and is gray otherwise; ``gray`` reduces colour to
    ITU-R 601-2 luminance; ``rgb`` keeps three channels (gray images repeated). ``n_jobs`` is the
    number of threads that decode images (default: every core).
    """
    ds_spec = DatasetSpec.parse(spec, **load).checked()
    spec, kind, path, task = ds_spec.text, ds_spec.kind, ds_spec.path or "", ds_spec.task
    image_size, channels = ds_spec.image_size, ds_spec.channels
    max_image_pixels = check_max_pixels(ds_spec.max_image_pixels)
    allow_missing = ds_spec.allow_missing
    if kind in info.MEDMNIST and not path:
        if task not in (None, info.MEDMNIST[kind]["task"]):
            raise MedbenchError(f"dataset {kind} has no task {task!r}")
        return load_medmnist(kind, spec, channels=channels)
    if kind in info.MEDMNIST_EXCLUDED and not path:
        raise MedbenchError(f"dataset {kind} is not supported: {info.MEDMNIST_EXCLUDED[kind]}")
    opts: dict[str, Any] = {"allow_missing": allow_missing, "n_jobs": n_jobs, "max_image_pixels": max_image_pixels,
                            "channels": channels}
    if kind in info.PATH_KINDS:
        if not path:
            raise MedbenchError(f"dataset spec {spec!r} needs a path: use {info.PATH_KINDS[kind]['usage']}")
        if kind == "npz":
            if task is not None:
                raise MedbenchError("npz datasets have one task (their labels); drop --task")
            return load_npz(path, spec=spec, channels=channels,  # arrays keep their size: no image_size
                            max_image_pixels=max_image_pixels)
        if image_size is not None:
            opts["image_size"] = image_size
        if kind == "folder":
            if task is not None:
                raise MedbenchError("folder datasets have one task (their class folders); drop --task")
            return load_folder(path, spec=spec, **opts)
        return load_coronahack(path, spec=spec, task=task, **opts)
    plugins = dataset_plugins()
    if kind in plugins:
        loader = _load_plugin(plugins[kind])
        if loader is not None:
            if not path:
                raise MedbenchError(f"dataset spec {spec!r} needs a path: use {kind}:PATH")
            ds = loader(path, spec=spec, task=task, image_size=image_size, **opts)
            if not isinstance(ds, Dataset):
                raise MedbenchError(f"dataset plugin {kind!r} ({plugins[kind].value}) returned "
                                    f"{type(ds).__name__}, not a medbench Dataset")
            return ds
    known = ", ".join(list(info.MEDMNIST) + [v["usage"] for v in info.PATH_KINDS.values()]
                      + [f"{k}:PATH" for k in plugins])
    raise MedbenchError(f"unknown dataset {spec!r}; known datasets: {known}")


def _first_line(doc: str | None) -> str:
    lines = [ln.strip() for ln in (doc or "").strip().splitlines()]
    return lines[0] if lines and lines[0] else "(no description)"


def describe_datasets() -> list[dict[str, str]]:
    """Rows for ``medbench datasets`` (built-in kinds, then plugins that load)."""
    rows = []
    for name, facts in info.MEDMNIST.items():
        n = facts["n_samples"]
        ordinal = facts.get("medmnist_task") == "ordinal-regression"
        task = " (MedMNIST: ordinal regression; scored as classes)" if ordinal else ""
        rows.append({
            "dataset": name,
            "title": f"{facts['title']}, {facts['channels']}",
            "classes": ", ".join(facts["label_names"]) + task,
            "split": f"official: train {n['train']} / val {n['val']} / test {n['test']}",
            "source": facts["url"],
        })
    for name, why in info.MEDMNIST_EXCLUDED.items():
        rows.append({"dataset": name, "title": "not supported", "classes": "-", "split": "-", "source": why})
    classes = {"folder": "one per sub-folder", "npz": "label values (or the file's class_names)"}
    splits = {"npz": "official (train_/val_/test_ arrays) if present, else seeded stratified split"}
    for kind, facts in info.PATH_KINDS.items():
        tasks = facts.get("tasks")
        rows.append({
            "dataset": facts["usage"],
            "title": facts["title"],
            "classes": "tasks: " + ", ".join(tasks) if tasks else classes.get(kind, "-"),
            "split": splits.get(kind, "official train/test if present, else seeded stratified group split"),
            "source": facts["description"],
        })
    for kind, ep in dataset_plugins().items():
        loader = _load_plugin(ep)
        if loader is None:
            continue
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        rows.append({
            "dataset": f"{kind}:PATH",
            "title": _first_line(loader.__doc__),
            "classes": "defined by the plugin",
            "split": "defined by the plugin",
            "source": f"plugin {ep.value} ({dist})",
        })
    return rows
