"""The image corruptions of ``--robustness``: a registry of functions, each registered with its row of the
table (name, summary, parameter, levels at severities 1..5: data, like MedMNIST's ``info.py``) by
``@corruption(...)``; :func:`corrupt` applies one. An unknown name is an error, never a fallback.

The rows with levels are medbench's own preset (``--robustness`` / ``--robustness medbench``): six
corruptions, each with its parameter at severities 1..5 (severity 0 is the image unchanged; no severity is the
identity, even at 28 px). Parameters are relative to the image where that makes sense (blur sigma and pixel
block as a fraction of the image side, noise and brightness as a fraction of the 0..255 range), so the same
severity means a comparable change at 28 px and at 224 px. The ``mmc_*`` rows
(:mod:`medbench.shift.medmnistc_kinds`) have no levels of their own: MedMNIST-C's presets give them
(:mod:`medbench.shift.presets`). :func:`corrupt` works on ``uint8`` ``(N, H, W)`` or ``(N, H, W, 3)`` arrays,
returns a new ``uint8`` array of the same shape, and is deterministic: the noise is drawn from a generator
seeded by ``(seed, corruption, severity)``. Implemented with numpy, OpenCV and Pillow.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from medbench.core.errors import MedbenchError
from medbench.core.registry import Registry

__all__ = ["CORRUPTIONS", "SEVERITIES", "Corruption", "corrupt", "corruption", "table"]

SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Corruption:
    """One row: ``name``, what it does (``summary``), the parameter's name and unit, its value at severities
    1..5 (``levels``) and the function that applies it (``apply(images, level, side, rng)``)."""

    name: str
    summary: str
    parameter: str
    levels: tuple[float, ...]
    apply: Callable[..., np.ndarray] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]


#: The registry: the parameter of each corruption at severities 1..5 (severity 0 is the identity; empty for a
#: kind whose levels a preset gives), in registration order.
CORRUPTIONS: Registry[Corruption] = Registry("corruption")


def corruption(name: str, summary: str, parameter: str, levels: tuple[float, ...]) -> Callable:
    """Register the decorated ``fn(images, level, side, rng) -> images`` as corruption ``name``."""
    return CORRUPTIONS.register(name, lambda fn: Corruption(name, summary, parameter, tuple(levels), fn))


def table() -> list[dict[str, object]]:
    """medbench's own preset as plain data (the rows with their own levels; for results.json and the report)."""
    return [{"name": c.name, "summary": c.summary, "parameter": c.parameter, "levels": list(c.levels)}
            for c in CORRUPTIONS.values() if c.levels]


def _rng(seed: int, key: str, severity: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(key.encode()), int(severity)])


def _each(images: np.ndarray, fn) -> np.ndarray:
    out = np.empty_like(images)
    for i in range(len(images)):
        out[i] = fn(images[i])
    return out


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image, mode="RGB" if image.ndim == 3 else "L")


@corruption("gaussian_noise", "additive Gaussian noise, clipped to 0..255", "noise sd (fraction of 255)",
            (0.02, 0.04, 0.08, 0.12, 0.18))
def _gaussian_noise(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, level * 255.0, size=images.shape)
    return np.clip(np.rint(images.astype(np.float64) + noise), 0, 255).astype(np.uint8)


@corruption("blur", "Gaussian blur (OpenCV)", "sigma (fraction of the image side)", (0.02, 0.03, 0.04, 0.05, 0.06))
def _blur(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    sigma = level * side
    return _each(images, lambda im: cv2.GaussianBlur(im, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                                      borderType=cv2.BORDER_REFLECT_101))


@corruption("contrast", "contrast scaled about each image's mean", "contrast factor", (0.75, 0.6, 0.45, 0.3, 0.2))
def _contrast(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    x = images.astype(np.float64)
    mean = x.mean(axis=tuple(range(1, images.ndim)), keepdims=True)
    return np.clip(np.rint((x - mean) * level + mean), 0, 255).astype(np.uint8)


@corruption("brightness", "brightness raised, clipped to 255", "added level (fraction of 255)",
            (0.1, 0.2, 0.3, 0.4, 0.5))
def _brightness(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    return np.clip(images.astype(np.int16) + round(level * 255), 0, 255).astype(np.uint8)


def _jpeg_one(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    _pil(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB" if image.ndim == 3 else "L"), dtype=np.uint8)


@corruption("jpeg", "JPEG re-compression (Pillow)", "JPEG quality", (80, 60, 40, 25, 10))
def _jpeg(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    return _each(images, lambda im: _jpeg_one(im, int(level)))


def _pixelate_one(image: np.ndarray, keep: float) -> np.ndarray:
    h, w = image.shape[:2]
    small = _pil(image).resize((max(1, round(w * keep)), max(1, round(h * keep))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.NEAREST), dtype=np.uint8)


@corruption("pixelate", "downscaled (box filter) and upscaled back (nearest), Pillow",
            "kept resolution (fraction of the side)", (0.9, 0.75, 0.6, 0.45, 0.3))
def _pixelate(images: np.ndarray, level: float, side: int, rng: np.random.Generator) -> np.ndarray:
    return _each(images, lambda im: _pixelate_one(im, level))


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0,
            levels: Sequence[float] | None = None, key: str | None = None) -> np.ndarray:
    """``images`` (uint8, ``(N, H, W)`` or ``(N, H, W, 3)``) with corruption ``name`` at ``severity`` (0..5);
    severity 0 returns an unchanged copy. ``levels`` (a preset's, :mod:`medbench.shift.presets`) replace the
    row's own; ``key`` (default ``name``) names the noise stream. Deterministic for a given ``seed``. An
    unknown name is an error."""
    row = CORRUPTIONS.get(name)
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer) or not 0 <= severity <= 5:
        raise MedbenchError(f"corruption severity {severity!r} must be a whole number from 0 to 5")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise MedbenchError(f"corrupt() takes uint8 (N, H, W) or (N, H, W, 3) images, got {images.shape} {images.dtype}")
    if severity == 0:
        return images.copy()
    levels = tuple(row.levels if levels is None else levels)
    if len(levels) != len(SEVERITIES):
        raise MedbenchError(f"corruption {name!r} needs its {len(SEVERITIES)} levels (severities 1..5), got "
                            f"{list(levels)}: its levels come from a --robustness preset")
    return row.apply(images, levels[severity - 1], min(images.shape[1:3]), _rng(seed, key or name, severity))


from medbench.shift import medmnistc_kinds  # noqa: E402,F401  registers MedMNIST-C's kinds (mmc_*)
