"""Resizing an image to an extractor's working size (area interpolation when shrinking), and the
scikit-learn input tags every image transformer declares."""

from __future__ import annotations

import cv2
import numpy as np


def to_size(img: np.ndarray, size: int | None) -> np.ndarray:
    """``img`` (``(H, W)`` gray or ``(H, W, 3)`` RGB) resized to ``size`` x ``size``; as it is when ``None``
    or already that size."""
    if size is None or img.shape[:2] == (size, size):
        return img
    shrink = size < min(img.shape[:2])
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def image_input_tags(tags):
    """scikit-learn tags of an image transformer: input is ``(N, H, W)`` images (a 3-D array; RGB
    ``(N, H, W, 3)`` too), not a
    2-D feature table; output is float32 features whatever the input dtype."""
    tags.input_tags.two_d_array = False
    tags.input_tags.three_d_array = True
    tags.transformer_tags.preserves_dtype = []
    return tags
