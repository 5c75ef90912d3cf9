"""Reading every file medbench reads (results, suites, tolerances, manifests, job records, cache sidecars,
saved models): one reader, one set of one-line errors.

:func:`read_bytes` opens without blocking (``O_NONBLOCK``: a FIFO never hangs it), accepts regular files
only (a FIFO, a device such as ``/dev/zero``, a folder or a socket is refused) and reads at most the cap
declared for that kind of file in :data:`CAPS` (a bigger file is refused, not read). A missing file, a
name too long, non-UTF-8 bytes, unparsable TOML/JSON or nesting too deep to parse become a
:class:`MedbenchError` that names the file and what kind of file was expected.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


MiB = 1 << 20

#: The largest file of each kind medbench reads, in bytes (a bigger one is refused before it is read).
#: Job records and results hold every test prediction, hence the generous caps.
CAPS: dict[str, int] = {
    "results": 1024 * MiB,       # results.json, suite.json (every job's predictions)
    "job record": 512 * MiB,     # OUT/jobs/<job>.json
    "history index": 64 * MiB,   # a history store's index.json
    "manifest": 256 * MiB,       # --split-manifest (every image id)
    "settings": 4 * MiB,         # suite files, tolerance files, lock files
    "sidecar": 16 * MiB,         # a cache entry's key inputs / digest, a model's manifest and card
    "cache entry": 16384 * MiB,  # a feature / embedding cache array
    "model file": 16384 * MiB,   # one file of a saved model
    "table": 256 * MiB,          # a dataset's label CSV (coronahack)
}

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


class UnreadableFile(MedbenchError):
    """A file medbench cannot read: missing, not a regular file, too large, or an OS error."""


def _what(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: str | Path, kind: str, *, cap: str, missing_hint: str = "", nofollow: bool = False) -> bytes:
    """The bytes of ``path``, a ``kind`` (e.g. "suite file"), at most ``CAPS[cap]`` of them.

    Raises :class:`UnreadableFile` (one line naming the file) for a missing file, one that is not a
    regular file (checked on the opened descriptor, so nothing blocks), one over the cap, or an OS error."""
    path = Path(path)
    limit = CAPS[cap]
    try:
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0))
    except FileNotFoundError:
        raise UnreadableFile(f"{kind} {path} does not exist{missing_hint}") from None
    except OSError as exc:
        raise UnreadableFile(_os_message(path, kind, exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"{path} is {_what(st.st_mode)}, not a {kind}: give a regular file")
        if st.st_size > limit:
            raise UnreadableFile(f"{path} is {st.st_size:,} bytes, more than a {kind} may be "
                                 f"({limit:,} bytes): not read")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while True:  # a file that grows while read (or reports size 0, as /proc files do) is still capped
            # os.read allocates what it is asked for: ask for what the file holds (plus one byte to see its
            # end), not 4 MiB for a 200-byte sidecar; /proc-like files that say 0 bytes are read 64 KiB at a time
            want = max(st.st_size - total + 1, 64 * 1024)
            chunk = os.read(fd, min(MiB * 4, limit + 1 - total, want))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnreadableFile(f"{path} is more than a {kind} may be ({limit:,} bytes): not read")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(_os_message(path, kind, exc)) from None
    finally:
        os.close(fd)


def is_regular(path: str | Path) -> bool:
    """True when ``path`` (links followed) is a regular file: check before handing it to a reader that
    opens files itself (``np.load``), which would block on a FIFO."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _os_message(path: Path, kind: str, exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return f"cannot read {kind} {str(path)[:80]}...: File name too long (a name over 255 characters)"
    if exc.errno == errno.EISDIR:
        return f"{path} is a folder, not a {kind}"
    return f"cannot read {kind} {path}: {exc.strerror or exc}"


def read_text(path: str | Path, kind: str, *, cap: str = "settings", missing_hint: str = "") -> str:
    """The UTF-8 text of ``path``, a ``kind`` (e.g. "suite file"); ``missing_hint`` follows a not-found error."""
    data = read_bytes(path, kind, cap=cap, missing_hint=missing_hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MedbenchError(f"{path}: not UTF-8 text (byte {exc.start}): not a {kind}") from None


def read_json(path: str | Path, kind: str, *, cap: str, missing_hint: str = "") -> Any:
    """``path`` parsed as UTF-8 JSON (one-line errors for everything :func:`read_text` and parsing refuse)."""
    return parse_json(read_text(path, kind, cap=cap, missing_hint=missing_hint), str(path), kind)


def parse_toml(text: str, source: str, kind: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MedbenchError(f"{source} is not valid TOML ({exc})") from None
    except RecursionError:
        raise MedbenchError(f"{source}: nested too deeply to read: not a {kind}") from None


def parse_json(text: str, source: str, kind: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise MedbenchError(f"{source}: nested too deeply to read: not a {kind}") from None
    except ValueError as exc:
        raise MedbenchError(f"{source} is not readable JSON ({exc})") from None
