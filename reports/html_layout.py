"""The layout of a long HTML page: a table of contents and folded sections, added to the element tree
python-markdown builds (so no raw HTML is ever parsed from the markdown, :mod:`medbench.reports.html`).

* every ``h2`` gets an anchor id (python-markdown's ``toc`` extension: lower case, words joined by ``-``,
  the same slugs GitHub gives report.md's headings);
* :class:`PageLayout` puts a ``<nav class="toc">`` with a link to every ``h2`` after the page's first
  paragraph (the header line), and moves the body of each section named in ``folded`` (by its anchor)
  into ``<details><summary>...</summary>...</details>``: closed until the reader opens it.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from collections.abc import Iterable

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

#: Priority below python-markdown's ``toc`` tree processor (5): runs after the ids are set.
_PRIORITY = 4


def _text(el: etree.Element) -> str:
    return "".join(el.itertext())


class _Layout(Treeprocessor):
    def __init__(self, md: Markdown, toc: bool, folded: dict[str, str]) -> None:
        super().__init__(md)
        self.toc, self.folded = toc, folded

    def run(self, root: etree.Element) -> None:
        self._fold(root)
        if self.toc:
            self._contents(root)

    def _fold(self, root: etree.Element) -> None:
        children = list(root)
        for i, el in enumerate(children):
            if el.tag != "h2" or el.get("id") not in self.folded:
                continue
            body = []
            for nxt in children[i + 1:]:
                if nxt.tag in ("h1", "h2"):
                    break
                body.append(nxt)
            if not body:
                continue
            details = etree.Element("details", {"class": "folded"})
            summary = etree.SubElement(details, "summary")
            summary.text = self.folded[el.get("id")]
            for nxt in body:
                root.remove(nxt)
                details.append(nxt)
            root.insert(list(root).index(el) + 1, details)

    def _contents(self, root: etree.Element) -> None:
        heads = [el for el in root.iter("h2") if el.get("id")]
        if len(heads) < 2:
            return
        nav = etree.Element("nav", {"class": "toc", "aria-label": "Contents"})
        title = etree.SubElement(nav, "strong")
        title.text = "Contents"
        ul = etree.SubElement(nav, "ul")
        for h in heads:
            a = etree.SubElement(etree.SubElement(ul, "li"), "a", {"href": f"#{h.get('id')}"})
            a.text = _text(h)
        children = list(root)
        first_p = next((i for i, el in enumerate(children) if el.tag == "p"), None)
        first_h2 = next(i for i, el in enumerate(children) if el.tag == "h2")
        where = first_p + 1 if first_p is not None and first_p < first_h2 else first_h2
        root.insert(where, nav)


class PageLayout(Extension):
    """``toc``: add a table of contents of the ``h2`` headings; ``folded``: ``{anchor: summary text}`` of
    the sections whose body starts closed."""

    def __init__(self, toc: bool = True, folded: dict[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        self._toc, self._folded = toc, dict(folded)

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - python-markdown's API
        md.treeprocessors.register(_Layout(md, self._toc, self._folded), "medbench_layout", _PRIORITY)
