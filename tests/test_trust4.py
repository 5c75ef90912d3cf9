"""Trust, round 4 (issue 29): the new blocks (external, robustness) held to the old standard - datasets
that are the same data under another name, blocks recomputed and range-checked, one-class test splits,
case-distinct classes, dropped files recorded, chance-corrected robustness, history duplicates, suite
options for pipelines not run and the workers' native log lines - each on real behaviour."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from medbench import api, api_suite, cli
from medbench.core.errors import MedbenchError
from medbench.evaluation import across as suite_analysis
from medbench.evaluation import section as evaluation
from medbench.records import view
from medbench.reports import robustness as report_robustness
from medbench.running import runner
from medbench.running import suitefile as suite_mod
from medbench.shift import corruptions, robustness
from medbench.stores import history

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
RUN = ["run", "--image-size", "32", "--n-jobs", "1"]


# --- 25. a suite file's options for pipelines the command line leaves out ----------------------------

def test_shipped_suite_with_fewer_pipelines_drops_the_files_options(monkeypatch, shared_datasets: Path):
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(shared_datasets))
    suite = suite_mod.load(SUITES / "chest-xray.toml")
    for ds in suite.datasets:  # as `medbench suite ... --pipelines majority hog-svm sift-svm` does
        ds.pipelines = ["majority", "hog-svm", "sift-svm"]
    dropped = api_suite.drop_idle_options(suite)
    assert dropped == {ds.name: ["hog-xgboost.xgboost__n_jobs"] for ds in suite.datasets}
    for ds in suite.datasets:  # every dataset's run now plans (before: "pipeline 'hog-xgboost' is not in this run")
        specs, _ = api.resolve_options(api_suite.dataset_config(suite, ds, Path("unused")))
        assert [s.name for s in specs] == ["majority", "hog-svm", "sift-svm"]
    full = suite_mod.load(SUITES / "chest-xray.toml")  # the file as written keeps its option
    assert api_suite.drop_idle_options(full) == {}
    assert full.datasets[0].options == {"hog-xgboost": {"xgboost__n_jobs": "1"}}


def test_users_own_option_for_a_pipeline_not_run_is_still_refused(pneumonia_small):
    cfg = api.RunConfig(dataset="pneumoniamnist", pipelines=["majority"], options=["hog-xgboost.xgboost__n_jobs=1"])
    with pytest.raises(MedbenchError, match="pipeline 'hog-xgboost' is not in this run"):
        api.resolve_options(cfg)


def test_suite_run_with_fewer_pipelines_records_the_dropped_option(tmp_path: Path, make_image_folder, capsys):
    small = make_image_folder(20)
    suite = tmp_path / "s.toml"
    suite.write_text(f'[suite]\nname = "t"\npipelines = ["majority", "hog-xgboost"]\nimage_size = 32\n\n'
                     f'[suite.options.hog-xgboost]\nxgboost__n_jobs = 1\n\n'
                     f'[[datasets]]\nname = "small"\ndataset = "folder:{small}"\n', encoding="utf-8")
    assert cli.main(["suite", str(suite), "--pipelines", "majority",
                     "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "small: options for pipelines not in this run dropped: hog-xgboost.xgboost__n_jobs" in err
    doc = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert doc["datasets"][0]["status"] == "ok"
    assert doc["datasets"][0]["dropped_options"] == ["hog-xgboost.xgboost__n_jobs"]


# --- 11. the same stored run twice in the history index ----------------------------------------------

def test_history_index_with_a_duplicated_path_counts_the_run_once(tmp_path: Path):
    from test_history import _history, _version

    for i in range(3):
        assert _history("add", _version(i, tmp_path / "runs"), "--store", tmp_path / "store") == 0
    index_path = tmp_path / "store" / "index.json"
    index = json.loads(index_path.read_text())
    index["entries"] += [dict(index["entries"][0]), dict(index["entries"][1])]  # 3 runs -> 5 entries
    index_path.write_text(json.dumps(index))
    assert len(history.entries(tmp_path / "store")) == 3
    analysis = history.analyse(tmp_path / "store")
    assert [len(s["versions"]) for s in analysis["series"]] == [3]
    assert _history("add", _version(3, tmp_path / "runs"), "--store", tmp_path / "store") == 0
    assert len(json.loads(index_path.read_text())["entries"]) == 4  # rewritten without the duplicates


# --- 8. ROC-AUC kept of a pipeline at or below chance ------------------------------------------------

def _robust_job(pipeline: str, family: str, clean: float, corrupted: float) -> dict:
    rows = [{"severity": s, "metrics": {"roc_auc": corrupted, "accuracy": 0.5}} for s in corruptions.SEVERITIES]
    return {"job_id": f"{pipeline}__seed0", "pipeline": pipeline, "name": pipeline, "family": family, "seed": 0,
            "status": "ok", "robustness": {"seed": 0, "clean": {"roc_auc": clean, "accuracy": 0.5},
                                           "corruptions": {n: rows for n in corruptions.CORRUPTIONS}}}


def test_roc_auc_kept_is_chance_corrected_and_undefined_at_or_below_chance():
    jobs = [_robust_job("below", "classical", 0.436, 0.4935),  # a plain ratio: kept 1.132, "most robust"
            _robust_job("good", "deep", 0.9, 0.8),
            _robust_job("majority", "baseline", 0.5, 0.5)]
    block = robustness.summarize({"jobs": jobs})
    by = {p["pipeline"]: p for p in block["pipelines"]}
    assert by["good"]["mean_kept"] == pytest.approx((0.8 - 0.5) / (0.9 - 0.5))
    assert by["below"]["mean_kept"] is None and by["majority"]["mean_kept"] is None
    assert [p["pipeline"] for p in block["pipelines"]][0] == "good"  # the pipeline with skill ranks first
    assert set(block["families"]) == {"deep"}
    lines = "\n".join(report_robustness.section({"robustness": block}, []))
    assert "(ROC-AUC on the corrupted copy - 0.5) / (ROC-AUC on the clean test split - 0.5)" in lines
    assert "at or below chance" in lines
    row = next(line for line in lines.splitlines() if line.startswith("| below"))
    assert "1.13" not in row and "–" in row


# --- shared: small real folders and one real run with --external and --robustness --------------------

def _copy(src: Path, dst: Path, n: int, *, last: bool = False) -> None:
    files = sorted(src.glob("*.jpeg"))
    files = files[-n:] if last else files[:n]
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dst / f.name)


def _small(root: Path, chest_xray_dir: Path, n: int = 30) -> Path:
    """SMALL: n + n Kermany training images, flat (medbench makes the split)."""
    for cls in ("NORMAL", "PNEUMONIA"):
        _copy(chest_xray_dir / "train" / cls, root / cls, n)
    return root


def _ext(root: Path, chest_xray_dir: Path, n: int = 15) -> Path:
    """EXT: n + n Kermany test images (never training images)."""
    for cls in ("NORMAL", "PNEUMONIA"):
        _copy(chest_xray_dir / "test" / cls, root / cls, n, last=True)
    return root


def _cli(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, err.getvalue()


@pytest.fixture(scope="module")
def shifted(tmp_path_factory, chest_xray_dir: Path) -> Path:
    """OUT of `R --dataset folder:SMALL --external folder:EXT --robustness` (majority, hog-svm)."""
    root = tmp_path_factory.mktemp("shifted")
    small, ext = _small(root / "SMALL", chest_xray_dir), _ext(root / "EXT", chest_xray_dir)
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "hog-svm",
                     "--external", f"folder:{ext}", "--robustness", "--bootstrap-resamples", "200",
                     "--out", root / "out")
    assert code == 0, err
    return root / "out"


def _tamper(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    data = json.loads((dst / "results.json").read_text())
    edit(data)
    (dst / "results.json").write_text(json.dumps(data))
    return dst


# --- 1. the training data given as the external set --------------------------------------------------

def test_the_dataset_itself_as_external_set_is_refused(tmp_path: Path, chest_xray_dir: Path):
    small = _small(tmp_path / "SMALL", chest_xray_dir, 20)
    for ext in (f"folder:{small}", f"folder:{tmp_path}/./SMALL"):  # the same folder, two spellings
        code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external", ext,
                         "--out", tmp_path / "out")
        assert code == 2 and err.count("\n") == 1, err
        assert "it is the run's dataset" in err and "(the same source, folder:" in err
    shutil.copytree(small, tmp_path / "COPY")  # another path, the same files: the same fingerprint
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external",
                     f"folder:{tmp_path / 'COPY'}", "--out", tmp_path / "out")
    assert code == 2 and "(same fingerprint)" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "results.json").exists()


def test_external_set_holding_the_training_images_is_refused(tmp_path: Path, shared_datasets: Path):
    from medbench.datasets import load_dataset

    names = load_dataset("pneumoniamnist").class_names
    with np.load(shared_datasets / "pneumoniamnist.npz") as d:  # tiny.npz: 80 PneumoniaMNIST training images
        x, y = d["train_images"][:80], d["train_labels"][:80].ravel()
    np.savez(tmp_path / "tiny.npz", x=x, y=y, class_names=np.array(names))
    code, err = _cli("run", "--dataset", f"npz:{tmp_path / 'tiny.npz'}", "--pipelines", "majority", "--n-jobs",
                     "1", "--external", "pneumoniamnist", "--out", tmp_path / "out")
    last = err.strip().splitlines()[-1]  # after the plan line: the split says which images are training images
    assert code == 2 and last.startswith("medbench: error: --external pneumoniamnist:"), err
    assert "images the pipelines are fitted or tuned on" in last and "Traceback" not in err


def test_the_same_external_set_under_three_spellings_is_refused(tmp_path: Path, chest_xray_dir: Path):
    small, ext = _small(tmp_path / "SMALL", chest_xray_dir, 20), _ext(tmp_path / "EXT", chest_xray_dir, 5)
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external",
                     f"folder:{ext}", "--external", f"folder:{tmp_path}/SMALL/../EXT", "--out", tmp_path / "out")
    assert code == 2 and "the same source" in err and err.count("\n") == 1, err


# --- 4. a suite listing the same folder twice ---------------------------------------------------------

def test_the_same_folder_at_two_image_sizes_is_one_dataset_in_a_suite(tmp_path: Path):
    import synthetic_results as synth

    runs = []
    for i in range(5):
        res = synth.make(n=60 + 8 * i, n_resamples=200, spec=f"folder:{tmp_path}/set{i}")
        res["dataset"]["fingerprint"] = f"{i:064d}"
        runs.append((f"set{i}", res))
    runs[4][1]["dataset"]["spec"] = f"folder:{tmp_path}/other/../set0"  # set0 again, read at another size
    analysis = suite_analysis.analyse(runs)
    assert analysis["duplicates"] == [{"name": "set4", "same_as": "set0"}]
    assert analysis["shared_data"] == [["set0", "set4"]]
    assert len(analysis["datasets"]) == 4  # four independent datasets, not five
    assert "same fingerprint or source" in suite_analysis.duplicate_note(analysis["duplicates"][0])


# --- 3. range and consistency of the external and robustness blocks ------------------------------------

def _ext_cell(d: dict, pipeline: str = "hog-svm", metric: str = "accuracy") -> dict:
    return next(r for r in d["external"][0]["jobs"] if r["pipeline"] == pipeline)["metrics"][metric]


def _rob(d: dict, pipeline: str = "hog-svm") -> dict:
    return next(p for p in d["robustness"]["pipelines"] if p["pipeline"] == pipeline)


@pytest.mark.parametrize(("name", "edit", "match"), [
    ("ext7", lambda d: _ext_cell(d).update(external=7.0), r"external\[0\]\.jobs\[\d\]\.metrics\.accuracy\.external: 7\.0"),
    ("extci", lambda d: _ext_cell(d).update(external_ci=[9, -3]), r"metrics\.accuracy\.external_ci"),
    ("extforged", lambda d: _ext_cell(d).update(external=0.99), r"accuracy\.external: 0\.99 does not add up"),
    ("drop", lambda d: _ext_cell(d).update(drop=-0.5), r"accuracy\.drop"),
    ("auc7", lambda d: _rob(d)["curves"]["blur"].update(roc_auc=[7.0] * 6), r"curves\.blur\.roc_auc\[\d\]: 7\.0"),
    ("aucneg", lambda d: _rob(d)["clean"].update(roc_auc=-3), r"clean\.roc_auc: -3"),
    ("auc300", lambda d: _rob(d)["curves"]["jpeg"]["roc_auc"].__setitem__(2, 1e300), r"roc_auc\[2\]: 1e\+300"),
    ("kept42", lambda d: _rob(d).update(mean_kept=42), r"mean_kept: 42 does not add up"),
    ("jobauc", lambda d: next(j for j in d["jobs"] if j["pipeline"] == "hog-svm")["robustness"]["clean"].update(
        roc_auc=7.0), r"robustness\.clean\.roc_auc: 7\.0"),
])
def test_impossible_external_and_robustness_blocks_are_refused_by_report(shifted: Path, tmp_path: Path, name, edit,
                                                                         match):
    out = _tamper(shifted, tmp_path / name, edit)
    code, err = _cli("report", out)
    assert code == 2 and err.count("\n") == 1 and err.startswith("medbench: error:"), err
    assert re.search(match, err), err


def test_the_untouched_blocks_load_and_report(shifted: Path, tmp_path: Path):
    out = _tamper(shifted, tmp_path / "same", lambda d: None)
    code, err = _cli("report", out)
    assert code == 0, err
    data = json.loads((out / "results.json").read_text())
    assert data["external"] and data["robustness"]


# --- 2. a re-sealed job record with forged external metrics or threshold -------------------------------

@pytest.mark.parametrize(("edit", "reason"), [
    (lambda r: r["external"][0]["metrics"].update(accuracy=0.99), "external[0]"),
    (lambda r: r["threshold"].update(threshold=0.01), "its test labels are not its probabilities at its threshold"),
])
def test_resealed_job_record_with_forged_blocks_is_recomputed(shifted: Path, tmp_path: Path, edit, reason):
    out = tmp_path / "out"
    shutil.copytree(shifted, out)
    path = out / "jobs" / "hog-svm__seed0.json"
    record = json.loads(path.read_text())
    honest = record["external"][0]["metrics"]["accuracy"]
    edit(record)
    record["body_sha256"] = runner.body_digest(record)  # re-sealed: the digest alone cannot tell
    path.write_text(json.dumps(record))
    spec = json.loads((shifted / "results.json").read_text())["dataset"]["spec"]
    ext = json.loads((shifted / "results.json").read_text())["external"][0]["dataset"]
    code, err = _cli(*RUN, "--dataset", spec, "--pipelines", "majority", "hog-svm", "--external", ext,
                     "--robustness", "--bootstrap-resamples", "200", "--out", out)
    assert code == 0, err
    assert "hog-svm seed 0" in err and "recomputed:" in err and reason in err, err
    data = json.loads((out / "results.json").read_text())
    assert _ext_cell(data)["external"] == pytest.approx(honest)


# --- 5. a test split holding one class ------------------------------------------------------------------

def test_one_class_test_split_is_not_scored_as_complete(tmp_path: Path, chest_xray_dir: Path):
    root = tmp_path / "ONE"
    for cls in ("NORMAL", "PNEUMONIA"):
        _copy(chest_xray_dir / "train" / cls, root / "train" / cls, 30)
    _copy(chest_xray_dir / "test" / "PNEUMONIA", root / "test" / "PNEUMONIA", 20)  # no test/NORMAL
    out = tmp_path / "out"
    argv = [*RUN, "--dataset", f"folder:{root}", "--pipelines", "majority", "hog-svm", "--bootstrap-resamples",
            "200", "--out", out]
    code, err = _cli(*argv)
    assert code == 0, err
    assert "the test split has no NORMAL images" in err and "UserWarning" not in err, err
    data = json.loads((out / "results.json").read_text())
    for job in data["jobs"]:
        assert job["metrics"]["specificity"] is None and job["metrics"]["roc_auc"] is None
        assert job["undefined"]["specificity"] == "undefined: the test split has no NORMAL images"
        assert data["statistics"]["jobs"][job["job_id"]]["metrics_ci"]["specificity"] is None
    md = (out / "report.md").read_text()
    assert "Best pipeline" not in md and "**No best pipeline:** the test split has no NORMAL images" in md
    code, err = _cli(*argv)  # the records add up (undefined metrics recomputed the same way): reused
    assert code == 0 and err.count("(cached)") == 2, err


# --- 6. classes differing only in case --------------------------------------------------------------------

def test_classes_differing_only_in_case_stay_apart(tmp_path: Path, chest_xray_dir: Path):
    k, x = tmp_path / "K", tmp_path / "X"
    for src, dst in (("NORMAL", "A"), ("PNEUMONIA", "a")):
        _copy(chest_xray_dir / "train" / src, k / dst, 25)
        _copy(chest_xray_dir / "test" / src, x / dst, 10, last=True)
    out = tmp_path / "out"
    code, err = _cli(*RUN, "--dataset", f"folder:{k}", "--pipelines", "majority", "--external", f"folder:{x}",
                     "--bootstrap-resamples", "200", "--out", out)
    assert code == 0, err
    block = json.loads((out / "results.json").read_text())["external"][0]
    assert block["mapping"] == {"A": "A", "a": "a"} and block["counts"] == {"A": 10, "a": 10}
    y = tmp_path / "Y"  # other names, mapped: keys are exact where case matters
    shutil.copytree(x / "A", y / "x")
    shutil.copytree(x / "a", y / "X")
    code, err = _cli(*RUN, "--dataset", f"folder:{k}", "--pipelines", "majority", "--external", f"folder:{y}",
                     "--class-map", "x=A", "--class-map", "X=a", "--bootstrap-resamples", "200", "--out", tmp_path / "out2")
    assert code == 0, err
    block = json.loads((tmp_path / "out2" / "results.json").read_text())["external"][0]
    assert block["mapping"] == {"X": "a", "x": "A"} and block["counts"] == {"A": 10, "a": 10}


def test_case_insensitive_class_matching_still_works_where_unambiguous():
    from medbench.shift import external

    assert external.match_classes(["normal", "Pneumonia"], ["NORMAL", "PNEUMONIA"],
                                  external.parse_class_map(["pneumonia=PNEUMONIA"]), "x") == {
        "normal": "NORMAL", "Pneumonia": "PNEUMONIA"}
    with pytest.raises(MedbenchError, match="class 'AX' matches Ax and ax of the dataset but for case"):
        external.match_classes(["AX"], ["Ax", "ax"], {}, "x")


# --- 7. --allow-missing on an external set ----------------------------------------------------------------

def test_files_dropped_from_an_external_set_are_recorded(tmp_path: Path, chest_xray_dir: Path):
    small, ext = _small(tmp_path / "SMALL", chest_xray_dir, 20), _ext(tmp_path / "EXT", chest_xray_dir, 10)
    for i in range(3):  # three unreadable files among the external images
        (ext / "NORMAL" / f"broken{i}.jpeg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "out"
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external", f"folder:{ext}",
                     "--allow-missing", "--bootstrap-resamples", "200", "--out", out)
    assert code == 0, err
    block = json.loads((out / "results.json").read_text())["external"][0]
    assert block["n"] == 20
    (kind, note), = block["problems"].items()
    assert kind == "unreadable" and note["count"] == 3 and note["per_label"] == {"NORMAL": 3}
    assert sorted(f.split(":")[0] for f in note["files"]) == [f"NORMAL/broken{i}.jpeg" for i in range(3)]
    md = (out / "report.md").read_text()
    assert "**Left out (unreadable)**: 3 file(s) of this set are not scored" in md and "NORMAL/broken0.jpeg" in md


# --- 26. native log lines of Dask worker processes ----------------------------------------------------------

NOISE = "E0000 00:00:00.000000 node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool"


def _noisy_worker_preload(path: Path) -> Path:
    """A Dask worker preload (``distributed.worker.preload``) under which every job first writes a line to
    descriptor 2 from outside Python's streams, as TensorFlow's C++ runtime does in a worker process."""
    path.write_text(textwrap.dedent(f"""
        import os
        from medbench.running import runner
        if not getattr(runner.execute, "noisy", False):  # preloaded once per worker
            real = runner.execute
            def noisy(*a, **k):
                os.write(2, {(NOISE + chr(10)).encode()!r})
                return real(*a, **k)
            noisy.noisy = True
            runner.execute = noisy
    """))
    return path


@pytest.mark.slow
def test_native_lines_from_dask_workers_go_to_the_run_log(tmp_path: Path, chest_xray_dir: Path):
    """A suite on processes:1 (its cluster starts before any dataset's medbench.log is open)."""
    import subprocess
    import sys

    small = _small(tmp_path / "SMALL", chest_xray_dir, 15)
    suite = tmp_path / "s.toml"
    suite.write_text(f'[suite]\nname = "t"\npipelines = ["majority"]\nimage_size = 32\nbootstrap_resamples = 20\n\n'
                     f'[[datasets]]\nname = "small"\ndataset = "folder:{small}"\n', encoding="utf-8")
    preload = _noisy_worker_preload(tmp_path / "noisy_preload.py")
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(preload)])}
    proc = subprocess.run([sys.executable, "-m", "medbench", "suite", str(suite), "--scheduler", "processes:1",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "NodeDef mentions" not in proc.stderr, proc.stderr
    assert NOISE in (tmp_path / "out" / "small" / "medbench.log").read_text()


# --- 13. killed in the final statistics phase ---------------------------------------------------------------

def test_run_killed_in_its_final_phase_is_rebuilt_by_report_and_refused_by_history(shifted: Path, tmp_path: Path):
    full = json.loads((shifted / "results.json").read_text())
    assert full["config"]["bootstrap_resamples"] == 200
    # what a kill -9 after the last job leaves: every job written, no statistics and no external / robustness block
    out = _tamper(shifted, tmp_path / "killed", lambda d: [d.pop(k) for k in ("statistics", "external", "robustness")])
    (out / "report.md").unlink()
    from medbench.records import results as results_mod

    data = results_mod.load(out)
    assert evaluation.statistics(data)["settings"]["n_resamples"] == 200  # the run's own, not the default 1,000
    assert "its final phase did not finish (no external or robustness block" in view.incomplete_note(data)
    code, err = _cli("report", out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "## External validation" in md and "## Robustness to shift" in md and "Warning: Incomplete" not in md
    assert md.split("## External validation")[1] == (shifted / "report.md").read_text().split(
        "## External validation")[1]  # the same blocks as the finished run's, byte for byte
    code, err = _cli("history", "add", out, "--store", tmp_path / "store")
    assert code == 2 and "its final phase did not finish" in err and err.count("\n") == 1, err


# --- 10 and 12. caches: status.npz under a digest; `cache info` runs the run's checks -------------------------

def test_cache_info_runs_the_checks_a_run_makes(tmp_path: Path, chest_xray_dir: Path, monkeypatch, capsys):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    small, out = _small(tmp_path / "SMALL", chest_xray_dir, 20), tmp_path / "out"
    argv = [*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "hog-svm",
            "--bootstrap-resamples", "100", "--out", str(out)]
    assert _cli(*argv)[0] == 0

    def info() -> str:
        capsys.readouterr()
        assert cli.main(["cache", "info", str(out)]) == 0
        return capsys.readouterr().out

    def row(text: str, word: str) -> str:
        return next(line for line in text.splitlines() if word in line)

    text = info()
    assert "stale" not in row(text, "hog-svm__seed0.json") and "SHA-256" not in text
    # a job record with a forged number, re-sealed with its body digest
    path = out / "jobs" / "hog-svm__seed0.json"
    record = json.loads(path.read_text())
    record["metrics"]["accuracy"] = 0.99
    record["body_sha256"] = runner.body_digest(record)
    path.write_text(json.dumps(record))
    # a zeroed feature entry (not re-sealed)
    feature = next(p for p in (tmp_path / "cache").glob("*/*.npy") if p.parent.name not in ("images", "prefix"))
    arr = np.load(feature)
    np.save(feature, np.zeros_like(arr))
    # status.npz rewritten: readable images marked failed with attacker-written text, the pixel digest kept
    status = next((tmp_path / "cache" / "images").glob("*.status.npz"))
    with np.load(status) as z:
        kept = dict(z)
    kept["failed"], kept["reasons"] = np.arange(10), np.array(["<script>owned</script>"] * 10)
    np.savez(status, **kept)
    text = info()
    assert "stale: does not add up (accuracy is 0.99" in row(text, "hog-svm__seed0.json")
    assert "do not match their SHA-256" in row(text, f"{feature.parent.name} ")
    assert "do not match their SHA-256" in row(text, "images ")
    shutil.rmtree(tmp_path / "cache" / "prefix")  # else the fitted HOG prefix is reused: the features go unread
    code, err = _cli(*argv)  # the run agrees: it recomputes all three
    assert code == 0 and "<script>" not in err, err
    data = json.loads((out / "results.json").read_text())
    assert data["dataset"]["n_images"] == 40 and "owned" not in json.dumps(data["dataset"])
    text = info()
    assert "stale" not in row(text, "hog-svm__seed0.json") and "SHA-256" not in text


# --- minor: a right-to-left override character in a class name ---------------------------------------------

def test_right_to_left_override_in_a_class_name_does_not_reach_the_report(tmp_path: Path, chest_xray_dir: Path):
    root = tmp_path / "RTL"
    _copy(chest_xray_dir / "train" / "NORMAL", root / "NORMAL\u202egnp.exe", 15)
    _copy(chest_xray_dir / "train" / "PNEUMONIA", root / "PNEUMONIA", 15)
    out = tmp_path / "out"
    code, err = _cli(*RUN, "--dataset", f"folder:{root}", "--pipelines", "majority", "--bootstrap-resamples", "50",
                     "--out", out)
    assert code == 0, err
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "\u202e" not in text, [line for line in text.splitlines() if "\u202e" in line]
        assert "U+202E" in text, name


# --- minor: an external class name holding "=" ----------------------------------------------------------------

def test_an_external_class_name_with_an_equals_sign_can_be_mapped(tmp_path: Path, chest_xray_dir: Path):
    small, x = _small(tmp_path / "SMALL", chest_xray_dir, 20), tmp_path / "X"
    _copy(chest_xray_dir / "test" / "NORMAL", x / "finding=none", 8, last=True)
    _copy(chest_xray_dir / "test" / "PNEUMONIA", x / "finding=pneumonia", 8, last=True)
    out = tmp_path / "out"
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external", f"folder:{x}",
                     "--class-map", "finding=none=NORMAL", "--class-map", "finding=pneumonia=PNEUMONIA",
                     "--bootstrap-resamples", "50", "--out", out)
    assert code == 0, err
    block = json.loads((out / "results.json").read_text())["external"][0]
    assert block["mapping"] == {"finding=none": "NORMAL", "finding=pneumonia": "PNEUMONIA"}
    assert block["counts"] == {"NORMAL": 8, "PNEUMONIA": 8}


# --- minor: a class map naming its external set -----------------------------------------------------------------

def test_two_external_sets_with_different_class_names_share_a_run(tmp_path: Path, chest_xray_dir: Path):
    small, x, y = _small(tmp_path / "SMALL", chest_xray_dir, 20), tmp_path / "X", tmp_path / "Y"
    for src, dx, dy in (("NORMAL", "No_findings", "healthy"), ("PNEUMONIA", "Pneumonia", "sick")):
        _copy(chest_xray_dir / "test" / src, x / dx, 6, last=True)
        _copy(chest_xray_dir / "test" / src, y / dy, 6)
    out = tmp_path / "out"
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external", f"folder:{x}",
                     "--external", f"folder:{y}", "--class-map", f"folder:{x}::No_findings=NORMAL",
                     "--class-map", f"folder:{y}::healthy=NORMAL", "--class-map", f"folder:{y}::sick=PNEUMONIA",
                     "--bootstrap-resamples", "50", "--out", out)
    assert code == 0, err
    blocks = json.loads((out / "results.json").read_text())["external"]
    assert blocks[0]["mapping"] == {"No_findings": "NORMAL", "Pneumonia": "PNEUMONIA"}
    assert blocks[1]["mapping"] == {"healthy": "NORMAL", "sick": "PNEUMONIA"}
    code, err = _cli(*RUN, "--dataset", f"folder:{small}", "--pipelines", "majority", "--external", f"folder:{x}",
                     "--class-map", "folder:elsewhere::No_findings=NORMAL", "--out", tmp_path / "out2")
    assert code == 2 and "'folder:elsewhere' is not one of this run's external sets" in err, err
