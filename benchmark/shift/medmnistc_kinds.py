"""The corruption kinds of MedMNIST-C (``--robustness medmnist-c``), re-implemented from their definitions in
the ``medmnistc`` package (``medmnistc/corruptions/{noise,filter,enhance,compression}.py`` at commit
8acfd2710c6e0e8b2745be8b1fa1c17b94b8f8a7; :mod:`medbench.shift.medmnistc` holds the parameters) and registered
in :data:`medbench.shift.corruptions.CORRUPTIONS` under ``mmc_*`` names. Their levels come from the dataset's
preset, not from the registry row.

As MedMNIST-C does (``dataset_manager.py``), a grayscale image is made RGB (three equal channels), corrupted,
and converted back to gray with ITU-R 601-2 luma (Pillow's ``convert("L")``); the noise is drawn per channel,
so on gray images the luma averages it. Intensities are scaled to 0..1 (``/ 255``) where the definition does so
and written back with ``* 255`` and truncation to ``uint8``, as the definition does:

* ``mmc_gaussian_noise`` c: ``x + N(0, c)``; ``mmc_speckle_noise`` c: ``x + x * N(0, c)``;
  ``mmc_shot_noise`` m: ``Poisson(x * m) / m``; ``mmc_impulse_noise`` a: each value replaced with probability
  a, by 1 (salt) or 0 (pepper) with equal odds (scikit-image's ``s&p``); each clipped to 0..1.
* ``mmc_gaussian_blur`` k: a k x k Gaussian, sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8 (torchvision's default for
  kernel size k), reflected borders, rounded.
* ``mmc_brightness`` f / ``mmc_contrast`` f: Pillow's ``ImageEnhance.Brightness`` / ``Contrast`` (blend with
  black / with the mean gray level by factor f).
* ``mmc_gamma`` g: ``floor(255.999 * (v / 255) ** g)`` (torchvision's ``adjust_gamma``, gain 1).
* ``mmc_pixelate`` f: box-downscaled to ``int(side * f)`` and box-upscaled back (Pillow).
* ``mmc_jpeg`` q: JPEG at quality q (Pillow).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageEnhance

from medbench.shift.corruptions import corruption

__all__ = ["gamma_table", "luma", "to_rgb"]


def to_rgb(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` gray -> ``(N, H, W, 3)`` with three equal channels; RGB unchanged."""
    return np.repeat(images[..., None], 3, axis=-1) if images.ndim == 3 else images


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of ``(N, H, W, 3)`` uint8, in Pillow's fixed point (``convert("L")``)."""
    x = rgb.astype(np.uint32)
    return ((x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def _rgb_then_back(fn):
    """Apply ``fn`` to the RGB version of the images and return them in their own channel layout."""
    def apply(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
        out = fn(to_rgb(images), level, side, rng)
        return luma(out) if images.ndim == 3 else out
    return apply


def _unit(images: np.ndarray) -> np.ndarray:
    return np.asarray(images) / 255.0


def _back(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)  # truncation, as the definition


def _per_image(images: np.ndarray, fn) -> np.ndarray:
    return np.stack([np.asarray(fn(Image.fromarray(im, mode="RGB")), dtype=np.uint8) for im in images])


def _register(name: str, summary: str, parameter: str):
    def wrap(fn):
        corruption(name, summary, parameter, ())(_rgb_then_back(fn))
        return fn
    return wrap


@_register("mmc_gaussian_noise", "MedMNIST-C Gaussian noise: x + N(0, c), x in 0..1", "noise sd c (0..1 scale)")
def _gaussian_noise(images, level, side, rng):
    x = _unit(images)
    return _back(x + rng.normal(0.0, level, size=x.shape))


@_register("mmc_speckle_noise", "MedMNIST-C speckle noise: x + x * N(0, c)", "noise sd c")
def _speckle_noise(images, level, side, rng):
    x = _unit(images)
    return _back(x + x * rng.normal(0.0, level, size=x.shape))


@_register("mmc_shot_noise", "MedMNIST-C shot noise: Poisson(x * m) / m", "photon scale m (lower = noisier)")
def _shot_noise(images, level, side, rng):
    x = _unit(images)
    return _back(rng.poisson(x * level) / level)


@_register("mmc_impulse_noise", "MedMNIST-C impulse (salt-and-pepper) noise", "share a of values replaced")
def _impulse_noise(images, level, side, rng):
    x = _unit(images).copy()
    hit = rng.random(x.shape) <= level  # scikit-image's Bernoulli draws, in its order
    salt = rng.random(x.shape) <= 0.5
    x[hit & salt] = 1.0
    x[hit & ~salt] = 0.0
    return _back(x)


def _gauss_kernel(k: int) -> np.ndarray:
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    half = (k - 1) * 0.5
    x = np.linspace(-half, half, k)
    pdf = np.exp(-0.5 * (x / sigma) ** 2)
    return (pdf / pdf.sum()).astype(np.float32)


@_register("mmc_gaussian_blur", "MedMNIST-C Gaussian blur, k x k kernel, sigma = 0.3 ((k-1)/2 - 1) + 0.8",
           "kernel size k (pixels)")
def _gaussian_blur(images, level, side, rng):
    kernel = _gauss_kernel(int(level))
    out = np.empty_like(images)
    for i, im in enumerate(images):
        blurred = cv2.sepFilter2D(im.astype(np.float32), -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)
        out[i] = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    return out


@_register("mmc_brightness", "MedMNIST-C brightness: Pillow ImageEnhance.Brightness", "factor f (1 = unchanged)")
def _brightness(images, level, side, rng):
    return _per_image(images, lambda im: ImageEnhance.Brightness(im).enhance(float(level)))


@_register("mmc_contrast", "MedMNIST-C contrast: Pillow ImageEnhance.Contrast", "factor f (1 = unchanged)")
def _contrast(images, level, side, rng):
    return _per_image(images, lambda im: ImageEnhance.Contrast(im).enhance(float(level)))


def gamma_table(gamma: float) -> np.ndarray:
    """The 256-entry lookup table of ``mmc_gamma``: ``floor(255.999 * (v / 255) ** gamma)``."""
    return np.floor((255 + 1 - 1e-3) * (np.arange(256) / 255.0) ** float(gamma)).astype(np.uint8)


@_register("mmc_gamma", "MedMNIST-C gamma correction: 255.999 (v/255)^g, truncated", "gamma g (>1 darker)")
def _gamma(images, level, side, rng):
    return gamma_table(level)[images]


def _pixelate_one(im: Image.Image, factor: float) -> Image.Image:
    w, h = im.size
    small = im.resize((max(1, int(w * factor)), max(1, int(h * factor))), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.BOX)


@_register("mmc_pixelate", "MedMNIST-C pixelation: box down to int(side f), box up back (Pillow)",
           "kept resolution f (fraction of the side)")
def _pixelate(images, level, side, rng):
    return _per_image(images, lambda im: _pixelate_one(im, float(level)))


def _jpeg_one(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


@_register("mmc_jpeg", "MedMNIST-C JPEG compression (Pillow)", "JPEG quality q")
def _jpeg(images, level, side, rng):
    return _per_image(images, lambda im: _jpeg_one(im, int(level)))
