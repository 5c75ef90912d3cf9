"""External validation done right (issue 26 item 3, issue 29 item 9), through the CLI on real Kermany images.

An external set with a third class left out by ``--class-map SRC=-`` scores (and records what it left out);
the report leads with prevalence-free metrics, states both prevalences, shows PPV / NPV at the external
prevalence beside the Bayes expectation, writes every change "worse by" / "better by" in the metric's own
direction (one convention with ``medbench compare``), marks a near-chance external set, and shows the internal
threshold beside the external set's own Youden threshold. Numbers are recomputed here independently from the
stored predictions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medbench.cli import main
from medbench.evaluation import gate as regression
from medbench.metrics import higher_is_better

ARGS = ("--pipelines", "majority", "hog-svm", "--image-size", "32", "--n-jobs", "1", "--no-gallery",
        "--bootstrap-resamples", "200")


@pytest.fixture
def kermany(make_image_folder) -> Path:
    return make_image_folder(30, layout="split", name="K")


def _copy(files: list[Path], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dst / f.name)


def _images(chest_xray_dir: Path, split: str, cls: str) -> list[Path]:
    return sorted((chest_xray_dir / split / cls).glob("*.jpeg"))


def _run(capsys, out: Path, *argv: str) -> tuple[int, str]:
    code = main(["run", *argv, *ARGS, "--out", str(out)])
    return code, capsys.readouterr().err


def _youden_by_brute_force(y: np.ndarray, score: np.ndarray) -> float:
    """max over candidate thresholds t (predict positive when score >= t) of sens + spec - 1."""
    best, best_t = -2.0, 0.5
    for t in sorted(set(score.tolist()), key=lambda v: (abs(v - 0.5), v)):
        j = np.mean(score[y == 1] >= t) + np.mean(score[y == 0] < t) - 1
        if j > best + 1e-12:
            best, best_t = j, t
    return best_t


def test_a_three_class_external_set_scores_with_one_class_left_out(kermany, tmp_path, chest_xray_dir, capsys):
    ext = tmp_path / "X3"
    _copy(_images(chest_xray_dir, "test", "NORMAL")[100:115], ext / "Normal")
    _copy(_images(chest_xray_dir, "test", "PNEUMONIA")[100:110], ext / "Pneumonia")
    _copy(_images(chest_xray_dir, "val", "NORMAL")[:6], ext / "Covid")  # no counterpart in the dataset
    # without the map: one line that says how to leave it out
    code, err = _run(capsys, tmp_path / "o1", "--dataset", f"folder:{kermany}", "--external", f"folder:{ext}")
    assert code == 2 and err.count("\n") == 1 and "Covid" in err and "SRC=-" in err, err
    out = tmp_path / "out"
    code, err = _run(capsys, out, "--dataset", f"folder:{kermany}", "--external", f"folder:{ext}",
                     "--class-map", "Covid=-")
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["class_map"] == ["Covid=-"]
    block = res["external"][0]
    assert block["n"] == 25 and block["excluded"] == {"Covid": 6}
    assert block["counts"] == {"NORMAL": 15, "PNEUMONIA": 10}
    assert block["mapping"] == {"Normal": "NORMAL", "Pneumonia": "PNEUMONIA"}
    jobs = {j["pipeline"]: j for j in res["jobs"]}
    for job in jobs.values():
        entry = job["external"][0]
        assert entry["excluded"] == {"Covid": 6} and len(entry["predictions"]["ids"]) == 25
        assert not any("Covid" in str(i) for i in entry["predictions"]["ids"])
    # both prevalences, from the stored labels
    y_test = np.asarray(jobs["hog-svm"]["predictions"]["y_true"])
    assert block["prevalence"] == {"class": "PNEUMONIA", "internal": pytest.approx(np.mean(y_test == 1)),
                                   "external": pytest.approx(10 / 25)}
    row = next(r for r in block["jobs"] if r["pipeline"] == "hog-svm")
    pred = jobs["hog-svm"]["external"][0]["predictions"]
    y, score = np.asarray(pred["y_true"]), np.asarray(pred["proba"])[:, 1]
    # thresholds: the internal one scored the set; the set's own Youden threshold is information only
    assert row["threshold"]["internal"] == jobs["hog-svm"]["threshold"]["threshold"]
    assert row["threshold"]["external_youden"] == pytest.approx(_youden_by_brute_force(y, score))
    assert np.array_equal(np.asarray(pred["y_pred"]), (score >= row["threshold"]["internal"]).astype(int))
    # PPV / NPV expected at the external prevalence from the internal sensitivity and specificity (Bayes)
    sens, spec, prev = jobs["hog-svm"]["metrics"]["sensitivity"], jobs["hog-svm"]["metrics"]["specificity"], 0.4
    if sens * prev + (1 - spec) * (1 - prev) > 0:
        assert row["expected_at_external"]["ppv"] == pytest.approx(
            sens * prev / (sens * prev + (1 - spec) * (1 - prev)))
    assert row["expected_at_external"]["npv"] == pytest.approx(
        spec * (1 - prev) / (spec * (1 - prev) + (1 - sens) * prev))
    md = (out / "report.md").read_text()
    section = md[md.index("## External validation"):]
    assert "Left out (`--class-map SRC=-`): Covid (6 images)" in section
    assert "Prevalence of PNEUMONIA" in section and "40.0% in this external set" in section
    # prevalence-free metrics lead; PPV / NPV come separately, at the external prevalence
    assert section.index("**Prevalence-free metrics**") < section.index("**PPV and NPV at the external prevalence (40.0%)")
    assert "External set's own Youden threshold" in section


def test_every_change_is_worse_or_better_in_the_metric_s_own_direction(kermany, tmp_path, chest_xray_dir, capsys):
    ext = tmp_path / "X"
    _copy(_images(chest_xray_dir, "test", "NORMAL")[150:170], ext / "NORMAL")
    _copy(_images(chest_xray_dir, "test", "PNEUMONIA")[150:170], ext / "PNEUMONIA")
    out = tmp_path / "out"
    code, err = _run(capsys, out, "--dataset", f"folder:{kermany}", "--external", f"folder:{ext}")
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    md = (out / "report.md").read_text()
    seen = set()
    for row in res["external"][0]["jobs"]:
        for m, v in row["metrics"].items():
            if v["internal"] is None or v["external"] is None:  # a likelihood ratio dividing by zero: no drop
                assert m in ("lr_positive", "lr_negative") and v["drop"] is None, m
                continue
            change = v["internal"] - v["external"]
            want = change if higher_is_better(m) else -change  # positive: worse on the external set
            assert v["drop"] == pytest.approx(want), m
            # medbench compare judges the same change the same way: a positive drop is a change for the worse
            status = regression.metric_row("p", 0, m, v["internal"], v["external"], 0.0, judged=False)["status"]
            if abs(want) > 1e-9:
                assert (status == "drop") == (want > 0), (m, status, want)
                seen.add((higher_is_better(m), want > 0))
                word = f"{'worse' if want > 0 else 'better'} by {abs(want):.3f}"
                assert word in md, (m, word)
    brier = next(r for r in res["external"][0]["jobs"] if r["pipeline"] == "hog-svm")["metrics"]["brier"]
    if brier["external"] > brier["internal"]:  # a Brier score that rose is worse, with a positive drop
        assert brier["drop"] > 0 and "Brier (lower is better)" in md
    assert any(not hib for hib, _ in seen)  # a lower-is-better metric was checked


def test_a_near_chance_external_set_is_marked(kermany, tmp_path, chest_xray_dir, capsys):
    ext = tmp_path / "Shuffled"
    normal, pneu = _images(chest_xray_dir, "test", "NORMAL"), _images(chest_xray_dir, "test", "PNEUMONIA")
    # labels shuffled by folder: each class folder holds as many normal as pneumonia images
    _copy(normal[200:215] + pneu[200:215], ext / "NORMAL")
    _copy(normal[215:230] + pneu[215:230], ext / "PNEUMONIA")
    out = tmp_path / "out"
    code, err = _run(capsys, out, "--dataset", f"folder:{kermany}", "--external", f"folder:{ext}")
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    row = next(r for r in res["external"][0]["jobs"] if r["pipeline"] == "hog-svm")
    ci = row["metrics"]["roc_auc"]["external_ci"]
    assert ci[0] <= 0.5 <= ci[1] and row["chance"] is True
    floor = next(r for r in res["external"][0]["jobs"] if r["pipeline"] == "majority")
    assert floor["chance"] is False  # at chance by construction: not flagged
    md = (out / "report.md").read_text()
    assert "> **No better than chance here:** the external ROC-AUC interval of hog-svm contains 0.5." in md
    assert "**no better than chance here**" in md
