"""File names that are not valid UTF-8 (bytes Python holds as lone surrogates, ``'bad\\udcff.jpeg'``).

Such a name cannot be written to results.json, a report or a CSV as it is; :func:`printable` gives the
name with each undecodable byte as ``\\xNN`` (what a message, a CSV cell or a problems list shows) and
:func:`is_utf8` tells whether a name needs it.
"""

from __future__ import annotations

import os

NOT_UTF8 = "its file name is not valid UTF-8; rename it (e.g. convmv -f latin1 -t utf8 -r --notest FOLDER)"


def is_utf8(name: str) -> bool:
    """True when ``name`` encodes to UTF-8 (no undecodable bytes from the file system in it)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str | os.PathLike) -> str:
    """``name`` with every byte that is not UTF-8 shown as ``\\xNN`` (``bad\\xff.jpeg``): safe to write anywhere."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
