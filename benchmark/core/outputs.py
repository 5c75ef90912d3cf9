"""Every file or folder medbench writes for the user (``--out``, ``--json``, ``--markdown``, ``--store``),
checked before any work and written with one-line errors.

:func:`output_file` refuses an empty name, a folder, an existing file that is not a regular file
(``/dev/zero``), a path below a file, and a name longer than the file system takes (the atomic write's
temporary sibling included); :func:`output_folder` refuses an empty name, a file, and a path below a file;
:func:`writing` turns an ``OSError`` while writing (``/proc/version``, a full disk, no permission) into one
line naming the option and the file. Names longer than 255 bytes anywhere in a path are refused by
:func:`check_name_lengths`, and :func:`too_long` is the CLI's last word on an ``ENAMETOOLONG`` from any input path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError

MAX_NAME = 255  # bytes in one file name on the usual file systems (ext4, XFS, APFS, NTFS)
TMP_EXTRA = len("..XXXXXXXX.tmp")  # what atomic.write_bytes adds to a name for its temporary sibling


def short(text: str | Path, limit: int = 120) -> str:
    """A path for a message, cut in the middle when long (a 300-character name is not worth repeating)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"


def check_name_lengths(path: str | Path, flag: str, extra: int = 0) -> None:
    """Refuse ``path`` when one of its names is longer than :data:`MAX_NAME` bytes (the last one plus ``extra``)."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        size = len(os.fsencode(part)) + (extra if i == len(parts) - 1 else 0)
        if size > MAX_NAME:
            raise MedbenchError(f"{flag} {short(path)}: File name too long (a name of {len(part)} characters; "
                                f"at most {MAX_NAME - (extra if i == len(parts) - 1 else 0)} bytes): choose a "
                                f"shorter one")


def _below_a_file(path: Path, flag: str) -> None:
    """Refuse a path one of whose existing ancestors is not a folder (``/proc/version/x``)."""
    for parent in path.parents:
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise MedbenchError(f"{flag} {short(path)}: cannot use {short(parent)} ({exc.strerror or exc})") from None
        if not stat.S_ISDIR(mode):
            raise MedbenchError(f"{flag} {short(path)}: {short(parent)} is a file, not a folder; choose another path")
        return


def output_file(out: str | Path | None, flag: str, what: str, example: str) -> Path | None:
    """``out`` as a file that can be written (checked before any work), or None when not given.

    ``what`` names the content ("the CSV"), ``example`` a file name to suggest inside a folder."""
    if out is None:
        return None
    if not str(out).strip():
        raise MedbenchError(f"{flag} is empty: give a file for {what}")
    path = Path(out)
    check_name_lengths(path.parent, flag)
    _below_a_file(path, flag)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # e.g. ENAMETOOLONG
        raise MedbenchError(f"{flag} {short(out)}: {exc.strerror or exc}; choose another file name") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise MedbenchError(f"{flag} {out} is a folder: give a file for {what}, e.g. {path / example}")
    if mode is not None and not stat.S_ISREG(mode):
        raise MedbenchError(f"{flag} {out} is not a regular file (a device, FIFO or socket): give a file for {what}")
    if len(path.name.encode(errors="surrogateescape")) + TMP_EXTRA > MAX_NAME:
        raise MedbenchError(f"{flag} {short(out)}: the file name is too long ({len(path.name)} characters); "
                            f"choose a shorter one")
    return path


def output_folder(out: str | Path | None, flag: str, what: str) -> Path | None:
    """``out`` as a folder that exists or can be created (checked before any work), or None when not given."""
    if out is None:
        return None
    if not str(out).strip():
        raise MedbenchError(f"{flag} is empty: give a folder for {what}")
    path = Path(out)
    check_name_lengths(path, flag)
    _below_a_file(path, flag)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise MedbenchError(f"{flag} {short(out)}: {exc.strerror or exc}; choose another folder") from None
    if mode is not None and not stat.S_ISDIR(mode):
        raise MedbenchError(f"{flag} {out} is a file, not a folder: give a folder for {what}")
    return path


@contextlib.contextmanager
def writing(flag: str, path: str | Path | None = None) -> Iterator[None]:
    """``with writing("--json", path): write(...)``: an OSError becomes one line naming the option and file."""
    try:
        yield
    except OSError as exc:
        where = path if path is not None else exc.filename
        raise MedbenchError(f"cannot write {flag} {short(where) if where else ''}: {exc.strerror or exc}; "
                            f"choose another path, free disk space or fix the permissions") from None


def too_long(exc: OSError) -> str | None:
    """The one-line message for an ``ENAMETOOLONG`` (a path with a name over 255 bytes), else None."""
    if exc.errno != errno.ENAMETOOLONG:
        return None
    name = exc.filename if exc.filename is not None else "a path"
    return (f"{short(os.fsdecode(name) if isinstance(name, bytes) else name)}: File name too long (a name in "
            f"it is over {MAX_NAME} bytes); give a shorter path")
