"""medbench.metrics on small cases worked out by hand (in the comments)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medbench.evaluation import section as evaluation
from medbench.evaluation import tolerances
from medbench.metrics import (
    HEADLINE,
    METRICS,
    RUNTIME_KEYS,
    choose_threshold,
    classification_metrics,
    label,
    metric_names,
    predict_with_threshold,
    roc_auc,
)
from medbench.records import results as results_mod

# ---------------------------------------------------------------- confusion-based metrics

# 10 samples, positive class 1 ("pneumonia"): 6 positives, 4 negatives.
Y_TRUE = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
Y_PRED = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
# TP = 4 (first four), FN = 2 (samples 5, 6), TN = 3 (samples 7-9), FP = 1 (sample 10).
# Confusion matrix, rows true / columns predicted (0, 1): [[TN, FP], [FN, TP]] = [[3, 1], [2, 4]].


def _proba_from_pred(y_pred: np.ndarray, n_classes: int = 2) -> np.ndarray:
    return np.eye(n_classes)[y_pred]


def test_binary_metrics_by_hand():
    m = classification_metrics(Y_TRUE, Y_PRED, _proba_from_pred(Y_PRED), ["normal", "pneumonia"], positive=1)
    assert m["n"] == 10
    # accuracy = (TP + TN) / n = 7 / 10
    assert m["accuracy"] == pytest.approx(0.7)
    # sensitivity = TP / (TP + FN) = 4 / 6; specificity = TN / (TN + FP) = 3 / 4
    assert m["sensitivity"] == pytest.approx(4 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    # balanced accuracy = (4/6 + 3/4) / 2 = 17/24 = 0.7083
    assert m["balanced_accuracy"] == pytest.approx(17 / 24)
    # F1 of the positive class = 2TP / (2TP + FP + FN) = 8 / 11
    assert m["f1"] == pytest.approx(8 / 11)
    # F1 of the negative class = 2TN / (2TN + FN + FP) = 6 / 9; macro F1 = (8/11 + 6/9) / 2 = 23/33
    assert m["macro_f1"] == pytest.approx(23 / 33)
    assert m["confusion_matrix"] == [[3, 1], [2, 4]]
    # per class: precision(pos) = TP / (TP + FP) = 4/5; precision(neg) = TN / (TN + FN) = 3/5
    pc = m["per_class"]
    assert pc["pneumonia"]["precision"] == pytest.approx(4 / 5)
    assert pc["pneumonia"]["recall"] == pytest.approx(4 / 6)
    assert pc["normal"]["precision"] == pytest.approx(3 / 5)
    assert pc["normal"]["recall"] == pytest.approx(3 / 4)
    assert pc["normal"]["support"] == 4 and pc["pneumonia"]["support"] == 6
    assert set(HEADLINE) <= set(m)


def test_positive_class_zero_swaps_sensitivity_and_specificity():
    # Same predictions, but class 0 is the disease: sensitivity = recall of class 0 = 3/4,
    # specificity = recall of class 1 = 4/6, F1 = F1 of class 0 = 6/9.
    m = classification_metrics(Y_TRUE, Y_PRED, _proba_from_pred(Y_PRED), ["disease", "healthy"], positive=0)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(6 / 9)
    assert m["accuracy"] == pytest.approx(0.7)


def test_multiclass_metrics_have_no_binary_entries():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    # recalls: class 0 1/2, class 1 2/2, class 2 1/2 -> balanced accuracy = 2/3; accuracy = 4/6
    m = classification_metrics(y_true, y_pred, _proba_from_pred(y_pred, 3), ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    # F1: class 0: P 1/2, R 1/2 -> 1/2; class 1: P 2/3, R 1 -> 4/5; class 2: P 1, R 1/2 -> 2/3
    assert m["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert "sensitivity" not in m and "specificity" not in m and "f1" not in m
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


# ---------------------------------------------------------------- ROC-AUC


def _pairwise_auc(y: np.ndarray, score: np.ndarray) -> float:
    """AUC as the share of (positive, negative) pairs ranked correctly, ties counting 1/2."""
    pos, neg = score[y == 1], score[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_binary_auc_by_hand():
    y = np.array([1, 0, 1, 0, 1])
    p1 = np.array([0.9, 0.8, 0.4, 0.4, 0.7])
    # positives score 0.9, 0.4, 0.7; negatives 0.8, 0.4. The 6 pairs (pos, neg):
    # (.9,.8) 1, (.9,.4) 1, (.4,.8) 0, (.4,.4) 1/2 (tie), (.7,.8) 0, (.7,.4) 1 -> 3.5 / 6 = 7/12
    proba = np.column_stack([1 - p1, p1])
    assert roc_auc(y, proba, 2) == pytest.approx(7 / 12)
    assert _pairwise_auc(y, p1) == pytest.approx(7 / 12)
    # class 0 as positive: its score is 1 - p1, the labels flip: the same ranking, the same AUC
    assert roc_auc(1 - y, proba[:, ::-1], 2, positive=0) == pytest.approx(7 / 12)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_auc_is_none_with_one_class():
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert roc_auc(np.array([1, 1]), proba, 2) is None
    m = classification_metrics(np.array([1, 1]), np.array([1, 0]), proba, ["n", "p"], positive=1)
    assert m["roc_auc"] is None


def test_multiclass_ovr_macro_auc_matches_manual_average():
    rng = np.random.default_rng(7)
    y = np.repeat([0, 1, 2], 6)
    proba = rng.dirichlet([1, 1, 1], size=len(y))
    proba[np.arange(len(y)), y] += 0.3  # some signal, not perfect
    proba /= proba.sum(axis=1, keepdims=True)
    manual = np.mean([_pairwise_auc((y == c).astype(int), proba[:, c]) for c in range(3)])
    assert roc_auc(y, proba, 3) == pytest.approx(manual)


def test_multiclass_auc_with_a_class_absent_from_the_labels():
    # 4 classes, only 0, 1 and 3 present: OvR macro over the present classes, on probabilities
    # renormalised over those classes.
    rng = np.random.default_rng(3)
    y = np.array([0, 0, 0, 1, 1, 1, 3, 3, 3])
    proba = rng.dirichlet([1, 1, 1, 1], size=len(y))
    present = [0, 1, 3]
    sub = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
    manual = np.mean([_pairwise_auc((y == c).astype(int), sub[:, k]) for k, c in enumerate(present)])
    assert roc_auc(y, proba, 4) == pytest.approx(manual)


def test_multiclass_auc_with_only_two_classes_present():
    # A 3-class task whose test labels hold only classes 0 and 2 (e.g. a small split missing a class).
    # Renormalised over {0, 2}, it is a binary problem: AUC of P(2 | 0 or 2) for class 2 vs class 0.
    y = np.array([0, 2, 0, 2, 0, 2])
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4],
                      [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    # P(2 | {0, 2}): 0.1/0.7=.143, 0.6/0.8=.75, 0.4/0.9=.444, 0.3/0.6=.5, 0.1/0.2=.5, 0.8/0.9=.889
    # positives (class 2): .75, .5, .889; negatives: .143, .444, .5
    # pairs: .75 beats all 3; .5 beats .143, .444 and ties .5 -> 2.5; .889 beats all 3 -> 8.5 / 9
    assert roc_auc(y, proba, 3) == pytest.approx(8.5 / 9)


# ---------------------------------------------------------------- threshold on validation


def test_choose_threshold_youden_by_hand():
    # 4 negatives, 3 positives, sorted by P(positive):
    y = np.array([0, 0, 0, 1, 0, 1, 1])
    p1 = np.array([0.10, 0.20, 0.30, 0.45, 0.55, 0.70, 0.90])
    # "positive if score >= t":     TPR   FPR   J = TPR - FPR
    #   t = 0.90                    1/3   0     0.333
    #   t = 0.70                    2/3   0     0.667
    #   t = 0.55                    2/3   1/4   0.417
    #   t = 0.45                    1     1/4   0.750   <- best
    #   t = 0.30                    1     2/4   0.500
    out = choose_threshold(y, np.column_stack([1 - p1, p1]), positive=1)
    assert out["threshold"] == pytest.approx(0.45)
    assert out["youden_j"] == pytest.approx(0.75)
    assert "Youden" in out["method"]
    # at that threshold the sample scoring exactly 0.45 is positive: sensitivity 1, specificity 3/4
    pred = predict_with_threshold(np.column_stack([1 - p1, p1]), out["threshold"], 1)
    assert pred.tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_choose_threshold_tie_goes_to_threshold_nearest_half():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    p1 = np.array([0.10, 0.20, 0.30, 0.35, 0.40, 0.60, 0.70, 0.80])
    # t = 0.60: TPR 3/4, FPR 0 -> J 0.75; t = 0.35: TPR 1, FPR 1/4 -> J 0.75 (a tie);
    # |0.60 - 0.5| = 0.10 < |0.35 - 0.5| = 0.15 -> 0.60
    out = choose_threshold(y, np.column_stack([1 - p1, p1]), positive=1)
    assert out["threshold"] == pytest.approx(0.60)
    assert out["youden_j"] == pytest.approx(0.75)
    # the nearer one may also be the lower one: t = 0.9 (TPR 1/2, FPR 0) and t = 0.3 (TPR 1, FPR 1/2) tie at
    # J = 1/2; |0.3 - 0.5| = 0.2 < |0.9 - 0.5| = 0.4 -> 0.3
    p1 = np.array([0.2, 0.3, 0.7, 0.9])
    assert choose_threshold(np.array([0, 1, 0, 1]), np.column_stack([1 - p1, p1]))["threshold"] == pytest.approx(0.3)
    # an inverted score: J is at most 0, reached by "nobody positive" (roc_curve's infinite threshold, clipped
    # to 1.0) and "everybody" (0.0), both 0.5 from 0.5: the first, 1.0
    p1 = np.array([0.0, 0.2, 0.8, 0.9])
    out = choose_threshold(np.array([1, 1, 0, 0]), np.column_stack([1 - p1, p1]))
    assert (out["threshold"], out["youden_j"]) == (1.0, 0.0)


def test_choose_threshold_positive_class_zero():
    # Same example as the Youden one, with the disease as class 0 (its score in column 0).
    y = np.array([1, 1, 1, 0, 1, 0, 0])
    p0 = np.array([0.10, 0.20, 0.30, 0.45, 0.55, 0.70, 0.90])
    out = choose_threshold(y, np.column_stack([p0, 1 - p0]), positive=0)
    assert out["threshold"] == pytest.approx(0.45)


@pytest.mark.parametrize("y, p1", [
    (np.array([0, 1, 0, 1]), np.full(4, 0.8)),  # constant scores: no ranking
    (np.array([1, 1, 1, 1]), np.array([0.1, 0.4, 0.6, 0.9])),  # one class only
])
def test_choose_threshold_defaults_to_half(y, p1):
    out = choose_threshold(y, np.column_stack([1 - p1, p1]), positive=1)
    assert out["threshold"] == 0.5
    assert out["youden_j"] == 0.0


def test_predict_with_threshold_semantics():
    proba = np.array([[0.7, 0.3], [0.6, 0.4], [0.5, 0.5], [0.1, 0.9]])
    # >= threshold is positive: 0.4 >= 0.4 -> positive, 0.3 < 0.4 -> negative
    assert predict_with_threshold(proba, 0.4, positive=1).tolist() == [0, 1, 1, 1]
    assert predict_with_threshold(proba, 0.9, positive=1).tolist() == [0, 0, 0, 1]
    # positive class 0: P(class 0) >= 0.6 -> 0, else 1
    assert predict_with_threshold(proba, 0.6, positive=0).tolist() == [0, 0, 1, 1]
    # no threshold or no positive class: argmax
    assert predict_with_threshold(proba, None, positive=1).tolist() == proba.argmax(1).tolist()
    assert predict_with_threshold(proba, 0.4, positive=None).tolist() == proba.argmax(1).tolist()
    # multi-class: always argmax
    p3 = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    assert predict_with_threshold(p3, 0.1, positive=1).tolist() == [1, 0]


# ---------------------------------------------------------------- the catalogue


def test_catalogue_matches_what_classification_metrics_returns():
    binary = classification_metrics(Y_TRUE, Y_PRED, _proba_from_pred(Y_PRED), ["normal", "pneumonia"], 1)
    multi = classification_metrics(np.array([0, 1, 2]), np.array([0, 1, 1]), np.eye(3)[[0, 1, 1]], ["a", "b", "c"])
    assert [m for m in HEADLINE if m in binary] == metric_names(2) == list(HEADLINE)
    assert [m for m in HEADLINE if m in multi] == metric_names(3) == ["accuracy", "balanced_accuracy", "macro_f1",
                                                                      "roc_auc", "brier", "ece", "mcc",
                                                                      "average_precision", "log_loss", "classwise_ece"]
    assert {m.name for m in METRICS.values() if m.binary_only} == {"sensitivity", "specificity", "f1", "ppv", "npv",
                                                                   "sens_at_spec90", "sens_at_spec95", "lr_positive",
                                                                   "lr_negative"}
    assert label("roc_auc") == "ROC-AUC" and label("throughput_img_per_s") == "Throughput" and label("x") == "x"


def test_one_runtime_list_feeds_results_tolerances_and_the_schema():
    assert results_mod.CSV_RUNTIME == tuple(RUNTIME_KEYS)
    assert "predict_time_s" in RUNTIME_KEYS and "predict_time_s" not in evaluation.SUMMARY_RUNTIME
    assert set(tolerances.RUNTIME) <= set(RUNTIME_KEYS)
    assert [k for k in RUNTIME_KEYS if not RUNTIME_KEYS[k].lower_is_better] == ["throughput_img_per_s"]
    job_schema = results_mod.SCHEMA_JSON["properties"]["jobs"]["items"]["properties"]
    assert set(job_schema["runtime"]["properties"]) == set(RUNTIME_KEYS)
    assert set(HEADLINE) <= set(job_schema["metrics"]["properties"])
    assert set(tolerances.SCHEMA_JSON["properties"]["metrics"]["properties"]) == {"*", *HEADLINE}


# ---------------------------------------------------------------- mutation-testing survivors, pinned down


def test_calibration_is_measured_at_six_decimals():
    """Brier and ECE are those of the probabilities rounded to the 6 stored decimals: 0.1234564 counts as
    0.123456 (not 0.12346, which 5 decimals would give, nor itself)."""
    from medbench.metrics import brier_score, calibration_metrics

    y, p = np.array([1]), np.array([[0.8765436, 0.1234564]])
    got = calibration_metrics(y, p)
    assert got["brier"] == brier_score(y, np.array([[0.876544, 0.123456]]))
    assert got["brier"] != brier_score(y, np.array([[0.87654, 0.12346]]))
    assert got["brier"] == pytest.approx((1 - 0.123456) ** 2)  # two classes: (1 - P(positive))^2


def test_top_confidence_bins_keep_the_last_bin_apart():
    """15 equal-width bins: 0.9 lies in bin 13 ([13/15, 14/15)), 0.95 and 1.0 in bin 14. An image at 0.9
    (correct) and one at 0.95 (wrong) have gaps of opposite sign, so merging their bins would change the
    ECE: |0.9 - 1| / 2 + |0.95 - 0| / 2 = 0.525, not |(0.9 - 1) + (0.95 - 0)| / 2 = 0.425."""
    from medbench.metrics import expected_calibration_error, top_label

    proba = np.array([[0.1, 0.9], [0.95, 0.05], [0.0, 1.0]])
    _, correct, bins = top_label(np.array([1, 1, 1]), proba)
    assert bins.tolist() == [13, 14, 14] and correct.tolist() == [1.0, 0.0, 1.0]
    assert expected_calibration_error(np.array([1, 1]), proba[:2]) == pytest.approx(0.525)


@pytest.mark.parametrize("edit, words", [
    (lambda p: p.update(y_pred=p["y_pred"][:-1]), "do not fit"),  # one prediction short
    (lambda p: p.update(proba=[row + [0.0] for row in p["proba"]]), "do not fit"),  # a third class column
    (lambda p: p.update(proba=p["proba"][:-1]), "do not fit"),  # one probability row short
    (lambda p: p.update(y_true=1, y_pred=1), "do not fit"),  # not a list at all
    (lambda p: p.update(y_pred=[2] + p["y_pred"][1:]), "do not fit"),  # a class that does not exist
    (lambda p: p.update(y_pred=p["y_pred"] + [1]), "do not fit"),  # one prediction too many
    (lambda p: p.update(y_true=[p["y_true"]]), "do not fit"),  # a 2-D label array
    (lambda p: p.update(y_true=[], y_pred=[], proba=[]), "do not fit"),  # nothing stored
    (lambda p: p.update(y_true=[], y_pred=[], proba=np.zeros((0, 2))), "do not fit"),  # nothing, well shaped
    (lambda p: p.update(y_pred=[-1] + p["y_pred"][1:]), "do not fit"),  # a negative class index
    (lambda p: p.update(y_true=[-1] + p["y_true"][1:]), "do not fit"),
    (lambda p: p.update(y_pred=[5] + p["y_pred"][1:]), "do not fit"),  # far beyond the class count
])
def test_disagreement_names_predictions_of_the_wrong_shape(edit, words):
    proba = _proba_from_pred(Y_PRED) * 0.8 + 0.1
    stored = {"y_true": Y_TRUE.tolist(), "y_pred": Y_PRED.tolist(), "proba": proba.tolist()}
    metrics = classification_metrics(Y_TRUE, Y_PRED, proba, ["normal", "pneumonia"], positive=1)
    from medbench.metrics import disagreement

    assert disagreement(metrics, stored, ["normal", "pneumonia"], 1) is None
    edit(stored)
    assert words in disagreement(metrics, stored, ["normal", "pneumonia"], 1)


@pytest.mark.parametrize("matrix", [[[3, 1], [2, 5]], [[3, 1], [2, 3]], [[4, 1], [2, 4]], [[2, 1], [2, 4]], None])
def test_disagreement_catches_a_confusion_matrix_edited_either_way(matrix):
    """The headline numbers are left as they were, only the matrix is changed (a cell up or down, or the
    matrix removed): each is a disagreement."""
    from medbench.metrics import disagreement

    proba = _proba_from_pred(Y_PRED) * 0.8 + 0.1
    stored = {"y_true": Y_TRUE.tolist(), "y_pred": Y_PRED.tolist(), "proba": proba.tolist()}
    metrics = classification_metrics(Y_TRUE, Y_PRED, proba, ["normal", "pneumonia"], positive=1)
    assert metrics["confusion_matrix"] == [[3, 1], [2, 4]]
    metrics["confusion_matrix"] = matrix
    assert disagreement(metrics, stored, ["normal", "pneumonia"], 1) == \
        "its confusion matrix does not match its stored predictions"


def test_runtime_figures_are_shown_with_their_catalogue_digits():
    """The digits the catalogue gives each runtime figure are the ones the reports print (compare's table)."""
    from medbench.reports.compare import regression_table

    rows = [{"kind": "runtime", "check": k, "pipeline": "p", "seed": 0, "base": 1234.5678, "new": 2469.1356,
             "change": 2.0, "allowed": 1.5, "noise": ""} for k in ("single_image_latency_ms", "peak_rss_mb")]
    _, table = regression_table({"regressions": rows})
    assert table[0][3:5] == ["1234.57 ms", "2469.14 ms"]
    assert table[1][3:5] == ["1235 MB", "2469 MB"]
    shown = {"feature_time_s": "1234.6 s", "fit_time_s": "1234.57 s", "predict_time_s": "1234.57 s",
             "latency_ms_per_image": "1234.568 ms/img", "throughput_img_per_s": "1235 img/s",
             "single_image_latency_ms": "1234.57 ms", "peak_rss_mb": "1235 MB", "model_size_bytes": "1235 B"}
    rows = [{**rows[0], "check": k} for k in shown]
    _, table = regression_table({"regressions": rows})
    assert {k: row[3] for k, row in zip(shown, table)} == shown


@pytest.mark.parametrize("name, stored, words", [
    ("roc_auc", None, "roc_auc is None but its stored predictions give 0.8333"),  # a number left out
    ("roc_auc", 0.81, "roc_auc is 0.81 but"),  # ROC-AUC may differ by 1e-3 (6-decimal probabilities), not 0.01
    ("accuracy", None, "accuracy is None but"),
    ("accuracy", 0.61, "accuracy is 0.61 but its stored predictions give 0.6"),  # label metrics are exact
])
def test_disagreement_catches_a_headline_number_left_out_or_edited(name, stored, words):
    from medbench.metrics import disagreement

    y, pred = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])
    proba = np.column_stack([1 - np.array([0.2, 0.6, 0.7, 0.9, 0.4]), [0.2, 0.6, 0.7, 0.9, 0.4]])
    metrics = classification_metrics(y, pred, proba, ["n", "p"], positive=1)
    assert metrics["roc_auc"] == pytest.approx(0.8333333)  # pairs: 5 of 6 ranked right
    preds = {"y_true": y.tolist(), "y_pred": pred.tolist(), "proba": proba.tolist()}
    metrics[name] = stored
    assert disagreement(metrics, preds, ["n", "p"], 1).startswith(words)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_disagreement_catches_an_auc_stored_where_none_is_defined():
    """One class in the test labels: ROC-AUC is undefined (None); a stored number there is a disagreement."""
    from medbench.metrics import disagreement

    y, pred = np.array([1, 1, 1]), np.array([1, 0, 1])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    metrics = classification_metrics(y, pred, proba, ["n", "p"], positive=1)
    preds = {"y_true": y.tolist(), "y_pred": pred.tolist(), "proba": proba.tolist()}
    assert metrics["roc_auc"] is None and disagreement(metrics, preds, ["n", "p"], 1) is None
    metrics["roc_auc"] = 0.5
    assert disagreement(metrics, preds, ["n", "p"], 1) == "roc_auc is 0.5 but its stored predictions give None"
    # the metrics after an undefined one are still checked
    metrics["roc_auc"], metrics["brier"] = None, metrics["brier"] + 0.01
    assert disagreement(metrics, preds, ["n", "p"], 1).startswith("brier is ")


@pytest.mark.parametrize("edit", [lambda p: p.pop("proba"), lambda p: p.update(proba=[["a", "b"]] * 3),
                                  lambda p: p.update(y_true=None)])
def test_disagreement_with_unreadable_predictions_is_named(edit):
    from medbench.metrics import disagreement

    preds = {"y_true": [0, 1, 1], "y_pred": [0, 1, 0], "proba": [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]}
    metrics = classification_metrics(np.array(preds["y_true"]), np.array(preds["y_pred"]), np.array(preds["proba"]),
                                     ["n", "p"], positive=1)
    edit(preds)
    assert disagreement(metrics, preds, ["n", "p"], 1) == "its stored predictions are unreadable"


def test_unknown_metric_names_count_as_higher_is_better():
    from medbench.metrics import gain, higher_is_better

    assert higher_is_better("a_plugin_metric") and gain("a_plugin_metric", 0.1) == 0.1
    assert not higher_is_better("brier") and gain("brier", 0.1) == -0.1


@pytest.mark.filterwarnings("ignore:A single label was found")
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("y, pred", [([1], [1]), ([0, 1], [1, 1]), ([1, 1, 0], [1, 1, 1])])
def test_disagreement_accepts_small_and_one_sided_records(y, pred):
    """One image, or nothing predicted as class 0: odd but valid records, recomputed without complaint."""
    from medbench.metrics import disagreement

    proba = np.array([[0.3, 0.7]] * len(y))
    metrics = classification_metrics(np.array(y), np.array(pred), proba, ["n", "p"], positive=1)
    assert disagreement(metrics, {"y_true": y, "y_pred": pred, "proba": proba.tolist()}, ["n", "p"], 1) is None


def test_class_one_is_positive_when_none_is_named():
    default = classification_metrics(Y_TRUE, Y_PRED, _proba_from_pred(Y_PRED), ["normal", "pneumonia"])
    assert default["sensitivity"] == pytest.approx(4 / 6) and default["ppv"] == pytest.approx(4 / 5)


def test_the_catalogue_is_frozen_and_its_ranges_are_what_results_files_may_hold():
    """A metric entry cannot be changed at run time; a results file's headline value must lie in the metric's
    range ([0, 1]; MCC [-1, 1]), checked against the schema built from the catalogue."""
    import dataclasses

    from medbench.core.errors import MedbenchError
    from medbench.records import schemas

    with pytest.raises(dataclasses.FrozenInstanceError):
        METRICS["accuracy"].higher_is_better = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        RUNTIME_KEYS["fit_time_s"].digits = 5  # type: ignore[misc]
    schema = schemas.metric_value("accuracy")
    schemas.validate(1.0, schema, "r.json")
    with pytest.raises(MedbenchError):
        schemas.validate(1.5, schema, "r.json")
    schemas.validate(-1.0, schemas.metric_value("mcc"), "r.json")
    with pytest.raises(MedbenchError):
        schemas.validate(-0.5, schemas.metric_value("brier"), "r.json")


def test_runtime_figures_averaged_over_seeds_are_all_but_predict_time():
    """The results' statistics average every runtime figure over seeds except the raw predict time (its
    per-image latency and throughput are the comparable figures)."""
    assert evaluation.SUMMARY_RUNTIME == tuple(k for k in RUNTIME_KEYS if k != "predict_time_s")


def test_more_edges_worked_by_hand():
    from medbench.metrics import top_label

    # Youden tie between 0.95 and 0.45 (J = 1/2 each): 0.45 is nearer 0.5
    p1 = np.array([0.2, 0.45, 0.7, 0.95])
    assert choose_threshold(np.array([0, 1, 0, 1]), np.column_stack([1 - p1, p1]))["threshold"] == pytest.approx(0.45)
    # 10 bins: a confidence of 1.0 goes to the last bin, 9
    assert top_label(np.array([1]), np.array([[0.0, 1.0]]), bins=10)[2].tolist() == [9]
    # a class absent from truth and predictions scores F1 0 in the macro average (3 classes: (1 + 1 + 0) / 3)
    y = np.array([0, 0, 1, 1])
    assert classification_metrics(y, y, np.eye(3)[y], ["a", "b", "c"])["macro_f1"] == pytest.approx(2 / 3)
    # class 2 absent from the labels, and one image with all its probability on it: renormalised over the present
    # classes it has none, and scores 0 (not 0/0)
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.2, 0.0], [0.0, 0.0, 1.0], [0.3, 0.7, 0.0], [0.4, 0.6, 0.0]])
    # P(class 1 | classes 0 or 1): 0.2, 0 (0/0 taken as 0), 0.7, 0.6 -> positives 0.7, 0.6 beat both: AUC 1
    assert roc_auc(y, proba, 3) == pytest.approx(1.0)


def test_nothing_predicted_positive_gives_ppv_zero():
    """PPV (and the positive class's precision) is 0 when no image is predicted positive, as scikit-learn's
    zero_division=0 says; NPV is then the share of negatives."""
    y, pred = np.array([0, 0, 1, 1, 1]), np.zeros(5, dtype=int)
    m = classification_metrics(y, pred, np.eye(2)[pred], ["n", "p"], positive=1)
    assert m["ppv"] == 0.0 and m["per_class"]["p"]["precision"] == 0.0 and m["npv"] == pytest.approx(2 / 5)
