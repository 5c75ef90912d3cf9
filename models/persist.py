"""Saving a fitted pipeline to a folder and loading it back, without pickle.

A saved pipeline is a folder (``OUT/models/<pipeline>__seed<N>/`` after ``medbench run --save-models``)::

    manifest.json      format and version, every other file with its size and SHA-256, its own digest
    model.json         the steps (name, class, how each is stored) and the metadata: class names,
                       positive class, decision threshold, image representation, medbench version and
                       source hash, library versions, dataset and split fingerprints, ...
    steps/NN-NAME.*    one file per step (two or more for a Keras estimator)
    MODEL_CARD.md      (optional, added by :func:`write_document`) what the model is and how it scored

Each step is stored in a format made for untrusted files, never pickle:

* scikit-learn objects and medbench's feature transformers (HOG, SIFT codebook, pixels, scaler, SVM,
  tree, majority): ``skops.io``, loaded with the explicit type list :func:`skops_trusted` (on top of
  skops' own defaults); a file naming any other type is refused before anything is built;
* XGBoost: its own UBJSON model format (``save_model`` / ``load_model``) plus the estimator's
  parameters as JSON;
* the Keras estimators: their parameters and fitted attributes as JSON, each Keras model as a
  ``.keras`` file loaded with ``safe_mode=True`` and ``compile=False`` (custom layers must be
  registered serialisable Keras objects, named by the class's ``custom_objects``).

Which of these a step gets is declared by its class (:mod:`medbench.core.storage`: ``@stored_as(...)``
next to the class, or ``declare(...)`` where medbench uses a class it does not define); a step whose
class declares nothing is refused before anything is written. The declarations are also the load-time
trust list: medbench's own and installed plugins' classes (imported through the pipeline registry),
looked up by the name model.json gives, never imported from it.

Loading reads each listed file once, checks its size and SHA-256 against the manifest on the very
bytes it then parses (a tampered, truncated or swapped file never loads), and refuses in one line a
manifest whose own digest does not match or whose format version this medbench does not read.
Files the manifest does not list are ignored, never opened; a symbolic link anywhere below the folder
(``MODEL_CARD.md -> /etc/passwd``, a linked ``steps/``) or anything but a regular file is refused. The digests make damage and tampering
visible; they are not a signature: trust a model folder as you trust whoever gave it to you, knowing
that loading it cannot run code from it.

A folder is written to a temporary sibling and renamed into place: it is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.pipeline import Pipeline

from medbench.core import cachekeys, names, readfile, storage
from medbench.core.atomic import current_umask, dumps, write_bytes
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.models import keras_base as kb
from medbench.models import registry

FORMAT = "medbench.model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DESCRIPTION = "model.json"
CARD = "MODEL_CARD.md"
#: The medbench code whose source hash a saved model records (what computes its predictions).
PREDICT_CODE = ("medbench.core", "medbench.features", "medbench.models")
LIBS = tuple(dict.fromkeys(cachekeys.LIBS_CLASSICAL + cachekeys.LIBS_DEEP + ("skops",)))
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_SKOPS_COMPRESSION = zipfile.ZIP_DEFLATED


def model_dir(out_dir: str | os.PathLike, pipeline: str, seed: int) -> Path:
    """``OUT/models/<pipeline>__seed<N>``: where ``medbench run --save-models`` saves a job's model."""
    return Path(out_dir) / "models" / f"{pipeline}__seed{int(seed)}"


def qualified_name(obj: Any) -> str:
    return storage.qualified_name(type(obj))


def _declarations() -> None:
    """Make every step class medbench or an installed plugin declares known: importing the pipeline
    registry's modules and plugins runs their ``@stored_as`` / ``declare`` lines."""
    registry.all_pipelines()


def skops_trusted() -> tuple[str, ...]:
    """Types a skops file may hold beyond skops' own trusted defaults (numpy, builtins, common
    scikit-learn): the declared skops step classes and the inner types they declare they hold."""
    _declarations()
    return storage.skops_trusted()


# ---------------------------------------------------------------- saving


def _json_value(value: Any) -> Any:
    """A fitted attribute as JSON: arrays and tuples tagged so they come back as they were."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"array of dtype {value.dtype}")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {"__tuple__": [_json_value(v) for v in value]}
    return json.loads(dumps(value))


def _from_json_value(value: Any) -> Any:
    if isinstance(value, dict) and "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufU":
            raise ValueError(f"array dtype {value['dtype']!r}")
        return np.asarray(value["__ndarray__"], dtype=dtype)
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_from_json_value(v) for v in value["__tuple__"])
    return value


def _params(step: Any, where: str) -> dict[str, Any]:
    params = step.get_params(deep=False)
    try:
        return json.loads(dumps(params))
    except TypeError as exc:
        raise MedbenchError(f"{where}: a parameter cannot be written as JSON ({exc}); this step cannot be "
                            f"saved") from None


def _save_skops(step: Any, where: str) -> bytes:
    data = sio.dumps(step, compression=_SKOPS_COMPRESSION)
    trusted = skops_trusted()
    foreign = [t for t in sio.get_untrusted_types(data=data) if t not in trusted]
    if foreign:
        raise MedbenchError(f"{where}: holds type {foreign[0]}, which medbench does not load from files (no "
                            f"step class declares it: see medbench.core.storage); this pipeline cannot be saved")
    return data


def _save_keras_model(model: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="medbench-save-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(str(path))
        return path.read_bytes()


def _encode_step(index: int, name: str, step: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(description, {file name: bytes})`` of one fitted step."""
    cls = qualified_name(step)
    where = f"step {name!r} ({cls})"
    stem = f"steps/{index:02d}-{name}"
    if not _SAFE_NAME.match(stem):
        raise MedbenchError(f"{where}: the step name cannot be a file name; rename the step")
    _declarations()
    how = storage.storage_of(type(step))
    if how is None:
        raise MedbenchError(f"{where}: holds type {cls}, which medbench does not load from files: its class "
                            f"declares no storage (add @medbench.core.storage.stored_as(...) next to the class); "
                            f"this pipeline cannot be saved")
    if how.codec == "xgboost":
        with tempfile.TemporaryDirectory(prefix="medbench-save-") as tmp:
            path = Path(tmp) / "model.ubj"
            step.save_model(str(path))
            data = path.read_bytes()
        return ({"name": name, "codec": "xgboost", "class": cls, "file": f"{stem}.ubj",
                 "params": _params(step, where)}, {f"{stem}.ubj": data})
    if how.codec == "keras-estimator":
        files, models, attributes = {}, {}, {}
        custom = _keras_custom_objects(how)
        for attr in how.keras_models:
            model = getattr(step, attr, None)
            if model is None:
                models[attr] = None
                continue
            fname = f"{stem}.{attr.rstrip('_')}.keras"
            files[fname] = _save_keras_model(model)
            try:  # a folder that cannot be loaded back safely is never written
                _keras_model_from_bytes(files[fname], custom)
            except Exception as exc:  # noqa: BLE001 - any Keras failure is one line
                raise MedbenchError(f"{where}: its Keras model {attr} cannot be loaded back with safe_mode "
                                    f"({_cause(exc)}); custom layers must be registered serialisable Keras "
                                    f"objects") from None
            models[attr] = fname
        for attr, value in vars(step).items():
            if not attr.endswith("_") or attr.startswith("_") or attr in models or attr in how.unsaved:
                continue
            try:
                attributes[attr] = _json_value(value)
            except TypeError as exc:
                raise MedbenchError(f"{where}: fitted attribute {attr} cannot be written as JSON ({exc})") from None
        return ({"name": name, "codec": "keras-estimator", "class": cls, "params": _params(step, where),
                 "attributes": attributes, "models": models}, files)
    return ({"name": name, "codec": "skops", "class": cls, "file": f"{stem}.skops"},
            {f"{stem}.skops": _save_skops(step, where)})


def _manifest(files: dict[str, bytes | Path], medbench_version: str = __version__) -> dict[str, Any]:
    entries = {}
    for name in sorted(files):
        src = files[name]
        if isinstance(src, Path):
            entries[name] = {"bytes": src.stat().st_size, "sha256": cachekeys.file_sha256(src)}
        else:
            entries[name] = {"bytes": len(src), "sha256": hashlib.sha256(src).hexdigest()}
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, "medbench_version": medbench_version,
            "files": entries}
    return {**body, "manifest_sha256": cachekeys.digest(body)}


def save_pipeline(pipeline: Pipeline, folder: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Save the fitted ``pipeline`` and its ``meta`` (JSON-able) to ``folder``; return the folder.

    ``meta`` says how to use the model; :func:`medbench.running.predict.model_meta` builds it for a runner job
    (``class_names``, ``positive_class``, ``threshold``, ``input``, ``dataset``, ``split``, ...). The
    medbench version, the source hash of :data:`PREDICT_CODE`, the library versions and the time are
    added here. An existing folder is replaced only once the new one is complete. A step medbench
    cannot store safely raises :class:`MedbenchError` before anything is written.
    """
    folder = Path(folder)
    if "steps" in meta:
        raise ValueError("meta must not have a 'steps' key (model.json keeps the step list there)")
    steps, files = [], {}
    for i, (name, step) in enumerate(pipeline.steps):
        desc, data = _encode_step(i, name, step)
        steps.append(desc)
        files.update(data)
    description = {
        **json.loads(dumps(meta)),
        "medbench_version": __version__,
        "source_hash": {"modules": list(PREDICT_CODE), "sha256": cachekeys.source_hash(*PREDICT_CODE)},
        "libraries": cachekeys.library_versions(LIBS),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "steps": steps,
    }
    files[DESCRIPTION] = (dumps(description) + "\n").encode("utf-8")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; a saved model is an ordinary folder
        for name, data in files.items():
            write_bytes(tmp / name, data)
        write_bytes(tmp / MANIFEST, (dumps(_manifest({n: tmp / n for n in files})) + "\n").encode("utf-8"))
        _replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _replace_folder(new: Path, folder: Path) -> None:
    if not folder.exists():
        os.replace(new, folder)
        return
    old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".old"))
    os.replace(folder, old / "x")
    os.replace(new, folder)
    shutil.rmtree(old, ignore_errors=True)


def write_document(folder: str | os.PathLike, name: str, text: str) -> Path:
    """Add (or replace) a text file such as ``MODEL_CARD.md`` in a saved model and list it in the manifest.

    The folder is verified first (:func:`read_verified`): a damaged model is not made to look intact.
    """
    folder = Path(folder)
    _check_name(folder, name)
    if name in (MANIFEST, DESCRIPTION):
        raise ValueError(f"{name} is written by save_pipeline only")
    manifest, _ = read_verified(folder)
    write_bytes(folder / name, text.encode("utf-8"))
    listed = {n: folder / n for n in manifest["files"]} | {name: folder / name}
    write_bytes(folder / MANIFEST, (dumps(_manifest(listed, manifest["medbench_version"])) + "\n").encode("utf-8"))
    return folder / name


# ---------------------------------------------------------------- loading


def _refuse(folder: Path, what: str) -> MedbenchError:
    return MedbenchError(f"saved model {folder}: {what}")


def _check_name(folder: Path, name: Any) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name.split("/"):
        raise _refuse(folder, f"file name {name!r} is not a plain relative path inside the folder")
    return name


def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.exists():
        raise MedbenchError(f"model folder {folder} does not exist; pass a folder written by "
                            f"`medbench run --save-models` (OUT/models/PIPELINE__seedN)")
    if not folder.is_dir():
        raise MedbenchError(f"model path {folder} is not a folder; pass a folder written by "
                            f"`medbench run --save-models` (OUT/models/PIPELINE__seedN)")
    try:
        manifest = json.loads(_read_plain(folder, MANIFEST).decode("utf-8"))
    except FileNotFoundError:
        raise _refuse(folder, f"{MANIFEST} is missing: this is not a medbench model folder") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise _refuse(folder, f"{MANIFEST} is damaged ({type(exc).__name__}); save the model again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(folder, f"{MANIFEST} is not a medbench model manifest (format {FORMAT!r} expected)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        made_by = manifest.get("medbench_version", "an unknown medbench")
        raise _refuse(folder, f"saved in model format {version!r} by medbench {made_by}; this medbench "
                              f"{__version__} reads format {FORMAT_VERSION} only: use a matching medbench or "
                              f"save the model again")
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    if manifest.get("manifest_sha256") != cachekeys.digest(body):
        raise _refuse(folder, f"{MANIFEST} was edited or damaged (its digest does not match); "
                              f"save the model again")
    if not isinstance(manifest.get("files"), dict):
        raise _refuse(folder, f"{MANIFEST} lists no files")
    return manifest


def _read_plain(folder: Path, name: str) -> bytes:
    """The bytes of ``folder/name``, a regular file reached without following any symbolic link below
    ``folder`` (a link could point anywhere: ``MODEL_CARD.md -> /etc/passwd``)."""
    path = folder
    for part in name.split("/"):
        path = path / part
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _refuse(folder, f"{name} is a symbolic link ({path.relative_to(folder)}); a model folder holds "
                                  f"plain files only: copy the files themselves")
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise _refuse(folder, f"{name} is not a regular file")
    return readfile.read_bytes(path, f"model file ({name})", cap="model file", nofollow=True)


def _read_checked(folder: Path, manifest: dict[str, Any], name: str) -> bytes:
    """The bytes of listed file ``name``, after checking their size and SHA-256 against the manifest."""
    _check_name(folder, name)
    entry = manifest["files"].get(name)
    if not isinstance(entry, dict):
        raise _refuse(folder, f"{name} is not listed in {MANIFEST}")
    try:
        data = _read_plain(folder, name)
    except FileNotFoundError:
        raise _refuse(folder, f"{name} is missing") from None
    except OSError as exc:
        raise _refuse(folder, f"{name} cannot be read ({exc.strerror or exc})") from None
    if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise _refuse(folder, f"{name} does not match its SHA-256 in {MANIFEST} (damaged or modified); "
                              f"refusing to load it")
    return data


def read_verified(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(manifest, {name: bytes})`` of every listed file, each checked against the manifest."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if DESCRIPTION not in manifest["files"]:
        raise _refuse(folder, f"{MANIFEST} does not list {DESCRIPTION}")
    _refuse_unlisted(folder, manifest)
    return manifest, {name: _read_checked(folder, manifest, name) for name in sorted(manifest["files"])}


def _refuse_unlisted(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse anything in the folder the manifest does not list: an extra file, a link, a FIFO, a device
    (a model folder holds exactly the files it lists; links are never followed while looking)."""
    listed = {MANIFEST, *map(str, manifest["files"])}
    folders = {"/".join(str(n).split("/")[:i]) for n in listed for i in range(1, str(n).count("/") + 1)}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        for name in sorted(dirnames + filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            mode = os.lstat(Path(dirpath) / name).st_mode
            if stat.S_ISLNK(mode):
                raise _refuse(folder, f"{names.printable(rel)} is a symbolic link ({names.printable(rel)}); a model "
                                      f"folder holds plain files only: copy the files themselves")
            if stat.S_ISDIR(mode) and rel in folders:
                continue
            if stat.S_ISREG(mode) and rel in listed:
                continue
            what = ("a folder" if stat.S_ISDIR(mode) else "a file" if stat.S_ISREG(mode)
                    else "a FIFO, socket or device")
            raise _refuse(folder, f"{names.printable(rel)} is {what} that {MANIFEST} does not list; a model folder "
                                  f"holds exactly the files it lists: remove it")


def _description(folder: Path, files: dict[str, bytes]) -> dict[str, Any]:
    try:
        desc = json.loads(files[DESCRIPTION].decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _refuse(folder, f"{DESCRIPTION} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(desc, dict) or not isinstance(desc.get("steps"), list) or not desc["steps"]:
        raise _refuse(folder, f"{DESCRIPTION} has no step list")
    return desc


def read_model(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(manifest, model.json)`` of a saved model, every file verified, without building the model."""
    folder = Path(folder)
    manifest, files = read_verified(folder)
    return manifest, _description(folder, files)


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The verified ``model.json`` of a saved model (metadata and step list), without building the model."""
    return read_model(folder)[1]


def saved_job_key(folder: str | os.PathLike) -> str | None:
    """The ``job_key`` a saved model records, or ``None`` when the folder is absent or does not verify."""
    try:
        return read_meta(folder).get("job_key")
    except MedbenchError:
        return None


def _declared(folder: Path, name: Any, codec: str) -> storage.Storage:
    """The declaration of the step class model.json names, stored as ``codec``: looked up among the
    classes medbench and its plugins declare, never imported by that name."""
    _declarations()
    how = storage.lookup(name, codec)
    if how is None:
        raise _refuse(folder, f"step class {name!r} is not one medbench loads")
    return how


def _cause(exc: BaseException) -> str:
    """``Type: first line of the message``: a library's error can span many lines (XGBoost appends a stack
    trace, Keras a config dump), and medbench's errors are one line."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _load_skops(folder: Path, fname: str, data: bytes) -> Any:
    trusted = skops_trusted()
    try:
        foreign = [t for t in sio.get_untrusted_types(data=data) if t not in trusted]
    except Exception as exc:  # noqa: BLE001 - not a skops file at all (e.g. garbage listed with its own hash)
        raise _refuse(folder, f"{fname} cannot be loaded ({_cause(exc)})") from None
    if foreign:
        raise _refuse(folder, f"{fname} holds type {foreign[0]}, which medbench does not load")
    try:
        return sio.loads(data, trusted=list(trusted))
    except Exception as exc:  # noqa: BLE001 - any skops failure on a verified file is one line
        raise _refuse(folder, f"{fname} cannot be loaded ({_cause(exc)})") from None


def _load_xgboost(folder: Path, desc: dict[str, Any], data: bytes) -> Any:
    cls = _declared(folder, desc["class"], "xgboost").cls
    try:
        est = cls(**desc.get("params", {}))
        est.load_model(bytearray(data))
    except Exception as exc:  # noqa: BLE001
        raise _refuse(folder, f"{desc['file']} cannot be loaded ({_cause(exc)})") from None
    return est


def _keras_model_from_bytes(data: bytes, custom_objects: dict[str, Any]) -> Any:
    """The Keras model in ``data`` (a ``.keras`` file), loaded with ``safe_mode`` for prediction only (not
    compiled); Keras' own exception when it cannot be."""
    keras = kb.import_keras()
    with tempfile.TemporaryDirectory(prefix="medbench-load-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(str(path), custom_objects=custom_objects or None, compile=False,
                                       safe_mode=True)


def _load_keras_model(folder: Path, fname: str, data: bytes, custom_objects: dict[str, Any]) -> Any:
    try:
        return _keras_model_from_bytes(data, custom_objects)
    except Exception as exc:  # noqa: BLE001
        raise _refuse(folder, f"{fname} cannot be loaded ({_cause(exc)})") from None


def _keras_custom_objects(how: storage.Storage) -> dict[str, Any]:
    """The custom Keras classes a Keras estimator's declaration names (``custom_objects``), if any."""
    return dict(how.custom_objects()) if how.custom_objects is not None else {}


def _load_keras_estimator(folder: Path, desc: dict[str, Any], files: dict[str, bytes]) -> Any:
    how = _declared(folder, desc["class"], "keras-estimator")
    custom = _keras_custom_objects(how)
    try:
        est = how.cls(**desc.get("params", {}))
        for attr, value in (desc.get("attributes") or {}).items():
            if not attr.endswith("_") or attr.startswith("_"):
                raise ValueError(f"attribute name {attr!r}")
            setattr(est, attr, _from_json_value(value))
    except (TypeError, ValueError) as exc:
        raise _refuse(folder, f"{DESCRIPTION}: step {desc.get('name')!r} cannot be rebuilt ({exc})") from None
    for attr, fname in (desc.get("models") or {}).items():
        if attr not in how.keras_models:
            raise _refuse(folder, f"{DESCRIPTION}: step {desc.get('name')!r} names unknown model {attr!r}")
        model = None if fname is None else _load_keras_model(folder, fname, _listed(folder, files, fname), custom)
        setattr(est, attr, model)
    return est


def _listed(folder: Path, files: dict[str, bytes], name: Any) -> bytes:
    _check_name(folder, name)
    if name not in files:
        raise _refuse(folder, f"{DESCRIPTION} names {name}, which {MANIFEST} does not list")
    return files[name]


def _decode_step(folder: Path, desc: Any, files: dict[str, bytes]) -> tuple[str, Any]:
    if not isinstance(desc, dict) or not isinstance(desc.get("name"), str) or not isinstance(desc.get("class"), str):
        raise _refuse(folder, f"{DESCRIPTION} has a malformed step entry")
    codec = desc.get("codec")
    if codec == "skops":
        step = _load_skops(folder, desc.get("file"), _listed(folder, files, desc.get("file")))
        if qualified_name(step) != desc["class"]:
            raise _refuse(folder, f"{desc['file']} holds a {qualified_name(step)}, not the {desc['class']} "
                                  f"{DESCRIPTION} describes")
        return desc["name"], step
    if codec == "xgboost":
        return desc["name"], _load_xgboost(folder, desc, _listed(folder, files, desc.get("file")))
    if codec == "keras-estimator":
        return desc["name"], _load_keras_estimator(folder, desc, files)
    raise _refuse(folder, f"{DESCRIPTION}: step {desc['name']!r} uses unknown storage {codec!r}")


def load_pipeline(folder: str | os.PathLike) -> tuple[Pipeline, dict[str, Any]]:
    """``(fitted pipeline, model.json)`` of a saved model: every file verified, nothing unpickled.

    A missing folder, a missing / damaged / modified file, an unknown format version or a step type
    medbench does not load raises a one-line :class:`MedbenchError` naming the folder and the file.
    """
    folder = Path(folder)
    _, files = read_verified(folder)
    desc = _description(folder, files)
    steps = [_decode_step(folder, d, files) for d in desc["steps"]]
    return Pipeline(steps), desc


__all__ = ["CARD", "DESCRIPTION", "FORMAT", "FORMAT_VERSION", "MANIFEST",
           "load_pipeline", "model_dir", "read_meta", "read_model", "read_verified", "save_pipeline", "saved_job_key",
           "skops_trusted", "write_document"]
