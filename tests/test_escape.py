"""medbench.reports.escape, character by character: the exact text each helper writes, spelled out here by
hand from the module's rules (so a changed rule fails a test), and how python-markdown shows it."""

from __future__ import annotations

import pytest

from medbench.reports import escape
from medbench.reports.html import to_html


@pytest.mark.parametrize(("value", "expected"), [
    ("plain words 123", "plain words 123"),
    ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "&#124;"), ("$", "&#36;"), ("~", "&#126;"),
    ("\\", "\\\\"), ("`", "\\`"), ("*", "\\*"), ("_", "\\_"), ("[", "\\["), ("]", "\\]"),
    ("a<b>|c", "a&lt;b&gt;&#124;c"),
    ("$x$ ~~y~~", "&#36;x&#36; &#126;&#126;y&#126;&#126;"),
    ("*a* _b_ [c](d) `e`", "\\*a\\* \\_b\\_ \\[c\\](d) \\`e\\`"),
    ("a\nb\tc\x00d\x1fe\x7ff\x9fg\xa0h", "a b c d e f g\xa0h"),  # C0, DEL and C1 controls; NBSP is kept
    ("#!+-.(){}", "#!+-.(){}"),  # left alone: harmless inside a line
    (3, "3"), (None, "None"),
])
def test_md_exact(value, expected):
    assert escape.md(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("x\ny\x1b[31m", "x y [31m"), ("\x00\x1f\x7f\x80\x9f", "     "), ("\xa0é", "\xa0é"), (7, "7"),
])
def test_plain_exact(value, expected):
    assert escape.plain(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("abc", "` abc `"),
    ("a`b", "`` a`b ``"),
    ("a``b`", "``` a``b` ```"),
    ("x\ny", "` x y `"),
    ("", ""), ("   ", "   "), ("\n", " "), ("<", "` < `"),  # blank: as text
])
def test_md_code_exact(value, expected):
    assert escape.md_code(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("abc", ["```", "abc", "```"]),
    ("a\n```\nb", ["````", "a\n```\nb", "````"]),
    ("x `````` y", ["```````", "x `````` y", "```````"]),
    ("a\x1bb\r\nc", ["```", "a b\nc", "```"]),
    ("", ["```", "", "```"]),
])
def test_md_fence_exact(value, expected):
    assert escape.md_fence(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("<a href='x'>\"&\"</a>", "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;&quot;&lt;/a&gt;"), (1.5, "1.5"),
])
def test_html_exact(value, expected):
    assert escape.html(value) == expected


def test_python_markdown_shows_the_escaped_text():
    s = "<b>x</b> | $y$ ~z~ *w* _v_ [u](t) `s` \\ & end"
    out = to_html(f"| h |\n|---|\n| {escape.md(s)} |")
    assert "<b>" not in out and out.count("<td>") == 1
    code = to_html(f"see {escape.md_code('a `b` c')} here")
    assert "<code>a `b` c</code>" in code
