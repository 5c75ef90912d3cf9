"""Classifier constructors with imbalance handling and the hooks the runner uses for validation."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight
from xgboost import XGBClassifier


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """RBF SVM with balanced class weights and Platt-scaled (sigmoid) probabilities.

    The SVM is fitted once on the training split; its decision function is calibrated on the
    validation split (``fit(..., validation_data=...)``), which is both cheaper than the 5-fold
    internal calibration of ``SVC(probability=True)`` and keeps all tuning on validation. Without
    validation data it falls back to 3-fold cross-validated calibration on the training data.
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
        if validation_data is not None:
            svc = self._svc().fit(X, y)
            self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid")
            self.calibrated_.fit(*validation_data)
        else:
            self.calibrated_ = CalibratedClassifierCV(self._svc(), method="sigmoid", cv=3, ensemble=False)
            self.calibrated_.fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X):
        return self.calibrated_.predict_proba(X)

    def decision_function(self, X):
        return self.calibrated_.calibrated_classifiers_[0].estimator.decision_function(X)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def svm(seed: int = 0) -> CalibratedSVC:
    """RBF SVM, balanced class weights, sigmoid-calibrated on validation (``C`` tuned on validation)."""
    return CalibratedSVC(C=1.0, random_state=seed)


def tree(seed: int = 0) -> DecisionTreeClassifier:
    """CART tree, balanced class weights (``max_depth`` / ``min_samples_leaf`` tuned on validation)."""
    return DecisionTreeClassifier(class_weight="balanced", min_samples_leaf=5, random_state=seed)


class BalancedXGBClassifier(XGBClassifier):
    """XGBoost with balanced sample weights and early stopping on the validation split.

    ``fit(X, y, validation_data=(X_val, y_val))`` stops adding trees when the validation log-loss
    has not improved for ``early_stopping_rounds`` rounds and keeps the best iteration.
    """

    def fit(self, X, y, validation_data=None, **kwargs):  # noqa: D401 - sklearn signature
        kwargs.setdefault("sample_weight", compute_sample_weight("balanced", y))
        if validation_data is not None:
            kwargs["eval_set"] = [validation_data]
            kwargs.setdefault("verbose", False)
        else:
            self.set_params(early_stopping_rounds=None)
        return super().fit(X, y, **kwargs)


def xgboost(seed: int = 0, n_jobs: int = -1) -> BalancedXGBClassifier:
    """Gradient-boosted trees (hist), up to 600 rounds with early stopping after 40 without gain.

    The early-stopping metric is XGBoost's default for the objective it picks from the labels:
    log-loss for two classes, multi-class log-loss for more."""
    return BalancedXGBClassifier(
        n_estimators=600, learning_rate=0.05, max_depth=4, subsample=0.8, colsample_bytree=0.5,
        tree_method="hist", early_stopping_rounds=40, random_state=seed,
        n_jobs=n_jobs if n_jobs > 0 else None,
    )
