"""Trust, round 3 (issue 17), the remaining items: figures whose bootstrap interval excludes its estimate,
duplicate datasets in a suite, one-line errors for saved models and suite files, SIGINT during a fit,
and generated input files fed to their readers."""

from __future__ import annotations

from pathlib import Path

import synthetic_results as synth

from medbench.reports import figures, markdown

# --- 1. a bootstrap interval that excludes its own estimate --------------------------------------


def _excluding() -> dict:
    """Synthetic results whose hog-svm ROC-AUC interval lies wholly above the estimate (as on a 48-image
    folder: 0.285 [0.292, 0.552])."""
    res = synth.make()
    job = synth.find(res, "hog-svm")
    job["metrics"]["roc_auc"] = 0.285
    res["statistics"]["jobs"]["hog-svm__seed0"]["metrics_ci"]["roc_auc"] = [0.292, 0.552]
    return res


def test_figures_are_drawn_when_an_interval_excludes_its_estimate(tmp_path: Path):
    res = _excluding()
    written, failures = figures.write_figures(res, tmp_path / "figures", res["statistics"])
    assert failures == []
    names = {p.name for p in written}
    assert {"tradeoff.png", "leaderboard.png"} <= names
    assert all((tmp_path / "figures" / n).stat().st_size > 1000 for n in names)


def test_report_says_when_an_interval_excludes_its_estimate():
    text = markdown.render(_excluding())
    assert "bootstrap interval excludes its own estimate" in text
    assert "hog-svm (seed 0) roc\\_auc 0.285 outside [0.292, 0.552]" in text or \
        "hog-svm (seed 0) roc_auc 0.285 outside [0.292, 0.552]" in text
    assert "too few test images" in text
    assert "excludes its own estimate" not in markdown.render(synth.make())
