"""Write every report artefact of a run from its results dict (used by `run` and `report`):
``report.md``, ``report.html`` and the figures in ``figures/`` (see :mod:`medbench.reports.figures`).
report.html has a table of contents and the error gallery folded (:mod:`medbench.reports.html_layout`).

A figure that cannot be drawn costs only that figure: one warning line on stderr, and the report is
written all the same (its markdown is a pure function of results.json and links every planned figure).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medbench.core.atomic import write_text
from medbench.core.warn import warn
from medbench.reports import figures, gallery, html, markdown, tables

_stderr = warn  # one warning line (medbench.core.warn)


def write_report(results: dict[str, Any], out_dir: Path, warn: Callable[[str], None] = _stderr, *,
                 stats: dict[str, Any] | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into ``out_dir``; return report.md's path.

    ``figures/samples.png`` (drawn at run time from the images) is kept when present and not required.
    Each figure that fails is reported through ``warn`` (one line) and left out. ``stats``: the statistics
    computed by the harness (:func:`medbench.records.results.statistics`); default: the results' stored section.
    """
    out_dir = Path(out_dir)
    stats = tables.stats_of(results, stats)
    _, failures = figures.write_figures(results, out_dir / "figures", stats)
    for failure in failures:
        warn(failure)
    text = markdown.render(results, stats, samples=(out_dir / "figures" / figures.SAMPLES).is_file())
    write_text(out_dir / "report.html", html.render(text, f"medbench report: {results['dataset']['title']}",
                                                    toc=True, folded=gallery.FOLDED))
    return write_text(out_dir / "report.md", text)
