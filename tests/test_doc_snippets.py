"""The Python examples of README.md and docs/*.md run as written (one page's blocks in order, in one
namespace, in a temporary working directory, on the shared data), and the documentation's own bookkeeping
holds: the README stays a short front door whose links resolve, every opt-out marker gives its reason,
the API reference lists medbench.api's public functions, and the docs extra matches requirements/docs.in."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
#: written on the line just before a ```python fence that cannot run in the tests (documented in
#: docs/development.md, "The snippets run")
NO_RUN = re.compile(r"^<!-- snippet: no-run \((?P<reason>[^)]*)\) -->$")
README_MAX_LINES = 250


def blocks(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, language, code, no-run reason or None) for every fenced block of ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            start, lang = i, m.group(1)
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
            marker = NO_RUN.match(prev.strip())
            out.append((start + 1, lang, "\n".join(lines[start + 1:j]), marker.group("reason") if marker else None))
            i = j
        i += 1
    return out


def _runnable(path: Path) -> list[tuple[int, str]]:
    return [(line, code) for line, lang, code, reason in blocks(path) if lang == "python" and reason is None]


@pytest.mark.slow  # real runs on PneumoniaMNIST (a minute or more on a busy 2-core machine)
@pytest.mark.parametrize("page", [p for p in PAGES if _runnable(p)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_snippets_run(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"snippets_of_{page.stem}"}
    for line, code in _runnable(page):
        try:
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the ```python block at {page.relative_to(ROOT)}:{line} fails: "
                                 f"{type(exc).__name__}: {exc}") from exc


def test_every_no_run_marker_gives_a_reason_and_sits_on_a_python_block():
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        found = blocks(page)
        marked = {line for line, lang, _, reason in found if reason is not None}
        fenced = {k for line, _, code, _ in found for k in range(line, line + len(code.splitlines()) + 1)}
        for i, text in enumerate(lines):
            if i not in fenced and "snippet:" in text and text.strip().startswith("<!--"):
                m = NO_RUN.match(text.strip())
                assert m and m.group("reason").strip(), f"{page.name}:{i + 1}: write <!-- snippet: no-run (why) -->"
                nxt = next(k for k in range(i + 1, len(lines)) if lines[k].strip())
                assert lines[nxt].startswith("```python") and nxt + 1 in marked, f"{page.name}:{i + 1}"


def test_the_marker_is_recognised(tmp_path):
    probe = tmp_path / "probe.md"
    probe.write_text("text\n\n<!-- snippet: no-run (needs a GPU) -->\n```python\nraise SystemExit\n```\n\n"
                     "```python\nx = 1\n```\n```bash\nls\n```\n")
    assert [(lang, reason) for _, lang, _, reason in blocks(probe)] == [
        ("python", "needs a GPU"), ("python", None), ("bash", None)]
    assert _runnable(probe) == [(8, "x = 1")]


def test_readme_is_a_short_front_door_whose_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"^[a-z]+:", target):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    for needed in ("pip install", "MEDBENCH_DATA_DIR", "medbench run --profile fast", "report.html",
                   "tox -e bench", "tox -e lint,docs,py,slow,jax"):
        assert needed in text, needed


def test_the_api_reference_lists_every_public_function_of_the_front_door():
    tree = ast.parse((ROOT / "benchmark" / "api.py").read_text(encoding="utf-8"))
    public = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")]
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    listed = re.findall(r"^ +- (\w+)$", reference, re.M)
    assert sorted(public) == sorted(listed)


def test_the_docs_extra_and_requirements_docs_in_agree():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["docs"]
    lines = (ROOT / "requirements" / "docs.in").read_text(encoding="utf-8").splitlines()
    assert sorted(extra) == sorted(x.strip() for x in lines if x.strip() and not x.startswith("#"))
    locked = (ROOT / "requirements" / "docs-lock.txt").read_text(encoding="utf-8")
    for name in ("mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python"):
        assert re.search(rf"^{name}==", locked, re.M), name
