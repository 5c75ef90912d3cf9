"""Every environment variable medbench reads, in one place (the only module that reads ``os.environ``).

Each setting is a function, so a change to the environment (a test's monkeypatch, a notebook's
``os.environ[...] = ...``) is seen at the next call.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MEDBENCH_DATA_DIR"
CACHE_DIR_ENV = "MEDBENCH_CACHE_DIR"
NO_CACHE_ENV = "MEDBENCH_NO_CACHE"
BASELINE_STORE_ENV = "MEDBENCH_BASELINES"
RESNET50_WEIGHTS_ENV = "MEDBENCH_RESNET50_WEIGHTS"
HISTORY_ENV = "MEDBENCH_HISTORY"
LOCK_FILE_ENV = "MEDBENCH_LOCK_FILE"

#: What ``medbench --help`` lists (name, meaning).
DOCUMENTED = (
    (DATA_DIR_ENV, "folder holding dataset files (pneumoniamnist.npz); default: user cache"),
    (CACHE_DIR_ENV, "folder for decoded images, features and embeddings; default: user cache"),
    (NO_CACHE_ENV, "1: compute features and embeddings afresh and keep nothing"),
    (BASELINE_STORE_ENV, "folder of named baselines for `medbench baseline`/`compare` (default: baselines)"),
    (RESNET50_WEIGHTS_ENV, "local ResNet50 no-top weights file (instead of Keras' download)"),
    (HISTORY_ENV, "history store for `medbench history` (default: history)"),
    (LOCK_FILE_ENV, "the lock file the environment was installed from (set by tox); its digest is recorded"),
)


def get(name: str, default: str | None = None) -> str | None:
    """The raw value of environment variable ``name`` (stripped), or ``default`` when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def path(name: str) -> Path | None:
    value = get(name)
    return Path(value).expanduser() if value else None


def flag(name: str) -> bool:
    """True for a set, non-zero, non-"false" value."""
    return (get(name) or "0").lower() not in ("0", "false", "no", "off")


def keras_backend() -> str:
    return get("KERAS_BACKEND", "tensorflow") or "tensorflow"


def keras_home() -> Path:
    """Where Keras keeps downloads: ``$KERAS_HOME`` or ``~/.keras``."""
    return path("KERAS_HOME") or Path("~/.keras").expanduser()


def set_default(name: str, value: str) -> None:
    """Set ``name`` unless the user already did (e.g. TF_CPP_MIN_LOG_LEVEL before TensorFlow loads)."""
    os.environ.setdefault(name, value)
