"""results.json and tolerance files are validated against declared schemas (medbench.records.schemas): a bad file
is one line, ``medbench: error: <file>: <field>: <problem>`` (exit 2), never a traceback - for hand-made
bad files and for files that hypothesis generates by mutating a valid one.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
import synthetic_results as synth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.evaluation import gate as regression
from medbench.evaluation import section as evaluation
from medbench.evaluation import tolerances
from medbench.records import results as results_mod
from medbench.reports import compare as compare_render
from medbench.reports import html, markdown

COMMITTED = Path(__file__).resolve().parents[1] / "baselines" / "pneumoniamnist-fast"


@pytest.fixture(scope="module")
def valid() -> dict:
    return synth.make(n=24, n_resamples=50)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, valid) -> Path:
    return synth.write(valid, tmp_path_factory.mktemp("base"))


def test_schemas_are_well_formed_json_schema():
    Draft202012Validator.check_schema(results_mod.SCHEMA_JSON)
    Draft202012Validator.check_schema(tolerances.SCHEMA_JSON)


def test_the_committed_baseline_and_synthetic_results_are_valid(valid):
    res = results_mod.load(COMMITTED)  # schema v1 as committed, without a statistics section
    assert res["schema_version"] == 1 and "statistics" not in res
    results_mod.validate(valid, "synthetic")
    results_mod.validate(synth.make(class_names=("a", "b", "c"), seeds=(0, 1), n=30, n_resamples=20), "multi")
    provenance = ("git_commit", "git_dirty", "source_hash", "gpus", "deep")
    older = {**res, "environment": {k: v for k, v in res["environment"].items() if k not in provenance}}
    results_mod.validate(older, "written before provenance was recorded")  # still valid


def test_provenance_fields_are_optional_and_typed(valid):
    """Every environment field added for provenance is accepted when present and optional when absent."""
    with_env = {**valid, "environment": {**valid["environment"], "git_commit": "unknown", "git_dirty": None,
                                         "source_hash": "0" * 64, "gpus": [], "machine": "x86_64",
                                         "deep": {"backend": "jax", "device": "gpu", "device_name": "H100"}}}
    results_mod.validate(with_env, "new")
    results_mod.validate({**with_env, "environment": {**with_env["environment"], "git_commit": "a" * 40,
                                                      "git_dirty": True, "gpus": None, "deep": None}}, "new")
    results_mod.validate({**valid, "environment": {}}, "empty")


def _job(res: dict, i: int = 0) -> dict:
    return res["jobs"][i]


EDITS = {
    "schema_version as a string": (lambda r: r.update(schema_version="1"),
                                   "schema_version: must be an integer, got a string '1'"),
    "no jobs": (lambda r: r.pop("jobs"), "jobs: missing (required)"),
    "jobs as an object": (lambda r: r.update(jobs={"a": 1}), "jobs: must be an array, got an object of 1 items"),
    "job without status": (lambda r: _job(r).pop("status"), "jobs[0].status: missing (required)"),
    "ok job without metrics": (lambda r: _job(r).pop("metrics"), "jobs[0].metrics: missing (required)"),
    "no class_names": (lambda r: r["dataset"].pop("class_names"), "dataset.class_names: missing (required)"),
    "duplicate class names": (lambda r: r["dataset"].update(class_names=["a", "a"]),
                              "dataset.class_names: has duplicate items"),
    "y_true out of range": (lambda r: _job(r)["predictions"]["y_true"].__setitem__(3, 2),
                            "jobs[0].predictions.y_true[3]: label 2 is out of range for 2 class_names"),
    "seed NaN": (lambda r: _job(r).update(seed=math.nan), "jobs[0].seed: must be an integer, got a number nan"),
    "probability NaN": (lambda r: _job(r)["predictions"]["proba"][0].__setitem__(1, math.nan),
                        "jobs[0].predictions.proba[0][1]: must be a finite number, got nan"),
    "probability above 1": (lambda r: _job(r)["predictions"]["proba"][0].__setitem__(1, 1.5),
                            "jobs[0].predictions.proba[0][1]: 1.5 is out of range: must be <= 1"),
    "huge integer": (lambda r: r["dataset"].update(n_images=10 ** 400), "dataset.n_images: integer too large"),
    "predictions of two lengths": (lambda r: _job(r)["predictions"]["y_pred"].pop(),
                                   "jobs[0].predictions.y_pred: has 23 items, y_true has 24"),
    "job id of another job": (lambda r: _job(r).update(job_id="cnn__seed0"),
                              "jobs[0].job_id: 'cnn__seed0' should be 'hog-svm__seed0'"),
    "the same job twice": (lambda r: r["jobs"].append(dict(_job(r))),
                           "jobs[3]: a second job for pipeline 'hog-svm' seed 0"),
    "positive class unknown": (lambda r: r["dataset"].update(positive_class="covid"),
                               "dataset.positive_class: 'covid' is not one of class_names"),
    "confusion matrix 3x3": (lambda r: _job(r)["metrics"].update(confusion_matrix=[[1, 0, 0]] * 3),
                             "jobs[0].metrics.confusion_matrix: must be 2 x 2"),
    "statistics naming a missing job": (
        lambda r: r["statistics"]["pipelines"][0]["job_ids"].__setitem__(0, "cnn__seed9"),
        "statistics.pipelines[0].job_ids: 'cnn__seed9' is not a successful job"),
    "failed job without its error": (lambda r: _job(r).update(status="error"), "jobs[0].error: missing (required)"),
    "git commit not a sha": (lambda r: r["environment"].update(git_commit="HEAD; rm -rf"),
                             "environment.git_commit: 'HEAD; rm -rf' does not have the expected form"),
    "gpus as a string": (lambda r: r["environment"].update(gpus="H100"),
                         "environment.gpus: must be an array or a null, got a string 'H100'"),
}


def _one_error_line(err: str, source: Path, expected: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0] == f"medbench: error: {source}: {expected}" or lines[0].startswith(
        f"medbench: error: {source}: {expected}"), lines[0]


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.parametrize("what", sorted(EDITS))
def test_bad_results_give_one_line_naming_file_and_field(valid, base_dir, tmp_path, capsys, what, command):
    edit, expected = EDITS[what]
    res = json.loads(json.dumps(valid))
    edit(res)
    folder = synth.write(res, tmp_path / "bad")
    args = ["report", str(folder)] if command == "report" else ["compare", str(base_dir), str(folder)]
    assert main(args) == 2
    _one_error_line(capsys.readouterr().err, folder / "results.json", expected)


RAW = {
    "nested past the JSON parser": ('{"schema": "medbench.results", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                    "nested too deeply to read"),
    "nested past the schema's depth": ('{"schema": "medbench.results", "x": ' + "[" * 100 + "]" * 100 + "}",
                                       "x[0][0][0]"),
    "not UTF-8": (b'{"schema": "medbench.results", "t": "\xe9"}', "not UTF-8 text (byte"),
    "not JSON": ("{'schema': 1}", "is not readable JSON"),
    "not a results file": ('{"jobs": []}', "is not a medbench results file"),
    "a newer schema": ('{"schema": "medbench.results", "schema_version": 9}', "has schema version 9"),
}


@pytest.mark.parametrize("what", sorted(RAW))
def test_unreadable_results_give_one_line(tmp_path, capsys, what):
    text, expected = RAW[what]
    path = tmp_path / "results.json"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"medbench: error: {path}") and expected in err, err


# --- generated hostile files -----------------------------------------------------------------------

HOSTILE_TEXT = ["", " ", "<img src=x onerror=alert(1)>", "a|b", "$\\undefined$", "\u200f\u202e", "🫁", "\n",
                "x" * 300, "hog-svm", "cnn", "ok", "error", "normal", "pneumonia", "hog-svm__seed0"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(-2 ** 70, 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(HOSTILE_TEXT), st.text(max_size=8),
    st.lists(st.integers(-1, 3), max_size=3), st.lists(st.floats(0, 1), min_size=2, max_size=3),
    st.dictionaries(st.sampled_from(["a", "mean", "sd", "n"]), st.none() | st.integers(0, 2), max_size=2),
)


def _paths(node, path=()) -> list[tuple]:
    """Every node's path, lists sampled at their first two items (predictions would swamp the rest)."""
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:2]):
            out += _paths(v, (*path, i))
    return out


def _mutate(res: dict, path: tuple, op: str, value) -> None:
    if not path:
        return
    parent = res
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "append" and isinstance(parent[last], list):
        parent[last].append(value)
    else:
        parent[last] = value


MUTATIONS = st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from(["delete", "replace", "replace", "append"]),
                               VALUES), min_size=1, max_size=3)


def _mutated(valid: dict, mutations) -> dict:
    res = json.loads(json.dumps(valid))
    for pick, op, value in mutations:
        paths = _paths(res)
        _mutate(res, paths[pick % len(paths)], op, value)
    return res


def _render_report(path: Path) -> None:
    """What `medbench report` does, minus drawing figures (a figure failure is a warning, see test_hostile_names)."""
    res = results_mod.load(path)
    text = markdown.render(res, evaluation.statistics(res))
    html.render(text)


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@FUZZ
@given(mutations=MUTATIONS)
def test_generated_results_never_traceback(valid, base_dir, capsys, mutations):
    res = _mutated(valid, mutations)
    with tempfile.TemporaryDirectory() as tmp:
        folder = synth.write(res, Path(tmp) / "new")
        try:
            _render_report(folder)
        except MedbenchError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(folder / "results.json"))
        status = main(["compare", str(base_dir), str(folder), "--no-runtime", "--json", str(Path(tmp) / "c.json")])
        err = capsys.readouterr().err
        if status == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("medbench: error: "), err
        else:
            assert status in (0, 1) and "error" not in err


SECTIONS = ["", "[compare]", "[metrics]", "[runtime]", "[runtime.floor]", "[pipelines.hog-svm]",
            "[pipelines.hog-svm.metrics]", "[pipelines.cnn.runtime]", "[[metrics]]", "[pipelines]"]
KEYS = ["mode", "missing", "seeds", "check", "accuracy", "roc_auc", '"*"', "fit_time_s", "floor", "metrics",
        "throughput_img_per_s", "tolerance", "x"]
TOML_VALUES = ["0.01", "0", "-1", "1.5", "inf", "-inf", "nan", "1e400", "'absolute'", "'warn'", "'each'", "true",
               "[1, 2]", "{ a = 1 }", "{ roc_auc = inf }", "1979-05-27", '"\\u00e9"', "'<img src=x>'"]
TOML = st.lists(st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), st.sampled_from(TOML_VALUES)),
                max_size=6).map(lambda rows: "\n".join(f"{s}\n{k} = {v}" for s, k, v in rows) + "\n")


@FUZZ
@given(text=TOML | st.text(max_size=40))
def test_generated_tolerance_files_never_traceback(valid, text):
    try:
        tol = tolerances.loads(text, "gen.toml")
    except MedbenchError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("gen.toml")
        return
    report = regression.compare(valid, valid, tol, runtime=True)  # a valid file always gives a verdict
    assert report["exit_status"] == 0
    line = compare_render.verdict_line(report)
    assert ("inf: not checked" in line) == bool(tol.unchecked())
    json.dumps(report, allow_nan=False)  # compare.json is strict JSON


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TOML, raw=st.binary(max_size=12))
def test_generated_tolerance_files_through_the_cli(base_dir, capsys, text, raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.toml"
        path.write_bytes(text.encode() + raw)
        status = main(["compare", str(base_dir), str(base_dir), "--tolerances", str(path), "--json",
                       str(Path(tmp) / "c.json")])
        err = capsys.readouterr().err
        assert status in (0, 2)
        if status == 2:
            assert err.count("\n") == 1 and err.startswith(f"medbench: error: {path}"), err
