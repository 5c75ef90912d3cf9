"""Occlusion sensitivity (medbench.running.occlusion) on real PneumoniaMNIST images with real fitted pipelines: the map
has the image's shape, is deterministic, and hiding a region it marks important lowers the predicted class's
probability more than hiding one it marks unimportant; every pipeline's gallery carries the maps and the
report shows them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medbench.models import registry
from medbench.records import view
from medbench.reports.gallery import section
from medbench.running import gallery, occlusion
from medbench.running.runner import Job, run_job


@pytest.fixture(scope="module")
def hog_svm(pneumonia_small, pneumonia_small_split):
    ds, split = pneumonia_small, pneumonia_small_split
    pipe = registry.get("hog-svm").build(registry.BuildContext(n_classes=2, image_shape=(28, 28), seed=0, n_jobs=1))
    return pipe.fit(ds.images[split.train], ds.labels[split.train]), ds.images[split.test]


@pytest.mark.parametrize(("side", "patch"), [(28, 7), (64, 16), (224, 56), (9, 2)])
def test_geometry_scales_with_the_image_and_bounds_the_copies(side, patch):
    geo = occlusion.geometry(side, side)
    assert geo["patch"] == patch and 1 <= geo["copies"] <= occlusion.MAX_COPIES
    pos = occlusion._positions(side, geo["patch"], geo["stride"])
    assert pos[0] == 0 and pos[-1] == side - geo["patch"]  # the whole image is covered, edge to edge
    assert geo["copies"] == len(pos) ** 2


def _hide(img: np.ndarray, r: int, c: int, size: int) -> np.ndarray:
    out = img.copy()
    out[r:r + size, c:c + size] = np.round(img.mean())
    return out


def test_hog_svm_map_marks_the_regions_its_decision_rests_on(hog_svm):
    pipe, test = hog_svm
    images = test[:12]
    cls = pipe.predict_proba(images).argmax(axis=1)
    maps, info = occlusion.occlusion_maps(pipe.predict_proba, images, cls)
    assert maps.shape == (12, 28, 28) and maps.dtype == np.float64 and np.isfinite(maps).all()
    assert info["patch"] == 7 and info["copies"] == occlusion.geometry(28, 28)["copies"]
    again, _ = occlusion.occlusion_maps(pipe.predict_proba, images, cls)
    assert np.array_equal(maps, again)  # deterministic
    # an independent probe: a 6 px square (not the map's own 7 px patches) hidden where the map is highest
    # and where it is lowest; the first must cost the predicted class more, on (almost) every image
    size, wins, checked = 6, 0, 0
    for img, heat, k in zip(images, maps, cls):
        local = np.lib.stride_tricks.sliding_window_view(heat, (size, size)).mean(axis=(2, 3))
        if np.ptp(local) < 1e-3:
            continue  # a flat map: nothing to compare
        hi = np.unravel_index(local.argmax(), local.shape)
        lo = np.unravel_index(local.argmin(), local.shape)
        base = pipe.predict_proba(img[None])[0, k]
        probe = pipe.predict_proba(np.stack([_hide(img, *hi, size), _hide(img, *lo, size)]))[:, k]
        wins += (base - probe[0]) > (base - probe[1])
        checked += 1
    assert checked >= 8 and wins >= checked - 1, (wins, checked)


def test_a_pipeline_that_ignores_the_image_gets_a_flat_map(pneumonia_small, pneumonia_small_split):
    ds, split = pneumonia_small, pneumonia_small_split
    pipe = registry.get("majority").build(registry.BuildContext(n_classes=2, image_shape=(28, 28)))
    pipe.fit(ds.images[split.train], ds.labels[split.train])
    maps, _ = occlusion.occlusion_maps(pipe.predict_proba, ds.images[split.test][:2], np.array([0, 0]))
    assert np.array_equal(maps, np.zeros((2, 28, 28)))
    assert np.array_equal(occlusion.display(maps[0]), np.zeros((28, 28)))


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


@pytest.mark.parametrize("pipeline", ["hog-svm", "majority"])
def test_every_pipelines_gallery_carries_occlusion_maps_and_the_report_shows_them(
        pipeline, pneumonia_small, pneumonia_small_split, tmp_path):
    ds, split = pneumonia_small, pneumonia_small_split
    rec = run_job(ds, split, Job(pipeline, 0), tmp_path, n_jobs=1)
    g = rec["gallery"]
    occ = g["occlusion"]
    assert occ["note"] is None and occ["patch"] == 7 and "Occlusion sensitivity" in occ["text"]
    shown = [it for it in g["items"] if it.get("occlusion_image")]
    assert len(shown) == min(gallery.EXPLAINED, len(g["items"]))
    for item in shown:
        picture = _png(tmp_path / item["occlusion_image"])
        assert picture.shape == (gallery.THUMB, gallery.THUMB, 3)
        assert item["occlusion_image"] in g["sha256"]
    if pipeline == "hog-svm":
        assert "what the features see" in g["explanation"]["label"]
        assert "not an explanation" in g["explanation"]["text"]
    results = {"dataset": {"class_names": list(ds.class_names)}, "config": {},
               "jobs": [{**rec, "status": "ok"}]}
    stats = {"pipelines": [{"job_ids": [view.job_id(pipeline, 0)], "name": pipeline, "family": rec["family"]}]}
    text = "\n".join(section(results, stats))
    if rec["family"] == "baseline":  # the report leaves the floor's gallery out (one class, nothing learnt)
        assert text.startswith(f"Not shown for {pipeline}") and "| Occlusion " not in text
        return
    row = next(line for line in text.splitlines() if line.startswith("| Occlusion "))
    assert all(f"![occlusion {r}]({it['occlusion_image']})" in row for r, it in enumerate(shown, 1))
