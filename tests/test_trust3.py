"""Trust, round 3 (issue 17): numbers that cannot be right, concurrent history adds, CSV formula
injection, suite variables, saved-model links and schema, npz edge cases and bombs, stale split notes,
options for pipelines not run, incomplete runs, one-line errors and tampered caches - each on real
behaviour, on the real data where it matters."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import multiprocessing
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import synthetic_results as synth
from test_predict import fit_like_runner

from medbench import cli
from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets import splits as splits_mod
from medbench.datasets.dataset import Dataset
from medbench.datasets.images import load_images
from medbench.datasets.splits import Split, make_split
from medbench.features.hog import HOG
from medbench.models import persist
from medbench.records import results as results_mod
from medbench.running import suitefile as suite_mod
from medbench.running.predict import load_model, save_job_model
from medbench.running.runner import Job, body_digest, job_path, run_job
from medbench.stores import history

# --- 1. records and results that cannot be right ------------------------------------------------


@pytest.mark.parametrize(("edit", "match"), [
    (lambda r: synth.find(r, "hog-svm")["metrics"].update(accuracy=5.0), r"jobs\[0\]\.metrics\.accuracy: 5\.0 is out"),
    (lambda r: synth.find(r, "hog-svm")["metrics"].update(roc_auc=7.0), r"metrics\.roc_auc: 7\.0 is out of range"),
    (lambda r: synth.find(r, "hog-svm")["metrics"].update(roc_auc=-0.1), r"metrics\.roc_auc: -0\.1 is out of range"),
    (lambda r: next(iter(synth.find(r, "hog-svm")["metrics"]["per_class"].values())).update(recall=1.5),
     r"per_class\.normal\.recall: 1\.5 is out"),
    (lambda r: r["statistics"]["jobs"]["hog-svm__seed0"]["metrics_ci"].update(roc_auc=[0.5, 7.0]),
     r"metrics_ci\.roc_auc\[1\]: 7\.0 is out of range"),
    (lambda r: r["statistics"]["jobs"]["hog-svm__seed0"]["metrics_ci"].update(roc_auc=[0.9, 0.5]),
     r"metrics_ci\.roc_auc: \[0\.9, 0\.5\] is not an interval"),
    (lambda r: r["statistics"]["pipelines"][0]["metrics"]["accuracy"].update(mean=3.0),
     r"metrics\.accuracy\.mean: 3\.0 is out of range"),
])
def test_results_with_impossible_metrics_are_refused(tmp_path: Path, edit, match):
    res = synth.make()
    results_mod.validate(res, "ok.json")  # the untouched document is fine
    edit(res)
    synth.write(res, tmp_path)
    with pytest.raises(MedbenchError, match=match):
        results_mod.load(tmp_path)


def test_resealed_job_record_with_wrong_metrics_is_recomputed(pneumonia_small: Dataset,
                                                              pneumonia_small_split: Split, tmp_path: Path):
    ds, split, job = pneumonia_small, pneumonia_small_split, Job("majority")
    first = run_job(ds, split, job, tmp_path)
    path = job_path(tmp_path, job)
    record = json.loads(path.read_text())
    true_accuracy = record["metrics"]["accuracy"]
    record["metrics"]["accuracy"] = 0.99
    record["body_sha256"] = body_digest(record)  # re-sealed: the body digest alone cannot tell
    path.write_text(json.dumps(record))
    again = run_job(ds, split, job, tmp_path)
    assert again["cached"] is False
    assert "does not add up: accuracy is 0.99 but its stored predictions give" in again["cache_reason"]
    assert again["metrics"]["accuracy"] == pytest.approx(true_accuracy) == first["metrics"]["accuracy"]
    assert run_job(ds, split, job, tmp_path)["cached"] is True  # an honest record is still reused


# --- 2. concurrent history adds ------------------------------------------------------------------

def _file_in_history(args: tuple[str, str, str]) -> str:
    run, store, commit = args
    return history.add(run, store, commit=commit)["version"]


def test_concurrent_history_adds_keep_every_run(tmp_path: Path):
    runs = [str(synth.write(synth.make(n_resamples=None), tmp_path / f"run{i}")) for i in range(8)]
    store = tmp_path / "store"
    with ProcessPoolExecutor(8, mp_context=multiprocessing.get_context("fork")) as pool:
        filed = list(pool.map(_file_in_history, [(r, str(store), f"v{i}") for i, r in enumerate(runs)]))
    assert sorted(filed) == [f"v{i}" for i in range(8)]
    assert sorted(e["version"] for e in history.entries(store)) == [f"v{i}" for i in range(8)]


# --- 3. CSV formula injection --------------------------------------------------------------------

FORMULAS = ("=1+2", "+cmd|calc!A0", "@SUM(1)", "-2+3")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs (OWASP)


def test_predict_csv_neutralises_formulas_in_file_and_class_names(pneumonia_small: Dataset,
                                                                 pneumonia_small_split: Split, chest_xray_dir: Path,
                                                                 tmp_path: Path, monkeypatch, capsys):
    ds = dataclasses.replace(pneumonia_small, class_names=["=1+2", "@SUM(1)"])
    job = Job("majority")
    spec, fitted, threshold = fit_like_runner(ds, pneumonia_small_split, job)
    model = save_job_model(tmp_path / "out", fitted, ds, pneumonia_small_split, job, threshold, family=spec.family)
    jpeg = next(iter(sorted((chest_xray_dir / "train" / "NORMAL").glob("*.jpeg"))))
    folder = tmp_path / "images"
    folder.mkdir()
    for name in FORMULAS:
        shutil.copy(jpeg, folder / f"{name}.jpeg")
    (folder / "=HYPERLINK(1).jpeg").write_bytes(b"")  # unreadable: its error status is a cell too
    monkeypatch.chdir(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert cli.main(["predict", "--out", str(tmp_path / "p.csv"), "--", str(model), *names]) == 1
    capsys.readouterr()
    cells = [c for row in csv.reader(io.StringIO((tmp_path / "p.csv").read_text())) for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)], cells
    assert "'=1+2.jpeg" in cells and "'+cmd|calc!A0.jpeg" in cells and "'@SUM(1).jpeg" in cells
    assert "p_=1+2" in cells and "'@SUM(1)" in cells  # a header p_<class> is safe; a label cell is quoted


def test_metrics_csv_neutralises_formulas():
    res = synth.make(pipelines=(("=cmd|' /C calc'!A0", "@evil", 1.0), ("hog-svm", "classical", 2.0)),
                     n_resamples=None)
    rows = list(csv.reader(io.StringIO(results_mod.metrics_csv(res))))
    assert not [c for row in rows for c in row if c.startswith(FORMULA_START)]
    assert rows[1][:3] == ["'=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0", "'@evil"]


# --- 4. suite files expand only ${MEDBENCH_DATA_DIR} ----------------------------------------------

@pytest.mark.parametrize("spec", ["${SECRET_TOKEN}", "folder:${SECRET_TOKEN}/x", "folder:data/${HOME}"])
def test_suite_file_does_not_expand_other_variables(tmp_path: Path, monkeypatch, spec: str):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2-secret")
    path = tmp_path / "s.toml"
    path.write_text(f'[[datasets]]\ndataset = "{spec}"\n')
    with pytest.raises(MedbenchError) as err:
        suite_mod.load(path)
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message and str(Path.home()) not in message
    assert "datasets[0].dataset: ${" in message and "only ${MEDBENCH_DATA_DIR} is expanded" in message
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(tmp_path))
    path.write_text('[[datasets]]\ndataset = "folder:${MEDBENCH_DATA_DIR}/x"\n')
    assert suite_mod.load(path).datasets[0].dataset == f"folder:{tmp_path / 'x'}"


# --- 5. saved models: no links, a model.json that fits ----------------------------------------------

@pytest.fixture
def majority_model(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path: Path) -> Path:
    job = Job("majority")
    spec, fitted, threshold = fit_like_runner(pneumonia_small, pneumonia_small_split, job)
    folder = save_job_model(tmp_path / "out", fitted, pneumonia_small, pneumonia_small_split, job, threshold,
                            family=spec.family)
    persist.write_document(folder, persist.CARD, "# a card\n")
    load_model(folder)  # as saved: fine
    return folder


def _reseal(folder: Path) -> None:
    """Recompute the manifest over the files as they are now (what someone editing a model can do)."""
    manifest = json.loads((folder / persist.MANIFEST).read_text())
    listed = {name: folder / name for name in manifest["files"]}
    (folder / persist.MANIFEST).write_text(json.dumps(persist._manifest(listed, manifest["medbench_version"])))


def test_saved_model_links_are_refused(majority_model: Path, tmp_path: Path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    card = majority_model / persist.CARD
    card.unlink()
    card.symlink_to(secret)
    _reseal(majority_model)  # the manifest even lists the link's target bytes
    with pytest.raises(MedbenchError, match=r"MODEL_CARD\.md is a symbolic link") as err:
        persist.read_verified(majority_model)
    assert "\n" not in str(err.value)
    card.unlink()
    card.write_text("# a card\n")
    _reseal(majority_model)
    steps = majority_model / "steps"
    moved = tmp_path / "elsewhere"
    steps.rename(moved)
    steps.symlink_to(moved)  # a linked folder: the files inside are the right ones, still refused
    with pytest.raises(MedbenchError, match=r"is a symbolic link \(steps\)"):
        load_model(majority_model)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda m: m.update(class_names=m["class_names"][::-1]), r"model\.json: class_names: .* differ from the dataset"),
    (lambda m: m["threshold"].update(threshold=math.nan), r"threshold\.threshold: must be a finite number"),
    (lambda m: m["threshold"].update(threshold=1.5), r"threshold\.threshold: 1\.5 is out of range"),
    (lambda m: m.update(class_names=["a", "a"]), r"class_names: has duplicate items"),
    (lambda m: m.update(class_names=["a", 3]), r"class_names\[1\]: must be a string"),
    (lambda m: m.update(positive_class=2), r"positive_class: 2 is not a class"),
    (lambda m: (m.update(class_names=["a"]), m["dataset"].update(class_names=["a"])), r"class_names: must have at"),
    (lambda m: (m.update(class_names=["a", "b", "c"], positive_class=None, threshold=None),
                m["dataset"].update(class_names=["a", "b", "c"], positive_class=None)),
     r"class_names: 3 class names do not fit the classifier's classes \[0, 1\]"),
])
def test_resealed_model_json_that_cannot_be_right_is_refused(majority_model: Path, edit, match):
    meta_path = majority_model / persist.DESCRIPTION
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))
    _reseal(majority_model)
    with pytest.raises(MedbenchError, match=match) as err:
        load_model(majority_model)
    assert "\n" not in str(err.value)


# --- 6. npz edge cases and decompression bombs -----------------------------------------------------

def _npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def _images(n: int = 12, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size), dtype=np.uint8)


@pytest.mark.parametrize(("names", "labels", "match"), [
    (["a", "b", "c"], np.arange(12) % 2, r"names 3 classes but no image has class 'c' \(label 2\)"),
    (["a", "b"], np.zeros(12, dtype=int), r"names 2 classes but no image has class 'b' \(label 1\)"),
    (None, np.array([0, 1] * 5 + [0, 2**64 - 1], dtype=np.uint64), r"holds label 18446744073709551615, too large"),
    (None, np.array([0, 1] * 5 + [0, 1e300]), r"holds label 1000000000000000052504760255204420248704468581108159154"),
])
def test_npz_labels_that_cannot_be_run_are_one_line_errors(tmp_path: Path, names, labels, match):
    arrays = {"x": _images(), "y": labels, **({"class_names": np.array(names)} if names else {})}
    with pytest.raises(MedbenchError, match=match) as err:
        load_dataset(_npz(tmp_path / "d.npz", **arrays))
    assert "\n" not in str(err.value) and "negative" not in str(err.value)


def _bomb(path: Path, shape: tuple[int, ...]) -> str:
    """An npz whose x.npy declares ``shape`` (uint8) but holds only a few bytes: its header alone is the bomb."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    labels = io.BytesIO()
    np.save(labels, np.arange(shape[0]) % 2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.npy", b"\x93NUMPY" + header.getvalue()[6:] + bytes(64))
        zf.writestr("y.npy", labels.getvalue())
    return f"npz:{path}"


def test_npz_decompression_bomb_is_refused_from_its_header(tmp_path: Path):
    spec = _bomb(tmp_path / "bomb.npz", (1000, 100_000, 100_000))  # 10 TB declared, a few hundred bytes on disk
    assert (tmp_path / "bomb.npz").stat().st_size < 2000
    with pytest.raises(MedbenchError, match=r"'x' declares 100000x100000 images \(10,000,000,000 pixels each\)"):
        load_dataset(spec)
    with pytest.raises(MedbenchError, match=r"needs 18,626\.5 GiB .* more than the .* GiB of memory available"):
        load_dataset(spec, max_image_pixels=10**10)
    # the per-image limit is --max-image-pixels: a real 64x64 file is refused under a 1,000-pixel limit
    real = _npz(tmp_path / "ok.npz", x=_images(size=64), y=np.arange(12) % 2)
    assert load_dataset(real).image_shape == (64, 64)
    with pytest.raises(MedbenchError, match=r"64x64 images \(4,096 pixels each\), above the limit of 1,000"):
        load_dataset(real, max_image_pixels=1000)


# --- 7. split checks recomputed from a manifest's ids ----------------------------------------------

def test_manifest_overlap_note_is_recomputed_from_the_ids(make_image_folder, tmp_path: Path):
    ds = load_dataset(f"folder:{make_image_folder(12)}", image_size=8)
    split = make_split(ds, seed=0)
    manifest = split.manifest(ds)
    groups = {}
    for i, g in zip(ds.ids.tolist(), ds.groups.tolist(), strict=True):
        groups.setdefault(g, []).append(i)
    shared = [ids for ids in groups.values() if len(ids) >= 2][:3]
    assert len(shared) == 3  # e.g. person1000 and person1003 have two images each
    label = dict(zip(ds.ids.tolist(), (ds.class_names[y] for y in ds.labels), strict=True))
    moved = {ids[1] for ids in shared} | {ids[0] for ids in shared}
    ids = {s: [i for i in manifest["ids"][s] if i not in moved] for s in ("train", "val", "test")}
    ids["train"] += [g[0] for g in shared]
    ids["test"] += [g[1] for g in shared]  # each of three patients now has an image in train and one in test
    ids = {s: sorted(v) for s, v in ids.items()}
    manifest["ids"] = ids
    manifest["labels"] = {s: [label[i] for i in ids[s]] for s in ids}
    manifest["notes"] = ["hand-made", "1 patient/group ids appear in both train and test"]  # stale
    manifest["fingerprint"] = splits_mod.fingerprint(manifest["class_names"], ids, manifest["labels"])
    path = tmp_path / "split.json"
    path.write_text(json.dumps(manifest))
    loaded = splits_mod.load_manifest(ds, path)
    assert loaded.notes == ["hand-made", "3 patient/group ids appear in both train and test"]


# --- 8. options for pipelines not run --------------------------------------------------------------

def test_option_for_a_pipeline_not_run_is_refused(tmp_path: Path, capsys):
    rc = cli.main(["run", "--dataset", "pneumoniamnist", "--pipelines", "hog-tree", "--option", "cnn.epochs=0",
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip() == ("medbench: error: --option cnn.epochs: pipeline 'cnn' is not in this run "
                           "(--pipelines hog-tree); add it to --pipelines or drop the option")
    assert not (tmp_path / "out").exists()  # refused before any work


# --- 9. incomplete runs ----------------------------------------------------------------------------

def _interrupted(folder: Path) -> Path:
    """A run of three jobs interrupted after two (the third never recorded)."""
    res = synth.make(n_resamples=None)
    assert res["config"]["pipelines"] == ["hog-svm", "cnn", "majority"] and res["config"]["seeds"] == [0]
    res["jobs"] = [j for j in res["jobs"] if j["pipeline"] != "majority"]
    return synth.write(res, folder)


def test_incomplete_run_is_marked_in_the_report(tmp_path: Path, capsys):
    run = _interrupted(tmp_path / "run")
    assert cli.main(["report", str(run)]) == 0
    capsys.readouterr()
    md = (run / "report.md").read_text()
    assert "**Warning: Incomplete run: 2 of 3 planned jobs finished (interrupted?); missing: majority seed 0.**" in md
    assert "Incomplete run: 2 of 3 planned jobs" in (run / "report.html").read_text()
    complete = synth.write(synth.make(n_resamples=None), tmp_path / "complete")
    assert cli.main(["report", str(complete)]) == 0
    assert "Incomplete" not in (complete / "report.md").read_text()


def test_history_add_refuses_an_incomplete_run(tmp_path: Path, capsys):
    run = _interrupted(tmp_path / "run")
    assert cli.main(["history", "add", str(run), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medbench: error: ") and "\n" not in err
    assert "incomplete run: 2 of 3 planned jobs finished (interrupted?); missing: majority seed 0" in err
    assert not (tmp_path / "store" / "index.json").exists()


# --- 10. one-line errors, not tracebacks -----------------------------------------------------------

LONG = "a" * 300


def _one_line(capsys, argv: list[str]) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("medbench: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("extra", "words"), [
    (["--out", LONG], "File name too long"),
    (["--out", ""], "--out is empty"),
    (["--out", " "], "--out is empty"),
    (["--scheduler", "tcp://127.0.0.1"], "give the scheduler's port too, e.g. tcp://127.0.0.1:8786"),
    (["--scheduler", "tcp://127.0.0.1:99999"], "port '99999' must be a number from 1 to 65535"),
])
def test_run_arguments_are_one_line_errors(tmp_path: Path, monkeypatch, capsys, extra, words):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--dataset", "pneumoniamnist", "--pipelines", "majority"]
    err = _one_line(capsys, argv + (extra if "--out" in extra else [*extra, "--out", str(tmp_path / "o")]))
    assert words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, not even to the current folder


def test_predict_out_is_checked_before_work(majority_model: Path, chest_xray_dir: Path, tmp_path: Path, capsys):
    image = str(next(iter(sorted((chest_xray_dir / "train" / "NORMAL").glob("*.jpeg")))))
    (tmp_path / "existing").mkdir()
    for out, words in [(str(tmp_path / "existing"), "is a folder: give a file for the CSV"),
                       (str(tmp_path / LONG), "File name too long"),
                       (str(tmp_path / ("b" * 245)), "the file name is too long (245 characters)"),
                       (str(tmp_path / LONG / "p.csv"), "File name too long"),
                       ("", "--out is empty")]:
        assert words in _one_line(capsys, ["predict", str(majority_model), image, "--out", out])
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == []


def test_deeply_nested_split_manifest_is_one_line(pneumonia_small: Dataset, tmp_path: Path):
    path = tmp_path / "split.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MedbenchError, match=r"split\.json is not a medbench split manifest \(nested too deeply\)"):
        splits_mod.load_manifest(pneumonia_small, path)


# --- 11. caches check their content ------------------------------------------------------------------

def test_tampered_hog_cache_entry_is_recomputed(pneumonia_small: Dataset, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path))
    x = np.asarray(pneumonia_small.images[:40])
    hog = HOG()
    first = hog.fit(x).transform(x)
    entries = list((tmp_path / "hog").glob("*.npy"))
    assert len(entries) == 1 and first.any()
    buf = io.BytesIO()
    np.save(buf, np.zeros_like(first), allow_pickle=False)
    entries[0].write_bytes(buf.getvalue())  # a well-formed .npy of the right shape: all zeros
    capsys.readouterr()
    again = HOG().fit(x).transform(x)
    np.testing.assert_array_equal(again, first)
    assert "does not match its SHA-256 (edited, replaced or damaged); recomputing it" in capsys.readouterr().err
    np.testing.assert_array_equal(HOG().fit(x).transform(x), first)  # the entry was rewritten: a clean hit
    assert capsys.readouterr().err == ""


def test_tampered_image_cache_is_decoded_again(make_image_folder, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = make_image_folder(3)
    rel = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.jpeg"))
    first, failures = load_images(folder, rel, 32)
    assert not failures
    first = np.array(first)
    npy = next((tmp_path / "cache" / "images").glob("*.npy"))
    inverted = np.load(npy)
    inverted = 255 - inverted
    np.save(npy, inverted)  # pixels inverted in place, same shape, dtype and sidecars
    capsys.readouterr()
    again, _ = load_images(folder, rel, 32)
    np.testing.assert_array_equal(again, first)
    assert "does not match its SHA-256 (edited, replaced or damaged); decoding the images again" in \
        capsys.readouterr().err
