"""``DatasetSpec``: which dataset to load and how, in one value (the ``--dataset`` text split once).

A spec's text is a MedMNIST name (``pneumoniamnist``) or ``KIND:PATH`` (``folder:data/xrays``,
``npz:arrays.npz``, ``coronahack:data/ch``, a plugin's kind). Beside the text it carries the load
options (task, image size, missing files allowed, pixel limit, channels), so a Dask worker can load
the very same dataset from it (:class:`medbench.running.engine.DatasetRef`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medbench.datasets.images import check_channels, check_image_size, check_max_pixels

__all__ = ["DatasetKind", "DatasetSpec", "path_kind_row"]


@dataclass(frozen=True)
class DatasetSpec:
    """``kind`` (``pneumoniamnist``, ``folder``, ...) and ``path`` (``None`` when the text has no ``:``;
    ``""`` for ``folder:``), plus how to load it."""

    kind: str
    path: str | None = None
    task: str | None = None
    image_size: int | None = None
    allow_missing: bool = False
    max_image_pixels: int | None = None
    channels: str = "auto"
    pad: bool = False  # zero-pad images to image_size when it is above the source's (--protocol medmnist)

    @classmethod
    def parse(cls, text: str | DatasetSpec, **load: Any) -> DatasetSpec:
        """``"folder:data/x"`` -> ``DatasetSpec("folder", "data/x", **load)``; a DatasetSpec gets ``load`` applied."""
        if isinstance(text, DatasetSpec):
            return dataclasses.replace(text, **load) if load else text
        kind, colon, path = str(text).strip().partition(":")
        return cls(kind, path if colon else None, **load)

    @property
    def text(self) -> str:
        """The spec as written: ``pneumoniamnist`` or ``KIND:PATH``."""
        return self.kind if self.path is None else f"{self.kind}:{self.path}"

    def __str__(self) -> str:
        return self.text

    def checked(self) -> DatasetSpec:
        """The spec with its load options checked and normalised (one-line errors naming the option)."""
        return dataclasses.replace(
            self, image_size=None if self.image_size is None else check_image_size(self.image_size),
            max_image_pixels=self.max_image_pixels if self.max_image_pixels is None
            else check_max_pixels(self.max_image_pixels),
            channels=check_channels(self.channels))


@dataclass(frozen=True)
class DatasetKind:
    """A kind of dataset spec (``pneumoniamnist``, ``folder``, ...): how to load it and how ``medbench
    datasets`` lists it. A module of :mod:`medbench.datasets` registers its kinds by listing them in a
    module-level ``DATASET_KINDS``; :func:`medbench.datasets.dataset_kinds` collects them (adding a kind is
    one new module there, plus its test). ``load(spec, n_jobs=..., max_image_pixels=...)`` gets the checked
    :class:`DatasetSpec` (``spec.path`` set when ``needs_path``) and the resolved pixel limit."""

    name: str
    load: Callable[..., Any]
    row: dict[str, str]
    needs_path: bool = True
    listed: bool = True  # named among the known datasets of an "unknown dataset" error
    order: int = 100  # where `medbench datasets` lists it (then registration order)

    @property
    def usage(self) -> str:
        return f"{self.name}:PATH" if self.needs_path else self.name


def path_kind_row(kind: str, *, title: str, classes: str, split: str, source: str) -> dict[str, str]:
    """The ``medbench datasets`` row of a kind that takes a path (``KIND:PATH``), from the facts its own
    module keeps."""
    return {"dataset": f"{kind}:PATH", "title": title, "classes": classes, "split": split, "source": source}
