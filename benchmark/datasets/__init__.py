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

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.core.registry import Registry
from medbench.core.warn import warn
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.images import check_max_pixels
from medbench.datasets.padding import pad_dataset
from medbench.datasets.sizes import size_facts, split_name
from medbench.datasets.spec import DatasetKind, DatasetSpec

__all__ = ["Dataset", "DatasetKind", "DatasetSpec", "SPLITS", "dataset_kinds", "PLUGIN_GROUP", "load_dataset", "describe_datasets", "dataset_plugins"]

PLUGIN_GROUP = "medbench.datasets"

_KINDS: Registry[DatasetKind] = Registry("dataset kind")  # the one mechanism (medbench.core.registry)


def dataset_kinds() -> dict[str, DatasetKind]:
    """The built-in dataset kinds by name: every ``DATASET_KINDS`` list of a module of this package (a new
    kind is a new module here), in listing order."""
    if not len(_KINDS):
        found: list[DatasetKind] = []
        for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            found += getattr(importlib.import_module(f"{__name__}.{mod.name}"), "DATASET_KINDS", [])
        for kind in sorted(found, key=lambda k: k.order):
            _KINDS.add(kind.name, kind)
    return _KINDS.as_dict()


def _builtin_kinds() -> set[str]:
    return set(dataset_kinds())


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
    builtin = dataset_kinds().get(kind)
    if builtin is not None and (builtin.needs_path or not path):
        if builtin.needs_path and not path:
            raise MedbenchError(f"dataset spec {spec!r} needs a path: use {builtin.usage}")
        return _padded(builtin.load(ds_spec, n_jobs=n_jobs, max_image_pixels=max_image_pixels), ds_spec)
    opts: dict[str, Any] = {"allow_missing": allow_missing, "n_jobs": n_jobs, "max_image_pixels": max_image_pixels,
                            "channels": channels}
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
            return _padded(ds, ds_spec)
    if "@" in kind and kind.partition("@")[0] in dataset_kinds():  # a MedMNIST size with no recorded MD5
        size_facts(*split_name(kind))
    known = ", ".join([k.usage for k in dataset_kinds().values() if k.listed] + [f"{k}:PATH" for k in plugins])
    raise MedbenchError(f"unknown dataset {spec!r}; known datasets: {known}")


def _padded(ds: Dataset, spec: DatasetSpec) -> Dataset:
    """``spec.pad``: the images zero-padded to ``spec.image_size`` when it is above theirs (MedMNIST+)."""
    if not spec.pad or spec.image_size is None:
        return ds
    return pad_dataset(ds, spec.image_size)


def _first_line(doc: str | None) -> str:
    lines = [ln.strip() for ln in (doc or "").strip().splitlines()]
    return lines[0] if lines and lines[0] else "(no description)"


def describe_datasets() -> list[dict[str, str]]:
    """Rows for ``medbench datasets`` (built-in kinds, then plugins that load)."""
    rows = [dict(k.row) for k in dataset_kinds().values() if k.row]  # NAME@SIZE kinds share NAME's row
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
