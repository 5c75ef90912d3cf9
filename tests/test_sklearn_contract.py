"""The scikit-learn estimator contract, for every transformer and classifier medbench defines.

* ``parametrize_with_checks`` runs scikit-learn's own suite over all of them. The classifiers on
  feature vectors (CalibratedSVC, BalancedXGBClassifier) get every check; the few that cannot pass
  are listed in ``EXPECTED_FAILURES`` with the reason, and ``xfail_strict`` makes the list exact (a
  listed check that starts passing fails the test, so the list cannot go stale).
* The image estimators (HOG, SIFTBoVW, Pixels, the Keras CNN and transfer classifiers) declare a 3-D
  image input in ``__sklearn_tags__``; scikit-learn then runs only the checks that need no tabular
  data (it cannot make images). ``IMAGE_INPUT`` names the data checks it leaves out and the test
  below that covers the same property on real X-ray images.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as sk_checks
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks
from threadpoolctl import threadpool_limits

from medbench.datasets.dataset import Dataset
from medbench.features.hog import HOG
from medbench.features.pixels import Pixels
from medbench.features.sift import SIFTBoVW
from medbench.models.classifiers import BalancedXGBClassifier, CalibratedSVC
from medbench.models.cnn import KerasCNNClassifier
from medbench.models.transfer import KerasTransferClassifier

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.SkipTestWarning",
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning",
    "ignore:Unknown data type:UserWarning")  # xgboost converting the sparse checks' matrices

_XGB_LABELS = "XGBoost needs labels encoded 0..n_classes-1 (medbench's always are); this check uses other labels"
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "CalibratedSVC": {
        "check_class_weight_classifiers": "probabilities are sigmoid-calibrated on unweighted data, which "
                                          "undoes extreme class weights given to the SVM (by design)",
    },
    "BalancedXGBClassifier": {
        "check_estimators_dtypes": _XGB_LABELS,
        "check_classifiers_classes": _XGB_LABELS,
        "check_fit2d_1sample": _XGB_LABELS,
        "check_fit2d_1feature": _XGB_LABELS,
        "check_classifier_data_not_an_array": "XGBoost calls NumPy functions that this check's array-like "
                                              "refuses (xgboost's input handling, not medbench's)",
        "check_classifiers_multilabel_output_format_predict": "XGBoost predicts float labels for multi-label "
                                                              "targets (medbench never fits multi-label)",
    },
}

TABULAR = [CalibratedSVC(),
           BalancedXGBClassifier(n_estimators=10, early_stopping_rounds=5, max_depth=2, n_jobs=1)]
IMAGE = [HOG(image_size=16, pixels_per_cell=4, n_jobs=1),
         SIFTBoVW(n_words=8, image_size=32, step=8, patch_size=16, max_descriptors=5000, n_jobs=1),
         Pixels(image_size=8),
         KerasCNNClassifier(width=4, epochs=1, batch_size=16, augment=False),
         KerasTransferClassifier(backbone="mobilenetv3small", weights="random", image_size=32, epochs=2)]

#: scikit-learn data checks that image input rules out -> the test here that covers the same property.
IMAGE_INPUT = {
    "check_estimators_unfitted": "test_unfitted_use_raises_not_fitted",
    "check_transformers_unfitted": "test_unfitted_use_raises_not_fitted",
    "check_estimators_fit_returns_self": "test_fit_keeps_parameters_and_transform_keeps_state",
    "check_estimators_overwrite_params": "test_fit_keeps_parameters_and_transform_keeps_state",
    "check_dont_overwrite_parameters": "test_fit_keeps_parameters_and_transform_keeps_state",
    "check_dict_unchanged": "test_fit_keeps_parameters_and_transform_keeps_state",
    "check_fit_idempotent": "test_refit_gives_the_same_output",
    "check_fit_check_is_fitted": "test_unfitted_use_raises_not_fitted",
    "check_estimators_pickle": "test_pickled_transformer_gives_the_same_output",
}


def _expected(est) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(est).__name__, {})


@parametrize_with_checks(TABULAR + IMAGE, expected_failed_checks=_expected, xfail_strict=True)
def test_sklearn_checks(estimator, check):
    with threadpool_limits(limits=1):
        check(estimator)


def test_expected_failures_name_real_checks():
    known = {sk_checks._check_name(c) for est in TABULAR for _, c in estimator_checks_generator(est, mark=None)}
    for name, failures in EXPECTED_FAILURES.items():
        assert set(failures) <= known, (name, set(failures) - known)
        assert all(len(reason) > 20 for reason in failures.values())
    assert set(IMAGE_INPUT) <= {name for name in dir(sk_checks) if name.startswith("check_")}


@pytest.mark.parametrize("est", IMAGE, ids=lambda e: type(e).__name__)
def test_image_estimators_declare_image_input(est):
    tags = get_tags(est)
    assert tags.input_tags.two_d_array is False and tags.input_tags.three_d_array is True
    # so scikit-learn feeds them no tabular data: its data-free checks only (cloning here, and below)
    assert [sk_checks._check_name(c) for _, c in estimator_checks_generator(est, mark=None)] == [
        "check_estimator_cloneable"]


DATA_FREE = ["check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
             "check_estimator_repr", "check_parameters_default_constructible", "check_valid_tag_types",
             "check_mixin_order", "check_estimator_tags_renamed", "check_do_not_raise_errors_in_init_or_set_params"]


@pytest.mark.parametrize("check", DATA_FREE)
@pytest.mark.parametrize("est", IMAGE, ids=lambda e: type(e).__name__)
def test_image_estimators_pass_data_free_checks(est, check):
    getattr(sk_checks, check)(type(est).__name__, clone(est))


# -- the data checks, on real images ---------------------------------------------------------------

@pytest.fixture(scope="module")
def images(pneumonia_small: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60 real training images (both classes) and 20 others."""
    x, y = pneumonia_small.images, pneumonia_small.labels
    take = np.column_stack([np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)[:30]]).ravel()  # interleaved
    rest = np.setdiff1d(np.arange(len(y)), take)[:20]
    return x[take], y[take], x[rest]


def _is_keras(est) -> bool:
    return isinstance(est, (KerasCNNClassifier, KerasTransferClassifier))


def _marks(est):
    return [pytest.mark.slow] if _is_keras(est) else []


CASES = [pytest.param(est, id=type(est).__name__, marks=_marks(est)) for est in IMAGE]


def _output(est, x):
    return est.predict_proba(x) if hasattr(est, "predict_proba") else est.transform(x)


def _fit(est, x, y):
    with threadpool_limits(limits=1):
        return est.fit(x, y)


def _state(est) -> dict:
    """An estimator's ``__dict__`` by value for plain data, by identity for models and other objects."""
    out = {}
    for k, v in vars(est).items():
        if isinstance(v, np.ndarray):
            out[k] = (v.dtype.str, v.shape, v.tobytes())
        elif v is None or isinstance(v, (bool, int, float, str, tuple, list, dict)):
            out[k] = repr(v)
        else:
            out[k] = ("object", id(v))
    return out


@pytest.mark.parametrize("est", CASES)
def test_unfitted_use_raises_not_fitted(est, images):
    x, y, other = images
    est = clone(est)
    if not get_tags(est).requires_fit:  # Pixels: stateless, declared so
        assert est.transform(other).shape[0] == len(other)
        return
    for method in ("transform", "predict_proba", "predict"):
        if hasattr(est, method):
            with pytest.raises(NotFittedError):
                getattr(est, method)(other)


@pytest.mark.parametrize("est", CASES)
def test_fit_keeps_parameters_and_transform_keeps_state(est, images):
    x, y, other = images
    est = clone(est)
    params = {k: repr(v) for k, v in est.get_params().items()}
    before = set(vars(est))
    assert _fit(est, x, y) is est
    assert {k: repr(v) for k, v in est.get_params().items()} == params  # fit rewrites no parameter
    added = set(vars(est)) - before
    assert all(k.endswith("_") and not k.startswith("_") for k in added), added  # only fitted attributes
    state = _state(est)
    _output(est, other)
    _output(est, other)  # a second call (a cache hit for the cached features) changes nothing either
    assert _state(est) == state


@pytest.mark.parametrize("est", CASES)
def test_refit_gives_the_same_output(est, images):
    x, y, other = images
    a = _output(_fit(clone(est), x, y), other)
    refitted = _fit(clone(est), x[::-1], y[::-1])  # another order: the same data
    b = _output(_fit(refitted, x, y), other)  # fitted twice, the second fit wins
    np.testing.assert_allclose(a, b, atol=1e-6 if not _is_keras(est) else 1e-4)
    fitted = _fit(clone(est), x, y)
    fresh = clone(fitted)  # a clone of a fitted estimator is unfitted, with the same parameters
    assert fresh.get_params() == fitted.get_params() and not set(vars(fresh)) - set(vars(clone(est)))


@pytest.mark.parametrize("est", [e for e in IMAGE if not _is_keras(e)], ids=lambda e: type(e).__name__)
def test_pickled_transformer_gives_the_same_output(est, images):
    x, y, other = images
    fitted = _fit(clone(est), x, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.transform(other), fitted.transform(other))


def test_xgboost_without_validation_keeps_early_stopping(images):
    """No validation data: all trees are grown, and early stopping is still set for the next fit
    (before, fit switched it off for good, in clones too)."""
    x, y, _ = images
    f = HOG(image_size=16, pixels_per_cell=4, n_jobs=1).fit(x).transform(x)
    est = BalancedXGBClassifier(n_estimators=200, early_stopping_rounds=3, n_jobs=1)
    with threadpool_limits(limits=1):
        est.fit(f, y)
        assert est.get_booster().num_boosted_rounds() == 200 and est.early_stopping_rounds == 3
        est.fit(f[:40], y[:40], validation_data=(f[40:], y[40:]))
    assert est.get_booster().num_boosted_rounds() < 200  # early stopping acted on the second fit
    assert clone(est).early_stopping_rounds == 3
