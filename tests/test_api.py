"""The Python API (medbench.run / load_results / report) on real images, and what a run trusts:
job records keyed on code, libraries and options and checked by a body digest, options that are
applied or refused (never ignored), the output-folder lock, and one-line errors for bad values."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

import medbench
from medbench.cli import main
from medbench.core import cachekeys, outdir
from medbench.core.errors import MedbenchError
from medbench.features import cache as feature_cache

PIPES = ["majority", "hog-tree"]


@pytest.fixture
def folder(make_image_folder) -> str:
    return f"folder:{make_image_folder(20, name='api')}"


def _run(spec: str, out: Path, **kw) -> medbench.Results:
    kw.setdefault("pipelines", PIPES)
    return medbench.run(spec, out=out, image_size=32, log=None, bootstrap_resamples=20, **kw)


def _record(out: Path, job: str) -> dict:
    return json.loads((out / "jobs" / f"{job}.json").read_text())


def test_run_load_report_roundtrip(folder, tmp_path):
    res = _run(folder, tmp_path / "out")
    assert [j["pipeline"] for j in res.jobs] == PIPES and not res.failed and res.exit_status == 0
    board = res.leaderboard()
    assert {r["pipeline"] for r in board} == set(PIPES) and board[0]["roc_auc"] >= board[-1]["roc_auc"]
    again = medbench.load_results(tmp_path / "out")
    assert again.data == res.data
    before = (tmp_path / "out" / "report.md").read_bytes()
    path = medbench.report(again)
    assert path.read_bytes() == before  # the report is a pure function of results.json


def test_edited_record_is_recomputed(folder, tmp_path):
    out = tmp_path / "out"
    first = _run(folder, out, pipelines=["majority"])
    true_acc = first.jobs[0]["metrics"]["accuracy"]
    path = out / "jobs" / "majority__seed0.json"
    rec = json.loads(path.read_text())
    rec["metrics"]["accuracy"] = 0.99
    path.write_text(json.dumps(rec))
    second = _run(folder, out, pipelines=["majority"])
    job = second.jobs[0]
    assert job["metrics"]["accuracy"] == true_acc != 0.99
    assert _record(out, "majority__seed0")["metrics"]["accuracy"] == true_acc


def test_intact_record_is_reused_and_says_so(folder, tmp_path):
    out = tmp_path / "out"
    _run(folder, out, pipelines=["majority"])
    finished = _record(out, "majority__seed0")["finished"]
    lines: list[str] = []
    medbench.run(folder, pipelines=["majority"], out=out, image_size=32, log=lines.append, bootstrap_resamples=20)
    assert any("majority seed 0" in line and "(cached)" in line for line in lines), lines
    assert _record(out, "majority__seed0")["finished"] == finished


def test_source_hash_change_forces_job_and_feature_misses(folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(folder, out, pipelines=["hog-tree"])
    real = cachekeys.source_hash
    monkeypatch.setattr(cachekeys, "source_hash", lambda *mods: "edited:" + real(*mods))
    lines: list[str] = []
    feature_cache.reset_stats()
    medbench.run(folder, pipelines=["hog-tree"], out=out, image_size=32, log=lines.append, bootstrap_resamples=20)
    line = next(line for line in lines if "hog-tree seed 0" in line)
    assert "recomputed: medbench source changed" in line, line
    assert _record(out, "hog-tree__seed0")["runtime"]["feature_cache"]["hits"] == 0  # HOG features too


def test_library_version_change_forces_a_miss(folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(folder, out, pipelines=["majority"])
    real = cachekeys.library_versions
    monkeypatch.setattr(cachekeys, "library_versions",
                        lambda names: {**real(names), **({"scikit-learn": "0.0.1"} if "scikit-learn" in names else {})})
    lines: list[str] = []
    medbench.run(folder, pipelines=["majority"], out=out, image_size=32, log=lines.append, bootstrap_resamples=20)
    assert any("libraries changed (scikit-learn" in line for line in lines), lines


def test_option_pins_a_tuned_parameter(folder, tmp_path):
    res = _run(folder, tmp_path / "out", pipelines=["hog-tree"], options=["hog-tree.max_depth=3"])
    job = res.jobs[0]
    assert job["resolved_options"] == {"tree__max_depth": 3}
    assert job["fixed_by_option"] == {"tree__max_depth": 3}
    assert [t["params"] for t in job["tuning"]] == [{}]  # the grid dropped the pinned parameter
    assert job["params"]["tree__max_depth"] == 3


@pytest.mark.parametrize("option, fragment", [
    ("hog-tree.depth=3", "'depth' is not a parameter of this pipeline; valid names: "),
    ("hog-svm.gamma_x=1", "valid names: "),
    ("cnn.bogus=1", "'bogus' is not a parameter"),
    ("nosuch.C=1", "unknown pipeline 'nosuch'"),
])
def test_unknown_options_are_refused_up_front(folder, tmp_path, capsys, option, fragment):
    code = main(["run", "--dataset", folder, "--pipelines", "hog-tree", "hog-svm", "cnn", "--out",
                 str(tmp_path / "out"), "--option", option])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("medbench: error: ") and fragment in err[0], err
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize("args, fragment", [
    (["--seeds", "0", "0"], "--seeds lists 0 more than once"),
    (["--split-seed", "-1"], "split seed -1 is not a whole number"),
    (["--image-size", "0"], "image size 0 is out of range"),
    (["--n-jobs", "0"], "--n-jobs 0"),
    (["--val-fraction", "0.7"], "--val-fraction 0.7"),
])
def test_bad_values_are_one_line_errors(tmp_path, capsys, args, fragment):
    code = main(["run", "--pipelines", "majority", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    code = main(["run", "--pipelines", "majority", "--out", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"--out {target} is a file" in err[0]


def test_second_writer_is_refused(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / outdir.LOCK_NAME), timeout=0):  # another run holds the folder
        code = subprocess.run([sys.executable, "-m", "medbench", "run", "--dataset", folder, "--pipelines",
                               "majority", "--image-size", "32", "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
    assert code.returncode == 2, code.stderr
    assert code.stderr.strip().splitlines()[-1].startswith(f"medbench: error: another medbench run is writing to {out}")
    assert not (out / "jobs").exists()


def test_a_failing_write_is_one_line(folder, tmp_path, monkeypatch, capsys):
    from medbench.core import atomic

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_bytes", full)
    code = main(["run", "--dataset", folder, "--pipelines", "majority", "--image-size", "32",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("medbench: error: cannot write ") and "No space left" in err[-1], err


def test_native_log_lines_go_to_the_log_file(tmp_path):
    log = tmp_path / "medbench.log"
    script = textwrap.dedent(f"""
        import os, sys
        from medbench.core.quiet import native_output_to
        with native_output_to({str(log)!r}):
            os.write(2, b"E0000 00:00 native library noise\\n")
            print("medbench: progress line", file=sys.stderr)
        os.write(2, b"after the block\\n")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "medbench: progress line" in proc.stderr and "after the block" in proc.stderr
    assert "E0000" not in proc.stderr
    assert "E0000 00:00 native library noise" in log.read_text()


def test_cache_info_lists_records_and_staleness(folder, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    _run(folder, out, pipelines=["hog-tree"])
    capsys.readouterr()
    assert main(["cache", "info", str(out)]) == 0
    text = capsys.readouterr().out
    # the job's own row (not the table's "current" column header) says current, and names its inputs
    row = next(line for line in text.splitlines() if "hog-tree__seed0.json" in line)
    assert re.search(r"\bcurrent\b", row) and "stale" not in row and "hog" in row.split("current", 1)[1]
    real = cachekeys.source_hash
    monkeypatch.setattr(cachekeys, "source_hash", lambda *mods: "edited:" + real(*mods))
    assert main(["cache", "info", str(out)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "hog-tree__seed0.json" in line)
    assert "stale: medbench source changed" in row and not re.search(r"\bcurrent\b", row)


def test_medbench_namespace_exposes_the_api():
    assert callable(medbench.run) and callable(medbench.compare) and callable(medbench.report)
    assert medbench.MedbenchError is MedbenchError
    assert os.path.basename(os.path.dirname(medbench.__file__)) in ("benchmark", "medbench")


def test_save_models_then_predict_from_the_command_line(make_image_folder, tmp_path, capsys):
    root = make_image_folder(12, name="save")
    out = tmp_path / "out"
    res = _run(f"folder:{root}", out, pipelines=["hog-tree"], save_models=True)
    job = res.jobs[0]
    folder = out / job["saved_model"]
    assert folder == out / "models" / "hog-tree__seed0" and (folder / "MODEL_CARD.md").is_file()
    assert "hog-tree" in (folder / "MODEL_CARD.md").read_text()
    model = medbench.load_model(folder)
    files = sorted(str(p) for p in (root / "NORMAL").iterdir())[:3]
    capsys.readouterr()
    assert main(["predict", str(folder), *files, "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("path,") and all(r.endswith(",ok") for r in rows[1:])
    assert list(model.predict(files)) == [r.split(",")[-2] for r in rows[1:]]
    # a re-run with --save-models reuses the job only because its saved model matches the key
    lines: list[str] = []
    medbench.run(f"folder:{root}", pipelines=["hog-tree"], out=out, image_size=32, log=lines.append,
                 bootstrap_resamples=20, save_models=True)
    assert any("(cached)" in line for line in lines), lines


def test_rgb_folder_runs_saves_and_predicts_in_colour(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, tint in (("red", (1.0, 0.55, 0.55)), ("blue", (0.55, 0.55, 1.0))):
        (tmp_path / "rgb" / cls).mkdir(parents=True)
        for i in range(16):
            grey = rng.integers(60, 200, size=(24, 24, 1)).astype(float)
            Image.fromarray((grey * np.array(tint)).clip(0, 255).astype(np.uint8)).save(
                tmp_path / "rgb" / cls / f"{cls}{i:02d}.png")
    res = medbench.run(f"folder:{tmp_path / 'rgb'}", pipelines=["hog-tree"], out=tmp_path / "out", image_size=16,
                       log=None, bootstrap_resamples=20, save_models=True)
    assert res["dataset"]["channels"] == "rgb" and not res.failed
    model = medbench.load_model(tmp_path / "out" / res.jobs[0]["saved_model"])
    assert model.channels == 3
    files = sorted(str(p) for p in (tmp_path / "rgb" / "red").iterdir())[:2]
    assert model.predict_proba(files).shape == (2, 2)
    with pytest.raises(MedbenchError, match=r"takes \(N, 16, 16, 3\) uint8 RGB images"):
        model.predict_proba(np.zeros((2, 16, 16), dtype=np.uint8))


def test_atomic_writes_make_ordinary_files(tmp_path):
    import stat

    from medbench.core.atomic import write_json

    mask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600


def test_api_leaderboard_and_report_rank_two_seeds_alike():
    """Issue 25.4: A = (0.90, 0.80) and B = (0.86, 0.86) over two seeds. Ranked by their means (0.85 < 0.86)
    B is first in the API, the report and the CLI; ranking jobs one by one would give A0, B0, B1, A1."""
    import synthetic_results as synth

    from medbench.api import Results
    from medbench.evaluation import section as evaluation
    from medbench.reports import markdown, tables

    res = synth.make(pipelines=(("pipe-a", "classical", 1.0), ("pipe-b", "classical", 1.0)), seeds=(0, 1),
                     n_resamples=None)
    for job in res["jobs"]:
        job["metrics"]["roc_auc"] = {("pipe-a", 0): 0.90, ("pipe-a", 1): 0.80,
                                     ("pipe-b", 0): 0.86, ("pipe-b", 1): 0.86}[(job["pipeline"], job["seed"])]
    data = evaluation.add_statistics(res, n_resamples=20, seed=0)
    api = Results(data)
    board = api.leaderboard()
    assert [r["pipeline"] for r in board] == ["pipe-b", "pipe-a"]
    assert board[1]["roc_auc"] == pytest.approx(0.85) and board[1]["seeds"] == [0, 1]
    assert [(r["pipeline"], r["seed"]) for r in api.jobs_table()] == [
        ("pipe-b", 0), ("pipe-b", 1), ("pipe-a", 0), ("pipe-a", 1)]
    _, rows = tables.leaderboard(data)  # the CLI's and the report's table
    assert [r[1] for r in rows] == ["pipe-b", "pipe-a"]
    text = markdown.render(data)
    board_md = text.split("| pipe-", 1)[1]
    assert board_md.startswith("b") and text.index("| pipe-b") < text.index("| pipe-a")
