"""Commands that load TensorFlow are as quiet as `medbench run`: `medbench predict` with a saved CNN prints
its one result line and none of TensorFlow's C++ lines (oneDNN, cudart, cuInit: they go to a log file); an
offline ResNet50 weights download is tried once and its error printed once in full; the report header
counts the planned and the finished pipelines.

Real runs on a few chest X-rays (16-32 px). "Offline" is a proxy on a closed local port (urllib honours
``https_proxy``), so the test never downloads whatever the machine's network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.reports import markdown

NOISE = ("oneDNN", "cudart", "cuInit", "absl::InitializeLog", "I0000", "E0000", "W0000")


@pytest.mark.slow  # trains a 1-epoch CNN and loads TensorFlow twice (~60-90 s on 2 cores)
@pytest.mark.deep
def test_predict_with_a_cnn_keeps_tensorflow_quiet(make_image_folder, tmp_path):
    folder = make_image_folder(10, name="cnn")
    out = tmp_path / "run"
    assert main(["run", "--dataset", f"folder:{folder}", "--pipelines", "cnn", "--option", "cnn.epochs=1",
                 "--image-size", "16", "--n-jobs", "1", "--bootstrap-resamples", "30", "--save-models",
                 "--out", str(out)]) == 0
    model = out / "models" / "cnn__seed0"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    proc = subprocess.run([sys.executable, "-m", "medbench", "predict", str(model), str(folder / "NORMAL"),
                           "--out", str(tmp_path / "p.csv")], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert not [n for n in NOISE if n in proc.stderr + proc.stdout], proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("wrote "), proc.stderr
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").count("\n") == 11  # header + 10 images


@pytest.mark.slow  # loads TensorFlow/Keras (~20-40 s on 2 cores)
@pytest.mark.deep
def test_offline_resnet50_is_tried_once_and_its_error_said_once(make_image_folder, tmp_path, capsys, monkeypatch):
    folder = make_image_folder(12, name="offline")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached weights
    monkeypatch.delenv("MEDBENCH_RESNET50_WEIGHTS", raising=False)
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # the discard port: nothing listens, so "offline"
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["run", "--dataset", f"folder:{folder}", "--pipelines", "majority", "resnet50",
                 "--image-size", "32", "--n-jobs", "1", "--bootstrap-resamples", "30", "--out", str(out)]) == 1
    cap = capsys.readouterr()
    both = cap.out + cap.err
    assert both.count("Downloading data from") <= 1, both
    error = next(j["error"] for j in json.loads((out / "results.json").read_text())["jobs"] if j["status"] != "ok")
    assert "could not be downloaded" in error and len(error) > 120
    assert both.count(error) == 1, both  # the whole error once, at the end
    job_line = next(line for line in cap.err.splitlines() if re.match(r"\[\d/2\] resnet50 seed 0: ERROR ", line))
    assert len(job_line) < 140 and job_line.endswith("…"), job_line
    assert "Best deep:      no deep pipeline finished (resnet50 failed)" in cap.err
    header = (out / "report.md").read_text(encoding="utf-8").splitlines()[2]
    assert "1 of 2 pipelines finished" in header, header


def test_report_header_counts_planned_and_finished_pipelines():
    res = synth.make(failed=(("resnet50", "resnet50: ImageNet weights are not cached"),))
    assert "3 of 4 pipelines finished" in markdown.render(res).splitlines()[2]
    assert " 3 pipelines " in markdown.render(synth.make()).splitlines()[2]
    one = synth.make(pipelines=(("hog-svm", "classical", 2.0),))
    assert " 1 pipeline " in markdown.render(one).splitlines()[2]
