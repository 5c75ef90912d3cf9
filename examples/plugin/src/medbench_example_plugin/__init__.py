"""An example medbench plugin: intensity histograms + logistic regression, registered as ``hist-logreg``.

medbench finds it through the ``medbench.pipelines`` entry point in this package's pyproject.toml;
``medbench pipelines`` lists it and ``medbench run --pipelines hist-logreg`` runs it like any other.
Its step classes declare how they are saved (``medbench.core.storage``), so ``--save-models`` saves it
and ``medbench predict`` loads it back, trusting only these declared types.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from medbench.core.storage import declare, stored_as
from medbench.models.registry import BuildContext, PipelineSpec

declare(LogisticRegression, "skops")  # a scikit-learn class this plugin uses (StandardScaler: medbench declares it)


@stored_as("skops")
class IntensityHistogram(TransformerMixin, BaseEstimator):
    """Normalised grey-level histogram of each ``uint8`` image ``(N, H, W)`` -> ``(N, bins)``."""

    def __init__(self, bins: int = 32):
        self.bins = bins

    def fit(self, X, y=None):
        self.n_features_out_ = self.bins
        return self

    def transform(self, X):
        X = np.asarray(X)
        edges = np.linspace(0, 256, self.bins + 1)
        return np.stack([np.histogram(img, bins=edges)[0] / img.size for img in X]).astype(np.float32)


def build(ctx: BuildContext) -> Pipeline:
    return Pipeline([("hist", IntensityHistogram()), ("scale", StandardScaler()),
                     ("logreg", LogisticRegression(class_weight="balanced", max_iter=2000,
                                                   random_state=ctx.seed))])


def pipelines() -> list[PipelineSpec]:
    return [PipelineSpec("hist-logreg", "classical", "intensity histogram + logistic regression (example plugin)",
                         build, param_grid={"logreg__C": [0.1, 1.0]}, default=False)]
