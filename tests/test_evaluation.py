"""The evaluation protocol has one home (issue 25): the paired comparison of two jobs gives the same numbers
whether a run's statistics section, a suite's pairwise table, or the regression gate / history asks."""

from __future__ import annotations

import copy

import pytest
import synthetic_results as synth

from medbench.evaluation import across as suite_analysis
from medbench.evaluation import paired, protocol
from medbench.evaluation import section as evaluation
from medbench.records.view import RunView
from medbench.stores import history


@pytest.fixture(scope="module")
def run():
    return synth.make(pipelines=(("hog-svm", "classical", 1.4), ("cnn", "deep", 1.0)), seeds=(0,), n=120,
                      n_resamples=200)


def test_run_suite_and_gate_agree_on_one_pair_of_jobs(run):
    stats = run["statistics"]
    head = stats["headline"]["comparisons"][0]  # hog-svm (a) against cnn (b), seed 0
    assert (head["a_pipeline"], head["b_pipeline"]) == ("hog-svm", "cnn") and head["paired"]
    # the suite's pairwise test of the same two pipelines on this dataset
    acc = suite_analysis.paired(run, stats, "hog-svm", "cnn", "accuracy")["per_seed"][0]
    auc = suite_analysis.paired(run, stats, "hog-svm", "cnn", "roc_auc")["per_seed"][0]
    assert acc["diff"] == head["accuracy"]["diff"] and acc["ci"] == head["accuracy"]["ci"]
    assert acc["p"] == head["mcnemar"]["p"] and acc["test"] == "McNemar"
    assert (auc["diff"], auc["ci"], auc["p"], auc["test"]) == (
        head["roc_auc"]["diff"], head["roc_auc"]["ci"], head["roc_auc"]["p"], "DeLong")
    # the gate and history: the same two jobs as BASE and NEW of one pipeline
    jobs = {j["pipeline"]: j for j in run["jobs"]}
    base, new = jobs["cnn"], copy.deepcopy(jobs["hog-svm"])
    new["pipeline"] = "cnn"
    tests = paired.paired_tests([base], [new], ["accuracy", "roc_auc"], 2, 1)["tests"]
    assert tests["accuracy"]["p"] == head["mcnemar"]["p"]
    assert (tests["accuracy"]["b"], tests["accuracy"]["c"]) == (head["mcnemar"]["c"], head["mcnemar"]["b"])
    assert tests["roc_auc"]["p"] == pytest.approx(head["roc_auc"]["p"], rel=1e-12)
    # history's per-version intervals are the statistics section's
    cis = history._job_cis(run, jobs["cnn"], ["accuracy", "roc_auc"])
    again = evaluation.compute_statistics(run, protocol.BOOTSTRAP_RESAMPLES, protocol.BOOTSTRAP_SEED)
    assert cis["accuracy"] == again["jobs"]["cnn__seed0"]["metrics_ci"]["accuracy"]


def test_one_reason_when_jobs_cannot_be_paired(run):
    jobs = RunView(run).ok_jobs
    other = copy.deepcopy(run)
    other["jobs"][1]["predictions"]["ids"] = ["z" + i for i in other["jobs"][1]["predictions"]["ids"]]
    moved = RunView(other).ok_jobs[1]
    assert paired.pairing_problem(jobs[0], moved) == paired.DIFFERENT_IMAGES
    assert paired.paired_tests([jobs[0].record], [moved.record], ["accuracy"], 2, 1) == {
        "paired": False, "reason": paired.DIFFERENT_IMAGES}
    assert suite_analysis.paired(other, other["statistics"], "hog-svm", "cnn", "accuracy")["per_seed"][0]["test"] == \
        f"none ({paired.DIFFERENT_IMAGES})"
    mixed = copy.deepcopy(other)
    mixed.pop("statistics")
    comp = evaluation.compute_statistics(mixed, 50, 0)["headline"]["comparisons"][0]
    assert comp == {**{k: comp[k] for k in ("a", "b", "a_pipeline", "b_pipeline", "seed")}, "paired": False,
                    "reason": paired.DIFFERENT_IMAGES}
