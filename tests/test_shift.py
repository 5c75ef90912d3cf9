"""External validation (--external, --class-map) and robustness to corruptions (--robustness), on real images.

Fast tests: the corruption table against hand-worked pixel values (severity 0 is the identity, determinism per
seed), class matching and its one-line errors, which metrics a subset-of-classes set keeps, the config checks.
Runs on small real Kermany folders (seconds each): an external set equal to the test split gives exactly the
internal numbers, a positives-only set reports sensitivity with a CI and says why the rest is undefined, job
records are not reused when --external changes, hostile class names are escaped in report.md / report.html.
The `slow` test runs the issue's "done means" command end to end through the CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import medbench
from medbench.core.errors import MedbenchError
from medbench.reports.escape import md as E
from medbench.running.config import RunConfig
from medbench.shift import corruptions, external

# --- corruptions ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_images(shared_datasets: Path) -> np.ndarray:
    with np.load(shared_datasets / "pneumoniamnist.npz") as d:
        return d["test_images"][:40]


@pytest.mark.parametrize("name", [c["name"] for c in corruptions.table()])
def test_severity_zero_is_the_identity(name, real_images):
    rgb = np.repeat(real_images[..., None], 3, axis=-1)
    for imgs in (real_images, rgb):
        out = corruptions.corrupt(imgs, name, 0, seed=3)
        assert out.dtype == np.uint8 and out is not imgs
        np.testing.assert_array_equal(out, imgs)


@pytest.mark.parametrize("name", [c["name"] for c in corruptions.table()])
def test_corruptions_are_deterministic_and_change_the_images(name, real_images):
    for severity in corruptions.SEVERITIES:
        a = corruptions.corrupt(real_images, name, severity, seed=7)
        b = corruptions.corrupt(real_images, name, severity, seed=7)
        np.testing.assert_array_equal(a, b)
        assert a.shape == real_images.shape and a.dtype == np.uint8
    worst = corruptions.corrupt(real_images, name, 5, seed=7)
    assert np.abs(worst.astype(int) - real_images).mean() > 1.0  # severity 5 really changes the pixels


def test_noise_depends_on_the_seed_and_other_corruptions_do_not(real_images):
    a = corruptions.corrupt(real_images, "gaussian_noise", 3, seed=0)
    b = corruptions.corrupt(real_images, "gaussian_noise", 3, seed=1)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(corruptions.corrupt(real_images, "blur", 3, seed=0),
                                  corruptions.corrupt(real_images, "blur", 3, seed=1))


def test_corruption_values_by_hand():
    img = np.zeros((1, 4, 4), np.uint8)
    img[0, :, :2] = 200  # mean 100
    # contrast 0.75 about the mean 100: 200 -> 175, 0 -> 25
    out = corruptions.corrupt(img, "contrast", 1)
    assert set(np.unique(out[0, :, :2])) == {175} and set(np.unique(out[0, :, 2:])) == {25}
    # brightness +0.2 * 255 = 51: 200 -> 251, 0 -> 51; severity 5 (+128) clips 200 at 255
    out = corruptions.corrupt(img, "brightness", 2)
    assert out[0, 0, 0] == 251 and out[0, 0, 3] == 51
    assert corruptions.corrupt(img, "brightness", 5)[0, 0, 0] == 255
    # pixelate keeping 0.3 of 4 px -> 1 px: the box filter averages to 100 everywhere
    assert set(np.unique(corruptions.corrupt(img, "pixelate", 5))) == {100}
    # noise sd 0.18 * 255 = 45.9 on a flat 128 image of 40,000 pixels: sample sd within 1
    flat = np.full((1, 200, 200), 128, np.uint8)
    assert abs(corruptions.corrupt(flat, "gaussian_noise", 5).astype(float).std() - 45.9) < 1.0


def test_bad_corruption_requests_are_one_line(real_images):
    with pytest.raises(MedbenchError, match="unknown corruption 'fog'"):
        corruptions.corrupt(real_images, "fog", 1)
    with pytest.raises(MedbenchError, match="from 0 to 5"):
        corruptions.corrupt(real_images, "blur", 6)
    with pytest.raises(MedbenchError, match="known: gaussian_noise, blur, contrast, brightness, jpeg, pixelate"):
        corruptions.corrupt(real_images, "Blur", 1)  # names are exact: no fallback to another corruption


def test_a_corruption_is_a_registered_function(real_images):
    """Issue 25.5: registration sits on the function; a second registration of a name is refused."""
    from medbench.core.registry import Registry

    saved = corruptions.CORRUPTIONS
    corruptions.CORRUPTIONS = Registry("corruption")
    try:
        @corruptions.corruption("invert", "each pixel v becomes 255 - v", "none", (1, 1, 1, 1, 1))
        def invert(images, level, side, rng):
            return 255 - images

        assert np.array_equal(corruptions.corrupt(real_images, "invert", 3), 255 - real_images)
        assert corruptions.table()[0]["name"] == "invert"
        with pytest.raises(ValueError, match="registered twice"):
            corruptions.corruption("invert", "again", "none", (1, 1, 1, 1, 1))(invert)
    finally:
        corruptions.CORRUPTIONS = saved
    assert "invert" not in corruptions.CORRUPTIONS


# --- classes ------------------------------------------------------------------------------------------


def test_classes_match_case_insensitively_and_through_the_map():
    assert external.match_classes(["normal", "Pneumonia"], ["NORMAL", "PNEUMONIA"], {}, "x") == {
        "normal": "NORMAL", "Pneumonia": "PNEUMONIA"}
    cmap = external.parse_class_map(["No_findings=NORMAL", "Pneumonia=PNEUMONIA"])
    assert external.match_classes(["No_findings", "Pneumonia"], ["NORMAL", "PNEUMONIA"], cmap, "x") == {
        "No_findings": "NORMAL", "Pneumonia": "PNEUMONIA"}


def test_unmatched_classes_are_one_line_listing_both_sets():
    with pytest.raises(MedbenchError) as err:
        external.match_classes(["No_findings", "Pneumonia"], ["NORMAL", "PNEUMONIA"], {}, "folder:X")
    msg = str(err.value)
    assert "\n" not in msg and "No_findings" in msg and "NORMAL, PNEUMONIA" in msg and "--class-map" in msg
    with pytest.raises(MedbenchError, match="is not SRC=DST"):
        external.parse_class_map(["No_findings"])
    with pytest.raises(MedbenchError, match="has no class 'covid'"):
        external.match_classes(["NORMAL"], ["NORMAL", "PNEUMONIA"], {"covid": "PNEUMONIA"}, "x")


def test_a_subset_keeps_only_what_is_defined():
    undefined = external.defined_metrics(["NORMAL", "PNEUMONIA"], {1}, positive=1)
    assert "sensitivity" not in undefined  # the one metric reported on a positives-only set
    assert {"roc_auc", "specificity", "f1", "macro_f1", "accuracy", "balanced_accuracy"} <= set(undefined)
    assert "no NORMAL images" in undefined["roc_auc"] and "equals the sensitivity" in undefined["accuracy"]
    negatives = external.defined_metrics(["NORMAL", "PNEUMONIA"], {0}, positive=1)
    assert "specificity" not in negatives and "sensitivity" in negatives
    three = external.defined_metrics(["a", "b", "c"], {0, 1}, positive=None)
    assert "accuracy" not in three and "balanced_accuracy" not in three and "roc_auc" in three
    assert external.defined_metrics(["NORMAL", "PNEUMONIA"], {0, 1}, positive=1) == {}


def test_config_checks_the_options():
    with pytest.raises(MedbenchError, match="add --external"):
        RunConfig(class_map=["A=B"])
    with pytest.raises(MedbenchError, match="more than once"):
        RunConfig(external=["folder:x", "folder:x"])
    cfg = RunConfig(external="folder:x", class_map="a=NORMAL", robustness=True)
    assert cfg.external == ("folder:x",) and cfg.class_map == ("a=NORMAL",)
    assert cfg.record(["majority"], {})["external"] == ["folder:x"]


def test_a_suite_declares_external_sets(tmp_path):
    from medbench import api_suite
    from medbench.running import suitefile as suite

    f = tmp_path / "s.toml"
    f.write_text('[suite]\nrobustness = true\n[[datasets]]\ndataset = "folder:data/K"\n'
                 'external = ["folder:data/X"]\nclass_map = ["No_findings=NORMAL"]\n')
    s = suite.load(f)
    ds = s.datasets[0]
    assert ds.external == [f"folder:{tmp_path.absolute() / 'data' / 'X'}"] and ds.robustness is True
    cfg = api_suite.dataset_config(s, ds, tmp_path / "out")
    assert cfg.external == tuple(ds.external) and cfg.class_map == ("No_findings=NORMAL",) and cfg.robustness
    f.write_text('[[datasets]]\ndataset = "folder:data/K"\nclass_map = ["No_findings"]\n')
    with pytest.raises(MedbenchError, match="class_map"):
        suite.load(f)


# --- runs on small real folders ---------------------------------------------------------------------------


@pytest.fixture
def kermany(make_image_folder) -> Path:
    return make_image_folder(30, layout="split", name="K")


def _run(k: Path, out: Path, **kw):
    return medbench.run(f"folder:{k}", pipelines=["hog-svm", "majority"], image_size=32, out=out, log=None,
                        bootstrap_resamples=200, n_jobs=1, **kw)


def test_external_equal_to_the_test_split_gives_the_internal_numbers(kermany, tmp_path):
    res = _run(kermany, tmp_path / "out", external=[f"folder:{kermany / 'test'}"])
    block = res["external"][0]
    assert block["n"] == 60 and block["undefined"] == {}
    for job in res.jobs:
        ext = job["external"][0]
        for m, v in job["metrics"].items():
            if m in medbench.metrics.HEADLINE:
                assert ext["metrics"][m] == v, m
        assert sorted(map(tuple, ext["predictions"]["proba"])) == sorted(map(tuple, job["predictions"]["proba"]))
    for row in block["jobs"]:
        for m, v in row["metrics"].items():
            if v["internal"] is None:  # a likelihood ratio dividing by zero: null on both, no drop
                assert m in ("lr_positive", "lr_negative") and v["external"] is None and v["drop"] is None, m
                continue
            assert v["internal"] == v["external"] and v["drop"] == 0.0, m
            assert v["internal_ci"] == v["external_ci"], m  # same images, same order, same resamples
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## External validation" in text and "(**the same order**)" in text


def test_positives_only_set_reports_sensitivity_and_says_why(kermany, tmp_path, chest_xray_dir):
    pos = tmp_path / "X" / "Pneumonia"
    pos.mkdir(parents=True)
    for f in sorted((chest_xray_dir / "val" / "PNEUMONIA").glob("*.jpeg")):
        shutil.copy2(f, pos / f.name)
    res = _run(kermany, tmp_path / "out", external=[f"folder:{tmp_path / 'X'}"])
    block = res["external"][0]
    assert block["counts"] == {"NORMAL": 0, "PNEUMONIA": 8}
    assert "roc_auc" in block["undefined"] and "specificity" in block["undefined"]
    for row in block["jobs"]:
        assert set(row["metrics"]) == {"sensitivity"}  # nothing else is reported on this set
        sens = row["metrics"]["sensitivity"]
        assert sens["external"] is not None and sens["external_ci"] is not None
        job = next(j for j in res.jobs if j["pipeline"] == row["pipeline"])
        assert job["external"][0]["metrics"]["roc_auc"] is None  # undefined, not 0 or 0.5
        y_pred = np.asarray(job["external"][0]["predictions"]["y_pred"])
        assert sens["external"] == pytest.approx(np.mean(y_pred == 1))  # recall of the positives, by hand
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Not every metric is defined here" in text and "no NORMAL images" in text
    assert "hog-svm" in block["external_order"] and "majority" not in block["external_order"]  # floor left out
    rows = {r["pipeline"]: r for r in block["jobs"]}
    assert set(rows["majority"]["metrics"]) == {"sensitivity"} and rows["majority"]["metrics"]["sensitivity"]["external"] == 1.0


def test_records_are_not_reused_when_external_changes(kermany, tmp_path, chest_xray_dir):
    out = tmp_path / "out"
    first = _run(kermany, out, external=[f"folder:{kermany / 'test'}"])
    again = _run(kermany, out, external=[f"folder:{kermany / 'test'}"])
    # reused, not refitted: the record (and its finish time) is the first run's
    assert [j["finished"] for j in again.jobs] == [j["finished"] for j in first.jobs]
    jobs_dir = out / "jobs"
    key = json.loads((jobs_dir / "hog-svm__seed0.json").read_text())["key"]
    assert key == first.jobs[0]["key"] == again.jobs[0]["key"]
    x2 = tmp_path / "X2"  # another external set: other Kermany test images (training images are refused)
    for cls in ("NORMAL", "PNEUMONIA"):
        (x2 / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "test" / cls).glob("*.jpeg"))[-30:]:
            shutil.copy2(f, x2 / cls / f.name)
    other = _run(kermany, out, external=[f"folder:{x2}"])
    # the same model (its key), scored on the other set without a refit (issue 30)
    assert other.jobs[0]["key"] == key and other["external"][0]["n"] == 60
    assert other.jobs[0]["model_origin"] == "reused" and other.jobs[0]["finished"] != first.jobs[0]["finished"]
    plain = _run(kermany, out)
    assert "external" not in plain.data and "external" not in plain.jobs[0]
    assert plain.jobs[0]["key"] == key and plain.jobs[0]["model_origin"] == "reused"


def test_cache_reason_names_the_changed_external(kermany, tmp_path):
    from medbench.datasets import load_dataset
    from medbench.datasets.splits import make_split
    from medbench.running import runner
    from medbench.shift.plan import Shift

    out = tmp_path / "out"
    _run(kermany, out, external=[f"folder:{kermany / 'test'}"])
    ds = load_dataset(RunConfig(f"folder:{kermany}", image_size=32).dataset_spec)
    split = make_split(ds, seed=0)
    ext = external.load(f"folder:{kermany / 'train'}", ds, {})
    planned = runner.plan_job(ds, split, runner.Job("hog-svm"), out, 1, shift=Shift((ext,)))
    assert planned.cached is None and planned.rescore is not None and "--external" in planned.reason
    same = external.load(f"folder:{kermany / 'test'}", ds, {})
    assert runner.plan_job(ds, split, runner.Job("hog-svm"), out, 1, shift=Shift((same,))).cached is not None


def test_unmatched_external_classes_stop_the_run_in_one_line(kermany, tmp_path, chest_xray_dir):
    x = tmp_path / "X"
    for cls in ("No_findings", "Pneumonia"):
        (x / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "val" / ("NORMAL" if cls == "No_findings" else "PNEUMONIA")).glob("*"))[:3]:
            shutil.copy2(f, x / cls / f.name)
    with pytest.raises(MedbenchError) as err:
        _run(kermany, tmp_path / "out", external=[f"folder:{x}"])
    assert "No_findings" in str(err.value) and "NORMAL, PNEUMONIA" in str(err.value) and "\n" not in str(err.value)


def test_hostile_external_names_are_escaped(kermany, tmp_path, chest_xray_dir):
    x = tmp_path / "X"
    hostile = {"No<b>find|ings*": "NORMAL", "Pneu_`x`$y$": "PNEUMONIA"}
    for cls, src in hostile.items():
        (x / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "val" / src).glob("*"))[:4]:
            shutil.copy2(f, x / cls / f.name)
    out = tmp_path / "out"
    _run(kermany, out, external=[f"folder:{x}"], class_map=[f"{k}={v}" for k, v in hostile.items()],
         robustness=True)
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "## External validation" in md and "## Robustness to shift" in md
    for name in hostile:
        assert E(name) in md
    assert "<b>find" not in md and "<b>find" not in html and "&lt;b&gt;find" in html
    assert (out / "figures" / "robustness.png").is_file() and "figures/robustness.png" in md
    data = medbench.load_results(out)  # the blocks validate against the declared schema
    rob = data["robustness"]
    assert [c["name"] for c in rob["corruptions"]] == [c["name"] for c in corruptions.table()]
    svm = next(p for p in rob["pipelines"] if p["pipeline"] == "hog-svm")
    assert len(svm["curves"]["blur"]["roc_auc"]) == 6 and svm["curves"]["blur"]["roc_auc"][0] == svm["clean"]["roc_auc"]
    kept = [v for vs in svm["kept"].values() for v in vs]
    assert svm["mean_kept"] == pytest.approx(sum(kept) / 30)
    job = next(j for j in data.jobs if j["pipeline"] == "hog-svm")
    first = job["robustness"]["corruptions"]["jpeg"][0]["metrics"]["roc_auc"]
    assert svm["kept"]["jpeg"][0] == pytest.approx((first - 0.5) / (job["metrics"]["roc_auc"] - 0.5))


@pytest.mark.slow
@pytest.mark.deep
def test_done_means_command(make_image_folder, tmp_path, chest_xray_dir):
    """The issue's command through the CLI: K a small Kermany folder, X Kermany validation images with a
    contrast change and other class folder names."""
    from PIL import Image, ImageEnhance

    k = make_image_folder(40, layout="split", name="K")
    x = tmp_path / "X"
    for src, dst in (("NORMAL", "No_findings"), ("PNEUMONIA", "Pneumonia")):
        (x / dst).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "test" / src).glob("*.jpeg"))[-20:]:
            with Image.open(f) as im:
                ImageEnhance.Contrast(im.convert("L")).enhance(0.6).save(x / dst / f.name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "medbench", "run", "--dataset", f"folder:{k}", "--image-size", "64",
           "--pipelines", "hog-svm", "cnn", "--external", f"folder:{x}", "--class-map", "No_findings=NORMAL",
           "--class-map", "Pneumonia=PNEUMONIA", "--robustness", "--out", str(out), "--option", "cnn.epochs=3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    assert data["external"][0]["n"] == 40 and data["external"][0]["undefined"] == {}
    assert {p["pipeline"] for p in data["robustness"]["pipelines"]} == {"hog-svm", "cnn"}
    assert set(data["robustness"]["families"]) == {"classical", "deep"}
    md = (out / "report.md").read_text()
    assert "## External validation" in md and "## Robustness to shift" in md and "Classical vs deep on this set" in md
    # the rest of the "done means", in the same run: calibration per job, the reliability diagram and
    # the error gallery (with a Grad-CAM for the CNN), in report.md and report.html
    for job in data["jobs"]:
        assert 0 <= job["metrics"]["brier"] <= 1 and 0 <= job["metrics"]["ece"] <= 1
        assert all((out / name).is_file() for name in job["gallery"]["sha256"])
    cnn = next(j for j in data["jobs"] if j["pipeline"] == "cnn")
    assert all(it["explanation_image"] for it in cnn["gallery"]["items"][:3])  # Grad-CAM on its first mistakes
    assert "## Calibration and operating point" in md and "## Most confident mistakes" in md
    assert (out / "figures" / "reliability.png").is_file() and (out / "figures" / "robustness.png").is_file()
    html = (out / "report.html").read_text()
    assert "reliability.png" in html and "robustness.png" in html and "gallery/" in html
