"""The real ``medbench`` command line, in-process (``medbench.cli.main``) and once as a subprocess, on real
chest_xray images copied into temporary folders."""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from medbench.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("medbench: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_module_help_as_subprocess(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "medbench", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "datasets", "pipelines", "report"):
        assert command in proc.stdout
    assert "MEDBENCH_DATA_DIR" in proc.stdout


def test_datasets_lists_known_datasets(capsys):
    code, out, _ = _run(capsys, "datasets")
    assert code == 0
    for name in ("pneumoniamnist", "folder:PATH", "coronahack:PATH"):
        assert name in out


def test_pipelines_lists_registered_pipelines(capsys):
    from medbench.models import registry

    code, out, _ = _run(capsys, "pipelines")
    assert code == 0
    for name in registry.all_pipelines():
        assert name in out
    assert "classical" in out and "baseline" in out


# ---------------------------------------------------------------- errors: one line, exit 2


def test_unknown_dataset(capsys, tmp_path: Path):
    code, _, err = _run(capsys, "run", "--dataset", "nosuchset", "--pipelines", "majority", "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "unknown dataset", "nosuchset")
    assert not (tmp_path / "o").exists()


def test_missing_folder(capsys, tmp_path: Path):
    code, _, err = _run(capsys, "run", "--dataset", "folder:/does/not/exist", "--pipelines", "majority",
                        "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "/does/not/exist", "does not exist")


def test_empty_class_folder(capsys, make_image_folder, tmp_path: Path):
    root = make_image_folder(5, layout="flat", classes=("NORMAL",))
    (root / "PNEUMONIA").mkdir()
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{root}", "--pipelines", "majority",
                        "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "empty class folder", "PNEUMONIA")


def test_unknown_pipeline_and_bad_option(capsys, tmp_path: Path):
    code, _, err = _run(capsys, "run", "--pipelines", "no-such-pipeline", "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "unknown pipeline", "no-such-pipeline")
    code, _, err = _run(capsys, "run", "--pipelines", "majority", "--option", "oops", "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "--option", "oops")


def test_report_on_missing_results(capsys, tmp_path: Path):
    code, _, err = _run(capsys, "report", tmp_path / "nothing-here")
    _assert_one_line_error(code, err, "does not exist")


@pytest.fixture
def folder_with_corrupt_image(make_image_folder) -> Path:
    root = make_image_folder(20, layout="flat")
    (root / "PNEUMONIA" / "garbage.jpeg").write_bytes(b"this is not a JPEG\x00\xff" * 50)
    return root


def test_corrupt_image_is_an_error(capsys, folder_with_corrupt_image: Path, tmp_path: Path):
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{folder_with_corrupt_image}", "--pipelines",
                        "majority", "--out", tmp_path / "o")
    _assert_one_line_error(code, err, "garbage.jpeg", "--allow-missing")


def test_corrupt_image_with_allow_missing_goes_on(capsys, folder_with_corrupt_image: Path, tmp_path: Path):
    out = tmp_path / "o"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{folder_with_corrupt_image}", "--allow-missing",
                        "--pipelines", "majority", "--out", out)
    assert code == 0, err
    assert "medbench: warning: skipping 1 unreadable image file(s)" in err
    assert "Traceback" not in err
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"]["n_images"] == 40
    unreadable = res["dataset"]["problems"]["unreadable"]
    assert unreadable["count"] == 1 and unreadable["per_label"] == {"PNEUMONIA": 1}
    assert any("garbage.jpeg" in f for f in unreadable["files"])
    report = (out / "report.md").read_text()  # the report says how many were skipped, of which class
    assert "unreadable" in report and "PNEUMONIA: 1" in report


# ---------------------------------------------------------------- end to end


@pytest.fixture
def e2e_folder(make_image_folder) -> Path:
    """80 real chest_xray images, 40 per class, no split folders."""
    return make_image_folder(40, layout="flat", name="xray80")


@pytest.mark.slow
def test_run_end_to_end_manifest_and_report(capsys, e2e_folder: Path, tmp_path: Path):
    out = tmp_path / "results"
    argv = ["run", "--dataset", f"folder:{e2e_folder}", "--pipelines", "majority", "hog-tree",
            "--out", str(out), "--n-jobs", "1"]
    code, stdout, err = _run(capsys, *argv)
    assert code == 0, err
    for name in ("results.json", "metrics.csv", "report.md", "split.json", "jobs"):
        assert (out / name).exists(), name
    assert sorted(p.name for p in (out / "jobs").iterdir()) == ["hog-tree__seed0.json", "majority__seed0.json"]
    assert "hog-tree" in stdout and "majority" in stdout  # the leaderboard

    res = json.loads((out / "results.json").read_text())
    assert res["schema"] == "medbench.results"
    assert [j["status"] for j in res["jobs"]] == ["ok", "ok"]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert sorted(r["pipeline"] for r in rows) == ["hog-tree", "majority"]
    manifest = json.loads((out / "split.json").read_text())
    assert res["split"]["fingerprint"] == manifest["fingerprint"]
    assert res["split"]["method"] == "stratified, group-aware random split"
    assert sum(sum(c.values()) for c in manifest["counts"].values()) == 80
    # the recorded command is the one that was run (it is the report's "Reproduce" section)
    assert res["command"] == "medbench " + shlex.join(argv)
    report = (out / "report.md").read_bytes()
    assert res["command"].encode() in report

    # `medbench report` rebuilds report.md from results.json alone, byte for byte
    (out / "report.md").unlink()
    code, _, err = _run(capsys, "report", out)
    assert code == 0, err
    assert (out / "report.md").read_bytes() == report
    code, _, err = _run(capsys, "report", out / "results.json")
    assert code == 0, err
    assert (out / "report.md").read_bytes() == report

    # the saved split reproduces exactly, whatever the split seed
    out2 = tmp_path / "again"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{e2e_folder}", "--pipelines", "majority",
                        "--split-manifest", out / "split.json", "--split-seed", "7", "--out", out2)
    assert code == 0, err
    res2 = json.loads((out2 / "results.json").read_text())
    assert res2["split"]["fingerprint"] == res["split"]["fingerprint"]
    assert res2["split"]["method"] == "manifest split.json"
    assert res2["split"]["counts"] == res["split"]["counts"]
    # the majority job saw the same split, data and settings: the same test predictions
    maj = {r["pipeline"]: r for r in res["jobs"]}["majority"]
    assert res2["jobs"][0]["predictions"] == maj["predictions"]

    # a different split seed, without the manifest, is a different split
    out3 = tmp_path / "seed7"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{e2e_folder}", "--pipelines", "majority",
                        "--split-seed", "7", "--out", out3)
    assert code == 0, err
    assert json.loads((out3 / "results.json").read_text())["split"]["fingerprint"] != res["split"]["fingerprint"]

    # re-running the first command resumes: both jobs come from OUT/jobs
    code, _, err = _run(capsys, *argv)
    assert code == 0, err
    assert err.count("(cached)") == 2, err
