"""The in-memory dataset every loader returns and every pipeline consumes.

Representation (documented in README): ``images`` is a ``uint8`` array, all images the same size,
of shape ``(N, H, W)`` for a gray dataset or ``(N, H, W, 3)`` (RGB) for a colour one
(:attr:`Dataset.channels`; which one a loader returns is its ``channels`` argument: ``auto`` keeps
colour only where the source has it). Gray images of colour sources are their ITU-R 601-2
luminance, alpha is dropped, 16-bit images are rescaled to 8 bits, and images of other sizes are
resized (see ``medbench.datasets.images``). Labels are integer indices into ``class_names``.

``images`` may be a read-only memory map of the decoded-image cache (path-based datasets): treat it
as read-only, index it to get private copies. :attr:`Dataset.fingerprint` hashes the pixels actually
held, through the array's buffer (no copy, whatever the dataset's size).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


def update_with_pixels(h: Any, images: np.ndarray) -> None:
    """Feed ``images``' bytes in C order to hash ``h`` through its buffer: the same bytes as
    ``images.tobytes()``, without that full copy (a non-contiguous view is hashed image by image)."""
    if images.size == 0:
        return
    if images.flags.c_contiguous:
        h.update(memoryview(images).cast("B"))
        return
    for image in images:
        h.update(np.ascontiguousarray(image).data)


@dataclass
class Dataset:
    name: str  # short name, e.g. "pneumoniamnist" or "chest_xray"
    spec: str  # what the user typed, e.g. "folder:../shared/datasets/chest_xray"
    title: str
    class_names: list[str]
    images: np.ndarray  # (N, H, W) uint8 gray, or (N, H, W, 3) uint8 RGB
    labels: np.ndarray  # (N,) int64, indices into class_names
    ids: np.ndarray  # (N,) str, unique and stable across runs (relative paths, "train/0001", ...)
    groups: np.ndarray  # (N,) str, patient / group id ("" -> the id itself is the group)
    official_split: np.ndarray | None = None  # (N,) str in SPLITS, or None when the source has no split
    positive_class: int | None = None  # binary tasks: index of the positive ("disease") class
    task: str | None = None
    source: dict[str, Any] = field(default_factory=dict)  # url / md5 / licence / path / citation
    problems: dict[str, Any] = field(default_factory=dict)  # missing / unreadable files, exclusions
    group_source: str = "none"  # how groups were derived, e.g. "file name (personNNN / IM-NNNN)"

    def __post_init__(self) -> None:
        n = len(self.labels)
        rgb = self.images.ndim == 4 and self.images.shape[-1] == 3
        if (self.images.ndim != 3 and not rgb) or self.images.dtype != np.uint8:
            raise ValueError(f"images must be (N, H, W) or (N, H, W, 3) uint8, got {self.images.shape} "
                             f"{self.images.dtype}")
        for name in ("images", "ids", "groups"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, labels has {n}")
        if self.official_split is not None and len(self.official_split) != n:
            raise ValueError("official_split does not match labels")
        if len(set(self.ids.tolist())) != n:
            raise ValueError(f"{self.name}: image ids are not unique")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)``, whatever the channels."""
        return tuple(self.images.shape[1:3])  # type: ignore[return-value]

    @property
    def channels(self) -> str:
        """``"rgb"`` for ``(N, H, W, 3)`` images, ``"gray"`` for ``(N, H, W)``."""
        return "rgb" if self.images.ndim == 4 else "gray"

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over ids, labels, class names and pixel data: changes if any image changes."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.class_names).encode())
        h.update("\x1e".join(self.ids.tolist()).encode())
        h.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        h.update(str(self.images.shape).encode())
        update_with_pixels(h, self.images)
        return h.hexdigest()

    def class_counts(self, index: np.ndarray | None = None) -> dict[str, int]:
        labels = self.labels if index is None else self.labels[index]
        counts = np.bincount(labels, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def card(self) -> dict[str, Any]:
        """Facts for results.json and the report's dataset card."""
        card: dict[str, Any] = {
            "name": self.name,
            "spec": self.spec,
            "title": self.title,
            "task": self.task,
            "class_names": list(self.class_names),
            "positive_class": None if self.positive_class is None else self.class_names[self.positive_class],
            "n_images": len(self),
            "image_shape": list(self.image_shape),
            "channels": self.channels,
            "class_counts": self.class_counts(),
            "fingerprint": self.fingerprint,
            "group_source": self.group_source,
            "n_groups": int(len(set(self.groups.tolist()))),
            "source": dict(self.source),
            "problems": dict(self.problems),
        }
        if self.official_split is not None:
            card["official_split_counts"] = {
                s: self.class_counts(np.flatnonzero(self.official_split == s)) for s in SPLITS
            }
        return card
