"""RunConfig (issue 19): one home for a run's defaults and checks, used by the CLI, the API and suites."""

from __future__ import annotations

import argparse

import pytest

import medbench
from medbench import api_suite
from medbench.cli import build_parser
from medbench.core.errors import MedbenchError
from medbench.core.workers import check_n_jobs, resolve_n_jobs
from medbench.features.parallel import n_workers
from medbench.running import engine
from medbench.running import suitefile as suite_mod
from medbench.running.config import DatasetSpec, RunConfig, Scheduler


@pytest.mark.parametrize("text, kind, path", [("pneumoniamnist", "pneumoniamnist", None),
                                              (" folder:/a/b:c ", "folder", "/a/b:c"), ("npz:", "npz", "")])
def test_dataset_spec_splits_the_text_once(text, kind, path):
    spec = DatasetSpec.parse(text, image_size=32)
    assert (spec.kind, spec.path, spec.image_size) == (kind, path, 32)
    assert spec.text == text.strip() and DatasetSpec.parse(spec) is spec


def test_n_jobs_has_one_rule_everywhere():
    assert resolve_n_jobs(-1, cores=4) == 4 and resolve_n_jobs(-2, cores=4) == 3 and resolve_n_jobs(3, 4) == 3
    assert resolve_n_jobs(-9, cores=4) == 1 and RunConfig(n_jobs=-2).n_jobs == -2
    for where in (check_n_jobs, n_workers, lambda n: RunConfig(n_jobs=n)):
        with pytest.raises(MedbenchError, match="--n-jobs 0"):
            where(0)


@pytest.mark.parametrize("field", ["val_fraction", "test_fraction"])
@pytest.mark.parametrize("value", [0, 0.5, 0.7, -0.1, True, "0.1"])
def test_fractions_have_one_rule(field, value):
    with pytest.raises(MedbenchError, match=f"--{field.replace('_', '-')}"):
        RunConfig(**{field: value})


def test_a_bad_config_is_refused_on_creation():
    for bad in ({"seeds": [0, 0]}, {"split_seed": -1}, {"image_size": 3}, {"channels": "cmyk"},
                {"scheduler": "threads"}, {"gpu_resource": "GPU"}, {"bootstrap_resamples": 0},
                {"resplit_per_seed": True, "split_manifest": "s.json"}, {"options": ["nodot=1"]}):
        with pytest.raises(MedbenchError):
            RunConfig(**bad)


def test_scheduler_is_parsed_once():
    cfg = RunConfig(scheduler="processes:2")
    assert cfg.scheduler == Scheduler("processes", 2, "processes:2") and str(cfg.scheduler) == "processes:2"
    assert engine.parse(cfg.scheduler) == ("processes", 2) == engine.parse("processes:2")


def test_the_dataset_spec_carries_the_load_options():
    cfg = RunConfig(dataset="folder:/x", task=None, image_size=64, channels="RGB", allow_missing=True)
    assert cfg.dataset_spec == DatasetSpec("folder", "/x", None, 64, True, None, "rgb")
    again = RunConfig(dataset=cfg.dataset_spec)
    assert again.dataset_spec == cfg.dataset_spec and again.image_size == 64


def test_cli_arguments_become_the_config():
    args = build_parser().parse_args(["run", "--dataset", "folder:/x", "--pipelines", "hog-svm", "--seeds", "1", "2",
                                      "--option", "hog-svm.C=5", "--n-jobs", "2", "--image-size", "32"])
    cfg = RunConfig.from_args(args)
    assert cfg == RunConfig(dataset="folder:/x", pipelines=["hog-svm"], seeds=[1, 2], options=["hog-svm.C=5"],
                            n_jobs=2, image_size=32)
    assert cfg.user_options == {"hog-svm": {"C": "5"}}
    assert RunConfig.from_args(build_parser().parse_args(["run"])).image_size is None
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    assert "(default: 224 for folder:" in help_text and "(default: None)" not in help_text
    # the gallery is on by default, and --out's default is stated once (issue 28.6)
    assert "on by default" in help_text and "(default: True)" not in help_text
    assert help_text.count("(default: results/<dataset>)") == 1


def test_a_run_option_is_declared_once():
    """One field on a RunConfig subclass is a `run` flag with its help, a suite-file key and a recorded value."""
    import dataclasses

    from medbench.running import suitefile as suite_mod
    from medbench.running.options import opt

    @dataclasses.dataclass(frozen=True)
    class MyConfig(RunConfig):
        crop_border: int = opt(0, flag="--crop-border", cli={"type": int, "metavar": "PX"}, suite="both",
                               suite_schema={"type": "integer", "minimum": 0},
                               help="pixels cut from every edge before the features")

    parser = argparse.ArgumentParser()
    MyConfig.add_arguments(parser)
    args = parser.parse_args(["--crop-border", "3", "--pipelines", "majority"])
    cfg = MyConfig.from_args(args)
    assert cfg.crop_border == 3 and cfg.pipelines == ("majority",)
    assert "pixels cut from every edge before the features (default: 0)" in " ".join(parser.format_help().split())
    assert cfg.record(["majority"], {})["crop_border"] == 3
    schema = suite_mod.suite_file_schema(MyConfig)
    for table in (schema["properties"]["suite"], schema["properties"]["datasets"]["items"]):
        assert table["properties"]["crop_border"] == {"type": "integer", "minimum": 0}
    assert "crop_border" not in suite_mod.SUITE_SCHEMA["properties"]["suite"]["properties"]
    # the options a suite file could always set are still there, generated from RunConfig
    assert {"pipelines", "seeds", "image_size", "options", "split_seed", "channels", "robustness",
            "bootstrap_resamples"} == set(suite_mod.SUITE_SCHEMA["properties"]["suite"]["properties"]) - {
                "name", "title", "note"}


def test_run_takes_a_config_or_its_fields(make_image_folder, tmp_path):
    spec = f"folder:{make_image_folder(12, name='cfg')}"
    kw = dict(pipelines=["majority"], image_size=16, bootstrap_resamples=5)
    a = medbench.run(spec, out=tmp_path / "a", log=None, **kw)
    b = medbench.run(config=RunConfig(dataset=spec, out=tmp_path / "b", **kw), log=None)
    assert a.data["config"] == b.data["config"] and a.jobs[0]["metrics"] == b.jobs[0]["metrics"]


def test_suite_overrides_replace_the_file(tmp_path):
    file = tmp_path / "s.toml"
    file.write_text('[suite]\npipelines = ["majority"]\nseeds = [0]\n[[datasets]]\ndataset = "pneumoniamnist"\n')
    suite = suite_mod.load(file)
    cfg = api_suite.dataset_config(suite, suite.datasets[0], tmp_path / "o", pipelines=["hog-svm"], seeds=[1, 2])
    assert list(cfg.pipelines) == ["hog-svm"] and list(cfg.seeds) == [1, 2]
    args = build_parser().parse_args(["suite", str(file), "--pipelines", "hog-svm", "--seeds", "1", "2"])
    assert args.pipelines == ["hog-svm"] and args.seeds == [1, 2]


def test_one_ranking_rule():
    from medbench.evaluation.section import rank_key
    rows = [{"pipeline": "b", "roc_auc": 0.9, "balanced_accuracy": 0.7}, {"pipeline": "a", "roc_auc": 0.9,
            "balanced_accuracy": 0.7}, {"pipeline": "c", "roc_auc": 0.9, "balanced_accuracy": 0.8},
            {"pipeline": "d", "roc_auc": None, "balanced_accuracy": 0.99}, {"pipeline": "e", "roc_auc": 0.95}]
    assert [r["pipeline"] for r in sorted(rows, key=lambda r: rank_key(r, r["pipeline"]))] == ["e", "c", "a", "b", "d"]
    assert min(rows[:3], key=lambda r: rank_key(r, r["pipeline"], first="balanced_accuracy"))["pipeline"] == "c"


def test_warnings_have_one_channel(capsys):
    from medbench.core import warn as warn_mod
    warn_mod.warn("to stderr")
    lines: list[str] = []
    with warn_mod.routed(lines.append):
        warn_mod.warn("to the run's log")
    with warn_mod.routed(None):
        warn_mod.warn("nowhere")
    assert capsys.readouterr().err == "medbench: warning: to stderr\n"
    assert lines == ["medbench: warning: to the run's log"]


def test_library_python_logs_go_to_the_log_file(tmp_path, capsys):
    import logging
    import warnings

    from medbench.core import quiet
    tf = logging.getLogger("tensorflow")
    before = tf.handlers[:]
    with quiet.library_logs_to(tmp_path / "medbench.log"):
        tf.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing")
        warnings.showwarning(UserWarning("keras says"), UserWarning, "/x/site-packages/keras/src/a.py", 1)
    assert tf.handlers == before
    text = (tmp_path / "medbench.log").read_text()
    assert "triggered tf.function retracing" in text and "keras says" in text
    assert "retracing" not in capsys.readouterr().err


def test_dataset_kinds_register_themselves():
    from medbench.datasets import dataset_kinds, describe_datasets, load_dataset
    kinds = dataset_kinds()
    assert [k for k in kinds if kinds[k].needs_path] == ["folder", "npz", "coronahack"]
    assert "pneumoniamnist" in kinds and not kinds["chestmnist"].listed
    assert [r["dataset"] for r in describe_datasets()][-3:] == ["folder:PATH", "npz:PATH", "coronahack:PATH"] or \
        "folder:PATH" in [r["dataset"] for r in describe_datasets()]
    with pytest.raises(MedbenchError, match="needs a path: use folder:PATH"):
        load_dataset("folder:")
    with pytest.raises(MedbenchError, match="is not supported"):
        load_dataset("chestmnist")
    with pytest.raises(MedbenchError, match=r"unknown dataset 'nosuch'; known datasets: .*pneumoniamnist.*folder:PATH"):
        load_dataset("nosuch")
