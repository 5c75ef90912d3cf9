"""Trained pipelines people can use: save a runner job's model, load it back, predict new images.

* :func:`save_job_model` (the runner calls it for ``medbench run --save-models``) saves a fitted
  pipeline with everything needed to use it (:func:`model_meta`) through :mod:`medbench.models.persist`.
* :func:`load_model` returns a :class:`SavedModel`: a scikit-learn style classifier whose
  ``predict_proba`` / ``predict`` take ``(N, H, W)`` ``uint8`` image arrays or image file paths. Files
  are decoded exactly as in training (:func:`medbench.datasets.images.decode_image` at the stored
  size); ``predict`` applies the decision threshold chosen on validation.
* :func:`predict_files` predicts files and folders one row per image, with a status that names every
  file that could not be read (the others are still predicted); :func:`predictions_csv` writes them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from medbench.core import cachekeys, names
from medbench.core.csvcell import cell
from medbench.core.errors import MedbenchError
from medbench.datasets import images, info
from medbench.features import cache
from medbench.metrics import predict_with_threshold
from medbench.models import persist
from medbench.records import schemas

#: Files decoded and predicted per batch (bounds memory on large folders).
PREDICT_BATCH = 512
OK = "ok"

DECODE_RULE = ("medbench.datasets.images.decode_image at the stored size and channels: Pillow, first frame, EXIF "
               "orientation applied, 8-bit luminance (ITU-R 601-2) for 1 channel or 8-bit RGB for 3 (alpha "
               "dropped; 16-bit / float images stretched from their min..max), resized to a square without "
               "keeping the aspect ratio (bilinear, reducing_gap=3.0)")


# ---------------------------------------------------------------- saving a runner job's model


def input_representation(ds: Any) -> dict[str, Any]:
    """The images a model trained on dataset ``ds`` expects, and how files are turned into them."""
    height, width = (int(s) for s in ds.image_shape)
    channels = 3 if getattr(ds, "channels", "gray") == "rgb" else 1
    rep: dict[str, Any] = {"height": height, "width": width, "channels": channels, "dtype": "uint8",
                           "representation_version": images.REPRESENTATION_VERSION, "decode": DECODE_RULE}
    if ds.name in info.MEDMNIST:
        rep["note"] = (f"Trained on MedMNIST's own {height}x{width} arrays (MedMNIST's preprocessing); new files "
                       f"are decoded by medbench's rule above, which is close to but not the same as MedMNIST's")
    return rep


def model_meta(ds: Any, split: Any, job: Any, threshold: dict[str, Any] | None, *, family: str | None = None,
               summary: str | None = None, params: dict[str, Any] | None = None,
               split_fingerprint: str | None = None, job_key: str | None = None) -> dict[str, Any]:
    """Everything :func:`load_model` and the model card need about a runner job (JSON-able).

    ``ds`` is the :class:`~medbench.datasets.dataset.Dataset`, ``split`` its
    :class:`~medbench.datasets.splits.Split`, ``job`` the runner's ``Job``, ``threshold`` the runner's
    ``choose_threshold`` dict (``None`` for multi-class tasks).
    """
    positive = ds.positive_class if ds.n_classes == 2 else None
    if ds.n_classes == 2 and positive is None:
        positive = 1
    card = ds.card()
    card.pop("problems", None)  # lists of skipped files: in results.json, not needed to use the model
    return {
        "pipeline": job.pipeline,
        "seed": int(job.seed),
        "options": dict(job.options),
        "family": family,
        "summary": summary,
        "params": dict(params or {}),
        "job_key": job_key,
        "class_names": list(ds.class_names),
        "positive_class": positive,
        "threshold": threshold,
        "input": input_representation(ds),
        "dataset": card,
        "split": {"fingerprint": split_fingerprint or split.fingerprint(ds), "method": split.method,
                  "seed": split.seed, "counts": {s: ds.class_counts(split.indices(s))
                                                 for s in ("train", "val", "test")}},
    }


def save_job_model(out_dir: str | os.PathLike, fitted: Pipeline, ds: Any, split: Any, job: Any,
                   threshold: dict[str, Any] | None, **meta: Any) -> Path:
    """Save a runner job's fitted pipeline to ``OUT/models/<pipeline>__seed<N>/``; return the folder.

    ``meta`` holds :func:`model_meta`'s keyword arguments (``family``, ``summary``, ``params``,
    ``split_fingerprint``, ``job_key``).
    """
    folder = persist.model_dir(out_dir, job.pipeline, job.seed)
    return persist.save_pipeline(fitted, folder, model_meta(ds, split, job, threshold, **meta))


# ---------------------------------------------------------------- the loaded model


def _library_warnings(saved: dict[str, str]) -> list[str]:
    now = cachekeys.library_versions(saved)
    changed = [f"{k} {saved[k]} -> {now[k]}" for k in sorted(saved) if k in now and now[k] != saved[k]]
    if not changed:
        return []
    return [f"this model was saved with other library versions ({', '.join(changed)}); predictions may differ "
            f"slightly from the ones it was evaluated with"]


class SavedModel(ClassifierMixin, BaseEstimator):
    """A saved pipeline as a scikit-learn classifier over images (``classes_`` are the class names).

    ``predict_proba(X)`` / ``predict(X)`` take ``(N, H, W)`` ``uint8`` arrays at the stored size
    (``image_shape``) or image file paths (one path or a list), decoded as in training. ``predict``
    applies the stored decision threshold (binary tasks: the positive class when its probability is
    at least ``threshold``), else the most probable class. ``meta`` is the saved ``model.json``;
    ``warnings`` lists what the caller should know (e.g. different library versions).
    """

    def __init__(self, pipeline: Pipeline, meta: dict[str, Any], folder: str | None = None):
        self.pipeline = pipeline
        self.meta = meta
        self.folder = folder

    def __repr__(self) -> str:
        return f"SavedModel({self.meta.get('pipeline')!r}, seed={self.meta.get('seed')}, folder={self.folder!r})"

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def classes_(self) -> np.ndarray:
        return np.array(self.class_names)

    @property
    def positive_class(self) -> int | None:
        return self.meta.get("positive_class")

    @property
    def threshold(self) -> float | None:
        thr = self.meta.get("threshold")
        return None if thr is None else float(thr["threshold"])

    @property
    def image_shape(self) -> tuple[int, int]:
        rep = self.meta["input"]
        return int(rep["height"]), int(rep["width"])

    @property
    def warnings(self) -> list[str]:
        return _library_warnings(self.meta.get("libraries") or {})

    # -- inputs --------------------------------------------------------------------------------------
    def images(self, X: Any, *, n_jobs: int | None = None, max_pixels: int | None = None) -> np.ndarray:
        """``X`` (paths or an image array) as the ``(N, H, W)`` ``uint8`` array the pipeline takes."""
        if isinstance(X, (str, os.PathLike)):
            X = [X]
        if isinstance(X, (list, tuple)) and X and all(isinstance(x, (str, os.PathLike)) for x in X):
            decoded, failures = self.decode(X, n_jobs=n_jobs, max_pixels=max_pixels)
            if failures:
                path, reason = failures[0]
                more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                raise MedbenchError(f"cannot read image {path}: {reason}{more}; medbench.running.predict.predict_files "
                                    f"predicts the readable files and reports the others")
            return decoded
        x = np.asarray(X)
        h, w = self.image_shape
        if self.channels == 3:
            expected, kind = (h, w, 3), "RGB"
        else:
            if x.ndim == 4 and x.shape[-1] == 1:
                x = x[..., 0]
            expected, kind = (h, w), "grayscale"
        if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise MedbenchError(f"this model takes (N, {', '.join(map(str, expected))}) uint8 {kind} images, got an "
                                f"array of shape {x.shape}: pass image file paths (decoded as in training) or "
                                f"convert them")
        if x.dtype != np.uint8:
            raise MedbenchError(f"this model takes uint8 images (0..255, as medbench decodes them), got dtype "
                                f"{x.dtype}: convert them or pass image file paths")
        return x

    def decode(self, paths: Sequence[str | os.PathLike], *, n_jobs: int | None = None,
               max_pixels: int | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
        """Decode files as in training: ``(images of the readable files, [(path, reason), ...])``."""
        h, w = self.image_shape
        if h != w:
            raise MedbenchError(f"this model was trained on {h}x{w} images; medbench decodes files to squares "
                                f"only: pass (N, {h}, {w}) uint8 arrays instead of files")
        return images.decode_many(paths, h, n_jobs=n_jobs, max_pixels=max_pixels, desc="decoding",
                                  channels="rgb" if self.channels == 3 else "gray")

    @property
    def channels(self) -> int:
        """1 (grayscale) or 3 (RGB): what the model was trained on."""
        return int(self.meta["input"].get("channels", 1))

    # -- predictions ---------------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        x = self.images(X)
        n = len(self.class_names)
        p = _run_steps(self.pipeline, x, self.folder)
        if p.shape[1] != n:  # a class absent from training: place the columns by the classifier's classes_
            full = np.zeros((len(p), n), dtype=p.dtype)
            full[:, np.asarray(self.pipeline.steps[-1][1].classes_, dtype=int)] = p
            p = full
        return p

    def predict_index(self, proba: np.ndarray) -> np.ndarray:
        """Class indices from probabilities, at the stored threshold (binary) or by argmax."""
        return predict_with_threshold(proba, self.threshold, self.positive_class)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_index(self.predict_proba(X))]


#: What ``model.json`` must say for a saved model to be used (:func:`check_meta`); the manifest's digests
#: only show that the files were not damaged, so a re-sealed, edited model.json is checked as well.
META_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["class_names", "positive_class", "threshold", "input"],
    "properties": {
        "class_names": {"type": "array", "items": schemas.NAME, "minItems": 2, "uniqueItems": True},
        "positive_class": {"type": ["integer", "null"], "minimum": 0},
        "threshold": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["threshold"],
                                                   "properties": {"threshold": schemas.PROBABILITY}}]},
        "input": {"type": "object", "required": ["height", "width"],
                  "properties": {"height": {"type": "integer", "minimum": 1, "maximum": 4096},
                                 "width": {"type": "integer", "minimum": 1, "maximum": 4096},
                                 "channels": {"enum": [1, 3]}}},
        "dataset": {"type": "object", "properties": {
            "class_names": {"type": "array", "items": schemas.NAME},
            "positive_class": {"type": ["string", "null"]}}},
        "split": {"type": "object", "properties": {"counts": {"type": "object", "properties": {
            "train": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}}}}},
    },
}


def check_meta(meta: Any, pipeline: Pipeline, source: str) -> None:
    """Refuse a ``model.json`` that cannot describe ``pipeline``: :data:`META_SCHEMA` (class names unique
    strings, a finite threshold in [0, 1], ...), a positive class among the class names (binary tasks
    only), class names that differ from the dataset card saved beside them (e.g. swapped), and a
    classifier whose classes do not fit the class names."""
    schemas.validate(meta, META_SCHEMA, source)
    names, positive, threshold = meta["class_names"], meta["positive_class"], meta["threshold"]
    if len(names) == 2 and positive is None:
        raise schemas.fail(source, ["positive_class"], "missing: a binary model names its positive class")
    if positive is not None and (len(names) != 2 or positive >= len(names)):
        raise schemas.fail(source, ["positive_class"], f"{positive} is not a class of this "
                                                       f"{'binary' if len(names) == 2 else 'multi-class'} model")
    if threshold is not None and len(names) != 2:
        raise schemas.fail(source, ["threshold"], "a decision threshold needs a binary model")
    card = meta.get("dataset") or {}
    if "class_names" in card and card["class_names"] != names:
        raise schemas.fail(source, ["class_names"], f"{schemas.short(names)} differ from the dataset's "
                                                    f"{schemas.short(card['class_names'])} (edited?)")
    if card.get("positive_class") is not None and positive is not None and card["positive_class"] != names[positive]:
        raise schemas.fail(source, ["positive_class"], f"{positive} ({names[positive]!r}) is not the dataset's "
                                                       f"positive class {card['positive_class']!r}")
    classes = getattr(pipeline.steps[-1][1], "classes_", None)
    if classes is not None:
        head = np.asarray(classes)
        train = ((meta.get("split") or {}).get("counts") or {}).get("train")
        absent = sorted(set(range(len(names))) - set(head.tolist())) if head.dtype.kind in "iu" else []
        if (head.ndim != 1 or not 1 <= len(head) <= len(names) or head.dtype.kind not in "iu"
                or len(set(head.tolist())) != len(head) or head.min() < 0 or head.max() >= len(names)
                # a class the classifier lacks must be one the training split did not have
                or (absent and (not isinstance(train, dict) or any(train.get(names[i]) != 0 for i in absent)))):
            raise schemas.fail(source, ["class_names"], f"{len(names)} class names do not fit the classifier's "
                                                        f"classes {head.tolist()[:20]}")


def load_model(path: str | os.PathLike) -> SavedModel:
    """Load a model folder saved by ``medbench run --save-models`` (every file verified, no pickle).

    Raises a one-line :class:`MedbenchError` for a missing folder, a damaged or modified file, a model
    format this medbench does not read, or images decoded by another representation version.
    """
    folder = Path(path)
    pipeline, meta = persist.load_pipeline(folder)
    rep = meta.get("input") or {}
    for key in ("class_names", "input"):
        if key not in meta:
            raise MedbenchError(f"saved model {folder}: {persist.DESCRIPTION} has no {key!r}; it was not saved "
                                f"by `medbench run --save-models`")
    check_meta(meta, pipeline, f"saved model {folder}: {persist.DESCRIPTION}")
    _smoke_test(pipeline, meta, folder)
    if rep.get("representation_version") != images.REPRESENTATION_VERSION:
        raise MedbenchError(f"saved model {folder}: trained on image representation "
                            f"{rep.get('representation_version')!r}, this medbench decodes version "
                            f"{images.REPRESENTATION_VERSION}: predictions would not match; use the medbench that "
                            f"saved it ({meta.get('medbench_version')}) or retrain")
    return SavedModel(pipeline, meta, str(folder))


def _run_steps(pipeline: Pipeline, x: np.ndarray, folder: str | os.PathLike | None) -> np.ndarray:
    """``pipeline.predict_proba(x)``; a step that fails on well-formed images (a step swapped for another
    type the skops list trusts, a classifier fitted on other features) is a one-line error."""
    try:
        with cache.disabled():  # new images: nothing to reuse, nothing worth keeping
            return np.asarray(pipeline.predict_proba(x))
    except MedbenchError:
        raise
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise MedbenchError(f"saved model {folder}: its steps do not work together ({type(exc).__name__}: "
                            f"{first}); a step was replaced or the model is damaged: save it again with "
                            f"`medbench run --save-models`") from None


def _smoke_test(pipeline: Pipeline, meta: dict[str, Any], folder: Path) -> None:
    """Run the steps once on one fixed noise image of the model's input shape (models without a Keras
    step: a few milliseconds), so that a saved model whose steps cannot predict is refused at load."""
    if any(isinstance(d, dict) and d.get("codec") == "keras-estimator" for d in meta.get("steps") or []):
        return
    rep = meta["input"]
    shape = (1, rep["height"], rep["width"]) + ((3,) if int(rep.get("channels", 1)) == 3 else ())
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    p = _run_steps(pipeline, x, folder)
    if p.ndim != 2 or p.shape[0] != 1 or not np.all(np.isfinite(p)):
        raise MedbenchError(f"saved model {folder}: its steps give probabilities of shape {p.shape}, not one row "
                            f"of finite numbers per image: a step was replaced or the model is damaged")


# ---------------------------------------------------------------- files and folders


def collect_files(inputs: Iterable[str | os.PathLike]) -> list[tuple[str, str | None]]:
    """``[(path, problem or None)]`` for the given files and every non-hidden file below given folders
    (sorted, recursive), each once; a path that does not exist is kept with its problem."""
    out: dict[str, str | None] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        out.setdefault(str(Path(root) / name), None)
        elif p.exists():
            out.setdefault(str(p), None)
        else:
            out.setdefault(str(p), "no such file or folder")
    return list(out.items())


def _precheck(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError as exc:
        return exc.strerror or "cannot be read"
    if not os.path.isfile(path):
        return "not a regular file"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return None


def predict_files(model: SavedModel, inputs: Iterable[str | os.PathLike], *, n_jobs: int | None = None,
                  max_pixels: int | None = None, batch_size: int = PREDICT_BATCH) -> list[dict[str, Any]]:
    """One row per file (:func:`collect_files`): ``path``, ``proba`` (a list per class, or None),
    ``label`` (the class name at the stored threshold, or None) and ``status`` (``"ok"`` or
    ``"error: <reason>"``). Unreadable files get their reason; the others are still predicted."""
    files = collect_files(inputs)
    if not files:
        raise MedbenchError("no files to predict: pass image files or folders that hold them")
    rows = [{"path": path, "proba": None, "label": None,
             "status": OK if problem is None else f"error: {problem}"} for path, problem in files]
    for row in rows:
        if row["status"] == OK and (problem := _precheck(row["path"])):
            row["status"] = f"error: {problem}"
    todo = [i for i, row in enumerate(rows) if row["status"] == OK]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        decoded, failures = model.decode([rows[i]["path"] for i in chunk], n_jobs=n_jobs, max_pixels=max_pixels)
        failed = dict(failures)
        good = [i for i in chunk if rows[i]["path"] not in failed]
        for i in chunk:
            if rows[i]["path"] in failed:
                rows[i]["status"] = f"error: {failed[rows[i]['path']]}"
        if good:
            proba = model.predict_proba(decoded)
            labels = model.classes_[model.predict_index(proba)]
            for i, p, label in zip(good, proba, labels, strict=True):
                rows[i]["proba"] = [float(v) for v in p]
                rows[i]["label"] = str(label)
    return rows


def predictions_csv(model: SavedModel, rows: list[dict[str, Any]], digits: int = 6) -> str:
    """The rows as CSV: ``path``, ``p_<class>`` per class, ``label``, ``status``; text that a spreadsheet
    would run as a formula (``=1+2.jpeg``, a class named ``@SUM(1)``) gets a leading ``'``
    (:func:`medbench.core.csvcell.cell`); a file name that is not UTF-8 shows its odd bytes as ``\\xNN``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(c) for c in ("path", *(f"p_{name}" for name in model.class_names), "label", "status")])
    for row in rows:
        proba = row["proba"] or [None] * len(model.class_names)
        writer.writerow([cell(names.printable(str(row["path"]))), *("" if v is None else f"{v:.{digits}f}" for v in proba),
                         cell(row["label"] or ""), cell(row["status"])])
    return buf.getvalue()
