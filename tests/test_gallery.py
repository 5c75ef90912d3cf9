"""The error gallery: most confident test mistakes as pictures, made at run time on real PneumoniaMNIST
images, keyed like the job (a cached record's pictures are checked, a missing one remakes the job), the
HOG glyph against scikit-image itself, Grad-CAM against its closed form (the class activation map), and the
report section: escaped captions, tables intact, images loaded in headless Chromium."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import browser
import numpy as np
import pytest
import synthetic_results as synth
from PIL import Image
from skimage.feature import hog
from test_hostile_names import CLASSES, Page, assert_tables_intact

from medbench.cli import main
from medbench.evaluation import section as evaluation
from medbench.features.colour import luminance_of
from medbench.features.resize import to_size
from medbench.records import results as results_mod
from medbench.reports import html as html_mod
from medbench.reports.gallery import section
from medbench.running import gallery
from medbench.running.runner import Job, job_path, run_job


def test_confident_mistakes_hand_case():
    y = np.array([0, 1, 1, 0, 1, 0])
    pred = np.array([1, 1, 0, 1, 0, 0])  # wrong: positions 0, 2, 3, 4
    proba = np.array([[0.2, 0.8], [0.1, 0.9], [0.7, 0.3], [0.4, 0.6], [0.8, 0.2], [0.9, 0.1]])
    # P(predicted) of the wrong ones: 0.8, 0.7, 0.6, 0.8 -> 0 and 4 tie at 0.8 (lower position first), then 2, 3
    assert gallery.confident_mistakes(y, pred, proba).tolist() == [0, 4, 2, 3]
    assert gallery.confident_mistakes(y, pred, proba, k=2).tolist() == [0, 4]
    assert gallery.confident_mistakes(y, y, proba).tolist() == []


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


def test_hog_job_writes_keyed_pictures_and_reuses_them(pneumonia_small, pneumonia_small_split, tmp_path):
    ds, split = pneumonia_small, pneumonia_small_split
    job = Job("hog-tree", seed=0)
    rec = run_job(ds, split, job, tmp_path, n_jobs=1)
    g = rec["gallery"]
    assert rec["cached"] is False and "_gallery_png" not in rec
    assert len(g["items"]) == gallery.SHOWN and g["explanation"]["kind"] == "hog" and g["note"] is None
    assert all(n.startswith(f"gallery/{rec['key'][:16]}/") for n in g["sha256"])  # keyed like the job
    pred = rec["predictions"]
    proba = np.asarray(pred["proba"])
    probs = [it["probability"] for it in g["items"]]
    assert probs == sorted(probs, reverse=True)
    wrong = [p for t, q, p in zip(pred["y_true"], pred["y_pred"], proba[np.arange(len(proba)), pred["y_pred"]])
             if t != q]
    assert probs[0] == pytest.approx(max(wrong))  # the most confident mistake comes first
    test_images = ds.images[split.test]
    params = g["explanation"]["params"]
    for rank, item in enumerate(g["items"], 1):
        pos = pred["ids"].index(item["id"])
        assert (item["true"], item["predicted"]) == (pred["y_true"][pos], pred["y_pred"][pos]) and \
            item["true"] != item["predicted"] and item["probability"] == pytest.approx(proba[pos, item["predicted"]])
        thumb = _png(tmp_path / item["image"])
        assert thumb.shape == (gallery.THUMB, gallery.THUMB)
        # 28 px -> 96 px by nearest neighbour: the thumbnail's pixel values are exactly the image's
        assert set(np.unique(thumb)) <= set(np.unique(test_images[pos]))
        if rank <= gallery.EXPLAINED:
            # the glyph is scikit-image's own, with the pipeline's fitted HOG parameters
            _, want = hog(to_size(luminance_of(test_images[pos]), params["image_size"]),
                          orientations=params["orientations"], pixels_per_cell=(params["pixels_per_cell"],) * 2,
                          cells_per_block=(params["cells_per_block"],) * 2, block_norm="L2-Hys", transform_sqrt=True,
                          visualize=True)
            picture = _png(tmp_path / item["explanation_image"])
            expect = gallery.glyph_picture(want / want.max())
            assert np.array_equal(picture, expect)
        else:
            assert item["explanation_image"] is None
    for name, digest in g["sha256"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest
    # resumed: the record and its pictures are reused as they are
    again = run_job(ds, split, job, tmp_path, n_jobs=1)
    assert again["cached"] is True and again["gallery"] == g
    # a picture gone: the job runs again (the pictures need the fitted model) and remakes it
    victim = tmp_path / g["items"][0]["image"]
    victim.unlink()
    third = run_job(ds, split, job, tmp_path, n_jobs=1)
    assert third["cached"] is False and "missing" in third["cache_reason"] and victim.is_file()
    # a picture changed on disk: not reused either
    victim.write_bytes(b"not the picture")
    assert "was changed" in run_job(ds, split, job, tmp_path, n_jobs=1)["cache_reason"]
    results_mod.validate(_results(ds, [run_job(ds, split, job, tmp_path, n_jobs=1)]), "gallery run")


def test_rekeyed_job_removes_its_old_pictures_and_no_gallery_skips_them(pneumonia_small, pneumonia_small_split,
                                                                         tmp_path):
    ds, split = pneumonia_small, pneumonia_small_split
    first = run_job(ds, split, Job("hog-tree", 0), tmp_path, n_jobs=1)
    old = [tmp_path / n for n in first["gallery"]["sha256"]]
    moved = run_job(ds, split, Job("hog-tree", 0, {"hog__pixels_per_cell": "7"}), tmp_path, n_jobs=1)
    assert moved["key"] != first["key"] and all(not p.exists() for p in old)  # no orphaned pictures
    assert all((tmp_path / n).is_file() for n in moved["gallery"]["sha256"])
    off = run_job(ds, split, Job("majority", 0), tmp_path, n_jobs=1, gallery=False)
    assert "gallery" not in off and off["cached"] is False
    # the majority floor has no explainer: thumbnails, and a note saying why
    on = run_job(ds, split, Job("majority", 0), tmp_path, n_jobs=1)
    assert on["cached"] is False and "no error gallery" in on["cache_reason"]
    assert on["gallery"]["explanation"] is None and "deep pipelines" in on["gallery"]["note"]
    assert all(it["explanation_image"] is None for it in on["gallery"]["items"])
    assert job_path(tmp_path, Job("majority", 0)).is_file()


def _results(ds, jobs: list[dict]) -> dict:
    res = synth.make(n_resamples=None)
    res["dataset"]["class_names"] = list(ds.class_names)
    res["jobs"] = [{k: v for k, v in j.items() if k not in ("cached", "cache_reason")} for j in jobs]
    return res


def _hostile_gallery_run(tmp_path: Path) -> Path:
    """A results folder whose class names are hostile, with a gallery of real pictures (real X-ray thumbnails
    and a jet-coloured heat map) for its first pipeline."""
    res = synth.make(class_names=CLASSES, n_resamples=100)
    job = res["jobs"][0]
    rng = np.random.default_rng(0)
    xray = (np.linspace(40, 220, 28 * 28).reshape(28, 28) + rng.normal(0, 10, (28, 28))).clip(0, 255)
    made, png = gallery.make([("step", object())], "classical", np.repeat(xray[None].astype(np.uint8), 60, 0),
                             job["predictions"]["ids"], np.asarray(job["predictions"]["y_true"]),
                             np.asarray(job["predictions"]["y_pred"]), np.asarray(job["predictions"]["proba"]),
                             "ab" * 32)
    heat = gallery.overlay(xray.astype(np.uint8), np.outer(np.hanning(7), np.hanning(7)))
    first = made["items"][0]
    first["explanation_image"] = first["image"].replace(".png", "-gradcam.png")
    png[first["explanation_image"]] = gallery._png(heat)
    made["sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in png.items()}
    made["explanation"] = {"kind": "gradcam", "label": "Grad-CAM", "text": "heat <b>map</b> | `x`"}
    job["gallery"] = made
    out = synth.write(res, tmp_path / "out")
    gallery.write(out, made, png)
    assert main(["report", str(out)]) == 0
    return out


def test_report_gallery_escapes_names_and_keeps_tables(tmp_path):
    out = _hostile_gallery_run(tmp_path)
    md = (out / "report.md").read_text()
    part = md.split("## Most confident mistakes (test split)", 1)[1].split("\n## ", 1)[0]
    assert_tables_intact(part)
    assert "![mistake 1](gallery/abababababababab/1.png)" in part and "-gradcam.png)" in part
    assert "<b>" not in part and CLASSES[0] not in part  # escaped, never raw
    page = Page((out / "report.html").read_text())
    srcs = [a["src"] for t, a in page.tags if t == "img"]
    assert sum(s.startswith("gallery/abababababababab/") for s in srcs) == len(
        results_mod.load(out)["jobs"][0]["gallery"]["sha256"])
    assert all(s.startswith(("figures/", "gallery/")) for s in srcs)
    assert CLASSES[0] in page.text and "heat <b>map</b> | `x`" in page.text
    # a results.json naming any other file is refused before a report is written
    res = results_mod.load(out)
    res["jobs"][0]["gallery"]["items"][0]["image"] = "javascript:alert(1)"
    with pytest.raises(Exception, match=r"gallery\.items\[0\]\.image"):
        results_mod.validate(res, "bad")
    res = results_mod.load(out)
    res["jobs"][0]["gallery"]["items"][0]["true"] = 7
    with pytest.raises(Exception, match="out of range"):
        results_mod.validate(res, "bad")


def test_no_gallery_and_old_results_say_so():
    res = synth.make(n_resamples=100)
    stats = evaluation.statistics(res)
    assert "earlier medbench" in section(res, stats)[0]
    res["config"] = {"gallery": False}
    assert "--no-gallery" in section(res, stats)[0]


def test_gallery_pictures_load_in_chromium(tmp_path):
    """The gallery section alone as an HTML page, screenshot by headless Chromium: the X-ray thumbnails (grey)
    and the heat map (saturated colours) are drawn; with the files gone, they are not."""
    out = _hostile_gallery_run(tmp_path)
    res = results_mod.load(out)
    text = "\n".join(section(res, evaluation.statistics(res)))
    (out / "gallery.html").write_text(html_mod.render(text))

    def shot(name: str) -> np.ndarray:
        path = tmp_path / name
        proc = browser.run(out / "gallery.html", f"--screenshot={path}", "--window-size=1000,1400",
                           "--hide-scrollbars")
        assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255

    def counts(img: np.ndarray) -> tuple[int, int]:
        sat = img.max(axis=2) - img.min(axis=2)
        grey = (sat < 0.05) & (img.mean(axis=2) > 0.2) & (img.mean(axis=2) < 0.8)
        return int(grey.sum()), int((sat > 0.4).sum())

    grey, colour = counts(shot("with.png"))
    shutil.rmtree(out / "gallery")
    grey_none, colour_none = counts(shot("without.png"))
    assert grey > grey_none + 6 * 96 * 96 // 3 and colour > colour_none + 96 * 96 // 4, (grey, grey_none, colour,
                                                                                         colour_none)


def test_a_rebuilt_report_never_links_a_missing_or_swapped_picture(make_image_folder, tmp_path):
    """Issue 29 (minor): `medbench report` checks each job's pictures against the SHA-256 its record lists."""
    from medbench.cli import main

    out = tmp_path / "out"
    spec = f"folder:{make_image_folder(12, name='gal')}"
    assert main(["run", "--dataset", spec, "--pipelines", "majority", "hog-tree", "--image-size", "32",
                 "--n-jobs", "1", "--bootstrap-resamples", "20", "--out", str(out)]) == 0
    before = (out / "report.md").read_text()
    rec = json.loads((out / "jobs" / "hog-tree__seed0.json").read_text())
    pictures = sorted(rec["gallery"]["sha256"])
    assert all(f"({p})" in before for p in pictures[:2])
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == before  # intact pictures: the same report, byte for byte
    (out / pictures[0]).unlink()
    assert main(["report", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert f"Pictures not shown: gallery picture {pictures[0]} is missing" in text
    assert not any(f"({p})" in text for p in pictures)
    # a swapped picture (another job's PNG under this name) is refused the same way
    (out / pictures[0]).write_bytes((out / pictures[1]).read_bytes())
    assert main(["report", str(out)]) == 0
    assert f"Pictures not shown: gallery picture {pictures[0]} was changed" in (out / "report.md").read_text()
