"""Occlusion sensitivity (Zeiler & Fergus, ECCV 2014): where in an image a fitted pipeline's decision rests,
for any pipeline - classical or deep - because it needs nothing but the pipeline's ``predict_proba``.

A square patch of the image's mean grey slides over it; each occluded copy is scored, and the drop in the
probability of the class the pipeline predicted (``P(class | image) - P(class | occluded copy)``) is spread
over the pixels the patch covered and averaged per pixel. A large value marks a region the decision rests
on; a negative one a region that argued against it. :func:`geometry` picks the patch and stride from the
image size (patch about a quarter of the shorter side, stride half the patch, so about 7 x 7 copies per
image whatever its size, at most :data:`MAX_COPIES`), and :func:`occlusion_maps` scores all the copies of
all the images in one ``predict_proba`` call: the cost is that of predicting a few hundred images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_COPIES = 100  # occluded copies per image, at most (the stride grows when more would be needed)
PATCH_FRACTION = 4  # patch side = shorter image side / PATCH_FRACTION


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Top-left offsets along one axis: every ``stride`` px, the last one flush with the edge."""
    last = size - patch
    out = list(range(0, last + 1, stride))
    if out[-1] != last:
        out.append(last)
    return out


def geometry(height: int, width: int) -> dict[str, int]:
    """``{"patch", "stride", "copies"}`` for an image of ``height`` x ``width`` pixels."""
    patch = max(2, min(height, width) // PATCH_FRACTION)
    stride = max(1, -(-patch // 2))  # half the patch, rounded up
    while len(_positions(height, patch, stride)) * len(_positions(width, patch, stride)) > MAX_COPIES:
        stride += 1
    copies = len(_positions(height, patch, stride)) * len(_positions(width, patch, stride))
    return {"patch": patch, "stride": stride, "copies": copies}


def occlusion_maps(predict_proba: Callable[[np.ndarray], np.ndarray], images: np.ndarray, classes: np.ndarray,
                   patch: int | None = None, stride: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """``(maps, info)``: for each image of ``images`` (N, H, W[, C], as the pipeline takes them) the mean drop
    of ``P(classes[i])`` when a patch covering each pixel is greyed out, ``(N, H, W)`` float64 in probability
    units; ``info``: the patch, stride, copies per image and the fill value used."""
    images = np.asarray(images)
    classes = np.asarray(classes, dtype=np.int64)
    n, h, w = images.shape[:3]
    geo = geometry(h, w)
    patch = geo["patch"] if patch is None else int(patch)
    stride = geo["stride"] if stride is None else int(stride)
    spots = [(r, c) for r in _positions(h, patch, stride) for c in _positions(w, patch, stride)]
    mean = images.mean(axis=(1, 2), keepdims=True)  # each image's own mean (per channel): no new intensity
    grey = np.broadcast_to((np.round(mean) if images.dtype.kind in "ui" else mean).astype(images.dtype), images.shape)
    copies = np.repeat(images[:, None], len(spots) + 1, axis=1)  # (N, 1 + spots, H, W[, C]); copy 0 intact
    for s, (r, c) in enumerate(spots, 1):
        copies[:, s, r:r + patch, c:c + patch] = grey[:, r:r + patch, c:c + patch]
    proba = np.asarray(predict_proba(copies.reshape(n * (len(spots) + 1), *images.shape[1:])), dtype=np.float64)
    p = proba.reshape(n, len(spots) + 1, -1)[np.arange(n), :, classes]  # (N, 1 + spots): P(class)
    drop = p[:, :1] - p[:, 1:]
    total = np.zeros((n, h, w))
    count = np.zeros((h, w))
    for s, (r, c) in enumerate(spots):
        total[:, r:r + patch, c:c + patch] += drop[:, s, None, None]
        count[r:r + patch, c:c + patch] += 1
    info = {"patch": patch, "stride": stride, "copies": len(spots), "fill": "the image's mean intensity",
            "max_drop": [float(d.max()) for d in drop]}
    return total / np.maximum(count, 1), info


def display(heat: np.ndarray) -> np.ndarray:
    """A map scaled to [0, 1] for an overlay: the positive drops over the largest one (0 everywhere when
    occluding never lowered the probability, e.g. a pipeline that ignores the image)."""
    pos = np.clip(np.asarray(heat, dtype=np.float64), 0, None)
    top = float(pos.max()) if pos.size else 0.0
    return pos / top if top > 0 and math.isfinite(top) else np.zeros_like(pos)
