"""``--robustness medmnist-c`` (issue 27.4): MedMNIST-C's presets as data, each re-implemented corruption kind
against its published definition on small arrays worked by hand, medbench's own preset without an identity
severity, the one-line errors, and the CLI end to end on the real PneumoniaMNIST (13 corruptions x 5
severities, BE and rBE against AlexNet's published errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import medbench
from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.running.config import RunConfig
from medbench.shift import balanced_error, corruptions, medmnistc, presets
from medbench.shift.medmnistc_kinds import gamma_table, luma, to_rgb

PNEUMONIA_13 = ["pixelate", "jpeg_compression", "gaussian_noise", "speckle_noise", "impulse_noise", "shot_noise",
                "gaussian_blur", "brightness_up", "brightness_down", "contrast_up", "contrast_down", "gamma_corr_up",
                "gamma_corr_down"]


@pytest.fixture(scope="module")
def test_images(shared_datasets: Path) -> np.ndarray:
    with np.load(shared_datasets / "pneumoniamnist.npz") as d:
        return d["test_images"][:48]


def _apply(kind: str, images: np.ndarray, level: float, seed: int = 0) -> np.ndarray:
    """One kind at one level (severity 1 with the level given as every severity's)."""
    return corruptions.corrupt(images, kind, 1, seed=seed, levels=(level,) * 5)


# --- the preset as data ----------------------------------------------------------------------------------

def test_pneumoniamnist_preset_is_medmnist_c_s_13_with_alexnet_errors():
    p = presets.resolve("medmnist-c", "pneumoniamnist")
    assert [s.name for s in p.steps] == PNEUMONIA_13
    assert all(len(s.levels) == 5 for s in p.steps)
    assert dict((s.name, s.levels) for s in p.steps)["gaussian_blur"] == (3, 5, 7, 9, 11)  # the 6th (13) unused
    assert round(p.reference["clean_error"], 4) == 0.1009 and set(p.reference["errors"]) == set(PNEUMONIA_13)
    assert "8acfd2710c6e0e8b2745be8b1fa1c17b94b8f8a7" in p.reference["source"]
    for ds, steps in medmnistc.PRESETS.items():  # every corruption a registered kind, every one with a reference
        assert set(steps) == set(medmnistc.ALEXNET[ds]["errors"]), ds
        for name in steps:
            assert medmnistc.KINDS[name] in corruptions.CORRUPTIONS


def test_unknown_preset_and_dataset_without_one_are_one_line():
    with pytest.raises(MedbenchError, match="unknown preset; known: medbench, medmnist-c"):
        RunConfig(robustness="imagenet-c")
    with pytest.raises(MedbenchError, match="dataset folder:x has no MedMNIST-C preset; datasets with one: "
                                            "pneumoniamnist, tissuemnist, organamnist"):
        RunConfig(dataset="folder:x", robustness="medmnist-c")
    with pytest.raises(MedbenchError, match="dataset bloodmnist has no MedMNIST-C preset"):
        RunConfig(dataset="bloodmnist", robustness="medmnist-c")
    assert RunConfig(robustness=True).robustness == "medbench" and RunConfig(robustness=False).robustness is None
    with pytest.raises(MedbenchError, match="unknown corruption 'fog'; known: gaussian_noise, blur"):
        corruptions.corrupt(np.zeros((1, 4, 4), np.uint8), "fog", 1)
    with pytest.raises(MedbenchError, match="its levels come from a --robustness preset"):
        corruptions.corrupt(np.zeros((1, 4, 4), np.uint8), "mmc_gamma", 1)


def test_cli_errors_are_one_line(tmp_path, capsys):
    for args, want in ((["--robustness", "fog"], "unknown preset; known: medbench, medmnist-c"),
                       (["--dataset", "bloodmnist", "--robustness", "medmnist-c"], "has no MedMNIST-C preset")):
        code = main(["run", *args, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err, err
        line = err.strip().splitlines()[-1]
        assert line.startswith("medbench: error:") and want in line and not (tmp_path / "o").exists()


# --- no identity severity --------------------------------------------------------------------------------

def test_no_severity_of_either_preset_leaves_the_28px_images_unchanged(test_images):
    """Issue 27: medbench's blur severity 1 used to leave every 28 px PneumoniaMNIST image unchanged."""
    for preset in (presets.resolve("medbench"), presets.resolve("medmnist-c", "pneumoniamnist")):
        for step in preset.steps:
            for severity in corruptions.SEVERITIES:
                out = corruptions.corrupt(test_images, step.kind, severity, seed=1, levels=step.levels, key=step.name)
                changed = (out != test_images).reshape(len(test_images), -1).any(axis=1)
                assert changed.all(), (preset.name, step.name, severity, int((~changed).sum()))


def test_mmc_kinds_are_deterministic_and_seeded_per_step(test_images):
    a = _apply("mmc_shot_noise", test_images, 80, seed=3)
    np.testing.assert_array_equal(a, _apply("mmc_shot_noise", test_images, 80, seed=3))
    assert not np.array_equal(a, _apply("mmc_shot_noise", test_images, 80, seed=4))
    up = corruptions.corrupt(test_images, "mmc_brightness", 2, levels=(1.1, 1.2, 1.3, 1.4, 1.5), key="brightness_up")
    assert up.mean() > test_images.mean()


# --- each kind against its published definition, by hand ------------------------------------------------

def test_gray_images_are_corrupted_as_rgb_and_brought_back_with_pillow_luma(test_images):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(2, 9, 7, 3), dtype=np.uint8)
    want = np.stack([np.asarray(Image.fromarray(im, "RGB").convert("L")) for im in rgb])
    np.testing.assert_array_equal(luma(rgb), want)
    # the noise is drawn on the three channels: a gray copy is the luma of the RGB copy's corruption
    gray = _apply("mmc_gaussian_noise", test_images, 0.08, seed=2)
    np.testing.assert_array_equal(gray, luma(_apply("mmc_gaussian_noise", to_rgb(test_images), 0.08, seed=2)))


def test_gamma_by_hand():
    # floor(255.999 * (v/255) ** g): g = 2: 64 -> floor(16.13) = 16, 128 -> floor(64.50) = 64; g = 0.5: 64 ->
    # floor(128.25) = 128, 128 -> floor(181.37) = 181; 0 and 255 stay
    assert gamma_table(2.0)[[0, 64, 128, 255]].tolist() == [0, 16, 64, 255]
    assert gamma_table(0.5)[[0, 64, 128, 255]].tolist() == [0, 128, 181, 255]
    img = np.array([[[0, 64], [128, 255]]], np.uint8)
    assert _apply("mmc_gamma", img, 2.0).tolist() == [[[0, 16], [64, 255]]]


def test_impulse_noise_replaces_the_stated_share_half_salt_half_pepper():
    flat = np.full((1, 200, 200, 3), 128, np.uint8)  # RGB: values are replaced independently
    out = _apply("mmc_impulse_noise", flat, 0.02)
    salt, pepper, kept = (out == 255).mean(), (out == 0).mean(), (out == 128).mean()
    assert salt + pepper + kept == 1.0  # nothing else: a value is either kept exactly or replaced by 0 / 255
    assert abs(salt + pepper - 0.02) < 0.002 and abs(salt - pepper) < 0.002
    gray = _apply("mmc_impulse_noise", flat[..., 0], 0.02)  # on gray: a pixel changes when any channel is hit
    assert abs((gray != 128).mean() - (1 - 0.98 ** 3)) < 0.004


def test_shot_noise_is_poisson_at_the_stated_scale():
    flat = np.full((1, 200, 200, 3), 51, np.uint8)  # x = 0.2; m = 80: Poisson(16) / 80 -> mean 0.2, sd 0.05
    out = _apply("mmc_shot_noise", flat, 80).astype(float)
    allowed = {int(np.clip(k / 80, 0, 1) * 255) for k in range(0, 81)}  # k/80 written back with truncation
    assert set(np.unique(out).astype(int)) <= allowed
    assert abs(out.std() - 0.05 * 255) < 0.2 and abs(out.mean() - (51 - 0.5)) < 0.2  # truncation: -0.5 on average


def test_gaussian_and_speckle_noise_sd_by_hand():
    flat = np.full((1, 200, 200, 3), 102, np.uint8)  # x = 0.4
    g = _apply("mmc_gaussian_noise", flat, 0.08).astype(float)  # sd 0.08 * 255 = 20.4
    s = _apply("mmc_speckle_noise", flat, 0.2).astype(float)  # x * N(0, 0.2): sd 0.4 * 0.2 * 255 = 20.4
    for out in (g, s):
        assert abs(out.std() - 20.4) < 0.4 and abs(out.mean() - 101.5) < 0.4


def test_gaussian_blur_by_hand():
    # k = 3: sigma = 0.3 * (1 - 1) + 0.8 = 0.8; weights exp(-0.5 (x/0.8)^2) at x = -1, 0, 1: 0.45783, 1, 0.45783,
    # normalised (sum 1.91567) 0.23899, 0.52201, 0.23899; a single 255 becomes 255 * w_i * w_j, rounded:
    # centre 255 * 0.52201^2 = 69.49 -> 69, edge 255 * 0.52201 * 0.23899 = 31.81 -> 32, corner 14.56 -> 15
    img = np.zeros((1, 9, 9), np.uint8)
    img[0, 4, 4] = 255
    out = _apply("mmc_gaussian_blur", img, 3)[0]
    assert out[4, 4] == 69 and out[4, 3] == out[3, 4] == 32 and out[3, 3] == 15 and out[4, 2] == 0
    assert int(out.sum()) == 69 + 4 * 32 + 4 * 15


def test_brightness_contrast_pixelate_by_hand():
    img = np.zeros((1, 4, 4), np.uint8)
    img[0, :, :2] = 200  # mean 100
    # brightness: v * f, clipped and truncated; 1.5: 200 -> 255, 0 -> 0; 0.5: 200 -> 100
    assert _apply("mmc_brightness", img, 1.5)[0, 0].tolist() == [255, 255, 0, 0]
    assert _apply("mmc_brightness", img, 0.5)[0, 0].tolist() == [100, 100, 0, 0]
    # contrast: mean + f (v - mean); 0.5: 200 -> 150, 0 -> 50; 1.6: 200 -> 260 -> 255, 0 -> -60 -> 0
    assert _apply("mmc_contrast", img, 0.5)[0, 0].tolist() == [150, 150, 50, 50]
    assert _apply("mmc_contrast", img, 1.6)[0, 0].tolist() == [255, 255, 0, 0]
    # pixelate 0.5 of 4 px = 2 px; columns (200, 200 | 0, 0) survive, (200, 0 | 200, 0) average to 100
    assert _apply("mmc_pixelate", img, 0.5)[0, 0].tolist() == [200, 200, 0, 0]
    stripes = np.zeros((1, 4, 4), np.uint8)
    stripes[0, :, ::2] = 200
    assert set(np.unique(_apply("mmc_pixelate", stripes, 0.5))) == {100}


def test_jpeg_is_pillow_at_the_quality(test_images):
    worse = [np.abs(_apply("mmc_jpeg", test_images, q).astype(int) - test_images).mean() for q in (50, 15, 7)]
    assert 0 < worse[0] < worse[1] < worse[2]


# --- BE and rBE -----------------------------------------------------------------------------------------

def test_be_and_rbe_by_hand():
    ref = {"clean_error": 0.1, "errors": {"a": 0.3, "b": 0.2}}
    clean = {"balanced_accuracy": 0.8}  # error 0.2
    curves = {"a": {"balanced_accuracy": [0.8, 0.7, 0.7, 0.6, 0.6, 0.5]},  # errors 0.3 0.3 0.4 0.4 0.5: mean 0.38
              "b": {"balanced_accuracy": [0.8, 0.8, 0.8, 0.8, 0.8, 0.8]}}  # mean 0.2
    got = balanced_error.compute(clean, curves, ref)
    assert got["clean_error"] == pytest.approx(0.2)
    assert got["be"]["a"] == pytest.approx(0.38 / 0.3) and got["be"]["b"] == pytest.approx(1.0)
    assert got["rbe"]["a"] == pytest.approx((0.38 - 0.2) / (0.3 - 0.1)) and got["rbe"]["b"] == pytest.approx(0.0)
    assert got["mean_be"] == pytest.approx((0.38 / 0.3 + 1) / 2)
    assert got["mean_rbe"] == pytest.approx(0.9 / 2)


@pytest.mark.slow
def test_cli_medmnist_c_on_pneumoniamnist_gives_13_x_5_with_be_and_rbe(tmp_path):
    """Through the CLI on the real PneumoniaMNIST (28 px): the floor, whose balanced accuracy is 0.5 on every copy,
    so BE = 0.5 / AlexNet's error and rBE = 0 for each corruption, exactly."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "medbench", "run", "--dataset", "pneumoniamnist", "--pipelines",
                           "majority", "--image-size", "28", "--robustness", "medmnist-c", "--n-jobs", "1",
                           "--no-gallery", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = medbench.load_results(out)  # validates against the declared schema and recomputes the block
    rob = data["robustness"]
    assert data["config"]["robustness"] == "medmnist-c" and rob["preset"] == "medmnist-c"
    assert [c["name"] for c in rob["corruptions"]] == PNEUMONIA_13
    job = data.jobs[0]["robustness"]
    assert job["preset"] == "medmnist-c" and list(job["corruptions"]) == PNEUMONIA_13
    assert all([r["severity"] for r in rows] == [1, 2, 3, 4, 5] for rows in job["corruptions"].values())
    be = rob["pipelines"][0]["balanced_error"]
    alex = medmnistc.ALEXNET["pneumoniamnist"]["errors"]
    for name in PNEUMONIA_13:
        assert be["be"][name] == pytest.approx(0.5 / alex[name]) and be["rbe"][name] == pytest.approx(0.0, abs=1e-9)
    assert be["mean_be"] == pytest.approx(np.mean([0.5 / alex[n] for n in PNEUMONIA_13]))
    assert rob["reference"]["clean_error"] == medmnistc.ALEXNET["pneumoniamnist"]["clean"]
    md = (out / "report.md").read_text()
    assert "Balanced error against MedMNIST-C's AlexNet" in md and "AlexNet (MedMNIST-C, 224 px)" in md
    assert "Balanced error against MedMNIST-C" in (out / "report.html").read_text()
    # a tampered BE is refused on reading
    raw = json.loads((out / "results.json").read_text())
    raw["robustness"]["pipelines"][0]["balanced_error"]["mean_be"] = 0.1
    (out / "results.json").write_text(json.dumps(raw))
    with pytest.raises(MedbenchError, match="balanced_error"):
        medbench.load_results(out)


def test_a_suite_file_names_the_preset(tmp_path):
    from medbench import api_suite
    from medbench.running import suitefile as suite

    f = tmp_path / "s.toml"
    f.write_text('[suite]\nrobustness = "medmnist-c"\n[[datasets]]\ndataset = "pneumoniamnist"\n'
                 '[[datasets]]\ndataset = "folder:data/K"\nrobustness = true\n')
    s = suite.load(f)
    first, second = (api_suite.dataset_config(s, ds, tmp_path / "out") for ds in s.datasets)
    assert first.robustness == "medmnist-c" and second.robustness == "medbench"
    f.write_text('[suite]\nrobustness = "imagenet-c"\n[[datasets]]\ndataset = "pneumoniamnist"\n')
    with pytest.raises(MedbenchError, match="robustness"):
        suite.load(f)
