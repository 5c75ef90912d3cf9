"""Predicting with a saved model (medbench.running.predict, ``medbench predict``) on real images: real chest X-ray
JPEGs and real PneumoniaMNIST, models fitted for real as the runner fits them. Files are decoded exactly
as in training (a folder-trained model reproduces its in-memory probabilities from the files); bad files
are named in the status column and on stderr while the rest are predicted (exit 1); a missing or damaged
model is ``medbench: error:`` (exit 2).
"""

from __future__ import annotations

import csv
import inspect
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from medbench.commands import predict as predict_cmd
from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets.dataset import SPLITS, Dataset
from medbench.datasets.images import decode_image
from medbench.datasets.splits import Split, make_split
from medbench.metrics import choose_threshold, predict_with_threshold
from medbench.running.predict import load_model, predict_files, save_job_model
from medbench.running.runner import Job, build


def fit_like_runner(ds: Dataset, split: Split, job: Job):
    """``(spec, fitted pipeline, threshold)`` as ``runner.fit_and_evaluate`` fits them (minus the grid)."""
    spec, pipe, _ = build(job, ds.n_classes, ds.image_shape, n_jobs=1)
    x = {s: ds.images[split.indices(s)] for s in SPLITS}
    y = {s: ds.labels[split.indices(s)] for s in SPLITS}
    features = Pipeline(pipe.steps[:-1])
    xt_train, xt_val = features.fit_transform(x["train"], y["train"]), features.transform(x["val"])
    name, final = pipe.steps[-1]
    if "validation_data" in inspect.signature(final.fit).parameters:
        final.fit(xt_train, y["train"], validation_data=(xt_val, y["val"]))
    else:
        final.fit(xt_train, y["train"])
    return spec, Pipeline(features.steps + [(name, final)]), choose_threshold(y["val"], final.predict_proba(xt_val),
                                                                             ds.positive_class)


@pytest.fixture(scope="module")
def mnist_model(pneumonia_small: Dataset, pneumonia_small_split: Split, tmp_path_factory):
    """``(fitted hog-svm pipeline, saved folder)`` trained on real 28 px PneumoniaMNIST."""
    job = Job("hog-svm")
    spec, fitted, threshold = fit_like_runner(pneumonia_small, pneumonia_small_split, job)
    folder = save_job_model(tmp_path_factory.mktemp("out"), fitted, pneumonia_small, pneumonia_small_split, job,
                            threshold, family=spec.family, summary=spec.summary)
    return fitted, folder


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``medbench ARGV`` through the real CLI (:func:`medbench.cli.main`, its parser and its error handling)."""
    from medbench import cli

    assert predict_cmd in cli.COMMAND_MODULES  # the CLI lists the predict command: no stand-in parser
    rc = cli.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_folder_names_bad_files_and_predicts_the_rest(mnist_model, make_image_folder, tmp_path: Path,
                                                              capsys):
    fitted, folder = mnist_model
    images = make_image_folder(3)  # 3 real NORMAL + 3 real PNEUMONIA chest X-ray JPEGs (224 px)
    good = sorted(str(p) for p in images.rglob("*.jpeg"))
    bad = images / "bad"
    bad.mkdir()
    (bad / "empty.jpeg").write_bytes(b"")
    (bad / "truncated.jpeg").write_bytes(Path(good[0]).read_bytes()[:300])
    (bad / "notes.txt").write_text("not an image")
    (bad / ".hidden.jpeg").write_bytes(b"")  # hidden: not an input
    missing = tmp_path / "no-such.png"
    out = tmp_path / "predictions.csv"

    rc, stdout, stderr = run_cli(["predict", str(folder), str(images), str(missing), "--out", str(out)], capsys)

    assert rc == 1
    rows = _rows(out.read_text())
    assert list(rows[0]) == ["path", "p_normal", "p_pneumonia", "label", "status"]
    by_path = {r["path"]: r for r in rows}
    assert len(rows) == len(by_path) == 6 + 3 + 1 and not any(".hidden" in p for p in by_path)
    status = {Path(p).name: r["status"] for p, r in by_path.items()}
    assert status["empty.jpeg"] == "error: empty file (0 bytes)"
    assert status["notes.txt"] == "error: not a recognised image format"
    assert status["truncated.jpeg"].startswith("error: ") and status["no-such.png"] == "error: no such file or folder"
    for name in ("empty.jpeg", "truncated.jpeg", "notes.txt", "no-such.png"):
        assert name in stderr
        assert by_path[next(p for p in by_path if p.endswith(name))]["label"] == ""
    # the good files: decoded to 28 px as in training, predicted by the pipeline itself
    model = load_model(folder)
    decoded = np.stack([decode_image(p, 28) for p in good])
    expected = fitted.predict_proba(decoded)
    labels = predict_with_threshold(expected, model.threshold, model.positive_class)
    for path, p, lab in zip(good, expected, labels):
        row = by_path[path]
        assert row["status"] == "ok"
        assert abs(float(row["p_normal"]) - p[0]) <= 5e-7 and abs(float(row["p_pneumonia"]) - p[1]) <= 5e-7
        assert row["label"] == model.class_names[lab]
    assert "6 images predicted" in stderr and "4 unreadable" in stderr


def test_predict_all_good_files_to_stdout(mnist_model, make_image_folder, capsys):
    _, folder = mnist_model
    images = make_image_folder(2)
    one = sorted(images.rglob("*.jpeg"))[0]
    rc, stdout, stderr = run_cli(["predict", str(folder), str(images / "NORMAL"), str(one)], capsys)
    assert rc == 0, stderr
    rows = _rows(stdout)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}  # `one` is in NORMAL/: listed once
    assert all(r["label"] in ("normal", "pneumonia") for r in rows)


def test_unusable_model_is_an_error(mnist_model, make_image_folder, tmp_path: Path, capsys):
    _, folder = mnist_model
    images = make_image_folder(1)
    rc, _, stderr = run_cli(["predict", str(tmp_path / "nope"), str(images)], capsys)
    assert rc == 2 and stderr.startswith("medbench: error: model folder") and stderr.count("\n") == 1
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    svm = copy / "steps" / "02-svm.skops"
    svm.write_bytes(svm.read_bytes()[:-10])
    rc, _, stderr = run_cli(["predict", str(copy), str(images)], capsys)
    assert rc == 2 and "steps/02-svm.skops does not match its SHA-256" in stderr and stderr.count("\n") == 1


def test_python_api_on_paths_and_arrays(mnist_model, make_image_folder, pneumonia_small: Dataset,
                                        pneumonia_small_split: Split):
    fitted, folder = mnist_model
    model = load_model(folder)
    paths = sorted(str(p) for p in make_image_folder(2).rglob("*.jpeg"))
    proba = model.predict_proba(paths)
    assert proba.shape == (4, 2)
    np.testing.assert_array_equal(proba, model.predict_proba(np.stack([decode_image(p, 28) for p in paths])))
    assert model.predict_proba(paths[0]).shape == (1, 2)
    rows = predict_files(model, paths)
    assert model.predict(paths).tolist() == [r["label"] for r in rows]
    assert list(model.classes_) == pneumonia_small.class_names
    x = pneumonia_small.images[pneumonia_small_split.test]
    assert model.score(x, np.array(pneumonia_small.class_names)[pneumonia_small.labels[pneumonia_small_split.test]]) > 0.5
    with pytest.raises(MedbenchError, match=r"takes \(N, 28, 28\) uint8 grayscale images, got an array of shape "
                                            r"\(2, 32, 32\)"):
        model.predict_proba(np.zeros((2, 32, 32), dtype=np.uint8))
    with pytest.raises(MedbenchError, match="takes uint8 images"):
        model.predict_proba(x.astype(np.float32))
    with pytest.raises(MedbenchError, match=r"cannot read image .*nothing\.png: file not found"):
        model.predict_proba([paths[0], str(Path(paths[0]).parent / "nothing.png")])


def test_folder_model_decodes_files_exactly_as_in_training(make_image_folder, tmp_path: Path):
    root = make_image_folder(12, layout="split", splits=("train", "test"))
    ds = load_dataset(f"folder:{root}", image_size=64)
    split = make_split(ds, seed=0)
    job = Job("hog-tree")
    spec, fitted, threshold = fit_like_runner(ds, split, job)
    folder = save_job_model(tmp_path / "out", fitted, ds, split, job, threshold, family=spec.family)
    model = load_model(folder)
    assert model.image_shape == (64, 64) and "note" not in model.meta["input"]
    test_files = [str(root / rel) for rel in ds.ids[split.test]]
    rows = predict_files(model, test_files)
    got = np.array([r["proba"] for r in rows])
    np.testing.assert_array_equal(got, fitted.predict_proba(ds.images[split.test]))  # same pixels, same numbers
    assert model.meta["dataset"]["spec"] == f"folder:{root}"
