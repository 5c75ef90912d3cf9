"""MkDocs hook (mkdocs.yml `hooks:`): medbench's docstrings use Sphinx roles (:class:`X`, :func:`~a.b`), which
mkdocstrings renders as plain text before the code; drop the role and the leading ``~``, keep the code."""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>~?")


def on_page_content(html: str, **kwargs) -> str:
    return ROLE.sub("<code>", html)
