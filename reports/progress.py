"""What ``medbench run`` says while its jobs run: one line per finished job with its counter
(``[3/8] hog-xgboost seed 0: accuracy 0.861, ROC-AUC 0.934 (41.2s)``), the same lines appended to the
run's ``medbench.log``, and on a terminal a live progress bar whose elapsed time and ETA keep ticking
while a long job runs (tqdm redraws it once a second from a helper thread).

Jobs reused from an earlier run count as done from the start, so the ETA is measured on the jobs
that really run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from medbench.reports.escape import plain

#: A failed job's line carries the first characters of its error; the whole error ends the run.
ERROR_CHARS = 100
#: Seconds between redraws of the bar while no job finishes.
TICK_S = 1.0


def job_line(rec: dict[str, Any], index: int, total: int) -> str:
    """One finished job, with its place among all the run's jobs: ``[3/8] NAME seed S: ...``."""
    head = f"[{index}/{total}] {plain(rec.get('name', rec['pipeline']))} seed {rec['seed']}"
    if rec["status"] != "ok":  # the whole error is said once, when the run ends (and kept in results.json)
        error = plain(rec["error"])
        return f"{head}: ERROR {error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS - 1] + '…'}"
    m = rec["metrics"]
    auc = "–" if m.get("roc_auc") is None else f"{m['roc_auc']:.3f}"
    if rec.get("cached"):
        src = "cached"
    else:
        why = rec.get("cache_reason")
        src = f"{rec['wall_time_s']:.1f}s" + (f"; recomputed: {why}" if why and why != "not run before" else "")
    return f"{head}: accuracy {m['accuracy']:.3f}, ROC-AUC {auc} ({src})"


class JobProgress:
    """The run's job counter, log lines and live bar (a context manager).

    ``log`` receives each job line (``None``: no terminal output and no bar); ``log_file`` (the run's
    ``medbench.log``) gets the same lines appended; ``cached`` jobs are counted done before the clock
    of the ETA starts."""

    def __init__(self, total: int, *, log: Callable[[str], None] | None, log_file: Path | None = None,
                 cached: int = 0) -> None:
        self.total, self.log, self.log_file = total, log, log_file
        self.done_count = 0
        self._cached_left = cached
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.bar = tqdm(total=total, desc="pipelines", unit="job", disable=None if log else True, file=sys.stderr,
                        initial=0, dynamic_ncols=True)

    def __enter__(self) -> JobProgress:
        if not self.bar.disable:
            self._ticker = threading.Thread(target=self._tick, name="medbench-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2 * TICK_S)
        self.bar.close()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.bar.refresh()
            except Exception:  # noqa: BLE001 - a redraw must never cost the run
                return

    def finished(self, rec: dict[str, Any]) -> str:
        """Count ``rec`` done, say so (terminal and log file) and move the bar; returns the line."""
        self.done_count += 1
        line = job_line(rec, self.done_count, self.total)
        if self.log:
            self.log(line)
        if self.log_file is not None:
            try:
                with open(self.log_file, "a", encoding="utf-8") as fh:
                    fh.write(f"medbench: {line}\n")
            except OSError:
                pass  # the log file is a convenience; the job's record is what counts
        if rec.get("cached") and self._cached_left > 0:
            # reused jobs took no time: count them without teaching the ETA a false rate
            self._cached_left -= 1
            self.bar.n += 1
            self.bar.initial = self.bar.n
            self.bar.last_print_n = self.bar.n
            self.bar.refresh()
        else:
            self.bar.update(1)
        return line
