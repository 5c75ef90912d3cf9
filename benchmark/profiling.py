"""Runtime measurement: wall-clock timers, a peak-RSS sampler, and the machine/library description."""

from __future__ import annotations

import os
import platform
import threading
import time
from contextlib import contextmanager
from typing import Any

import psutil

from medbench.core import cachekeys, settings

LIBRARIES = ("medbench", "numpy", "scikit-learn", "scikit-image", "opencv-python-headless", "opencv-python",
             "xgboost", "tensorflow", "tensorflow-cpu", "keras", "jax", "torch")


@contextmanager
def timer(into: dict[str, float], key: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - t0


class PeakMemory:
    """Samples this process's resident set size every ``interval`` s; ``peak_mb`` after the block.
    (Child worker processes used for feature extraction are included.)"""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Machine and library versions recorded in every result."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "keras_backend": settings.keras_backend(),
        "libraries": cachekeys.library_versions(LIBRARIES),
    }
