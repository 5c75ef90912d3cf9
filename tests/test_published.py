"""Published results beside medbench's (report section and `medbench run` block), and ``--protocol medmnist``,
on real runs of the real PneumoniaMNIST file and on the real Kermany chest X-ray folder's official test set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_paths import pneumonia_arrays

from medbench.cli import main
from medbench.datasets import load_dataset
from medbench.datasets.padding import zero_pad
from medbench.datasets.published import KERMANY_TEST_COUNTS, published_for
from medbench.reports import published as published_report
from medbench.running.config import RunConfig
from medbench.running.runner import Job


@pytest.fixture(scope="module")
def medbench_run(tmp_path_factory, shared_datasets: Path) -> tuple[Path, str]:
    """One real run on PneumoniaMNIST (default protocol): majority + hog-tree (depth pinned), and its stdout."""
    out = tmp_path_factory.mktemp("published") / "run"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["run", "--dataset", "pneumoniamnist", "--pipelines", "majority", "hog-tree", "--option",
                   "hog-tree.max_depth=6", "--n-jobs", "1", "--no-gallery", "--out", str(out)])
    assert rc == 0
    return out, buf.getvalue()


@pytest.mark.slow
def test_run_prints_published_rows_beside_its_own(medbench_run):
    out, stdout = medbench_run
    assert "published results on PneumoniaMNIST (MedMNIST v2) official test split (624 images)" in stdout
    assert "91.56 ± 0.27" in stdout and "98.92 ± 0.08" in stdout  # MedMNIST+ best: DINO ViT-B/16 linear probe
    assert "this run (--protocol medbench)" in stdout and "Youden" in stdout
    data = json.loads((out / "results.json").read_text())
    tree = next(j for j in data["jobs"] if j["pipeline"] == "hog-tree")
    own = next(line for line in stdout.splitlines() if line.startswith("hog-tree") and "this run" in line)
    assert f"{100 * tree['metrics']['accuracy']:.2f}" in own and f"{100 * tree['metrics']['roc_auc']:.2f}" in own


@pytest.mark.slow
def test_report_section_lists_rows_and_protocol_differences(medbench_run):
    out, _ = medbench_run
    report = (out / "report.md").read_text()
    section = report.split("## Published results on this test set", 1)[1].split("\n## ", 1)[0]
    assert "Protocol of this run: **medbench**" in section and "not like with like" in section
    for text in ("ResNet-18 (28)", "Google AutoML Vision", "AlexNet", "kNN (k = 11)", "Threshold rule",
                 "Input size (resize vs pad)", "zero-padded to 224", "Weights", "Scientific Reports 2025"):
        assert text in section, text
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and "MedMNIST+" in ln]
    assert len(rows) == 12  # 3 schemes x 4 sizes
    assert "medbench classical (best)" in section and "medbench deep" not in section  # no deep pipeline ran
    assert "Published results on this test set" in (out / "report.html").read_text()


def test_protocol_medmnist_runs_and_says_so(shared_datasets: Path, tmp_path: Path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--dataset", "pneumoniamnist", "--pipelines", "majority", "--protocol", "medmnist",
                 "--image-size", "32", "--n-jobs", "1", "--no-gallery", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["protocol"] == "medmnist" and data["config"]["seeds"] == [0, 1, 2]
    assert data["split"]["method"] == "official" and data["dataset"]["image_shape"] == [32, 32]
    assert data["dataset"]["source"]["padding"].startswith("zero-padded from 28x28 to 32x32")
    # the operating point is fixed; the sensitivity at fixed specificity keeps its thresholds chosen on validation
    assert {json.dumps({k: v for k, v in j["threshold"].items() if k != "at_specificity"}) for j in data["jobs"]} == {
        json.dumps({"threshold": 0.5, "method": "fixed 0.5 (--protocol medmnist)"})}
    report = (out / "report.md").read_text()
    assert "Protocol of this run: **medmnist**" in report and "Like with like on the protocol" in report
    assert "Like with like on the protocol" in stdout


def test_protocol_medmnist_needs_an_official_split(shared_datasets: Path, tmp_path: Path, capsys):
    arrays = pneumonia_arrays(shared_datasets, {"train": 60})
    path = tmp_path / "xy.npz"
    np.savez(path, x=arrays["train"][0], y=arrays["train"][1])
    assert main(["run", "--dataset", f"npz:{path}", "--pipelines", "majority", "--protocol", "medmnist",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medbench: error: --protocol medmnist needs the dataset's official split") and "\n" not in err


def test_protocol_defaults_and_cache_keys(pneumonia_small, pneumonia_small_split):
    assert RunConfig(protocol="medmnist").seeds == (0, 1, 2)
    assert RunConfig(protocol="medmnist", seeds=[4]).seeds == (4,)
    assert RunConfig().seeds == (0,) and RunConfig().record([], {})["protocol"] == "medbench"
    assert RunConfig(protocol="medmnist", image_size=64).dataset_spec.pad
    fp = pneumonia_small_split.manifest(pneumonia_small)["fingerprint"]
    plain, fixed = Job("majority", 0), Job("majority", 0, {}, "fixed-0.5")
    assert "threshold_rule" not in plain.key_inputs(pneumonia_small, fp)  # old caches stay valid
    assert plain.key(pneumonia_small, fp) != fixed.key(pneumonia_small, fp)


def test_zero_pad_centres_real_images(shared_datasets: Path):
    x = pneumonia_arrays(shared_datasets, {"test": 5})["test"][0]
    padded = zero_pad(x, 35)
    assert padded.shape == (5, 35, 35) and padded.dtype == np.uint8
    assert np.array_equal(padded[:, 3:31, 3:31], x)  # 7 px of margin: 3 before, 4 after
    mask = np.ones((35, 35), bool)
    mask[3:31, 3:31] = False
    assert not padded[:, mask].any()
    assert zero_pad(x, 28) is x


def _kermany_folder(chest_xray_dir: Path, root: Path, drop_one: bool = False) -> Path:
    """The real test folder (every image, linked) plus a few train / val images per class."""
    for split, n in (("train", 12), ("val", 8), ("test", None)):
        for cls in ("NORMAL", "PNEUMONIA"):
            files = sorted((chest_xray_dir / split / cls).glob("*.jpeg"))
            files = files[:n] if n else files[1:] if drop_one and cls == "NORMAL" else files
            (root / split / cls).mkdir(parents=True)
            for f in files:
                (root / split / cls / f.name).symlink_to(f)
    return root


def test_kermany_test_set_is_recognised_by_its_counts(chest_xray_dir: Path, tmp_path: Path):
    ds = load_dataset(f"folder:{_kermany_folder(chest_xray_dir, tmp_path / 'my xrays')}", image_size=16)
    card = ds.card()
    assert {k.lower(): v for k, v in card["official_split_counts"]["test"].items()} == KERMANY_TEST_COUNTS
    title, rows = published_for(card)
    assert title.startswith("Kermany et al. 2018") and len(rows) == 1
    row = rows[0]
    assert (row["model"], row["accuracy"], row["roc_auc"], row["sensitivity"], row["specificity"]) == \
        ("InceptionV3", 92.8, 96.8, 93.2, 90.1)
    assert row["checked"] is False and "issue 27" in row["checked_note"]
    lines = published_report.section({"dataset": card, "config": {"protocol": "medmnist", "seeds": [0]}},
                                      {"pipelines": []})
    text = "\n".join(lines)
    assert "Not checked against their source here" in text and "another protocol" in text
    fewer = load_dataset(f"folder:{_kermany_folder(chest_xray_dir, tmp_path / 'other', drop_one=True)}",
                         image_size=16)
    assert published_for(fewer.card()) == ("", [])
