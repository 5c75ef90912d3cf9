"""CI's rule on skipped tests: a skip nobody listed is a failure.

A test that skips because Chromium, the shared data, Dask or Keras is missing passes silently on a
machine that lacks them, so a green CI could hide a test that never ran. With ``MEDBENCH_STRICT_SKIPS=1``
(``.ci/run`` sets it) every skip must match a line of ``allowed_skips.txt`` beside this file
(``<node id glob> | <words the skip reason contains>``); any other skip, printed with its reason,
turns the session's exit status into a failure. Without the variable skips are reported as usual.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest

ALLOWED_FILE = Path(__file__).with_name("allowed_skips.txt")
ENV = "MEDBENCH_STRICT_SKIPS"


def allowed_rules(path: Path = ALLOWED_FILE) -> list[tuple[str, str]]:
    """``(node id glob, reason substring)`` pairs from the allowed-skips file (comments and blanks ignored)."""
    rules = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "|" not in line:
            raise pytest.UsageError(f"{path}:{n}: expected '<node id glob> | <reason words>', got {line!r}")
        glob, reason = (part.strip() for part in line.split("|", 1))
        rules.append((glob, reason))
    return rules


def is_allowed(nodeid: str, reason: str, rules: list[tuple[str, str]]) -> bool:
    return any(fnmatch.fnmatchcase(nodeid, glob) and words in reason for glob, words in rules)


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _strict(config) -> bool:
    return os.environ.get(ENV, "").strip() not in ("", "0") and not hasattr(config, "workerinput")


class SkipRecorder:
    """Collects every skip (test or collection) the session reports, from xdist workers too."""

    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []

    def _record(self, report) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append((report.nodeid, _reason(report)))

    def pytest_runtest_logreport(self, report) -> None:
        self._record(report)

    def pytest_collectreport(self, report) -> None:
        self._record(report)


def pytest_configure(config) -> None:
    config._medbench_skips = SkipRecorder()
    config.pluginmanager.register(config._medbench_skips, "medbench-skip-recorder")


def pytest_sessionfinish(session, exitstatus) -> None:
    config = session.config
    if not _strict(config):
        return
    rules = allowed_rules()
    bad = [(nodeid, reason) for nodeid, reason in config._medbench_skips.skips
           if not is_allowed(nodeid, reason, rules)]
    if not bad:
        return
    tr = config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(bad)} test(s) skipped without being listed in {ALLOWED_FILE.name} ({ENV}=1):",
             *(f"  {nodeid}: {reason}" for nodeid, reason in bad)]
    if tr is not None:
        tr.write_line("")
        for line in lines:
            tr.write_line(line, red=True)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
