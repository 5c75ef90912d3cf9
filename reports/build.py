"""Write every report artefact of a run from its results dict (used by `run` and `report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.atomic import write_text
from reports import markdown


def write_report(results: dict[str, Any], out_dir: Path) -> Path:
    """Write ``report.md`` into ``out_dir`` and return its path."""
    return write_text(Path(out_dir) / "report.md", markdown.render(results))
