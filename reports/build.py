"""Write every report artefact of a run from its results dict (used by `run` and `report`):
``report.md``, ``report.html`` and the figures in ``figures/`` (see :mod:`reports.figures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medbench import results as results_mod
from medbench.core.atomic import write_text
from medbench.reports import figures, html, markdown


def write_report(results: dict[str, Any], out_dir: Path) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into ``out_dir``; return report.md's path.

    ``figures/samples.png`` (drawn at run time from the images) is kept when present and not required.
    """
    out_dir = Path(out_dir)
    stats = results_mod.statistics(results)
    figures.write_figures(results, out_dir / "figures", stats)
    text = markdown.render(results, stats, samples=(out_dir / "figures" / figures.SAMPLES).is_file())
    write_text(out_dir / "report.html", html.render(text))
    return write_text(out_dir / "report.md", text)
