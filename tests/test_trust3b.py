"""Trust, round 3 (issue 17), the remaining items: figures whose bootstrap interval excludes its estimate,
duplicate datasets in a suite, one-line errors for saved models and suite files, SIGINT during a fit,
and generated input files fed to their readers."""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import synthetic_results as synth
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler
from test_predict import fit_like_runner

from medbench import api_suite, cli
from medbench.core.errors import MedbenchError
from medbench.datasets import images as images_mod
from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.splits import Split
from medbench.evaluation import across as suite_analysis
from medbench.evaluation import protocol
from medbench.models import persist
from medbench.reports import figures, markdown
from medbench.reports import suite as suite_report
from medbench.running import runner
from medbench.running import suitefile as suite_mod
from medbench.running.predict import load_model, save_job_model

# --- 1. a bootstrap interval that excludes its own estimate --------------------------------------


def _excluding() -> dict:
    """Synthetic results whose hog-svm ROC-AUC interval lies wholly above the estimate (as on a 48-image
    folder: 0.285 [0.292, 0.552])."""
    res = synth.make()
    job = synth.find(res, "hog-svm")
    job["metrics"]["roc_auc"] = 0.285
    res["statistics"]["jobs"]["hog-svm__seed0"]["metrics_ci"]["roc_auc"] = [0.292, 0.552]
    return res


def test_figures_are_drawn_when_an_interval_excludes_its_estimate(tmp_path: Path):
    res = _excluding()
    written, failures = figures.write_figures(res, tmp_path / "figures", res["statistics"])
    assert failures == []
    names = {p.name for p in written}
    assert {"tradeoff.png", "leaderboard.png"} <= names
    assert all((tmp_path / "figures" / n).stat().st_size > 1000 for n in names)


def test_report_says_when_an_interval_excludes_its_estimate():
    text = markdown.render(_excluding())
    assert "bootstrap interval excludes its own estimate" in text
    assert "hog-svm (seed 0) roc\\_auc 0.285 outside [0.292, 0.552]" in text or \
        "hog-svm (seed 0) roc_auc 0.285 outside [0.292, 0.552]" in text
    assert "too few test images" in text
    assert "excludes its own estimate" not in markdown.render(synth.make())


# --- 2. the same data under several names in a suite -------------------------------------------------

TWO = (("hog-svm", "classical", 2.0), ("cnn", "deep", 1.2))


def _copies(k: int) -> list[tuple[str, dict]]:
    one = synth.make(pipelines=TWO, n_resamples=50)
    return [(f"copy{i}", copy.deepcopy(one)) for i in range(k)]


def test_a_suite_of_one_dataset_under_six_names_finds_no_difference(tmp_path: Path):
    """Six copies of one dataset gave 'Wilcoxon ... p = 0.031 (a difference)': the copies are left out
    before any test across datasets, with a warning."""
    runs = _copies(6)
    a = suite_analysis.analyse(runs)
    assert [d["name"] for d in a["datasets"]] == ["copy0"]
    assert [d["name"] for d in a["duplicates"]] == [f"copy{i}" for i in range(1, 6)]
    assert a["omnibus"]["n_datasets"] == 1 and a["omnibus"]["status"] == "too_few_datasets"
    assert a["classical_vs_deep"]["across"]["status"] == "too_few_datasets"
    assert not any("a difference" in line or "p = 0.031" in line for line in a["verdict"])
    assert any("not independent; only copy0 is analysed" in line for line in a["verdict"])
    s = suite_mod.Suite(name="dups", title="Dups", file="s.toml", datasets=[])
    lines: list[str] = []
    doc = api_suite._write(s, runs, {}, [], tmp_path, log=lines.append)
    assert [ln for ln in lines if "copy3 is the same data as copy0" in ln and ln.startswith("medbench: warning:")]
    md = (tmp_path / "suite.md").read_text(encoding="utf-8")
    assert "copy5: left out." in md and "p = 0.031" not in md
    assert json.loads((tmp_path / "suite.json").read_text())["analysis"]["duplicates"] == doc["analysis"]["duplicates"]
    assert suite_report.render(doc)


# --- 3. one-line errors: swapped steps, suite integers; saved folders' permissions ----------------------

@pytest.fixture
def majority_model(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path) -> Path:
    job = runner.Job("majority")
    spec, fitted, threshold = fit_like_runner(pneumonia_small, pneumonia_small_split, job)
    return save_job_model(tmp_path / "out", fitted, pneumonia_small, pneumonia_small_split, job, threshold,
                          family=spec.family)


def _reseal(folder: Path) -> None:
    manifest = json.loads((folder / persist.MANIFEST).read_text())
    listed = {name: folder / name for name in manifest["files"]}
    (folder / persist.MANIFEST).write_text(json.dumps(persist._manifest(listed, manifest["medbench_version"])))


def _swap_last_step(folder: Path, step) -> None:
    """Replace the saved classifier by ``step`` (a type skops trusts by default), model.json naming it."""
    meta = json.loads((folder / persist.DESCRIPTION).read_text())
    desc = meta["steps"][-1]
    (folder / desc["file"]).write_bytes(sio.dumps(step))
    desc["class"] = persist.qualified_name(step)
    (folder / persist.DESCRIPTION).write_text(json.dumps(meta))
    _reseal(folder)


@pytest.mark.parametrize("make", [
    lambda: MinMaxScaler().fit(np.random.default_rng(0).random((20, 64))),  # a transformer where the classifier was
    lambda: LogisticRegression().fit(np.random.default_rng(0).random((20, 10)), np.arange(20) % 2),  # other features
])
def test_a_saved_step_swapped_for_another_trusted_type_is_one_line(majority_model: Path, tmp_path: Path,
                                                                   pneumonia_small: Dataset, make, capsys):
    _swap_last_step(majority_model, make())
    with pytest.raises(MedbenchError, match=r"its steps do not work together \((ValueError|AttributeError): ") as err:
        load_model(majority_model)
    assert "\n" not in str(err.value) and "a step was replaced" in str(err.value)
    image = tmp_path / "x.png"
    Image.fromarray(pneumonia_small.images[0]).save(image)
    assert cli.main(["predict", str(majority_model), str(image)]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("medbench: error: ") and "Traceback" not in err_text


def test_saved_model_folders_follow_the_umask(pneumonia_small: Dataset, pneumonia_small_split: Split,
                                              tmp_path: Path):
    job = runner.Job("majority")
    spec, fitted, threshold = fit_like_runner(pneumonia_small, pneumonia_small_split, job)
    old = os.umask(0o022)
    try:
        folder = save_job_model(tmp_path / "out", fitted, pneumonia_small, pneumonia_small_split, job, threshold,
                                family=spec.family)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / persist.DESCRIPTION).stat().st_mode) == 0o644
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o755 for p in folder.rglob("*") if p.is_dir())


SUITE = """[suite]
name = "ints"
{head}
[[datasets]]
name = "a"
dataset = "pneumoniamnist"
{entry}
"""


@pytest.mark.parametrize(("head", "entry", "match"), [
    ("", "image_size = 32.0", r"datasets\[0\]\.image_size: must be an integer \(write 32, not 32\.0\)"),
    ("image_size = 64.0", "", r"suite\.image_size: must be an integer \(write 64, not 64\.0\)"),
    ("", "split_seed = 1.0", r"datasets\[0\]\.split_seed: must be an integer"),
    ("bootstrap_resamples = 100.0", "", r"suite\.bootstrap_resamples: must be an integer"),
    ("seeds = [0, 1.0]", "", r"suite\.seeds\[1\]: must be an integer"),
])
def test_suite_whole_numbers_written_as_floats_are_one_line(tmp_path: Path, head, entry, match):
    path = tmp_path / "s.toml"
    path.write_text(SUITE.format(head=head, entry=entry))
    with pytest.raises(MedbenchError, match=match) as err:
        suite_mod.load(path)
    assert "out of range" not in str(err.value) and "\n" not in str(err.value)


def test_a_float_image_size_is_not_called_out_of_range():
    with pytest.raises(MedbenchError, match=r"image size 32\.0 must be a whole number of pixels") as err:
        images_mod.check_image_size(32.0)
    assert "out of range" not in str(err.value)


# --- 4. Ctrl-C during a fit --------------------------------------------------------------------------

def _tiny_npz(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.integers(0, 256, (60, 16, 16), dtype=np.uint8), y=np.arange(60) % 2)
    return f"npz:{path}"


def test_a_sigint_the_fit_swallows_still_stops_the_run(tmp_path: Path, monkeypatch, capsys):
    """XGBoost's ctypes callbacks can swallow the KeyboardInterrupt of a Ctrl-C (the job then ends, or
    fails with the library's own error); the run still stops after that job, exits 130 and names the
    jobs left, and the interrupted job is not recorded."""
    real = runner.execute

    def swallowing(ds, split, planned, n_jobs=-1):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the signal arrives while "native code" runs ...
        except KeyboardInterrupt:
            pass  # ... which drops it, as a ctypes callback does
        return real(ds, split, planned, n_jobs)

    monkeypatch.setattr(runner, "execute", swallowing)
    out = tmp_path / "out"
    # Python's own Ctrl-C handler, as in any medbench process: an earlier test in the same xdist worker can
    # leave another one installed, and the run then rightly leaves SIGINT alone
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = cli.main(["run", "--dataset", _tiny_npz(tmp_path), "--pipelines", "majority", "--seeds", "0", "1",
                         "--bootstrap-resamples", "20", "--out", str(out)])
        restored = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, original)
    err = capsys.readouterr().err
    assert code == 130, err
    assert "interrupted; 2 jobs not finished: majority__seed0, majority__seed1" in err
    assert not (out / "jobs" / "majority__seed0.json").exists()
    assert restored is signal.default_int_handler  # the handler is put back


@pytest.mark.slow
def test_ctrl_c_during_an_xgboost_fit_exits_130_and_names_the_jobs_left(tmp_path: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from medbench.cli import main; sys.exit(main(sys.argv[1:]))",
           "run", "--dataset", "pneumoniamnist", "--pipelines", "hog-xgboost", "--seeds", "0", "1",
           "--option", "hog-xgboost.xgboost__n_jobs=1", "--bootstrap-resamples", "20", "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "o" / "split.json"
    deadline = time.monotonic() + 120
    while not log.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(4)  # past the HOG features, into the first fit
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err[-2000:]
    assert "medbench: interrupted;" in err and "hog-xgboost__seed1" in err
    assert "Traceback" not in err


# --- 5. generated files fed to their readers: a one-line error or a correct result ---------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**20) | st.floats(allow_nan=True)
                    | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=8)
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _one_line(exc: MedbenchError) -> None:
    event("one-line error")
    assert str(exc) and "\n" not in str(exc) and "Traceback" not in str(exc)


@st.composite
def npz_arrays(draw) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 14))
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.bool_]))
    shape = draw(st.sampled_from([(n, 8, 8), (n, 9, 7), (n, 8, 8, 3), (n, 8, 8, 1), (n, 8), (n,), (n, 8, 8, 4)]))
    arrays = {"x": draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(np.dtype(dtype), allow_nan=True)))}
    if draw(st.booleans()) or n == 0:
        ydtype = draw(st.sampled_from([np.int64, np.uint8, np.float64, np.int8]))
        arrays["y"] = draw(hnp.arrays(ydtype, draw(st.sampled_from([(n,), (n, 1), (max(n - 1, 0),)])),
                                      elements=st.integers(-1, 3) if ydtype != np.uint8 else st.integers(0, 3)))
    else:
        arrays["y"] = np.arange(n) % draw(st.integers(1, 3))
    if draw(st.booleans()):
        arrays["class_names"] = np.array(draw(st.lists(st.text(max_size=4), max_size=4)), dtype=str)
    if draw(st.booleans()):
        arrays.pop(draw(st.sampled_from(sorted(arrays))))
    return arrays


@FEW
@given(arrays=npz_arrays())
def test_generated_npz_files_load_correctly_or_fail_in_one_line(tmp_path: Path, arrays):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    np.savez(folder / "d.npz", **arrays)
    try:
        ds = load_dataset(f"npz:{folder / 'd.npz'}")
    except MedbenchError as exc:
        _one_line(exc)
        return
    event("loaded")
    assert ds.images.dtype == np.uint8 and len(ds.images) == len(ds.labels) == len(arrays["y"]) > 0
    assert ds.labels.min() >= 0 and ds.labels.max() < len(ds.class_names)
    assert set(range(len(ds.class_names))) == set(ds.labels.tolist())


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


SCALAR = (st.booleans() | st.integers(-5, 10**19) | st.floats(allow_nan=True) | st.text(max_size=10)
          | st.sampled_from(["pneumoniamnist", "${MEDBENCH_DATA_DIR}/x.npz", "${HOME}", "all", "roc_auc"]))
VALUE = SCALAR | st.lists(SCALAR, max_size=3) | st.dictionaries(st.sampled_from(["hog-svm", "a"]),
                                                                  st.dictionaries(st.text(max_size=5), SCALAR,
                                                                                  max_size=2), max_size=2)
SUITE_KEYS = st.sampled_from(["name", "title", "note", "pipelines", "seeds", "image_size", "options", "split_seed",
                              "channels", "bootstrap_resamples", "dataset", "task", "allow_missing", "metric",
                              "alpha", "other"])


@st.composite
def suite_texts(draw) -> str:
    tables = []
    for header in draw(st.lists(st.sampled_from(["[suite]", "[analysis]", "[[datasets]]", "[other]"]),
                                max_size=4)):
        body = draw(st.dictionaries(SUITE_KEYS, VALUE, max_size=4))
        tables.append("\n".join([header, *(f"{k} = {_toml_value(v)}" for k, v in body.items())]))
    text = "\n\n".join(tables) + "\n"
    if draw(st.booleans()):  # damage it
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=3)) + text[at:]
    return text


@FEW
@given(text=suite_texts())
def test_generated_suite_files_load_correctly_or_fail_in_one_line(tmp_path: Path, text: str):
    try:
        suite = suite_mod.loads(text, tmp_path / "s.toml")
    except MedbenchError as exc:
        _one_line(exc)
        return
    event("loaded")
    assert suite.datasets and 0 < suite.alpha <= 0.5 and suite.metric in protocol.RANK_METRICS
    for ds in suite.datasets:
        assert isinstance(ds.dataset, str) and ds.seeds and all(type(s) is int and s >= 0 for s in ds.seeds)
        assert ds.image_size is None or type(ds.image_size) is int
        assert "${" not in ds.dataset or "${MEDBENCH_DATA_DIR}" not in ds.dataset


@pytest.fixture(scope="module")
def saved_majority(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path_factory) -> Path:
    job = runner.Job("majority")
    spec, fitted, threshold = fit_like_runner(pneumonia_small, pneumonia_small_split, job)
    return save_job_model(tmp_path_factory.mktemp("model"), fitted, pneumonia_small, pneumonia_small_split, job,
                          threshold, family=spec.family)


META_KEYS = st.sampled_from(["class_names", "positive_class", "threshold", "input", "dataset", "split", "steps"])


@FEW
@given(edits=st.dictionaries(META_KEYS, JSON | st.sampled_from([["normal", "pneumonia"], 1, 0, {"threshold": 0.5},
                                                                   {"threshold": "x"}, {"height": 28, "width": 28}]),
                             min_size=1, max_size=3),
       drop=st.lists(META_KEYS, max_size=2))
def test_generated_model_json_loads_correctly_or_fails_in_one_line(saved_majority: Path, tmp_path: Path,
                                                                   pneumonia_small: Dataset, edits, drop):
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "m"
    shutil.copytree(saved_majority, folder)
    meta = json.loads((folder / persist.DESCRIPTION).read_text())
    meta.update(edits)
    for key in drop:
        meta.pop(key, None)
    (folder / persist.DESCRIPTION).write_text(json.dumps(meta))
    _reseal(folder)
    try:
        model = load_model(folder)
        proba = model.predict_proba(pneumonia_small.images[:3])
        pred = model.predict(pneumonia_small.images[:3])
    except MedbenchError as exc:
        _one_line(exc)
        return
    event("loaded")
    assert proba.shape == (3, len(model.class_names)) and np.allclose(proba.sum(axis=1), 1)
    assert set(pred.tolist()) <= set(model.classes_.tolist())
