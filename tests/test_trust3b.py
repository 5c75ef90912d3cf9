"""Trust, round 3 (issue 17), the remaining items: figures whose bootstrap interval excludes its estimate,
duplicate datasets in a suite, one-line errors for saved models and suite files, SIGINT during a fit,
and generated input files fed to their readers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import synthetic_results as synth

from medbench import api_suite
from medbench import suite as suite_mod
from medbench.reports import figures, markdown
from medbench.reports import suite as suite_report

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


# --- 2. the same data under several names in a suite -------------------------------------------------

TWO = (("hog-svm", "classical", 2.0), ("cnn", "deep", 1.2))


def _copies(k: int) -> list[tuple[str, dict]]:
    one = synth.make(pipelines=TWO, n_resamples=50)
    return [(f"copy{i}", copy.deepcopy(one)) for i in range(k)]


def test_a_suite_of_one_dataset_under_six_names_finds_no_difference(tmp_path: Path):
    """Six copies of one dataset gave 'Wilcoxon ... p = 0.031 (a difference)': the copies are left out
    before any test across datasets, with a warning."""
    runs = _copies(6)
    a = suite_mod.analyse(runs)
    assert [d["name"] for d in a["datasets"]] == ["copy0"]
    assert [d["name"] for d in a["duplicates"]] == [f"copy{i}" for i in range(1, 6)]
    assert a["omnibus"]["n_datasets"] == 1 and a["omnibus"]["status"] == "too_few_datasets"
    assert a["classical_vs_deep"]["across"]["status"] == "too_few_datasets"
    assert not any("a difference" in line or "p = 0.031" in line for line in a["verdict"])
    assert any("not independent; only copy0 is analysed" in line for line in a["verdict"])
    s = suite_mod.Suite(name="dups", title="Dups", file="s.toml", datasets=[])
    lines: list[str] = []
    doc = api_suite._write(s, runs, {}, [], tmp_path, log=lines.append)
    assert [ln for ln in lines if "copy3 is the same data as copy0" in ln and ln.startswith("medbench: warning:")]
    md = (tmp_path / "suite.md").read_text(encoding="utf-8")
    assert "copy5: left out." in md and "p = 0.031" not in md
    assert json.loads((tmp_path / "suite.json").read_text())["analysis"]["duplicates"] == doc["analysis"]["duplicates"]
    assert suite_report.render(doc)
