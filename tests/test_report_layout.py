"""The report page's layout: a table of contents whose links all land on a heading, the error gallery
folded (``<details>`` closed) and without the majority floor, the reliability diagram's legend naming
every mark; checked in the HTML and in headless Chromium (DOM and a screenshot kept in the test's folder).

One small real run (a few chest X-rays, 16 px; majority + HOG tree, so the gallery has pictures)."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import browser
import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.reports import calibration, figures, html, tables

#: Where the screenshots are kept for a person (or CI's artefact upload) to look at; default the test's tmp folder.
ARTEFACTS_ENV = "MEDBENCH_TEST_ARTEFACTS"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.toc_links: list[str] = []
        self.h2: list[tuple[str | None, str]] = []
        self.details: list[dict[str, str | None]] = []
        self._in_nav = self._in_h2 = False
        self._h2_id: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "nav" and a.get("class") == "toc":
            self._in_nav = True
        if tag == "a" and self._in_nav:
            self.toc_links.append(a["href"])
        if tag == "h2":
            self._in_h2, self._h2_id = True, a.get("id")
            self.h2.append((a.get("id"), ""))
        if tag == "details":
            self.details.append(a)

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] = (self._h2_id, self.h2[-1][1] + data)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, chest_xray_dir) -> Path:
    root = tmp_path_factory.mktemp("layout")
    for cls in ("NORMAL", "PNEUMONIA"):
        (root / "xray" / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "train" / cls).iterdir())[:12]:
            shutil.copy2(f, root / "xray" / cls / f.name)
    out = root / "out"
    assert main(["run", "--dataset", f"folder:{root / 'xray'}", "--pipelines", "majority", "hog-tree",
                 "--image-size", "16", "--n-jobs", "1", "--bootstrap-resamples", "30", "--out", str(out)]) == 0
    return out


def test_table_of_contents_links_every_section(report_dir):
    page = _Page()
    page.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    assert len(page.h2) >= 8 and all(i for i, _ in page.h2), page.h2
    assert page.toc_links == [f"#{i}" for i, _ in page.h2]
    assert all(link[1:] in page.ids for link in page.toc_links)
    assert "summary" in page.ids and "most-confident-mistakes-test-split" in page.ids


def test_gallery_is_folded_and_leaves_out_the_majority_floor(report_dir):
    text = (report_dir / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.details == [{"class": "folded"}]  # closed: no "open" attribute
    section = text.split('id="most-confident-mistakes-test-split"', 1)[1].split("<h2", 1)[0]
    assert section.index("<details") < section.index("<img") and "hog-tree (seed 0)" in section
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    gallery = md.split("## Most confident mistakes (test split)", 1)[1].split("\n## ", 1)[0]
    assert "### majority" not in gallery and "### hog-tree" in gallery and "Not shown: majority" in gallery


def test_page_in_chromium_has_contents_and_a_closed_gallery(report_dir, tmp_path):
    dom = browser.run(report_dir / "report.html", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.search(r'<nav [^>]*class="toc"[^>]*>.*?href="#summary"', dom.stdout, flags=re.S)
    assert re.search(r'<details class="folded">\s*<summary>', dom.stdout) and "<details open" not in dom.stdout
    folder = Path(os.environ.get(ARTEFACTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "report_layout.png"
    proc = browser.run(report_dir / "report.html", f"--screenshot={shot}", "--window-size=1280,1400",
                       "--hide-scrollbars")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(str(shot))[..., :3]
    assert img.shape[:2] == (1400, 1280) and (img.mean(axis=2) < 0.3).mean() > 0.005  # text was drawn


def test_reliability_legend_names_every_mark():
    res = synth.make(n_resamples=60)
    fig = calibration.reliability_diagram(res, tables.stats_of(res, None))
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert sorted(label.split(":")[0] for label in labels) == ["dark bars", "dashed line", "light bars"], labels
    assert not any(ax.get_legend() for ax in fig.axes)  # below the panels, covering no bar


def test_html_without_layout_is_unchanged():
    md_text = "# T\n\nheader\n\n## A b\n\ntext\n\n## C\n\nmore\n"
    assert "<nav" not in html.render(md_text) and 'id="a-b"' not in html.render(md_text)
    laid = html.render(md_text, toc=True, folded={"c": "open me"})
    assert '<a href="#a-b">A b</a>' in laid and '<details class="folded"><summary>open me</summary>' in laid


def test_roc_legend_names_the_diagonal_and_the_operating_points():
    res = synth.make(n_resamples=60)
    with figures.plain_text():
        fig = figures.roc_curves(res, tables.stats_of(res, None))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "chance (dotted diagonal)" in labels and "operating point (threshold chosen on validation)" in labels
    assert sum("AUC" in label for label in labels) == 3  # one per pipeline
