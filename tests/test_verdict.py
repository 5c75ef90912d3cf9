"""Verdicts that say what they rest on (issue 26 item 2), through the CLI on small real Kermany folders.

The Summary's verdict names what "deep" was (epochs run, weights, strategy, input size, profile), what did not
run or failed and why, with each failure's own remedy (missing ImageNet weights: which file goes where), says
when the comparison is a lower bound for deep, and states the smallest difference the test set could have
detected. Offline is real here: the ImageNet download goes through a proxy on a closed local port, and
``KERAS_HOME`` is an empty folder, so ResNet50 fails exactly as it does on a machine without internet.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from medbench.cli import main
from medbench.evaluation import power, verdict
from medbench.evaluation import stats as st
from medbench.reports import markdown
from medbench.reports.escape import md as E

pytestmark = [pytest.mark.slow, pytest.mark.deep]

WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
SMALL = ("--image-size", "32", "--n-jobs", "1", "--no-gallery", "--bootstrap-resamples", "200")


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    """No ImageNet weights cached and no way to download them."""
    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("MEDBENCH_RESNET50_WEIGHTS", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # the discard port: nothing listens, the fetch fails
    return home


def _summary(out: Path) -> str:
    md = (out / "report.md").read_text()
    return md[md.index("## Summary"):md.index("## Dataset card")]


def test_the_verdict_names_the_deep_models_the_failure_and_its_remedy(make_image_folder, tmp_path, offline, capsys):
    data = make_image_folder(40, name="K")
    out = tmp_path / "out"
    code = main(["run", "--dataset", f"folder:{data}", "--profile", "fast", "--pipelines", "majority", "hog-svm",
                 "cnn", "resnet50", *SMALL, "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and "resnet50" in err  # the run reports the failed job
    res = json.loads((out / "results.json").read_text())
    jobs = {j["pipeline"]: j for j in res["jobs"]}
    assert jobs["cnn"]["resolved_options"]["cnn__epochs"] == 2 and jobs["cnn"]["option_defaults"]["cnn__epochs"] == 15
    remedy = jobs["resnet50"]["remedy"]
    assert remedy["file"] == WEIGHTS_FILE and Path(remedy["folder"]) == offline / "models"
    summary = _summary(out)
    size = jobs["cnn"]["model_info"]["input_size"]
    assert (f"Deep here was **cnn**: 2 epochs run of at most 2; weights random (trained from scratch); strategy "
            f"trained from scratch; input {size[0]}x{size[1]}; profile ") in summary
    assert "fast" in summary.split("Deep here was **cnn**", 1)[1].split("\n", 1)[0]
    assert "below the pipeline's defaults: epochs 2 (default 15)" in summary
    assert "Failed: **resnet50** (deep, seed 0)" in summary
    assert E(f"put {WEIGHTS_FILE} in {offline / 'models'}") in summary  # its own remedy, not --pipelines all
    assert "--pipelines all" not in summary
    assert "**A lower bound for deep:** cnn trained with epochs 2 (default 15); resnet50 failed." in summary
    assert "(among the pipelines that finished; resnet50 failed: see below)" in summary

    # the minimum detectable differences, recomputed independently from the stored predictions
    facts = verdict.facts(res)
    (cmp,) = facts["comparisons"]
    h, c = jobs["hog-svm"]["predictions"], jobs["cnn"]["predictions"]
    y = np.asarray(h["y_true"])
    right_h, right_c = np.asarray(h["y_pred"]) == y, np.asarray(c["y_pred"]) == y
    discordant = int(np.sum(right_h != right_c))
    assert cmp["accuracy"]["discordant"] == discordant and cmp["n"] == len(y)
    assert cmp["accuracy"]["mdd"] == power.mcnemar_mdd(len(y), discordant)
    pos = 1
    d = st.delong(y == pos, np.asarray(h["proba"])[:, pos], np.asarray(c["proba"])[:, pos])
    assert cmp["roc_auc"]["mdd"] == pytest.approx(power.normal_mdd(math.sqrt(d["var"])), rel=1e-6)

    # the wording when the test finds nothing: the same comparison with a non-significant p
    calm = copy.deepcopy(res["statistics"])
    for x in calm["headline"]["comparisons"]:
        x["roc_auc"]["p"] = 0.5
    text = markdown.render(res, calm)
    mdd = cmp["roc_auc"]["mdd"]
    assert "**no significant ROC-AUC difference**" in text
    assert (f"the smallest difference this test set (n = {len(y)}) could have detected with power 80% at alpha "
            f"0.05 is a ROC-AUC difference of {mdd:.3f} (DeLong)") in text


def test_only_the_floor_finishing_is_no_finding(make_image_folder, tmp_path, offline, capsys):
    data = make_image_folder(20, name="K")
    out = tmp_path / "out"
    main(["run", "--dataset", f"folder:{data}", "--pipelines", "majority", "resnet50", *SMALL, "--out", str(out)])
    capsys.readouterr()
    summary = _summary(out)
    assert "Best pipeline" not in summary
    assert "**No finding: only the floor finished.**" in summary
    assert E(f"put {WEIGHTS_FILE} in {offline / 'models'}") in summary
    assert "Did not run: **cnn** (not in --pipelines); to include it: add cnn to --pipelines." in summary


def test_profile_fast_names_the_cnn_s_two_epochs_and_the_missing_resnet50(make_image_folder, tmp_path, capsys):
    """``medbench run --profile fast`` as a user runs it (every pipeline of the profile, on a small folder)."""
    data = make_image_folder(20, name="K")
    out = tmp_path / "out"
    code = main(["run", "--dataset", f"folder:{data}", "--profile", "fast", *SMALL, "--out", str(out)])
    capsys.readouterr()
    assert code == 0
    summary = _summary(out)
    assert "Deep here was **cnn**: 2 epochs run of at most 2" in summary
    assert "Did not run: **resnet50** (not in the 'fast' profile's pipelines)" in summary
    assert "**A lower bound for deep:** cnn trained with epochs 2 (default 15); resnet50 did not run." in summary
