"""One import package, layered imports, and the plugin example: what `pip install .` gives a user."""

from __future__ import annotations

import ast
import csv
import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("benchmark", "features", "models", "reports")


def _function_level_medbench_imports(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                found += [f"{path.relative_to(root)}:{node.lineno} imports {n}" for n in names
                          if n == "medbench" or n.startswith("medbench.")]
    return found


def test_no_medbench_import_inside_a_function():
    """Layers are real only if nothing hides an upward import (a cycle) inside a function."""
    offenders = [hit for d in SOURCE_DIRS for p in sorted((ROOT / d).rglob("*.py"))
                 for hit in _function_level_medbench_imports(p)]
    assert offenders == []


def test_the_ast_check_finds_a_hidden_import(tmp_path):
    probe = tmp_path / "benchmark" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("import medbench.core\n\ndef f():\n    from medbench import runner\n    return runner\n")
    assert _function_level_medbench_imports(probe, tmp_path) == ["benchmark/probe.py:4 imports medbench"]


@pytest.mark.slow
def test_wheel_holds_only_the_medbench_package(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("medbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"medbench"}
    for sub in ("medbench/features/hog.py", "medbench/models/registry.py", "medbench/reports/build.py",
                "medbench/core/cachekeys.py", "medbench/cli.py"):
        assert sub in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "medbench = medbench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _plugin_installed() -> bool:
    return any(ep.name == "hist-logreg" for ep in importlib.metadata.entry_points(group="medbench.pipelines"))


@pytest.mark.slow
def test_example_plugin_end_to_end(make_image_folder, tmp_path):
    """examples/plugin (installed by tox) adds `hist-logreg`: listed, run and reported like any pipeline."""
    assert _plugin_installed(), "install the example plugin: pip install -e examples/plugin (tox does this)"
    listing = subprocess.run([sys.executable, "-m", "medbench", "pipelines"], capture_output=True, text=True,
                             timeout=300)
    assert listing.returncode == 0 and "hist-logreg" in listing.stdout
    assert "plugin: medbench_example_plugin" in listing.stdout
    root = make_image_folder(15, name="plugin")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "medbench", "run", "--dataset", f"folder:{root}", "--image-size",
                           "32", "--pipelines", "hist-logreg", "majority", "--out", str(out),
                           "--bootstrap-resamples", "20", "--save-models"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (out / "report.md").read_text()
    assert "hist-logreg" in report
    record = (out / "jobs" / "hist-logreg__seed0.json").read_text()
    assert '"status": "ok"' in record and "medbench_example_plugin" in record  # its code is in the job key
    # its step classes declare their storage: saved, and loaded back by `medbench predict` in a new process
    model = out / "models" / "hist-logreg__seed0"
    steps = json.loads((model / "model.json").read_text())["steps"]
    assert [(s["class"], s["codec"]) for s in steps] == [
        ("medbench_example_plugin.IntensityHistogram", "skops"), ("sklearn.preprocessing._data.StandardScaler", "skops"),
        ("sklearn.linear_model._logistic.LogisticRegression", "skops")]
    images = sorted((root / "NORMAL").iterdir())[:2] + sorted((root / "PNEUMONIA").iterdir())[:2]
    pred = subprocess.run([sys.executable, "-m", "medbench", "predict", str(model), *map(str, images),
                           "--out", str(tmp_path / "pred.csv")], capture_output=True, text=True, timeout=300)
    assert pred.returncode == 0, pred.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "pred.csv").open()))
    assert len(rows) == 4 and all(r["status"] == "ok" and r["label"] in ("NORMAL", "PNEUMONIA") for r in rows), rows
    assert all(abs(float(r["p_NORMAL"]) + float(r["p_PNEUMONIA"]) - 1) < 1e-5 for r in rows)
