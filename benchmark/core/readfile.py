"""Reading the files a user hands medbench (results, suite and tolerance files): one set of one-line errors.

Every reader turns a missing file, a folder, non-UTF-8 bytes, unparsable TOML/JSON or nesting too deep
to parse into a :class:`MedbenchError` that names the file and what kind of file was expected.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_text(path: str | Path, kind: str, *, missing_hint: str = "") -> str:
    """The UTF-8 text of ``path``, a ``kind`` (e.g. "suite file"); ``missing_hint`` follows a not-found error."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MedbenchError(f"{kind} {path} does not exist{missing_hint}") from None
    except IsADirectoryError:
        raise MedbenchError(f"{path} is a folder, not a {kind}") from None
    except UnicodeDecodeError as exc:
        raise MedbenchError(f"{path}: not UTF-8 text (byte {exc.start}): not a {kind}") from None
    except OSError as exc:
        raise MedbenchError(f"cannot read {kind} {path}: {exc.strerror or exc}") from None


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
