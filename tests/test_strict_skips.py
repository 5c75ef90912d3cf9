"""CI's rule on skips (tests/strict_skips.py), run in a real pytest session in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import strict_skips

HERE = Path(__file__).parent


def _session(tmp_path: Path, allowed: str, strict: bool) -> subprocess.CompletedProcess:
    shutil.copy(HERE / "strict_skips.py", tmp_path / "strict_skips.py")
    (tmp_path / "allowed_skips.txt").write_text(allowed, encoding="utf-8")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["strict_skips"]\n', encoding="utf-8")
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_runs():\n    assert True\n"
        "def test_no_browser():\n    pytest.skip('Chromium is not installed')\n"
        "@pytest.mark.xfail(reason='known')\ndef test_known():\n    assert False\n", encoding="utf-8")
    env = {**os.environ, "MEDBENCH_STRICT_SKIPS": "1" if strict else "0"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_an_unlisted_skip_fails_the_session(tmp_path):
    proc = _session(tmp_path, "# nothing allowed\n", strict=True)
    assert proc.returncode == 1, proc.stdout
    assert "1 test(s) skipped without being listed" in proc.stdout
    assert "test_x.py::test_no_browser: Skipped: Chromium is not installed" in proc.stdout


def test_a_listed_skip_and_an_xfail_pass(tmp_path):
    proc = _session(tmp_path, "test_x.py::test_no_* | Chromium is not installed\n", strict=True)
    assert proc.returncode == 0, proc.stdout


def test_without_the_variable_skips_are_only_reported(tmp_path):
    assert _session(tmp_path, "", strict=False).returncode == 0


def test_the_reason_must_match_too():
    rules = [("tests/test_report.py::*", "Chromium is not installed")]
    assert strict_skips.is_allowed("tests/test_report.py::test_html", "Skipped: Chromium is not installed", rules)
    assert not strict_skips.is_allowed("tests/test_report.py::test_html", "Skipped: real data not found", rules)
    assert not strict_skips.is_allowed("tests/test_api.py::test_x", "Skipped: Chromium is not installed", rules)
