"""Names from the data are shown, never run: class folders, pipeline names, titles, paths, CSV values and
error messages holding tags, ``&``, quotes, ``|``, backticks, ``$...$``, right-to-left marks and emoji go
through report.md, report.html (python-markdown, then a real headless Chromium) and the figures
literally; a figure that cannot be drawn costs a warning, not the report.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import browser
import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.evaluation import gate as regression
from medbench.evaluation import tolerances
from medbench.records import results as results_mod
from medbench.reports import compare as compare_render
from medbench.reports import escape, figures, html

TAG = "<img src=x onerror=alert(document.domain)>"
HOSTILE = [
    TAG, "<script>alert(1)</script>", "a | b", "`tick` ``two``", "$\\undefined$", "Tom & \"Jerry\" 'x'",
    "\u200fשלום\u200e", "🫁 lungs", "[link](javascript:alert(1))", "*bold* _em_ ~~gone~~", "\\", "a\nb",
    "&amp; &#60;", "<!-- c -->", "```",
]
CLASSES = (TAG, "$\\undefined$ | `x` & \"q\" \u200f🫁")
PIPELINES = (("<script>alert('p')</script>", "classical", 2.0), ("cnn | `deep` $x$ &amp;", "deep", 1.2))
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li", "table",
                "thead", "tbody", "tr", "th", "td", "img", "code", "pre", "em", "strong", "details", "summary",
                "nav", "a"}  # nav / a: the table of contents, links to the page's own headings only


class Page(HTMLParser):
    """Tags, attributes and the text (character references decoded) of an HTML document."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def assert_inert(page: Page) -> None:
    """No tag but the report's own, no event handler, no image but the report's figures."""
    for tag, attrs in page.tags:
        assert tag in ALLOWED_TAGS, (tag, attrs)
        assert not any(a.lower().startswith("on") for a in attrs), (tag, attrs)
        if tag == "img":
            assert attrs["src"].startswith("figures/") and set(attrs) <= {"src", "alt"}, attrs
        if tag == "a":
            assert set(attrs) == {"href"} and re.fullmatch(r"#[a-z0-9_-]+", attrs["href"]), attrs


def assert_tables_intact(md: str) -> None:
    """Every row of every markdown table has as many cell borders as its header row."""
    for block in md.split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        borders = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(borders) <= 1, block


def outside_code(md: str) -> str:
    """Markdown without its fenced blocks and code spans (where any text is shown verbatim)."""
    md = re.sub(r"^(`{3,})\n.*?\n\1$", "", md, flags=re.S | re.M)
    return re.sub(r"(`+) .*? \1(?!`)", "", md)


def hostile_results() -> dict:
    res = synth.make(PIPELINES, class_names=CLASSES, title=f"X-rays {TAG} | $\\alpha$", spec="folder:/data/`a`|b",
                     failed=(("resnet50 <b>x</b>", "OSError: cannot open <img src=y onerror=alert(2)> | `x`"),))
    res["dataset"]["source"]["csv"] = "Chest_xray_Corona_Metadata.csv <svg onload=alert(3)>"
    res["dataset"]["problems"] = {"unreadable <i>files</i>": {"count": 2, "examples": ["a|b.jpg", "<x>.png"]}}
    res["split"]["notes"] = ["note with `backticks` and <u>tags</u>"]
    res["command"] = "medbench run --out 'x\n```\n<script>alert(4)</script>\n```'"
    results_mod.validate(res, "hostile")
    return res


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    folder = synth.write(hostile_results(), tmp_path_factory.mktemp("hostile") / "out")
    assert main(["report", str(folder)]) == 0
    return folder


def test_escape_helpers_round_trip_through_markdown():
    for s in HOSTILE:
        shown = s.replace("\n", " ")
        page = Page(html.to_html(f"| x |\n|---|\n| {escape.md(s)} |\n\ntext {escape.md(s)} end"))
        assert_inert(page)
        assert [t for t, _ in page.tags].count("td") == 1, s  # one cell: the name did not split the row
        assert page.text.count(shown) == 2, (s, page.text)
        code = Page(html.to_html(f"see {escape.md_code(s)} here"))
        assert code.text == f"see {shown} here" if shown.strip() else True, (s, code.text)
        block = Page(html.to_html("\n".join(["before", "", *escape.md_fence(s), "", "after"])))
        assert_inert(block)
        assert [t for t, _ in block.tags] == ["p", "pre", "code", "p"], (s, block.tags)


def test_report_shows_hostile_names_literally(report_dir, capsys):
    md = (report_dir / "report.md").read_text()
    bare = outside_code(md)
    assert "<img" not in bare and "<script" not in bare and "<svg" not in bare and "```" not in bare
    assert_tables_intact(md)
    page = Page((report_dir / "report.html").read_text())
    assert_inert(page)
    for name in (*CLASSES, TAG, PIPELINES[0][0], PIPELINES[1][0], "OSError: cannot open <img src=y onerror=alert(2)>",
                 "Chest_xray_Corona_Metadata.csv <svg onload=alert(3)>", "note with `backticks` and <u>tags</u>",
                 "<script>alert(4)</script>", "folder:/data/`a`|b"):
        assert name in page.text, name
    title = next(t for t in page.tags if t[0] == "title")
    assert title is not None and f"X-rays {TAG}" in page.text


def test_figures_draw_maths_lookalike_names(report_dir):
    """A class called ``$\\undefined$`` is drawn as text (matplotlib would read it as maths and fail)."""
    planned = figures.planned(results_mod.load(report_dir))
    assert {"confusion", "class_distribution", "roc"} <= set(planned)
    for spec in planned.values():
        assert (report_dir / "figures" / spec.file).read_bytes().startswith(b"\x89PNG"), spec.file


def test_a_failing_figure_costs_a_warning_not_the_report(tmp_path, capsys, monkeypatch):
    def broken(results, stats):  # fault injection: this figure's drawing fails
        raise RuntimeError("no ink\nleft")
    monkeypatch.setattr(figures, "roc_curves", broken)
    folder = synth.write(synth.make(n=24, n_resamples=20), tmp_path / "out")
    assert main(["report", str(folder)]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["medbench: warning: could not draw figures/roc.png: RuntimeError: no ink left"]
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
    assert (folder / "figures" / "confusion.png").is_file() and not (folder / "figures" / "roc.png").exists()


def test_compare_markdown_keeps_hostile_pipeline_names_inert(tmp_path):
    base = synth.make(PIPELINES, n=40, n_resamples=50)
    weak = synth.make(((PIPELINES[0][0], "classical", 0.5), PIPELINES[1]), n=40, n_resamples=50)
    report = regression.compare(base, weak, tolerances.defaults(), runtime=False, base_label="a `b` <i>",
                                new_label="new | <img src=z onerror=alert(5)>")
    md = compare_render.markdown_report(report)
    bare = outside_code(md)
    assert "<img" not in bare and "<script" not in bare and "<i>" not in bare
    page = Page(html.to_html(md))
    assert_inert(page)
    assert PIPELINES[0][0] in page.text and "new | <img src=z onerror=alert(5)>" in page.text
    assert_tables_intact(md)
    section = md.split("**Regressions**", 1)[1].split("<details>", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| &lt;script")]
    assert len(rows) == len(report["regressions"]) and all(r.count("|") == 9 for r in rows)  # 8 columns
    text = compare_render.text_report(report)
    assert "\x1b" not in text and PIPELINES[0][0] in text


def test_chromium_runs_no_injected_code(report_dir):
    """The DOM headless Chromium builds from report.html (after any script would have run) holds no element
    the report did not write, and shows every hostile name as text."""
    page = Page(browser.dump_dom(report_dir / "report.html"))
    assert_inert(page)
    assert len([t for t, _ in page.tags if t == "img"]) == len(figures.planned(results_mod.load(report_dir)))
    for name in (TAG, PIPELINES[0][0], "<script>alert(4)</script>", CLASSES[1]):
        assert name in page.text, name


def test_hostile_results_round_trip_the_report_byte_for_byte(report_dir, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy2(report_dir / "results.json", again / "results.json")
    assert main(["report", str(again)]) == 0
    assert (again / "report.md").read_bytes() == (report_dir / "report.md").read_bytes()
    assert json.loads((again / "results.json").read_text())["dataset"]["class_names"] == list(CLASSES)
