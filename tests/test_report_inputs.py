"""Renderers only render: the numbers the report shows that derive from the statistics (the ROC-AUC
difference between the best classical and best deep pipeline over seeds, the latency / ROC-AUC Pareto
front) are computed by the harness (:func:`medbench.records.results.summaries`) and handed over; no module of
``medbench.reports`` calls a statistics function. References are worked by hand or with scikit-learn.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import synthetic_results as synth
from sklearn.metrics import roc_auc_score

from medbench.evaluation import section as evaluation
from medbench.reports import markdown

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def _group(name: str, family: str, latency: float | None, auc: float | None, acc: float = 0.7) -> dict:
    return {"pipeline": name, "name": name, "family": family, "seeds": [0], "job_ids": [f"{name}__seed0"],
            "metrics": {"roc_auc": {"mean": auc, "sd": None}, "accuracy": {"mean": acc, "sd": None}},
            "runtime": {"latency_ms_per_image": {"mean": latency, "sd": None}}}


def test_pareto_front_by_hand():
    # a: fast and fair; b: slower and better; c: slower than b and worse (dominated); a2: as fast as a and
    # better (a is dominated); floor: fastest and best, but never a contender; untimed: no latency
    stats = {"headline": None, "pipelines": [
        _group("a", "classical", 1.0, 0.80), _group("b", "deep", 2.0, 0.90), _group("c", "deep", 3.0, 0.85),
        _group("a2", "classical", 1.0, 0.82), _group("floor", "baseline", 0.5, 0.99),
        _group("untimed", "deep", None, 0.99)]}
    got = evaluation.summaries(stats)["tradeoff"]
    assert got == {"metric": "roc_auc", "pareto_front": ["a2", "b"]}
    # a timed pipeline without ROC-AUC: the front is drawn on accuracy (b 0.6 is now dominated by a 0.9)
    stats["pipelines"] = [_group("a", "classical", 1.0, None, acc=0.9), _group("b", "deep", 2.0, 0.9, acc=0.6),
                          _group("c", "deep", 0.2, 0.9, acc=0.5)]
    assert evaluation.summaries(stats)["tradeoff"] == {"metric": "accuracy", "pareto_front": ["c", "a"]}


def test_classical_minus_deep_roc_auc_over_seeds_is_handed_to_the_report():
    res = synth.make(seeds=(0, 1, 2), n_resamples=50)
    stats = evaluation.statistics(res)
    diffs = []
    for seed in (0, 1, 2):  # reference: scikit-learn's ROC-AUC of each job's stored predictions
        auc = {}
        for p in ("hog-svm", "cnn"):
            pred = synth.find(res, p, seed)["predictions"]
            auc[p] = roc_auc_score(pred["y_true"], np.asarray(pred["proba"])[:, 1])
        diffs.append(auc["hog-svm"] - auc["cnn"])
    ms = stats["headline"]["roc_auc_diff"]
    assert ms["n"] == 3
    assert abs(ms["mean"] - np.mean(diffs)) < 1e-12 and abs(ms["sd"] - np.std(diffs, ddof=1)) < 1e-12
    text = markdown.render(res, stats, samples=False)
    assert f"over 3 seeds: {np.mean(diffs):+.3f} ± {np.std(diffs, ddof=1):.3f} (mean ± sd)" in text
    # the renderer shows what it is given: another value in, that value out
    other = {**stats, "headline": {**stats["headline"], "roc_auc_diff": {"mean": -0.25, "sd": 0.125, "n": 3}}}
    assert "over 3 seeds: -0.250 ± 0.125 (mean ± sd)" in markdown.render(res, other, samples=False)


def test_a_statistics_section_stored_without_the_summaries_gets_them():
    res = synth.make(seeds=(0, 1), n_resamples=50)
    stored = res["statistics"]
    old = {k: v for k, v in stored.items() if k != "tradeoff"}
    old["headline"] = {k: v for k, v in stored["headline"].items() if k != "roc_auc_diff"}
    got = evaluation.statistics({**res, "statistics": old})
    assert got["tradeoff"] == stored["tradeoff"] and got["headline"]["roc_auc_diff"] == stored["headline"]["roc_auc_diff"]
    # synthetic latencies are 0.5 + strength: majority (the floor) fastest, then cnn, then hog-svm (best ROC-AUC)
    assert stored["tradeoff"]["pareto_front"] == ["cnn", "hog-svm"]


def test_no_renderer_calls_a_statistics_function():
    """``medbench.reports`` may use ``stats.finite`` (is this a number to print?) and nothing else of it."""
    for path in sorted(REPORTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "medbench.evaluation.stats":
                assert [a.name for a in node.names] == ["finite"], path.name
            if isinstance(node, ast.ImportFrom) and node.module in ("medbench", "medbench.evaluation"):
                aliases |= {a.asname or a.name for a in node.names if a.name == "stats"}
            if isinstance(node, ast.Import):
                assert not any(a.name == "medbench.evaluation.stats" for a in node.names), path.name
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id in aliases}
        assert used <= {"finite"}, f"{path.name} calls medbench.evaluation.stats.{sorted(used - {'finite'})}"
