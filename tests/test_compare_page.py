"""`medbench compare --html FILE`: a web page leading with the verdict and the causes, with the history
report's figure (one panel per metric, BASE #1 and NEW #2 with CIs, the regression marked), rendered in
headless Chromium with its figure loaded; data strings stay text."""

from __future__ import annotations

import json

import browser
import synthetic_results as synth

from medbench.cli import main
from medbench.records import results as results_mod
from medbench.reports import compare_page

WEAK = (("hog-svm", "classical", 0.6), ("cnn", "deep", 1.2), ("majority", "baseline", 0.0))


def test_compare_writes_an_html_page_with_the_history_figure(tmp_path, capsys):
    base = synth.write(synth.make(), tmp_path / "base")
    weak = synth.make(WEAK)
    synth.find(weak, "hog-svm")["options"] = {"C": "<b>0.001</b>"}
    new = synth.write(weak, tmp_path / "new")
    page = tmp_path / "pages" / "compare.html"
    page.parent.mkdir()
    assert main(["compare", str(base), str(new), "--no-runtime", "--html", str(page)]) == 1
    assert str(page) in capsys.readouterr().err
    figure = tmp_path / "pages" / "compare-figures" / "compare.png"
    assert figure.read_bytes().startswith(b"\x89PNG")
    text = page.read_text(encoding="utf-8")
    heads = [h for h in ("Causes", "Regressions", "Metrics, BASE (#1) and NEW (#2)", "Environment") if h in text]
    assert heads == ["Causes", "Regressions", "Metrics, BASE (#1) and NEW (#2)", "Environment"]
    assert text.index("options differ") < text.index('<h2 id="regressions"')  # the cause before the effect
    assert "<b>0.001</b>" not in text and "&lt;b&gt;0.001&lt;/b&gt;" in text
    dom = browser.dump_dom(page)
    assert dom.count("<img ") == 1 and 'src="compare-figures/compare.png"' in dom


def test_the_figure_marks_the_regression(tmp_path):
    from medbench.evaluation import gate as regression
    from medbench.evaluation import tolerances

    report = regression.compare(synth.make(), results_mod.load(synth.write(synth.make(WEAK), tmp_path / "n")),
                                tolerances.defaults(), runtime=False)
    series = compare_page.as_series(json.loads(json.dumps(report)))
    auc = next(t for t in series["tracks"] if t["pipeline"] == "hog-svm" and t["metric"] == "roc_auc")
    assert auc["values"][1] < auc["values"][0] and auc["change_points"][0]["direction"] == "worse"
    assert all(not t["change_points"] for t in series["tracks"] if t["pipeline"] == "majority")
