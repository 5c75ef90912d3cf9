"""Escaping the data strings of results.json (pipeline and class names, paths, error messages, CSV
values) wherever a report shows them, so a name is shown literally and never becomes markup.

* :func:`md` - running text and table cells of markdown (report.md, compare.md): HTML-special
  characters, ``|``, ``$`` and ``~`` become character references, markdown punctuation is
  backslash-escaped; both python-markdown (report.html) and GitHub render them as the characters.
* :func:`md_code` / :func:`md_fence` - a code span / fenced block whose backtick fence is longer
  than any run of backticks inside, so the data cannot close it.
* :func:`html` - text and attribute values of HTML.
* :func:`plain` - terminal text: control characters (newlines, ANSI escapes) become spaces.

Every data string also loses its control characters: a newline must not end a table row. Bidirectional
controls that reorder what follows (right-to-left override U+202E, embeddings, isolates) are shown as ``[U+202E]``: a class name holding one
must not reverse the text after it in the report.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "$": "&#36;", "~": "&#126;"}
_MD_BACKSLASH = "\\`*_[]"
_MD_SPECIAL = re.compile("[" + re.escape("".join(_MD_ENTITY) + _MD_BACKSLASH) + "]")


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")  # embeddings, overrides, isolates (marks are kept)


def _bidi(text: str) -> str:
    return _BIDI.sub(lambda m: f"[U+{ord(m.group(0)):04X}]", text)


def plain(value: Any) -> str:
    """``value`` as one line of text, control characters replaced by spaces, bidirectional controls shown."""
    return _bidi(_CONTROL.sub(" ", str(value)))


def md(value: Any) -> str:
    """``value`` as literal markdown text (safe in a table cell)."""
    def one(m: re.Match) -> str:
        c = m.group(0)
        return _MD_ENTITY.get(c) or "\\" + c
    return _MD_SPECIAL.sub(one, plain(value))


def _fence(text: str, least: int) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(least, longest + 1)


def md_code(value: Any) -> str:
    """``value`` as an inline code span (shown verbatim)."""
    text = plain(value)
    if not text.strip():
        return md(text)
    fence = _fence(text, 1)
    return f"{fence} {text} {fence}"


def md_fence(value: Any) -> list[str]:
    """``value`` (several lines allowed) as the lines of a fenced code block."""
    text = "\n".join(plain(line) for line in str(value).splitlines())
    fence = _fence(text, 3)
    return [fence, text, fence]


def html(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value."""
    return _html.escape(_bidi(str(value)), quote=True)


#: LaTeX's special characters and their text-mode escapes (``\\`` first handled by one pass over the text).
LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                 "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex(value: Any) -> str:
    """A data string for a LaTeX text cell: ``& % $ # _ { } ~ ^ \\`` escaped, line breaks as spaces."""
    text = " ".join(plain(value).split())
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
