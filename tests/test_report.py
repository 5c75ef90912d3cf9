"""The report: `medbench run` writes report.md, report.html and the figures; `medbench report` rebuilds
them from results.json alone (the markdown byte for byte); deep models' training curves appear when
they are in the results; the HTML renders in a real (headless) Chromium.

The session fixture runs a small real benchmark once: the majority floor and a HOG + decision tree
(coarse 7 px cells, so it fits in seconds) on the real PneumoniaMNIST, seeds 0 and 1.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import browser
import numpy as np
import pytest

from medbench.cli import main
from medbench.evaluation import section as evaluation
from medbench.metrics import classification_metrics
from medbench.records import results as results_mod
from medbench.reports import figures
from medbench.reports.build import write_report

PNG = b"\x89PNG\r\n\x1a\n"
RUN_ARGS = ["run", "--dataset", "pneumoniamnist", "--pipelines", "majority", "hog-tree", "--seeds", "0", "1",
            "--option", "hog-tree.hog__pixels_per_cell=7", "--n-jobs", "1", "--bootstrap-resamples", "200"]


def _cli(args: list[str]) -> int:
    """``medbench ARGS`` in-process (main records ARGS as the run's command)."""
    return main(args)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, shared_datasets) -> Path:
    if not (shared_datasets / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {shared_datasets / 'pneumoniamnist.npz'}")
    out = tmp_path_factory.mktemp("report-run") / "out"
    assert _cli([*RUN_ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def run_results(run_dir) -> dict:
    return results_mod.load(run_dir)


def _copy_results(run_dir: Path, dest: Path, samples: bool = True, gallery: bool = True) -> Path:
    """results.json and the pictures drawn at run time (samples.png, the error gallery) in a new folder."""
    (dest / "figures").mkdir(parents=True)
    shutil.copy2(run_dir / "results.json", dest / "results.json")
    if samples:
        shutil.copy2(run_dir / "figures" / figures.SAMPLES, dest / "figures" / figures.SAMPLES)
    if gallery and (run_dir / "gallery").is_dir():
        shutil.copytree(run_dir / "gallery", dest / "gallery")
    return dest


def _assert_pngs(folder: Path, names: list[str]) -> None:
    for name in names:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, name


# --- what a run writes ---------------------------------------------------------------------------


def test_run_writes_reports_figures_and_statistics(run_dir, run_results):
    for name in ("report.md", "report.html", "results.json", "metrics.csv"):
        assert (run_dir / name).stat().st_size > 0, name
    planned = figures.planned(run_results)
    assert set(planned) == {"class_distribution", "tradeoff", "leaderboard", "roc", "confusion",
                            "reliability", "decision_curve"}  # no deep model; binary: a decision curve
    _assert_pngs(run_dir / "figures", [f.file for f in planned.values()] + [figures.SAMPLES])
    stats = run_results["statistics"]
    assert stats["settings"]["n_resamples"] == 200 and stats["settings"]["seed"] == 0  # --bootstrap-resamples 200
    assert sorted(stats["jobs"]) == ["hog-tree__seed0", "hog-tree__seed1", "majority__seed0", "majority__seed1"]
    assert stats["reference"] == "hog-tree"
    assert [c["a"] for c in stats["comparisons"]] == ["majority__seed0", "majority__seed1"]
    assert run_results["config"]["bootstrap_resamples"] == 200


def test_report_content(run_dir, run_results):
    md = (run_dir / "report.md").read_text()
    for heading in ("## Summary", "## Dataset card", "## Leaderboard (test split)", "### Per seed",
                    "### Operating point", "## Runtime and memory", "## Significance",
                    "## Per-class metrics (test split)", "## Figures", "## Environment", "## Reproduce"):
        assert f"\n{heading}\n" in md, heading
    assert md.index("## Summary") < md.index("## Dataset card") < md.index("## Leaderboard") < md.index(
        "## Runtime") < md.index("## Significance") < md.index("## Per-class") < md.index("## Figures") < md.index(
        "## Environment") < md.index("## Reproduce")
    # two seeds: mean ± sd in the leaderboard, estimate [CI] per seed
    assert re.search(r"\| hog-tree +\| classical +\| 0, 1 +\| 0\.\d{3} ± 0\.\d{3} ", md)
    assert re.search(r"\| hog-tree +\| 1 +\| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] ", md)
    # the operating point: threshold and how it was chosen, sensitivity / specificity beside the AUC
    job = next(j for j in run_results["jobs"] if j["job_id"] == "hog-tree__seed0")
    assert f"| {job['threshold']['threshold']:.3f} " in md and job["threshold"]["method"] in md
    # significance: McNemar and DeLong p-values against the best pipeline
    assert "McNemar p (Holm)" in md and "DeLong p (Holm)" in md and "**hog-tree**" in md
    # no deep model here: said plainly, no training curves
    assert "no classical-vs-deep comparison" in md and "No training curves" in md
    for spec in figures.planned(run_results).values():
        assert f"](figures/{spec.file})" in md
    assert f"](figures/{figures.SAMPLES})" in md
    assert "PneumoniaMNIST" in md and run_results["split"]["fingerprint"] in md
    assert "medbench run --dataset pneumoniamnist --pipelines majority hog-tree" in md


def test_report_rebuilds_byte_for_byte(run_dir, tmp_path):
    copy_dir = _copy_results(run_dir, tmp_path / "copy")
    assert _cli(["report", str(copy_dir)]) == 0
    assert (copy_dir / "report.md").read_bytes() == (run_dir / "report.md").read_bytes()
    assert (copy_dir / "report.html").read_bytes() == (run_dir / "report.html").read_bytes()
    for spec in figures.planned(results_mod.load(copy_dir)).values():
        _assert_pngs(copy_dir / "figures", [spec.file])
    # in place, on the results.json path: still identical, samples.png kept
    before = (run_dir / "report.md").read_bytes()
    assert _cli(["report", str(run_dir / "results.json")]) == 0
    assert (run_dir / "report.md").read_bytes() == before
    assert (run_dir / "figures" / figures.SAMPLES).is_file()


def test_report_without_samples_says_so(run_dir, tmp_path):
    copy_dir = _copy_results(run_dir, tmp_path / "bare", samples=False, gallery=False)
    assert _cli(["report", str(copy_dir)]) == 0
    md = (copy_dir / "report.md").read_text()
    assert "figures/samples.png` is not in this folder" in md and "](figures/samples.png)" not in md
    assert "Pictures not shown: gallery picture" in md and "](gallery/" not in md  # nor missing gallery pictures
    assert not (copy_dir / "figures" / figures.SAMPLES).exists()


# --- deep models present -------------------------------------------------------------------------


def _fake_deep(results: dict) -> dict:
    """A "cnn" deep job per seed, copied from the hog-tree job with a training history and 20x latency, whose
    scores are seeded random numbers: it knows nothing (ROC-AUC about 0.5), so the real hog-tree beats it."""
    res = copy.deepcopy(results)
    res.pop("statistics")
    for job in [j for j in res["jobs"] if j["pipeline"] == "hog-tree"]:
        deep = copy.deepcopy(job)
        deep.update(pipeline="cnn", name="cnn", family="deep", job_id=f"cnn__seed{job['seed']}")
        proba = np.asarray(deep["predictions"]["proba"])
        p1 = np.random.default_rng(job["seed"]).random(len(proba))
        proba = np.column_stack([1 - p1, p1])
        pred = (proba[:, 1] >= 0.5).astype(int)
        y = np.asarray(deep["predictions"]["y_true"])
        deep["predictions"].update(y_pred=pred.tolist(), proba=proba.round(6).tolist())
        deep["metrics"] = classification_metrics(y, pred, proba, res["dataset"]["class_names"], 1)
        deep["runtime"] = {**deep["runtime"], "latency_ms_per_image": 20 * job["runtime"]["latency_ms_per_image"]}
        deep["model_info"] = {"device": "cpu", "backend": "tensorflow", "precision": "float32", "batch_size": 64,
                              "best_epoch": 3, "epochs_run": 5,
                              "history": {"loss": [0.7, 0.5, 0.4, 0.35, 0.3], "val_loss": [0.68, 0.5, 0.45, 0.47, 0.5],
                                          "accuracy": [0.6, 0.75, 0.8, 0.83, 0.86],
                                          "val_accuracy": [0.62, 0.74, 0.79, 0.78, 0.77],
                                          "val_auc": [0.7, 0.8, 0.84, 0.83, 0.82]}}
        if job["seed"] == 1:  # a second, fine-tuning phase (as ResNet50 records it)
            deep["model_info"]["finetune"] = {"best_epoch": 2, "history": {
                "loss": [0.3, 0.25, 0.24], "val_loss": [0.44, 0.42, 0.43], "val_auc": [0.85, 0.86, 0.855]}}
        res["jobs"].append(deep)
    return res


def test_report_with_deep_models(run_results, tmp_path):
    res = evaluation.add_statistics(_fake_deep(run_results), n_resamples=300)
    path = write_report(res, tmp_path)
    md = path.read_text()
    planned = figures.planned(res)
    assert "training_curves" in planned
    _assert_pngs(tmp_path / "figures", [f.file for f in planned.values()])
    head = res["statistics"]["headline"]
    assert (head["classical"], head["deep"]) == ("hog-tree", "cnn") and len(head["comparisons"]) == 2
    assert "**Classical vs deep:** best classical **hog-tree** vs best deep **cnn**" in md
    assert re.search(r"- seed 1: ROC-AUC [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\], DeLong p ", md)
    assert "the classical pipeline is **20.0x faster**" in md
    assert "**Verdict:** classical is **better** by 0." in md and "level in 2 of 2 seeds)" in md
    assert "](figures/training_curves.png)" in md and "No training curves" not in md
    assert "cnn (seed 0): device cpu, backend tensorflow" in md
    # rebuilt from the stored results (statistics reused): the same markdown
    write_report(json.loads(json.dumps(res)), tmp_path / "again")
    assert (tmp_path / "again" / "report.md").read_text() == md


def test_report_multiclass_and_failed_jobs(tmp_path):
    rng = np.random.default_rng(0)
    names = ["normal", "bacteria", "virus"]
    y = np.repeat([0, 1, 2], 20)
    jobs = []
    for pipe, family, strength in (("hog-svm", "classical", 2.0), ("resnet50", "deep", 3.0)):
        proba = rng.dirichlet([1, 1, 1], 60) + strength * np.eye(3)[y] * rng.random((60, 1))
        proba /= proba.sum(axis=1, keepdims=True)
        pred = proba.argmax(1)
        jobs.append({"job_id": f"{pipe}__seed0", "pipeline": pipe, "name": pipe, "family": family, "seed": 0,
                     "status": "ok", "threshold": None, "metrics": classification_metrics(y, pred, proba, names),
                     "runtime": {"latency_ms_per_image": 2.0 if family == "classical" else 30.0,
                                 "throughput_img_per_s": 10.0, "single_image_latency_ms": 3.0,
                                 "feature_time_s": 1.0, "fit_time_s": 2.0, "peak_rss_mb": 100.0,
                                 "model_size_bytes": 1000},
                     "model_info": {}, "predictions": {"ids": [f"i{k}" for k in range(60)], "y_true": y.tolist(),
                                                       "y_pred": pred.tolist(), "proba": proba.tolist()}})
    jobs.append({"job_id": "cnn__seed0", "pipeline": "cnn", "seed": 0, "family": "deep", "status": "error",
                 "error": "no GPU, no luck"})
    res = {"schema": "medbench.results", "schema_version": 1, "medbench_version": "0", "created": "then",
           "command": "medbench run", "config": {},
           "dataset": {"name": "x", "spec": "coronahack:x", "title": "Three classes", "task": "etiology",
                       "class_names": names, "positive_class": None, "n_images": 60, "image_shape": [64, 64],
                       "class_counts": dict.fromkeys(names, 20), "fingerprint": "f" * 64, "group_source": "none",
                       "n_groups": 60, "source": {}, "problems": {}},
           "split": {"fingerprint": "s" * 64, "method": "official", "seed": 0, "notes": [],
                     "counts": {"train": dict.fromkeys(names, 10), "val": dict.fromkeys(names, 5),
                                "test": dict.fromkeys(names, 20)}},
           "environment": {"libraries": {}}, "jobs": jobs}
    md = write_report(res, tmp_path, stats=evaluation.statistics(res)).read_text()
    stats = evaluation.statistics(res)
    assert stats["comparisons"][0]["roc_auc"]["test"] == "paired bootstrap"
    assert "Bootstrap p (Holm)" in md and "arg-max of the class probabilities" in md
    assert "**cnn** (deep, seed 0): no GPU, no luck" in md
    _assert_pngs(tmp_path / "figures", [f.file for f in figures.planned(res).values()])


# --- splits per seed ---------------------------------------------------------------------------


def test_resplit_per_seed(make_image_folder, tmp_path):
    folder = make_image_folder(30, name="flat")
    out = tmp_path / "out"
    assert _cli(["run", "--dataset", f"folder:{folder}", "--image-size", "32", "--pipelines", "majority",
                 "--seeds", "0", "1", "--resplit-per-seed", "--bootstrap-resamples", "200", "--out", str(out)]) == 0
    res = results_mod.load(out)
    per_seed = res["split"]["per_seed"]
    assert sorted(per_seed) == ["0", "1"] and per_seed["0"]["fingerprint"] != per_seed["1"]["fingerprint"]
    fps = {j["seed"]: j["split_fingerprint"] for j in res["jobs"]}
    assert fps == {0: per_seed["0"]["fingerprint"], 1: per_seed["1"]["fingerprint"]}
    assert (out / "split-seed0.json").is_file() and (out / "split-seed1.json").is_file()
    assert res["statistics"]["settings"]["n_resamples"] == 200
    md = (out / "report.md").read_text()
    assert "One split per seed" in md and "each seed on its own split" in md


def test_resplit_on_an_official_split_says_nothing_changes(shared_datasets, tmp_path):
    out = tmp_path / "out"
    assert _cli(["run", "--pipelines", "majority", "--seeds", "0", "1", "--resplit-per-seed",
                 "--bootstrap-resamples", "100", "--out", str(out)]) == 0
    res = results_mod.load(out)
    assert len({p["fingerprint"] for p in res["split"]["per_seed"].values()}) == 1
    assert "entirely official" in (out / "report.md").read_text()


def test_report_when_every_job_failed(run_results, tmp_path):
    res = copy.deepcopy(run_results)
    res.pop("statistics")
    res["jobs"] = [{"job_id": "cnn__seed0", "pipeline": "cnn", "seed": 0, "status": "error", "error": "boom"}]
    md = write_report(res, tmp_path, stats=evaluation.statistics(res)).read_text()
    # a failed job recorded before failed jobs carried their family
    assert "No pipeline finished" in md and "**cnn** (unknown, seed 0): boom" in md and "nothing to compare" in md
    assert list(figures.planned(res)) == ["class_distribution"]
    _assert_pngs(tmp_path / "figures", ["class_distribution.png"])


def test_resplit_rejects_split_manifest(tmp_path, capsys):
    manifest = tmp_path / "split.json"
    manifest.write_text("{}")  # it exists: the exit must come from the refusal, not from a missing file
    assert _cli(["run", "--pipelines", "majority", "--resplit-per-seed", "--split-manifest",
                 str(manifest), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "medbench: error: --resplit-per-seed carves a split per seed; it cannot be combined with --split-manifest")
    assert not (tmp_path / "o").exists()


# --- the HTML in a real browser ----------------------------------------------------------------


def test_html_renders_in_chromium(run_dir, tmp_path):
    html = (run_dir / "report.html").read_text()
    assert "<table>" in html and '<img alt="Test ROC-AUC against per-image latency" src="figures/tradeoff.png"' in html
    shot = tmp_path / "shot.png"
    proc = browser.run(run_dir / "report.html", f"--screenshot={shot}", "--window-size=1280,2400",
                       "--hide-scrollbars")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(str(shot))[..., :3]
    assert img.shape[:2] == (2400, 1280)
    # The page has text and tables (dark pixels) and the figures loaded (the blue / orange of the
    # families and bars: saturated pixels, which text and tables do not have).
    saturation = img.max(axis=2) - img.min(axis=2)
    assert (img.mean(axis=2) < 0.3).mean() > 0.005
    assert (saturation > 0.3).sum() > 3000


def test_verdict_wording():
    from medbench.reports.markdown import _verdict

    worse = {"roc_auc": {"diff": -0.031, "p": 0.002}}
    level = {"roc_auc": {"diff": -0.0002, "p": 0.97}}
    assert _verdict([worse], "12.0x faster") == ("classical is **worse** by 0.031 ROC-AUC (significant at the 5% "
                                                 "level, p = 0.002); the classical pipeline is 12.0x faster per image.")
    assert _verdict([level], "2.0x slower").startswith("**no significant ROC-AUC difference** between classical and "
                                                       "deep (0.000, p = 0.970)")
    assert "in 1 of 2 seeds" in _verdict([worse, level], "3.0x faster")
    assert "in any of 2 seeds" in _verdict([level, level], "3.0x faster")
