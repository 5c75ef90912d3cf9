"""Fetch a dataset file on first use: checksum-verified, cached, with a progress bar.

When the file is already in the data directory it is verified and used; when it is missing and
the machine is offline the error says exactly which file to put where.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from medbench.core.cachekeys import file_sha256
from medbench.core.errors import MedbenchError
from medbench.core.paths import DATA_DIR_ENV, data_dir


def md5sum(path: str | os.PathLike) -> str:
    """MD5 of a file (the checksum MedMNIST publishes), through the one file-hash helper."""
    return file_sha256(path, "md5")


def fetch(filename: str, url: str, md5: str, directory: Path | None = None, timeout: float = 30.0) -> Path:
    """Return the verified local path of ``filename``, downloading it from ``url`` if needed."""
    directory = Path(directory) if directory is not None else data_dir()
    path = directory / filename
    if path.exists():
        actual = md5sum(path)
        if actual != md5:
            raise MedbenchError(
                f"{path} has MD5 {actual}, expected {md5}: the file is corrupt or a different version; "
                f"delete it to re-download, or replace it with the official file from {url} (a file of your own in "
                f"this layout runs as --dataset npz:{path})"
            )
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedbenchError(f"cannot create data directory {directory}: {exc.strerror}; set {DATA_DIR_ENV}") from exc
    tmp = directory / f".{filename}.part"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {filename}") as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise MedbenchError(
            f"{filename} is not in {directory} and could not be downloaded from {url} ({reason}); "
            f"put the file (MD5 {md5}) at {path}, or set {DATA_DIR_ENV} to a folder that holds it"
        ) from exc
    actual = md5sum(tmp)
    if actual != md5:
        tmp.unlink(missing_ok=True)
        raise MedbenchError(f"download of {url} has MD5 {actual}, expected {md5}; try again later")
    os.replace(tmp, path)
    return path
