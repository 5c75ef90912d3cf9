"""The report's figures show every label as rendered text: the trade-off chart's log-axis tick labels
read ``10⁻²`` (not matplotlib's raw ``$\\mathdefault{10^{-2}}$``), while a data string that looks like
maths is still drawn as typed. Checked on an SVG export (text kept as text) of the real drawing code."""

from __future__ import annotations

import io
import re
from html import unescape

import synthetic_results as synth

from medbench.evaluation import section as evaluation
from medbench.reports import figures, tables
from medbench.reports.ticks import unmath

HOSTILE = "hog-$x^2$"


def _svg_texts(fig) -> list[str]:
    import matplotlib

    buf = io.StringIO()
    with figures.plain_text(), matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    return [unescape(t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", buf.getvalue(), flags=re.S)]


def _results() -> dict:
    res = synth.make(pipelines=(("hog-svm", "classical", 2.0), ("cnn", "deep", 1.2), (HOSTILE, "classical", 1.0),
                                ("majority", "baseline", 0.0)), n_resamples=None)
    # latencies over four decades, as a real run has them (majority ~µs, a CNN ~ms)
    for job, latency in zip(res["jobs"], (0.04, 3.0, 0.3, 0.002)):
        job["runtime"]["latency_ms_per_image"] = latency
    return evaluation.add_statistics(res, n_resamples=50, seed=0)


def test_tradeoff_log_ticks_are_rendered_text():
    res = _results()
    stats = tables.stats_of(res, None)
    with figures.plain_text():
        fig = figures.tradeoff(res, stats)
    texts = _svg_texts(fig)
    joined = "\n".join(texts)
    assert "mathdefault" not in joined and "\\times" not in joined, joined
    decades = [t for t in texts if re.fullmatch(r"10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", t.strip())]
    assert {"10⁻³", "10⁻²", "10⁻¹", "10⁰"} <= {t.strip() for t in decades}, texts
    assert HOSTILE in joined  # the data string is still drawn as typed, not as maths


def test_written_png_comes_from_the_same_formatter(tmp_path):
    res = _results()
    written, failures = figures.write_figures(res, tmp_path)
    assert not failures
    assert (tmp_path / "tradeoff.png").read_bytes().startswith(b"\x89PNG")


def test_unmath_converts_matplotlib_labels():
    assert unmath(r"$\mathdefault{10^{-2}}$") == "10⁻²"
    assert unmath(r"$\mathdefault{2\times10^{3}}$") == "2×10³"
    assert unmath(r"$\mathdefault{1}$") == "1"
    assert unmath("plain $ text") == "plain $ text"
