"""Classifier constructors with imbalance handling and the hooks the runner uses for validation.

Both estimators defined here follow the scikit-learn contract (``parametrize_with_checks`` in
tests/test_sklearn_contract.py): ``fit`` never rewrites a hyper-parameter, unfitted use raises
``NotFittedError``, and they work on small splits (internal folds adapt to the class counts, or a
one-line :class:`MedbenchError` names the class, its count and what helps).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data
from xgboost import XGBClassifier

from medbench.core.errors import MedbenchError
from medbench.core.storage import declare, stored_as

CV_FOLDS_WITHOUT_VALIDATION = 3  # calibration folds on the training data when no validation split is given


@stored_as("skops", holds=("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"))
class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """RBF SVM with balanced class weights and Platt-scaled (sigmoid) probabilities.

    The SVM is fitted once on the training split; its decision function is calibrated on the
    validation split (``fit(..., validation_data=...)``), which is both cheaper than the 5-fold
    internal calibration of ``SVC(probability=True)`` and keeps all tuning on validation. The frozen
    SVM's validation scores are used whole (one split: no folds, so a validation split with a
    single image of a class still calibrates). Every training class must appear in it, else a
    one-line :class:`MedbenchError` says which and suggests a larger ``--val-fraction``. Without
    validation data it falls back to cross-validated calibration on the training data (3 folds, or
    as many as the rarest class allows, at least 2).
    """

    def __init__(self, C: float = 1.0, gamma: str | float = "scale", class_weight: str | None = "balanced",
                 random_state: int | None = 0):
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.random_state = random_state

    def _svc(self) -> SVC:
        return SVC(kernel="rbf", C=self.C, gamma=self.gamma, class_weight=self.class_weight,
                   cache_size=1000, random_state=self.random_state)

    def fit(self, X, y, validation_data=None):
        X, y = validate_data(self, X, y)
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ValueError(f"CalibratedSVC needs at least 2 classes to train; got 1 class: {classes.tolist()}")
        if validation_data is not None:
            x_val, y_val = validation_data
            x_val = validate_data(self, x_val, reset=False)
            y_val = np.asarray(y_val).ravel()
            missing = [c for c in classes if not np.any(y_val == c)]
            if missing:
                label = missing[0].item() if isinstance(missing[0], np.generic) else missing[0]
                raise MedbenchError(
                    f"SVM calibration: class {label!r} has {int(np.sum(y == missing[0]))} training images "
                    f"but 0 in the validation split ({len(y_val)} images); every class needs at least one "
                    f"validation image: use a larger --val-fraction or a larger dataset")
            svc = self._svc().fit(X, y)
            whole = [(np.arange(len(y_val)), np.arange(len(y_val)))]  # frozen SVM: its scores, no folds
            self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid", cv=whole)
            self.calibrated_.fit(x_val, y_val)
        else:
            rarest = int(min(np.sum(y == c) for c in classes))
            if rarest < 2:
                raise MedbenchError(f"SVM calibration without a validation split needs 2 training images per "
                                    f"class; a class has {rarest}: pass validation_data or use more images")
            folds = min(CV_FOLDS_WITHOUT_VALIDATION, rarest)
            self.calibrated_ = CalibratedClassifierCV(self._svc(), method="sigmoid", cv=folds, ensemble=False)
            self.calibrated_.fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.calibrated_.predict_proba(validate_data(self, X, reset=False))

    def decision_function(self, X):
        check_is_fitted(self)
        return self.calibrated_.calibrated_classifiers_[0].estimator.decision_function(
            validate_data(self, X, reset=False))

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


def svm(seed: int = 0) -> CalibratedSVC:
    """RBF SVM, balanced class weights, sigmoid-calibrated on validation (``C`` tuned on validation)."""
    return CalibratedSVC(C=1.0, random_state=seed)


declare(DecisionTreeClassifier, "skops", holds=("sklearn.tree._tree.Tree",))  # its fitted tree_


def tree(seed: int = 0) -> DecisionTreeClassifier:
    """CART tree, balanced class weights (``max_depth`` / ``min_samples_leaf`` tuned on validation)."""
    return DecisionTreeClassifier(class_weight="balanced", min_samples_leaf=5, random_state=seed)


@stored_as("xgboost")
class BalancedXGBClassifier(XGBClassifier):
    """XGBoost with balanced sample weights and early stopping on the validation split.

    ``fit(X, y, validation_data=(X_val, y_val))`` stops adding trees when the validation log-loss
    has not improved for ``early_stopping_rounds`` rounds and keeps the best iteration. Without
    validation data (and no ``eval_set``) it grows all ``n_estimators`` trees: early stopping has
    nothing to watch. Either way ``fit`` leaves the hyper-parameters as they were (XGBoost's own
    ``fit`` records the objective it picked in ``objective``; that is undone, so a refit on other
    labels picks again, and ``get_params`` / ``clone`` see what the user set).
    """

    def fit(self, X, y, validation_data=None, **kwargs):  # noqa: D401 - sklearn signature
        kwargs.setdefault("sample_weight", compute_sample_weight("balanced", y))
        if validation_data is not None:
            kwargs["eval_set"] = [validation_data]
            kwargs.setdefault("verbose", False)
        watch = kwargs.get("eval_set") is not None
        saved = {"early_stopping_rounds": self.early_stopping_rounds, "objective": self.objective}
        try:
            # XGBoost reads early stopping from the estimator itself; without a validation set the
            # setting cannot apply to this fit (and must not be lost for the next one).
            if not watch:
                self.early_stopping_rounds = None
            return super().fit(X, y, **kwargs)
        finally:
            self.early_stopping_rounds = saved["early_stopping_rounds"]
            self.objective = saved["objective"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # XGBoost treats NaN as missing
        return tags


def xgboost(seed: int = 0, n_jobs: int = -1) -> BalancedXGBClassifier:
    """Gradient-boosted trees (hist), up to 600 rounds with early stopping after 40 without gain.

    The early-stopping metric is XGBoost's default for the objective it picks from the labels:
    log-loss for two classes, multi-class log-loss for more."""
    return BalancedXGBClassifier(
        n_estimators=600, learning_rate=0.05, max_depth=4, subsample=0.8, colsample_bytree=0.5,
        tree_method="hist", early_stopping_rounds=40, random_state=seed,
        n_jobs=n_jobs if n_jobs > 0 else None,
    )
