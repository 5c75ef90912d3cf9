"""Trust, round 4 (issue 29), the file inputs: every file medbench reads goes through one reader (regular
files only, size-capped), the npz memory guard counts every copy, bounded bootstrap resamples, long and
non-UTF-8 path names, one output-path helper, consistent results.json blocks, schema-checked job records,
``--scheduler`` / ``--seeds`` checked up front, stale cache temp files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
from data_paths import pneumonia_arrays
from test_trust3 import (
    _bomb,
    majority_model,  # noqa: F401, F811 - a fixture: a saved majority model
)

from medbench import cli
from medbench.core import readfile
from medbench.core.errors import MedbenchError
from medbench.datasets import npz as npz_mod

LONG = "a" * 300


def _one_line(capsys, argv: list[str]) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("medbench: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@pytest.fixture
def small_npz(shared_datasets: Path, tmp_path: Path) -> Path:
    """Real PneumoniaMNIST images, 80 train / 20 val / 30 test, as an npz with the official split."""
    arrays = pneumonia_arrays(shared_datasets, {"train": 80, "val": 20, "test": 30})
    path = tmp_path / "small.npz"
    np.savez(path, **{f"{s}_{k}": v for s, (x, y) in arrays.items() for k, v in (("images", x), ("labels", y))})
    return path


def _medbench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``medbench ARGS`` in a child process (a hang is a test failure after ``timeout``, not a stuck suite)."""
    return subprocess.run([sys.executable, "-m", "medbench", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _assert_one_line(proc: subprocess.CompletedProcess, *words: str) -> None:
    err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode == 2 and err.startswith("medbench: error: ") and "Traceback" not in proc.stderr, \
        proc.stderr
    for w in words:
        assert w in err, err


# --- 15. one reader: regular files only, size-capped --------------------------------------------

@pytest.mark.parametrize("argv", [
    ["report", "{x}"],
    ["compare", "{x}", "{x}"],
    ["suite", "{x}"],
    ["history", "add", "{x}", "--store", "{tmp}/store"],
    ["run", "--dataset", "npz:{npz}", "--pipelines", "majority", "--split-manifest", "{x}", "--out", "{tmp}/o"],
    ["compare", "{npzrun}", "{npzrun}", "--tolerances", "{x}"],
])
@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "folder"])
def test_non_regular_input_files_are_refused_without_blocking(tmp_path: Path, small_npz: Path, argv, what):
    x = {"fifo": lambda: _fifo(tmp_path / "in.json"), "/dev/zero": lambda: Path("/dev/zero"),
         "folder": lambda: (tmp_path / "d").mkdir() or tmp_path / "d"}[what]()
    run = tmp_path / "run"
    run.mkdir()
    if "{npzrun}" in argv:
        import synthetic_results as synth
        synth.write(synth.make(n_resamples=None), run)
    if what == "folder" and argv[0] in ("report", "compare", "history") and argv[-1] != "{x}":
        x = x  # a folder is a results folder there: its missing results.json is the error
    args = [a.format(x=x, tmp=tmp_path, npz=small_npz, npzrun=run) for a in argv]
    proc = _medbench(*args, timeout=90)
    _assert_one_line(proc)
    kind = {"fifo": "a FIFO (named pipe)", "/dev/zero": "a character device", "folder": "folder"}[what]
    assert kind in proc.stderr or "does not exist" in proc.stderr, proc.stderr


def test_fifo_job_record_is_refused_by_run_and_cache_info(tmp_path: Path, small_npz: Path):
    out = tmp_path / "out"
    _fifo(out / "jobs" / "majority__seed0.json")
    run = ["run", "--dataset", f"npz:{small_npz}", "--pipelines", "majority", "--n-jobs", "1",
           "--bootstrap-resamples", "10", "--out", str(out)]
    _assert_one_line(_medbench(*run), "majority__seed0.json is a FIFO (named pipe), not a job record")
    _assert_one_line(_medbench("cache", "info", str(out)), "majority__seed0.json is a FIFO")


def test_reader_caps_each_kind_of_file(tmp_path: Path):
    big = tmp_path / "suite.toml"
    big.write_bytes(b"#" * (readfile.CAPS["settings"] + 1))
    with pytest.raises(MedbenchError, match=r"suite\.toml is 4,194,305 bytes, more than a suite file may be"):
        readfile.read_text(big, "suite file")
    proc_file = Path("/proc/version")  # a regular file whose size reads as 0: read to its end, capped
    if proc_file.is_file():
        assert readfile.read_text(proc_file, "text file").startswith("Linux")


# --- 16. the npz memory guard counts every copy -------------------------------------------------

def _declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An npz whose x.npy declares ``shape`` (uint8) but holds a few bytes (test_trust3's bomb, as a path)."""
    return Path(_bomb(path, shape).removeprefix("npz:"))


def test_npz_guard_counts_the_copies_loading_makes(tmp_path: Path, capsys):
    # declared at 60% of the memory available: the array alone fits, the array and its copy do not
    n = int(psutil.virtual_memory().available * 0.6) // (64 * 64)
    path = _declaring(tmp_path / "half.npz", (n, 64, 64))
    assert path.stat().st_size < 200_000  # a small file declaring most of the memory there is
    err = _one_line(capsys, ["run", "--dataset", f"npz:{path}", "--pipelines", "majority",
                             "--out", str(tmp_path / "o")])
    assert "with the copies loading makes" in err and "refusing to decompress it" in err
    # the estimate, array by array: uint8 images cost themselves + one copy, float images + a uint8 copy too
    assert npz_mod.peak_bytes("x", (10, 8, 8), np.dtype(np.uint8)) == 2 * 640
    assert npz_mod.peak_bytes("x", (10, 8, 8), np.dtype(np.float64)) == 8 * 640 + 2 * 640
    assert npz_mod.peak_bytes("x", (10, 8, 8, 3), np.dtype(np.uint8)) == 2 * 1920
    assert npz_mod.peak_bytes("y", (10,), np.dtype(np.uint8)) == 10 + 80


# --- 17. bounded bootstrap resamples; 23. --scheduler; 24. --seeds: checked before any work ----------

@pytest.mark.parametrize(("extra", "words"), [
    (["--bootstrap-resamples", "100000000"], "--bootstrap-resamples 100000000 must be from 1 to 100,000"),
    (["--seeds", "4294967296"], "--seeds 4294967296: a seed must be a whole number from 0 to 4294967295"),
    (["--scheduler", "tcp://[::1"], "tcp://[::1: an IPv6 address goes in brackets"),
    (["--scheduler", "tcp://[::zz]:8786"], "[::zz] is not an IPv6 address"),
    (["--scheduler", "processes:²"], "N must be a number of worker processes from 1 to 256"),
    (["--scheduler", "processes:١٢"], "N must be a number of worker processes from 1 to 256"),
    (["--scheduler", "tcp://host:¹²"], "port '¹²' must be a number from 1 to 65535"),
    (["--scheduler", "tcp://:8786"], "give the scheduler's host before the port, e.g. tcp://127.0.0.1:8786"),
    (["--scheduler", "tcp://::1:8786"], "an IPv6 address goes in brackets, e.g. tcp://[::1]:8786"),
    (["--scheduler", "tcp://h\u00e9:8786"], "host 'h\u00e9' must be a name or IP address"),
])
def test_run_numbers_and_addresses_are_checked_before_any_work(tmp_path: Path, monkeypatch, capsys, extra, words):
    monkeypatch.chdir(tmp_path)
    err = _one_line(capsys, ["run", "--dataset", "pneumoniamnist", "--pipelines", "majority", *extra,
                             "--out", str(tmp_path / "o")])
    assert words in err
    assert list(tmp_path.iterdir()) == []  # refused before any data was read or anything written


def test_good_scheduler_addresses_still_parse():
    from medbench.running.config import Scheduler
    for text in ("tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tls://scheduler.example-1.org:1", "processes:2"):
        assert Scheduler.parse(text).text == text


def test_suite_bootstrap_resamples_is_bounded(tmp_path: Path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\npipelines = ["majority"]\nbootstrap_resamples = 100000000\n\n'
                     '[[datasets]]\ndataset = "pneumoniamnist"\n')
    err = _one_line(capsys, ["suite", str(suite), "--out", str(tmp_path / "o")])
    assert "bootstrap_resamples" in err and "100000000" in err


# --- 18. a path with a name over 255 characters: one line, wherever it is given ----------------------

@pytest.mark.parametrize("argv", [
    ["run", "--dataset", "folder:{long}", "--pipelines", "majority", "--out", "{tmp}/o"],
    ["run", "--dataset", "npz:{long}.npz", "--pipelines", "majority", "--out", "{tmp}/o"],
    ["run", "--dataset", "npz:{npz}", "--external", "folder:{long}", "--pipelines", "majority", "--out", "{tmp}/o"],
    ["report", "{long}"],
    ["predict", "{long}", "{tmp}"],
    ["predict", "{model}", "{long}"],
    ["history", "add", "{long}", "--store", "{tmp}/store"],
    ["history", "add", "{tmp}/run", "--store", "{long}"],
    ["compare", "{long}", "{long}"],
    ["baseline", "update", "{long}", "--store", "{tmp}/b"],
])
def test_a_name_over_255_characters_is_one_line(tmp_path: Path, small_npz: Path, majority_model: Path, capsys,  # noqa: F811
                                                argv):
    long = tmp_path / LONG
    err = _one_line(capsys, [a.format(long=long, tmp=tmp_path, npz=small_npz, model=majority_model) for a in argv])
    assert "File name too long" in err and len(err) < 400


# --- 20. one output-path helper for every output ------------------------------------------------------

@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    import synthetic_results as synth
    return synth.write(synth.make(n_resamples=None), tmp_path / "a"), synth.write(synth.make(n_resamples=None),
                                                                                  tmp_path / "b")


@pytest.mark.parametrize(("argv", "words"), [
    (["compare", "{a}", "{b}", "--json", "{tmp}"], "--json {tmp} is a folder: give a file for compare.json"),
    (["compare", "{a}", "{b}", "--markdown", "{tmp}"], "--markdown {tmp} is a folder: give a file"),
    (["compare", "{a}", "{b}", "--json", "/proc/version"], "cannot write --json /proc/version"),
    (["compare", "{a}", "{b}", "--json", "/dev/null"], "--json /dev/null is not a regular file"),
    (["compare", "{a}", "{b}", "--json", "{a}/results.json/x.json"], "results.json is a file, not a folder"),
    (["compare", "{a}", "{b}", "--json", "{tmp}/" + "j" * 250], "the file name is too long (250 characters)"),
    (["history", "report", "--store", "{tmp}/store", "--out", "{a}/results.json"], "--out {a}/results.json is a "
                                                                                    "file, not a folder"),
    (["history", "add", "{a}", "--store", "{a}/results.json"], "--store {a}/results.json is a file, not a folder"),
    (["baseline", "update", "{a}", "--store", "{a}/results.json"], "--store {a}/results.json is a file, not a folder"),
    (["baseline", "update", "{a}", "--store", "{a}/results.json/sub"], "results.json is a file, not a folder"),
])
def test_output_paths_are_one_line_errors(tmp_path: Path, two_runs, capsys, argv, words):
    a, b = two_runs
    fmt = {"a": a, "b": b, "tmp": tmp_path}
    before = sorted(p.name for p in a.iterdir())
    err = _one_line(capsys, [x.format(**fmt) for x in argv])
    assert words.format(**fmt) in err
    assert sorted(p.name for p in a.iterdir()) == before  # nothing written beside the inputs either


# --- 19. and 14. file names that are not UTF-8 --------------------------------------------------------

def _rename_not_utf8(folder: Path) -> str:
    """Rename the first image of ``folder`` to ``bad<0xff>.jpeg`` (bytes no UTF-8 decoder accepts)."""
    first = sorted(os.listdir(os.fsencode(folder)))[0]
    os.rename(os.path.join(os.fsencode(folder), first), os.path.join(os.fsencode(folder), b"bad\xff.jpeg"))
    return "bad\\xff.jpeg"


def test_a_file_name_that_is_not_utf8_is_named_in_one_line(make_image_folder, small_npz: Path, tmp_path: Path,
                                                            capsys):
    data = make_image_folder(12, name="data")
    shown = _rename_not_utf8(data / "NORMAL")
    run = ["--pipelines", "majority", "--image-size", "32", "--n-jobs", "1", "--bootstrap-resamples", "10"]
    err = _one_line(capsys, ["run", "--dataset", f"folder:{data}", *run, "--out", str(tmp_path / "o1")])
    assert f"NORMAL/{shown} (its file name is not valid UTF-8; rename it" in err and "--allow-missing" in err
    err = _one_line(capsys, ["run", "--dataset", f"npz:{small_npz}", "--external", f"folder:{data}", *run,
                             "--out", str(tmp_path / "o2")])
    assert f"NORMAL/{shown}" in err
    # --allow-missing skips it, says so, and the run completes with the file listed as unreadable
    assert cli.main(["run", "--dataset", f"folder:{data}", "--allow-missing", *run, "--out", str(tmp_path / "o3")]) == 0
    assert "1 unreadable image file" in capsys.readouterr().err
    results = json.loads((tmp_path / "o3" / "results.json").read_text())
    assert results["dataset"]["n_images"] == 23
    listed = results["dataset"]["problems"]["unreadable"]["files"]
    assert listed == [f"NORMAL/{shown}: its file name is not valid UTF-8; rename it (e.g. convmv -f latin1 -t utf8 "
                      "-r --notest FOLDER)"]


def test_predict_writes_its_csv_with_a_name_that_is_not_utf8(majority_model: Path, make_image_folder,  # noqa: F811
                                                            tmp_path: Path, capsys):
    images = make_image_folder(3, name="images")
    shown = _rename_not_utf8(images / "NORMAL")
    out = tmp_path / "p.csv"
    assert cli.main(["predict", str(majority_model), str(images), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert f"NORMAL/{shown}," in text and len(text.splitlines()) == 1 + 6


# --- 21. results.json blocks that match the schema but contradict themselves --------------------------

@pytest.fixture(scope="module")
def shifted_run(tmp_path_factory, shared_datasets: Path, chest_xray_dir: Path) -> dict:
    """A real run with an external block (30 + 30 Kermany images) and a robustness block."""
    tmp = tmp_path_factory.mktemp("shifted")
    arrays = pneumonia_arrays(shared_datasets, {"train": 80, "val": 20, "test": 30})
    npz = tmp / "small.npz"
    np.savez(npz, **{f"{s}_{k}": v for s, (x, y) in arrays.items() for k, v in (("images", x), ("labels", y))})
    ext = tmp / "ext"
    for cls in ("NORMAL", "PNEUMONIA"):
        (ext / cls).mkdir(parents=True)
        for f in sorted((chest_xray_dir / "test" / cls).glob("*.jpeg"))[:30]:
            (ext / cls / f.name).write_bytes(f.read_bytes())
    out = tmp / "out"
    assert cli.main(["run", "--dataset", f"npz:{npz}", "--external", f"folder:{ext}", "--class-map", "NORMAL=0",
                     "--class-map", "PNEUMONIA=1", "--robustness", "--pipelines", "majority", "hog-svm",
                     "--n-jobs", "1", "--image-size", "32", "--bootstrap-resamples", "20", "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())


def _edit_external_order(r):
    r["external"][0]["external_order"].append("resnet50")


def _empty_external_jobs(r):
    r["external"][0]["jobs"] = []


def _drop_curve(r):
    del r["robustness"]["pipelines"][0]["curves"]["blur"]


def _stray_robustness_pipeline(r):
    r["robustness"]["pipelines"][0]["pipeline"] = "cnn"


@pytest.mark.slow
@pytest.mark.parametrize(("edit", "words"), [
    (_edit_external_order, "external[0].external_order[2]: 'resnet50' is not a pipeline of this block's jobs"),
    (_empty_external_jobs, "external[0].jobs: is empty"),
    (_drop_curve, "robustness.pipelines[0].curves: has no curve for corruption 'blur'"),
    (_stray_robustness_pipeline, "robustness.pipelines[0].pipeline: 'cnn' is not a pipeline with a successful job"),
])
def test_inconsistent_blocks_are_one_line_in_report(shifted_run: dict, tmp_path: Path, capsys, edit, words):
    res = json.loads(json.dumps(shifted_run))
    edit(res)
    (tmp_path / "results.json").write_text(json.dumps(res))
    assert words in _one_line(capsys, ["report", str(tmp_path)])


@pytest.mark.slow
def test_any_deletion_in_the_blocks_is_refused_or_rendered(shifted_run: dict):
    """Hypothesis: delete or empty any list / object inside ``external`` or ``robustness``, or add a stray
    name to any list of names: the file is either refused in one line or its sections render."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from medbench.records import results as results_mod
    from medbench.reports import external as external_report
    from medbench.reports import robustness as robustness_report

    def containers(node, path=()):
        if isinstance(node, dict | list):
            yield path
            for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
                yield from containers(v, (*path, k))

    sites = [("external", *p) for p in containers(shifted_run["external"])] + \
            [("robustness", *p) for p in containers(shifted_run["robustness"])]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sites), st.sampled_from(["empty", "delete-first", "add-name"]))
    def check(site, action):
        res = json.loads(json.dumps(shifted_run))
        node = res
        for k in site:
            node = node[k]
        if action == "empty":
            node.clear()
        elif action == "delete-first" and node:
            del node[next(iter(node)) if isinstance(node, dict) else 0]
        elif action == "add-name":
            node.append("stray") if isinstance(node, list) else node.setdefault("stray", next(iter(node.values()),
                                                                                              None))
        try:
            results_mod.validate(res, "r.json")
        except MedbenchError as exc:
            assert "\n" not in str(exc)
            return
        external_report.section(res)
        robustness_report.section(res, [])

    check()


# --- 22. job records and cache sidecars checked against their schema before they are read ------------

def test_a_record_with_a_changed_key_and_odd_key_inputs_is_recomputed(small_npz: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    run = ["run", "--dataset", f"npz:{small_npz}", "--pipelines", "majority", "--n-jobs", "1",
           "--bootstrap-resamples", "10", "--out", str(out)]
    assert cli.main(run) == 0
    path = out / "jobs" / "majority__seed0.json"
    record = json.loads(path.read_text())
    record["key"] = "0" * 64
    record["key_inputs"]["libraries"] = ["numpy"]  # not an object: cachekeys.explain would call .get on it
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert cli.main(["cache", "info", str(out)]) == 0
    assert "does not match" not in capsys.readouterr().err
    assert cli.main(run) == 0
    again = json.loads((out / "results.json").read_text())["jobs"][0]
    assert again["status"] == "ok" and json.loads(path.read_text())["key"] != "0" * 64  # recomputed, rewritten


def test_cache_info_survives_hostile_sidecars_and_key_inputs(tmp_path: Path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(cache))
    (cache / "hog").mkdir(parents=True)
    (cache / "hog" / "a.json").write_text(json.dumps({"kind": "hog", "code": "x", "libraries": [1], "params": 5}))
    (cache / "hog" / "b.json").write_text("[" * 50_000 + "]" * 50_000)
    (cache / "hog" / "c.json").write_text(json.dumps({"code": {"modules": [["medbench"]]}}))
    _fifo(cache / "hog" / "d.json")
    jobs = tmp_path / "out" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "x__seed0.json").write_text(json.dumps({"status": "ok", "key_inputs": {"code": 1, "libraries": "a"}}))
    deep = '{"code": ' * 5000 + "{}" + "}" * 5000  # deeper than Python's recursion limit
    (jobs / "y__seed0.json").write_text('{"status": "ok", "key_inputs": ' + deep + "}")
    proc = _medbench("cache", "info", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "x__seed0.json" in proc.stdout and "y__seed0.json" in proc.stdout
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if "__seed0.json" in line}
    assert " damaged " in rows["x__seed0.json"] and " unreadable " in rows["y__seed0.json"], rows
    assert all("will be recomputed" in row for row in rows.values()), rows
    assert "(damaged or edited)" in proc.stdout  # the sidecars with odd key inputs are stale, and say why


def test_staleness_of_any_key_inputs_is_a_sentence():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from medbench.stores import cacheinfo

    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner,
                                                                                            max_size=3), max_leaves=8)
    parts = st.fixed_dictionaries({}, optional={k: json_values for k in ("kind", "code", "libraries", "params")})

    @settings(max_examples=200, deadline=None)
    @given(parts)
    def check(inputs):
        state = cacheinfo.staleness(inputs)
        assert isinstance(state, str) and "\n" not in state

    check()


# --- minor: temporary files a killed decode leaves in the cache -----------------------------------------

@pytest.mark.slow
def test_stale_cache_temporaries_are_listed_and_swept(make_image_folder, tmp_path: Path, monkeypatch):
    from medbench.core import tempfiles
    from medbench.datasets import images as images_mod

    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(cache))
    folder = cache / images_mod.CACHE_NAMESPACE
    folder.mkdir(parents=True)
    old = os.path.getmtime(folder) - 2 * tempfiles.STALE_AFTER_S
    stale = folder / ".0123abcd-32px.npy.k1ll3d.tmp"  # what kill -9 during decoding leaves
    busy = folder / ".4567ef01-32px.npy.l1v3.tmp"     # a decode still running in another process
    fresh = folder / ".89ab2345-32px.npy.n3w.tmp"     # a write that has only just begun
    for p in (stale, busy, fresh):
        p.write_bytes(b"\0" * 1024)
    for p in (stale, busy):
        os.utime(p, (old, old))
    with tempfiles.held(busy):
        info = _medbench("cache", "info", timeout=60)
        assert info.returncode == 0, info.stderr
        assert "1 temporary file(s) left by an interrupted write" in info.stdout and stale.name in info.stdout
        assert busy.name not in info.stdout and fresh.name not in info.stdout
        data = make_image_folder(12, name="data")
        run = _medbench("run", "--dataset", f"folder:{data}", "--pipelines", "majority", "--image-size", "32",
                        "--n-jobs", "1", "--bootstrap-resamples", "10", "--out", str(tmp_path / "o"))
        assert run.returncode == 0, run.stderr
    assert not stale.exists() and busy.exists() and fresh.exists()  # the next write swept the stale one only
    after = _medbench("cache", "info", timeout=60).stdout  # the busy one's writer let go: now it is stale
    assert "1 temporary file(s)" in after and busy.name in after and stale.name not in after


# --- minor: `medbench report` respects OUT's lock -------------------------------------------------------

def test_report_is_refused_while_a_run_holds_the_folder(tmp_path: Path, capsys):
    import synthetic_results as synth

    from medbench.core import outdir
    run = synth.write(synth.make(n_resamples=None), tmp_path / "run")
    with outdir.lock(run):
        err = _one_line(capsys, ["report", str(run)])
    assert f"another medbench run is writing to {run}" in err and not (run / "report.md").exists()
    assert cli.main(["report", str(run)]) == 0 and (run / "report.md").exists()


# --- minor: a model folder holds exactly the files its manifest lists ------------------------------------

@pytest.mark.parametrize(("plant", "words"), [
    (lambda m: _fifo(m / "steps" / "extra.pipe"), "steps/extra.pipe is a FIFO, socket or device that manifest.json"),
    (lambda m: (m / "notes.txt").write_text("hi"), "notes.txt is a file that manifest.json does not list"),
    (lambda m: (m / "spare").mkdir(), "spare is a folder that manifest.json does not list"),
    (lambda m: (m / "x.json").symlink_to(m / "model.json"), "x.json is a symbolic link"),
])
def test_unlisted_entries_in_a_model_folder_are_refused(majority_model: Path, chest_xray_dir: Path,  # noqa: F811
                                                        capsys, plant, words):
    image = str(next(iter(sorted((chest_xray_dir / "train" / "NORMAL").glob("*.jpeg")))))
    assert cli.main(["predict", str(majority_model), image]) == 0
    capsys.readouterr()
    plant(majority_model)
    assert words in _one_line(capsys, ["predict", str(majority_model), image])


def test_a_fifo_among_a_folders_images_is_unreadable_not_a_hang(make_image_folder, tmp_path: Path):
    data = make_image_folder(12, name="data")
    _fifo(data / "NORMAL" / "pipe.jpeg")
    proc = _medbench("run", "--dataset", f"folder:{data}", "--pipelines", "majority", "--image-size", "32",
                     "--n-jobs", "1", "--out", str(tmp_path / "o"), timeout=120)
    _assert_one_line(proc, "NORMAL/pipe.jpeg", "not a regular file (a FIFO, device or folder)")
