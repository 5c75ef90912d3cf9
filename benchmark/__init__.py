"""medbench: honest benchmarks of classical computer-vision pipelines against deep models on medical images.

The package's layers, bottom to top (``tox -e lint`` checks them with import-linter):
``medbench.core`` (errors, atomic writes, paths, settings, cache keys) <- ``medbench.features`` <-
``medbench.models`` <- the harness (``datasets``, ``splits``, ``runner``, ``metrics``, ``stats``,
``results``, ``regression``, ...) <- ``medbench.reports`` (rendering only) <- ``medbench.api`` <-
``medbench.cli``.
"""

from medbench.api import Results, compare, load_results, report, run
from medbench.api_suite import report_suite, run_suite
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.running.config import DatasetSpec, RunConfig
from medbench.running.predict import load_model

__all__ = ["DatasetSpec", "MedbenchError", "Results", "RunConfig", "__version__", "compare", "load_model", "load_results", "report",
           "report_suite", "run", "run_suite"]
