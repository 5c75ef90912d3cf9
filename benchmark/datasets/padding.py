"""Zero-padding a dataset's images to a larger square size (the MedMNIST+ protocol: 28 / 64 / 128 px
images are zero-padded to 224, never resized). The image sits in the centre; the border is black (0)."""

from __future__ import annotations

import dataclasses

import numpy as np

from medbench.datasets.dataset import Dataset


def zero_pad(images: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W[, C])`` -> ``(N, size, size[, C])`` with the images centred (an odd margin puts the extra
    row / column after the image); images already ``size`` or larger are returned as they are."""
    h, w = images.shape[1:3]
    if h >= size and w >= size:
        return images
    top, left = max(size - h, 0) // 2, max(size - w, 0) // 2
    pad = [(0, 0), (top, max(size - h, 0) - top), (left, max(size - w, 0) - left)] + [(0, 0)] * (images.ndim - 3)
    return np.pad(images, pad, mode="constant", constant_values=0)


def pad_dataset(ds: Dataset, size: int) -> Dataset:
    """``ds`` with its images zero-padded to ``size`` (unchanged when they are that large already); the
    dataset's ``source`` says so."""
    h, w = ds.image_shape
    if h >= size and w >= size:
        return ds
    return dataclasses.replace(ds, images=zero_pad(ds.images, size),
                               source={**ds.source, "padding": f"zero-padded from {h}x{w} to {size}x{size} px "
                                                              f"(centred; the MedMNIST+ protocol)"})
