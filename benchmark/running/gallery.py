"""Pictures of the errors: each job's most confident mistakes on the test split, made at run time.

:func:`make` runs in the job (it needs the images and the fitted pipeline, so it cannot run at report
time): the :data:`SHOWN` test images the pipeline got wrong with the highest probability for the class
it predicted (ties: test order), as PNG thumbnails (:data:`THUMB` px, nearest-neighbour upscaling, so a
28-px MedMNIST pixel stays a square), and for the first :data:`EXPLAINED` of them an explanation:

* every pipeline, classical or deep: an occlusion-sensitivity map (:mod:`medbench.running.occlusion`: the drop in the
  predicted class's probability when a grey patch hides each region, all copies scored in one
  ``predict_proba`` call of the fitted pipeline), so the families can be compared on the same image;
* deep pipelines (a medbench Keras model): also a Grad-CAM heat map of the *predicted* class
  (:mod:`medbench.models.gradcam`, backend autodiff) over the image;
* HOG pipelines: also the HOG glyph image (``skimage.feature.hog(..., visualize=True)``) with the pipeline's own
  fitted HOG parameters - what the features see, the same whatever the classifier learnt: not an explanation;
* others (SIFT, majority, plugins): the occlusion map only, and the record says why there is no other picture.

It returns the captions (``gallery``: items with the test image's id, true and predicted class indices, the
probability, the file names and their SHA-256) and the PNG bytes apart (``png``: name -> bytes), so that the
job itself does no I/O (it may run on a Dask worker). :func:`write` (the runner's ``finish``, on the
client) writes the files atomically under ``OUT/gallery/<first 16 hex digits of the job key>/``: a job's
pictures are keyed like the job, so a cached record never points at another job's pictures, and
:func:`intact` tells the runner whether a cached record's pictures are still there, unchanged.

Drawing never costs a job: any failure becomes the gallery's ``note``.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medbench.core import readfile
from medbench.core.atomic import read_json, write_bytes
from medbench.core.errors import MedbenchError
from medbench.features import cache as feature_cache
from medbench.models import gradcam
from medbench.running import occlusion

SHOWN = 6  # most confident mistakes shown per job
EXPLAINED = 3  # of which get a Grad-CAM heat map / HOG glyph
THUMB = 96  # thumbnail side, px
FOLDER = "gallery"
#: The only file names a results.json may list (the schema enforces it): nothing else is ever linked.
FILE_PATTERN = r"^gallery/[0-9a-f]{16}/[0-9]{1,2}(-(gradcam|hog|occlusion))?\.png$"


def confident_mistakes(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, k: int = SHOWN) -> np.ndarray:
    """Positions of the ``k`` wrongly predicted images with the highest probability of the predicted class,
    most confident first (ties: lower position first)."""
    y_true, y_pred, proba = np.asarray(y_true), np.asarray(y_pred), np.asarray(proba, dtype=np.float64)
    wrong = np.flatnonzero(y_pred != y_true)
    conf = proba[wrong, y_pred[wrong]]
    order = np.lexsort((wrong, -conf))
    return wrong[order][:k]


def folder_of(job_key: str) -> str:
    return f"{FOLDER}/{job_key[:16]}"


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def _png(rgb_or_gray: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb_or_gray)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def thumbnail(img: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A uint8 image (gray or RGB) resized to ``size`` x ``size``: nearest neighbour when enlarging (pixels
    stay square), area-averaged when shrinking."""
    img = np.asarray(_gray(img), dtype=np.uint8)
    pil = Image.fromarray(img)
    resample = Image.Resampling.NEAREST if max(img.shape[:2]) <= size else Image.Resampling.BOX
    return np.asarray(pil.resize((size, size), resample))


def overlay(img: np.ndarray, heat: np.ndarray, size: int = THUMB, alpha: float = 0.45) -> np.ndarray:
    """``heat`` (any grid, values in [0, 1]) upsampled bilinearly to ``size`` and blended over the gray
    thumbnail of ``img`` in matplotlib's ``jet`` colours: an RGB uint8 image."""
    from matplotlib import colormaps

    base = thumbnail(img, size).astype(np.float64) / 255.0
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=2)
    h = Image.fromarray(np.asarray(heat, dtype=np.float32)).resize((size, size), Image.Resampling.BILINEAR)
    colour = colormaps["jet"](np.clip(np.asarray(h), 0, 1))[..., :3]
    return np.clip(255 * ((1 - alpha) * base + alpha * colour), 0, 255).astype(np.uint8)


def glyph_picture(picture: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A HOG glyph image (values in [0, 1]) as a ``size`` px uint8 picture, white strokes on black."""
    g = Image.fromarray(np.clip(255 * np.asarray(picture, dtype=np.float64), 0, 255).astype(np.uint8))
    return np.asarray(g.resize((size, size), Image.Resampling.BILINEAR))


def _explainer(steps: list[tuple[str, Any]], family: str) -> tuple[str | None, Any, str | None]:
    """``(kind, step, reason none)``: ``gradcam`` (a Keras model), ``hog`` (a HOG step) or ``None`` and why."""
    final = steps[-1][1]
    if family == "deep" or hasattr(final, "model_") or hasattr(final, "backbone_"):
        return "gradcam", final, None
    hog_step = next((s for _, s in steps[:-1] if callable(getattr(s, "glyph", None))), None)
    if hog_step is not None:
        return "hog", hog_step, None
    return None, None, "no picture besides the occlusion map (Grad-CAM: deep pipelines; glyph: HOG pipelines)"


def _predict_proba(steps: list[tuple[str, Any]]) -> Any:
    """The fitted pipeline's ``predict_proba`` from its steps (each transform, then the final estimator)."""
    def predict_proba(x: np.ndarray) -> np.ndarray:
        with feature_cache.disabled():  # throwaway occluded copies: never written to the feature cache
            for _, step in steps[:-1]:
                x = step.transform(x)
            return steps[-1][1].predict_proba(x)
    return predict_proba


def _occlusion(steps: list[tuple[str, Any]], images: np.ndarray, explain: np.ndarray, y_pred: np.ndarray,
               gallery: dict[str, Any]) -> list[np.ndarray]:
    """Occlusion overlays of the ``explain`` images (records ``gallery["occlusion"]``); a failure becomes its note."""
    t0 = time.perf_counter()
    try:
        maps, info = occlusion.occlusion_maps(_predict_proba(steps), images[explain], np.asarray(y_pred)[explain])
    except Exception as exc:  # noqa: BLE001 - a picture must never cost the job
        gallery["occlusion"] = {"label": "Occlusion", "text": None,
                                "note": f"no occlusion maps: {type(exc).__name__}: {exc}"}
        return []
    gallery["occlusion"] = {
        "label": "Occlusion", "patch": info["patch"], "stride": info["stride"], "copies": info["copies"],
        "seconds": time.perf_counter() - t0, "max_drop": info["max_drop"], "note": None,
        "text": f"Occlusion sensitivity: the drop in P(predicted class) when a {info['patch']}x{info['patch']} px patch "
                f"of the image's mean grey hides each region (stride {info['stride']} px, {info['copies']} occluded "
                "copies per image scored by the fitted pipeline); red = the decision rests most on it"}
    return [overlay(images[i], occlusion.display(m)) for i, m in zip(explain, maps)]


def make(steps: list[tuple[str, Any]], family: str, images: np.ndarray, ids: list[Any], y_true: np.ndarray,
         y_pred: np.ndarray, proba: np.ndarray, job_key: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(gallery, png)`` of one job (see the module docstring): ``images`` are the test images, in the order
    of ``ids`` / ``y_true`` / ``y_pred`` / ``proba``; ``steps`` the fitted pipeline's steps."""
    t0 = time.perf_counter()
    folder = folder_of(job_key)
    picks = confident_mistakes(y_true, y_pred, proba)
    gallery: dict[str, Any] = {"items": [], "explanation": None, "note": None, "shown": SHOWN,
                               "explained": EXPLAINED, "thumb_px": THUMB}
    png: dict[str, bytes] = {}
    if len(picks) == 0:
        gallery["note"] = "no mistakes on the test split"
        gallery["sha256"] = {}
        gallery["seconds"] = time.perf_counter() - t0
        return gallery, png
    for rank, i in enumerate(picks, 1):
        name = f"{folder}/{rank}.png"
        png[name] = _png(thumbnail(images[i]))
        gallery["items"].append({"id": ids[i] if isinstance(ids[i], int | str) else str(ids[i]),
                                 "true": int(y_true[i]), "predicted": int(y_pred[i]),
                                 "probability": round(float(proba[i, y_pred[i]]), 6), "image": name,
                                 "explanation_image": None})
    kind, step, reason = _explainer(steps, family)
    explain = picks[:EXPLAINED]
    for item, picture in zip(gallery["items"], _occlusion(steps, images, explain, y_pred, gallery)):
        name = item["image"].replace(".png", "-occlusion.png")
        png[name] = _png(picture)
        item["occlusion_image"] = name
    try:
        if kind == "gradcam":
            cams, info = gradcam.grad_cam(step, images[explain], np.asarray(y_pred)[explain])
            gallery["explanation"] = {"kind": "gradcam", "label": "Grad-CAM", **info,
                                      "text": f"Grad-CAM of the predicted class on layer {info['layer']} "
                                              f"({info['grid'][0]}x{info['grid'][1]} grid, {info['backend']} "
                                              "backend), red = pushed most towards the predicted class"}
            pictures = [overlay(images[i], cam) for i, cam in zip(explain, cams)]
        elif kind == "hog":
            pictures = [glyph_picture(step.glyph(images[i])) for i in explain]
            p = step._params() if hasattr(step, "_params") else {}
            gallery["explanation"] = {"kind": "hog", "label": "HOG glyph (what the features see)", "params": p,
                                      "text": "HOG glyph image (skimage.feature.hog, visualize=True) with the "
                                              "pipeline's own parameters " + ", ".join(f"{k}={v}" for k, v in
                                                                                       p.items())
                                              + ": what the features see, the same whatever the classifier "
                                                "learnt - not an explanation of the decision (see Occlusion)"}
        else:
            pictures = []
            gallery["note"] = reason
    except MedbenchError as exc:
        pictures, gallery["note"] = [], f"no {kind} pictures: {exc}"
    except Exception as exc:  # noqa: BLE001 - a picture must never cost the job
        pictures, gallery["note"] = [], f"no {kind} pictures: {type(exc).__name__}: {exc}"
    for item, picture in zip(gallery["items"], pictures):
        name = item["image"].replace(".png", f"-{kind}.png")
        png[name] = _png(picture)
        item["explanation_image"] = name
    gallery["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in png.items()}
    gallery["seconds"] = time.perf_counter() - t0  # what the pictures cost this job (not in its runtime figures)
    return gallery, png


def write(out_dir: Path, gallery: dict[str, Any] | None, png: dict[str, bytes]) -> None:
    """Write a job's pictures atomically under ``out_dir`` (names from :func:`make`, checked against
    :data:`FILE_PATTERN`)."""
    for name, data in png.items():
        if not re.match(FILE_PATTERN, name):
            raise MedbenchError(f"refusing to write gallery picture {name!r}: not a medbench gallery file name")
        write_bytes(Path(out_dir) / name, data)


def intact(out_dir: Path, gallery: Any) -> str | None:
    """Why a cached record's pictures cannot be reused (None: every file is there with its SHA-256)."""
    if not isinstance(gallery, dict) or not isinstance(gallery.get("sha256"), dict):
        return "it has no error gallery"
    for name, digest in gallery["sha256"].items():
        path = Path(out_dir) / name
        if not re.match(FILE_PATTERN, str(name)) or not path.is_file():
            return f"its gallery picture {name} is missing"
        try:
            data = readfile.read_bytes(path, "gallery picture", cap="cache entry")
        except MedbenchError:
            return f"its gallery picture {name} is not a readable regular file"
        if hashlib.sha256(data).hexdigest() != digest:
            return f"its gallery picture {name} was changed"
    return None


def _folders(gallery: Any) -> set[str]:
    names = (gallery or {}).get("sha256") or {} if isinstance(gallery, dict) else {}
    return {str(n).rsplit("/", 1)[0] for n in names if re.match(FILE_PATTERN, str(n))}


def forget_previous(out_dir: Path, record_path: Path, gallery: Any) -> None:
    """Before a job's record at ``record_path`` is replaced: delete the pictures its previous record listed
    that the new ``gallery`` does not (a re-keyed job leaves no orphaned pictures behind)."""
    try:
        old = read_json(record_path, "job record").get("gallery")
    except (OSError, ValueError, AttributeError, RecursionError, MedbenchError):
        return
    keep = set(((gallery or {}).get("sha256") or {}) if isinstance(gallery, dict) else {})
    for name in ((old or {}).get("sha256") or {}) if isinstance(old, dict) else {}:
        if re.match(FILE_PATTERN, str(name)) and name not in keep:
            (Path(out_dir) / name).unlink(missing_ok=True)
    for folder in _folders(old) - _folders(gallery):
        try:
            (Path(out_dir) / folder).rmdir()
        except OSError:
            pass
