"""The baselines and suites shipped with medbench: found by name from any directory (the store and
explicit paths first), in the wheel, and through an installed wheel's command line outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from medbench import api
from medbench.cli import main
from medbench.core import packaged
from medbench.core.errors import MedbenchError
from medbench.running import suitefile as suite_mod

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "baselines" / "pneumoniamnist-fast"


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("medbench: error: ") and "Traceback" not in err, err
    return err


def test_the_checkout_ships_what_the_repository_holds():
    assert packaged.baseline_names() == sorted(p.parent.name for p in (ROOT / "baselines").glob("*/results.json"))
    assert "pneumoniamnist-fast" in packaged.baseline_names()
    assert packaged.suite_names() == sorted(p.stem for p in (ROOT / "suites").glob("*.toml"))
    assert packaged.suite("chest-xray") == packaged.suite("chest-xray.toml") == ROOT / "suites" / "chest-xray.toml"
    assert packaged.suite("no-such-suite") is None and packaged.baseline("no-such-baseline") is None


def test_compare_by_name_from_another_directory(tmp_path, monkeypatch, capsys):
    """`medbench compare pneumoniamnist-fast RUN` in a folder with no baselines/ beside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDBENCH_BASELINES", raising=False)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(COMMITTED / "results.json", run / "results.json")
    assert main(["compare", "pneumoniamnist-fast", str(run), "--no-runtime"]) == 0
    out = capsys.readouterr().out
    assert str(COMMITTED) in out and "no regression" in out.lower()
    report = json.loads((run / "compare.json").read_text())
    assert report["exit_status"] == 0 and report["verdict"] == "pass"
    # the shipped tolerances came with it (the baseline's own gate, not the built-in defaults)
    assert api.load_baseline("pneumoniamnist-fast").path == COMMITTED


def test_unknown_names_list_the_known_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDBENCH_BASELINES", raising=False)
    err = _one_line_error(capsys, ["compare", "pneumoniamnist-slow", str(tmp_path)])
    assert "pneumoniamnist-slow" in err and "pneumoniamnist-fast (shipped with medbench)" in err
    err = _one_line_error(capsys, ["baseline", "show", "nope"])
    assert "'nope'" in err and "pneumoniamnist-fast" in err
    err = _one_line_error(capsys, ["suite", "chest-xrays"])
    assert "chest-xrays" in err and "chest-xray, smoke" in err
    # a path that is not a bare name keeps the plain "does not exist"
    err = _one_line_error(capsys, ["compare", str(tmp_path / "gone" / "results.json"), str(tmp_path)])
    assert "does not exist" in err


def test_the_store_and_paths_come_before_the_shipped_baseline(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    shutil.copytree(COMMITTED, store / "pneumoniamnist-fast")
    monkeypatch.setenv("MEDBENCH_BASELINES", str(store))
    assert api.load_baseline("pneumoniamnist-fast").path == store / "pneumoniamnist-fast"
    monkeypatch.delenv("MEDBENCH_BASELINES")
    assert api.load_baseline("pneumoniamnist-fast", store=store).path == store / "pneumoniamnist-fast"
    assert main(["baseline", "list", "--store", str(tmp_path / "empty")]) == 0
    out = capsys.readouterr().out
    assert "no baselines in" in out and "shipped with medbench" in out and "pneumoniamnist-fast" in out
    # a folder in the working directory named like a shipped suite is read as given
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chest-xray").write_text("[suite]\nname = \"mine\"\n[[datasets]]\ndataset = \"pneumoniamnist\"\n")
    assert suite_mod.load("chest-xray").name == "mine"
    (tmp_path / "chest-xray").unlink()
    shipped = suite_mod.load("chest-xray")
    assert shipped.name == "chest-xray" and len(shipped.datasets) == 4
    with pytest.raises(MedbenchError, match="smoke"):
        suite_mod.load("nope.toml")


@pytest.mark.slow
def test_installed_wheel_finds_them_by_name_outside_the_repository(tmp_path):
    """Build the wheel, install it (no dependencies: those of this environment serve) into a folder of its
    own, and run its command line from a folder outside the repository."""
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("medbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("medbench/_baselines/pneumoniamnist-fast/results.json",
                 "medbench/_baselines/pneumoniamnist-fast/tolerances.toml",
                 "medbench/_suites/chest-xray.toml", "medbench/_suites/smoke.toml"):
        assert name in names
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--no-compile",
                           "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    work = tmp_path / "elsewhere"
    run = work / "run"
    run.mkdir(parents=True)
    shutil.copy(site / "medbench/_baselines/pneumoniamnist-fast/results.json", run / "results.json")
    # this installed copy, not the checkout; no coverage in it (its files are not the checkout's, and
    # counting them would lower the suite's coverage figure)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COV_CORE", "COVERAGE_PROCESS")) and k != "MEDBENCH_BASELINES"}
    env["PYTHONPATH"] = str(site)

    def medbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "medbench", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([sys.executable, "-c", "import medbench; print(medbench.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300)
    assert where.stdout.strip() == str(site / "medbench" / "__init__.py"), where.stderr[-2000:]
    proc = medbench("compare", "pneumoniamnist-fast", "run", "--no-runtime")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(site / "medbench" / "_baselines" / "pneumoniamnist-fast") in proc.stdout
    assert json.loads((run / "compare.json").read_text())["verdict"] == "pass"
    proc = medbench("compare", "no-such-baseline", "run")
    assert proc.returncode == 2 and "pneumoniamnist-fast (shipped with medbench)" in proc.stderr
    # the shipped suite by name: read from the installed copy (an unknown pipeline stops it before any work)
    proc = medbench("suite", "chest-xray", "--pipelines", "no-such-pipeline")
    assert proc.returncode == 2 and "unknown pipeline 'no-such-pipeline'" in proc.stderr, proc.stderr[-2000:]
    assert str(site / "medbench" / "_suites" / "chest-xray.toml") in proc.stderr
    assert not (work / "results").exists()
    proc = medbench("suite", "no-such-suite")
    assert proc.returncode == 2 and "chest-xray, smoke" in proc.stderr and len(proc.stderr.splitlines()) == 1
