"""Colour where it carries the signal: luminance, the colour-histogram transformer, RGB through the
features and the models, and a generated dataset that only colour separates.

The generated set: every image is a random gray texture (the same distribution for both classes),
painted red in class 0 and blue in class 1 with colours chosen so that each pixel's ITU-R 601-2
luminance (Pillow's rule, exactly) *is* the texture's gray level. Gray, the two classes are the same
distribution, so no model can beat chance; in RGB they are trivially apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.features.colour import ColourHistogram, all_gray, to_luminance
from medbench.features.hog import HOG
from medbench.features.pixels import Pixels
from medbench.features.sift import SIFTBoVW

SIZE = 32
GRAY_RANGE = (40, 170)  # gray levels that both tints can reach with exact luminance


def _tint_table(red: bool) -> np.ndarray:
    """For every gray level g in GRAY_RANGE an RGB colour of the hue whose Pillow luminance is exactly g."""
    table = np.zeros((256, 3), dtype=np.uint8)
    for g in range(*GRAY_RANGE):
        r, b = (g + 60, g - 26) if red else (g - 10, g + 80)
        for green in range(256):
            rgb = np.array([[[r, green, b]]], dtype=np.uint8)
            if to_luminance(rgb)[0, 0] == g:
                table[g] = rgb[0, 0]
                break
        else:  # pragma: no cover - the ranges above are chosen so that this never happens
            raise AssertionError(f"no {'red' if red else 'blue'} colour with luminance {g}")
    return table


def _textures(rng: np.random.Generator, n: int) -> np.ndarray:
    """Smooth random gray textures in GRAY_RANGE (coarse noise upsampled, plus fine noise)."""
    coarse = rng.uniform(size=(n, SIZE // 4, SIZE // 4))
    smooth = np.kron(coarse, np.ones((4, 4)))
    tex = 0.7 * smooth + 0.3 * rng.uniform(size=(n, SIZE, SIZE))
    lo, hi = GRAY_RANGE
    return (lo + tex * (hi - 1 - lo)).round().astype(np.uint8)


def _colour_only_npz(path, rng, sizes=(200, 60, 200)):
    red, blue = _tint_table(True), _tint_table(False)
    arrays, grays = {}, {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        gray = _textures(rng, n)
        labels = np.arange(n) % 2
        rgb = np.where(labels[:, None, None, None] == 0, red[gray], blue[gray])
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = rgb, labels[:, None].astype(np.uint8)
        grays[split] = gray
    np.savez_compressed(path, **arrays, class_names=np.array(["red", "blue"]))
    return grays


def test_luminance_is_pillows_convert_l():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 37, 41, 3), dtype=np.uint8)
    expected = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in rgb])
    assert np.array_equal(to_luminance(rgb), expected)
    assert all_gray(np.repeat(expected[..., None], 3, axis=-1)) and not all_gray(rgb)


def test_generated_set_differs_only_in_colour(tmp_path):
    grays = _colour_only_npz(tmp_path / "tint.npz", np.random.default_rng(1))
    gray = load_dataset(f"npz:{tmp_path / 'tint.npz'}", channels="gray")
    rgb = load_dataset(f"npz:{tmp_path / 'tint.npz'}")  # auto: the arrays have colour -> rgb
    assert gray.channels == "gray" and rgb.channels == "rgb" and rgb.images.shape[1:] == (SIZE, SIZE, 3)
    assert gray.class_names == ["red", "blue"] and gray.card()["channels"] == "gray"
    # gray is exactly the textures: both classes drawn from one distribution
    assert np.array_equal(gray.images, np.concatenate([grays[s] for s in ("train", "val", "test")]))
    # and the tints really are red and blue
    red = rgb.images[rgb.labels == 0].reshape(-1, 3).astype(int).mean(0)
    blue = rgb.images[rgb.labels == 1].reshape(-1, 3).astype(int).mean(0)
    assert red[0] > red[2] + 50 and blue[2] > blue[0] + 50


def test_hog_and_sift_describe_luminance(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    lum = to_luminance(rgb)
    hog = HOG(image_size=32, pixels_per_cell=4, n_jobs=1)
    assert np.array_equal(hog.fit(rgb).transform(rgb), hog.fit(lum).transform(lum))
    sift = SIFTBoVW(n_words=4, image_size=32, n_jobs=1)
    assert np.array_equal(sift.descriptors(rgb), sift.descriptors(lum))
    assert Pixels(image_size=16).transform(rgb).shape == (6, 16 * 16 * 3)


def test_colour_histogram():
    rgb = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    rgb[0, ..., 0] = 255  # pure red
    rgb[1, ..., 2] = 255  # pure blue
    feats = ColourHistogram(bins=4).fit(rgb).transform(rgb)
    assert feats.shape == (2, 12) and feats.dtype == np.float32
    assert np.allclose(feats.reshape(2, 3, 4).sum(-1), 1.0)
    assert feats[0, 3] == 1.0 and feats[0, 4] == 1.0 and feats[1, 11] == 1.0 and feats[1, 0] == 1.0
    assert ColourHistogram(bins=4).fit(rgb[..., 0]).transform(rgb[..., 0]).shape == (2, 4)
    with pytest.raises(ValueError, match="fitted on 3-channel"):
        ColourHistogram(bins=4).fit(rgb).transform(rgb[..., 0])


def _cnn_accuracy(ds) -> float:
    from medbench.models.cnn import KerasCNNClassifier

    part = {s: np.flatnonzero(ds.official_split == s) for s in ("train", "val", "test")}
    # patience=0: the last epoch, not the first with a perfect validation AUC (its argmax may lag)
    est = KerasCNNClassifier(width=16, epochs=8, batch_size=32, learning_rate=3e-3, patience=0, augment=False,
                             random_state=0)
    est.fit(ds.images[part["train"]], ds.labels[part["train"]],
            validation_data=(ds.images[part["val"]], ds.labels[part["val"]]))
    assert est.report_info_["channels"] == (3 if ds.channels == "rgb" else 1)
    return float((est.predict(ds.images[part["test"]]) == ds.labels[part["test"]]).mean())


@pytest.mark.slow
def test_cnn_sees_colour_only_in_rgb(tmp_path):
    _colour_only_npz(tmp_path / "tint.npz", np.random.default_rng(3))
    rgb = load_dataset(f"npz:{tmp_path / 'tint.npz'}", channels="rgb")
    gray = load_dataset(f"npz:{tmp_path / 'tint.npz'}", channels="gray")
    acc_rgb, acc_gray = _cnn_accuracy(rgb), _cnn_accuracy(gray)
    assert acc_rgb >= 0.95, acc_rgb
    assert acc_gray <= 0.65, acc_gray


def test_keras_input_keeps_rgb_and_refuses_the_wrong_channels():
    from medbench.models import keras_base as kb

    rgb = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    assert kb.as_images(rgb).shape == (2, 8, 8, 3)
    assert kb.as_images(rgb[..., 0]).shape == (2, 8, 8, 1)
    with pytest.raises(MedbenchError, match="gray or"):
        kb.as_images(np.zeros((2, 8, 8, 2)))
