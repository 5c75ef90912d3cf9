"""Raw pixels as features: each image resized and flattened to a vector in [0, 1] (RGB images keep
their three channels: ``H * W * 3`` values).

Stateless (``fit`` learns nothing; scikit-learn's ``requires_fit`` tag is off); the input is
declared to scikit-learn as a 3-D image array (``__sklearn_tags__``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from medbench.core.storage import stored_as
from medbench.features.resize import image_input_tags, to_size


@stored_as("skops")
class Pixels(TransformerMixin, BaseEstimator):
    """Flatten images (optionally resized to ``image_size``) to float32 vectors scaled to [0, 1]."""

    def __init__(self, image_size: int | None = None):
        self.image_size = image_size

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def __sklearn_tags__(self):
        tags = image_input_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags

    def transform(self, X):
        X = np.asarray(X)
        if self.image_size is not None:
            X = np.stack([to_size(img, self.image_size) for img in X])
        return X.reshape(len(X), -1).astype(np.float32) / 255.0
