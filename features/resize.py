"""Resizing an image to an extractor's working size (area interpolation when shrinking)."""

from __future__ import annotations

import cv2
import numpy as np


def to_size(img: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or img.shape == (size, size):
        return img
    shrink = size < min(img.shape)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
