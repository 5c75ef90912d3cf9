"""report.html: report.md rendered by the ``markdown`` package (tables, fenced code) in a small page.

The page is a pure function of the markdown (no timestamps, no scripts), images stay relative
(``figures/*.png`` beside it), and a short stylesheet keeps the wide tables readable.

Raw HTML is never passed through: the conversion runs without python-markdown's raw-HTML block
preprocessor and inline HTML pattern (:class:`NoRawHtml`), so any ``<tag>`` in the markdown is
escaped and shown as text. The report's data strings are escaped before that
(:mod:`medbench.reports.escape`); this is the second line of defence.
"""

from __future__ import annotations

import markdown
from markdown.extensions import Extension
from markdown.extensions.toc import TocExtension

from medbench.reports.escape import html as esc
from medbench.reports.html_layout import PageLayout

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328;
       line-height: 1.5; max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; font-size: 15px; }
h1 { font-size: 1.8em; border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: .25em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: 12.5px; display: block; overflow-x: auto;
        max-width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; white-space: nowrap; }
th { background: #f3f5f8; font-weight: 600; }
tr:nth-child(even) td { background: #f9fafb; }
td:first-child { font-weight: 600; }
code { background: #f3f5f8; padding: .1em .3em; border-radius: 4px; font-size: 90%; }
pre { background: #f6f8fa; padding: 12px 14px; border-radius: 6px; overflow-x: auto; }
pre code { background: none; padding: 0; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
ul { padding-left: 1.4em; }
li { margin: .2em 0; }
em { color: #57606a; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px; margin: 1em 0; }
nav.toc ul { columns: 2; margin: .3em 0 0; }
nav.toc li { break-inside: avoid; margin: 0 0 .2em; }
details.folded > summary { cursor: pointer; font-weight: 600; color: #0969da; margin: .4em 0; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
</body>
</html>
"""


class NoRawHtml(Extension):
    """Markdown without raw HTML: ``<...>`` in the text is escaped by the serializer, never emitted."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - python-markdown's API
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def to_html(md_text: str, *, toc: bool = False, folded: dict[str, str] | None = None) -> str:
    """The HTML fragment of a markdown text (tables, fenced code; raw HTML escaped); ``toc``: anchors on the
    ``h2`` headings and a table of contents; ``folded``: ``{anchor: summary}`` of sections shown closed
    (:mod:`medbench.reports.html_layout`)."""
    extensions: list = ["tables", "fenced_code", NoRawHtml()]
    if toc or folded:
        extensions += [TocExtension(toc_depth="2-2"), PageLayout(toc=toc, folded=folded or {})]
    return markdown.markdown(md_text, extensions=extensions, output_format="html")


def render(md_text: str, title: str = "medbench report", *, toc: bool = False,
           folded: dict[str, str] | None = None) -> str:
    """The HTML page of a report's markdown, with ``title`` (plain text) in the browser's title bar
    (``toc`` and ``folded``: see :func:`to_html`)."""
    return TEMPLATE.format(title=esc(title), css=CSS, body=to_html(md_text, toc=toc, folded=folded))
