"""How long the gallery's occlusion maps take: hog-svm and sift-svm fitted on 120 PneumoniaMNIST training images
at 28 and 64 px, maps of 3 test images (one predict_proba call). Prints docs/explanations.md's table rows.

Run: ``python tests/occlusion_timing.py`` (needs ../shared/datasets; a minute or two).
"""

from __future__ import annotations

import time

import numpy as np

from medbench.datasets import load_dataset
from medbench.features.resize import to_size
from medbench.models import registry
from medbench.running import occlusion

PIPELINES = ("hog-svm", "sift-svm")
SIZES = (28, 64)


def main() -> None:
    ds = load_dataset("pneumoniamnist")
    train = np.flatnonzero(ds.official_split == "train")[:120]
    test = np.flatnonzero(ds.official_split == "test")[:3]
    rows = {p: [] for p in PIPELINES}
    for size in SIZES:
        xtr = np.stack([to_size(im, size) for im in ds.images[train]])
        xte = np.stack([to_size(im, size) for im in ds.images[test]])
        for name in PIPELINES:
            pipe = registry.get(name).build(registry.BuildContext(n_classes=2, image_shape=(size, size), n_jobs=1))
            pipe.fit(xtr, ds.labels[train])
            cls = pipe.predict_proba(xte).argmax(axis=1)
            t0 = time.perf_counter()
            _, info = occlusion.occlusion_maps(pipe.predict_proba, xte, cls)
            seconds = time.perf_counter() - t0
            rows[name].append(f"{seconds:.2f} s ({info['copies']} copies x 3, patch {info['patch']} px)")
            print(name, size, rows[name][-1], flush=True)
    for name in PIPELINES:
        print(f"| {name} | " + " | ".join(rows[name]) + " |")


if __name__ == "__main__":
    main()
