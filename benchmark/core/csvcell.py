"""CSV cells that a spreadsheet will not run: OWASP's defence against CSV (formula) injection.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets (``=1+2``, ``+cmd|' /C calc'!A0``, ``@SUM(1)``). :func:`cell`
prefixes such text with a single quote, so it shows as the text it is; numbers are left alone (a
negative number is a number, not text). Every CSV medbench writes (``metrics.csv``, ``medbench
predict``) passes its text cells and headers through :func:`cell`.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that a spreadsheet would run gets a leading ``'``; others as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
