"""Loader for MedMNIST ``.npz`` files (official split, downloaded on first use)."""

from __future__ import annotations

import numpy as np

from medbench.core.errors import MedbenchError
from medbench.datasets import info
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.download import fetch


def load_medmnist(name: str, spec: str | None = None) -> Dataset:
    """Load MedMNIST set ``name`` (a key of ``info.MEDMNIST``) with its official split."""
    facts = info.MEDMNIST[name]
    path = fetch(facts["file"], facts["url"], facts["md5"])
    try:
        with np.load(path, allow_pickle=False) as npz:
            parts = {s: (npz[f"{s}_images"], npz[f"{s}_labels"]) for s in SPLITS}
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise MedbenchError(f"{path} is not a valid MedMNIST npz ({exc}); delete it to re-download") from exc
    images, labels, ids, split = [], [], [], []
    for s in SPLITS:
        x, y = parts[s]
        if x.ndim == 4:  # colour MedMNIST sets: convert to luminance like every other source
            x = np.round(x[..., :3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
        images.append(x.astype(np.uint8, copy=False))
        labels.append(np.asarray(y).reshape(-1).astype(np.int64))
        ids.extend(f"{s}/{i:05d}" for i in range(len(x)))
        split.extend([s] * len(x))
    class_names = list(facts["label_names"])
    return Dataset(
        name=name,
        spec=spec or name,
        title=facts["title"],
        class_names=class_names,
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        ids=np.array(ids),
        groups=np.array(ids),
        official_split=np.array(split),
        positive_class=class_names.index(facts["positive_class"]) if facts.get("positive_class") else None,
        task=facts["task"],
        source={k: facts[k] for k in ("url", "md5", "licence", "citation") if k in facts} | {"path": str(path)},
        group_source="none (MedMNIST publishes no patient ids; official split used)",
    )
