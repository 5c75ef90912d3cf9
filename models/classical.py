"""The classical pipelines: {HOG, SIFT bag-of-words} x {SVM, decision tree, XGBoost}, plus the
majority-class baseline. One generic builder, thin public constructors, registered by name.

Feature sizes follow the dataset's image size: images of 32 px or less (MedMNIST) are described
at their native size with 4 px HOG cells; larger images are described at 64 px with 8 px cells.
SIFT always works at 64 px (dense grid every 6 px, 16 px patches, 256 words, 2x2 pyramid).
"""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from medbench.core.storage import declare
from medbench.features.hog import HOG
from medbench.features.pixels import Pixels
from medbench.features.sift import SIFTBoVW
from medbench.models import classifiers
from medbench.models.registry import BuildContext, PipelineSpec, register

#: scikit-learn steps the classical pipelines use, saved with skops (see medbench.core.storage).
declare(StandardScaler, "skops")
declare(DummyClassifier, "skops")


def hog_features(ctx: BuildContext) -> HOG:
    side = min(ctx.image_shape)
    if side <= 32:
        return HOG(image_size=side, pixels_per_cell=4, n_jobs=ctx.n_jobs)
    return HOG(image_size=64, pixels_per_cell=8, n_jobs=ctx.n_jobs)


def sift_features(ctx: BuildContext) -> SIFTBoVW:
    return SIFTBoVW(random_state=ctx.seed, n_jobs=ctx.n_jobs)


FEATURES = {"hog": hog_features, "sift": sift_features}
CLASSIFIERS = {
    "svm": (lambda ctx: classifiers.svm(ctx.seed), {"svm__C": [1.0, 10.0]}, "RBF SVM"),
    "tree": (lambda ctx: classifiers.tree(ctx.seed), {"tree__max_depth": [6, 12, None]}, "decision tree"),
    "xgboost": (lambda ctx: classifiers.xgboost(ctx.seed, ctx.n_jobs), {}, "XGBoost"),
}


def build_classical(features: str, classifier: str, ctx: BuildContext) -> Pipeline:
    """``make_pipeline(<features>, StandardScaler(), <classifier>)`` with named steps."""
    make_clf = CLASSIFIERS[classifier][0]
    return Pipeline([
        (features, FEATURES[features](ctx)),
        ("scale", StandardScaler()),
        (classifier, make_clf(ctx)),
    ])


def build_majority(ctx: BuildContext) -> Pipeline:
    """Predicts the training prior for every image: the floor every table shows."""
    return Pipeline([("pixels", Pixels(image_size=8)), ("majority", DummyClassifier(strategy="prior"))])


register(PipelineSpec("majority", "baseline", "always predicts the training set's majority class",
                      build_majority))
for _feat in FEATURES:
    for _clf, (_make, _grid, _label) in CLASSIFIERS.items():
        register(PipelineSpec(
            name=f"{_feat}-{_clf}",
            family="classical",
            summary=f"{_feat.upper()} features + {_label}",
            build=lambda ctx, f=_feat, c=_clf: build_classical(f, c, ctx),
            param_grid=_grid,
        ))
