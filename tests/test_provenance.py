"""Tests for the provenance every results.json records (:func:`medbench.core.profiling.environment`): the git
commit and dirty state of the medbench source folder (on throw-away git repositories, and on this
checkout), the source hash, GPUs from ``nvidia-smi -L`` (a stand-in script on PATH prints what the real
tool prints; a hanging one times out), the deep models' device from their job records, machine ids, and
that none of this imports Keras.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import synthetic_results as synth

from medbench.cli import main
from medbench.core import cachekeys, profiling
from medbench.core.errors import MedbenchError
from medbench.evaluation import gate as regression
from medbench.records import results as results_mod

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository whose ``pkg/`` holds a committed ``__init__.py`` (as benchmark/ does in a checkout)."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""pkg."""\n')
    (tmp_path / ".gitignore").write_text("venv/\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


@needs_git
def test_git_state_of_a_clean_and_a_dirty_tree(repo):
    head = _git(repo, "rev-parse", "HEAD")
    assert profiling.git_state(repo / "pkg") == {"git_commit": head, "git_dirty": False}
    (repo / "pkg" / "__init__.py").write_text('"""pkg, edited."""\n')
    assert profiling.git_state(repo / "pkg") == {"git_commit": head, "git_dirty": True}
    (repo / "pkg" / "notes.txt").write_text("untracked files do not make the tree dirty\n")
    _git(repo, "checkout", "-q", "--", "pkg/__init__.py")
    assert profiling.git_state(repo / "pkg")["git_dirty"] is False


@needs_git
def test_git_state_unknown_outside_a_checkout(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("no-git")
    (outside / "__init__.py").write_text("")
    assert profiling.git_state(outside) == {"git_commit": "unknown", "git_dirty": None}
    # an installed package inside someone else's repository (an ignored venv) does not borrow its commit
    installed = repo / "venv" / "site-packages" / "medbench"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert profiling.git_state(installed) == {"git_commit": "unknown", "git_dirty": None}
    assert profiling.git_state(repo / "missing") == {"git_commit": "unknown", "git_dirty": None}


def test_environment_records_provenance():
    env = profiling.environment()
    assert env["source_hash"] == cachekeys.source_hash("medbench")
    expected = profiling.git_state(profiling.SOURCE_DIR)
    assert (env["git_commit"], env["git_dirty"]) == (expected["git_commit"], expected["git_dirty"])
    if shutil.which("git") and (profiling.SOURCE_DIR.parent / ".git").exists():  # this checkout
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=profiling.SOURCE_DIR, capture_output=True,
                              text=True).stdout.strip()
        assert env["git_commit"] == head and isinstance(env["git_dirty"], bool)
    assert isinstance(env["gpus"], list) or env["gpus"] is None
    if shutil.which("nvidia-smi") is None:
        assert env["gpus"] == []
    results_mod.validate({**synth.make(n_resamples=None), "environment": env}, "env")


def _fake_tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_gpus_from_nvidia_smi(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "nvidia-smi", 'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1b2c3d4e-0000-1111-2222-333344445555)"\n'
                                       'echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)"')
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert profiling.gpu_models() == ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"]
    _fake_tool(tmp_path, "nvidia-smi", "sleep 30")
    monkeypatch.setattr(profiling, "COMMAND_TIMEOUT_S", 0.5)
    assert profiling.gpu_models() is None  # no answer in time: not known, and the run goes on
    _fake_tool(tmp_path, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert profiling.gpu_models() is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert profiling.gpu_models() == []


def test_environment_does_not_import_keras():
    code = ("import sys; from medbench.core.profiling import environment; environment(); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]


def test_deep_device_comes_from_the_job_records():
    res = synth.make(n_resamples=None)
    jobs = res["jobs"]
    assert profiling.deep_device(jobs) is None
    synth.find(res, "cnn")["model_info"] = {"backend": "jax", "device": "gpu", "device_name": "NVIDIA H100",
                                            "keras_version": "3"}
    assembled = results_mod.assemble(config={}, dataset=res["dataset"], split=res["split"],
                                     environment={"cpu": "x"}, jobs=jobs, command="medbench run")
    assert assembled["environment"]["deep"] == {"backend": "jax", "device": "gpu", "device_name": "NVIDIA H100"}
    assert assembled["environment"]["cpu"] == "x"
    classical = results_mod.assemble(config={}, dataset=res["dataset"], split=res["split"], environment={},
                                     jobs=[j for j in jobs if j["pipeline"] != "cnn"], command="medbench run")
    assert classical["environment"]["deep"] is None


def test_machine_ids_and_differences():
    env = {"cpu": "AMD EPYC 7763 64-Core Processor", "cpu_count": 16, "gpus": []}
    mid = profiling.machine_id(env)
    assert mid.startswith("amd-epyc-7763-64-core-processor-x16-") and len(mid.rsplit("-", 1)[1]) == 8
    assert profiling.machine_id({**env, "gpus": None}) == mid  # an older results.json: no GPU list
    gpu = profiling.machine_id({**env, "gpus": ["NVIDIA H100"]})
    assert gpu != mid and "-x16-gpu-" in gpu
    assert profiling.machine_id({**env, "cpu": "<../../etc>"}).startswith("etc-x16-")
    assert profiling.machine_differences(env, {**env, "cpu_count": 8}) == ["core count 16 vs 8"]
    assert profiling.machine_differences(env, {**env, "gpus": ["A100"]}) == ["GPUs none vs A100"]
    assert profiling.machine_differences(env, {**env, "gpus": None}) == []
    assert profiling.machine_text({**env, "gpus": ["A100"]}) == "AMD EPYC 7763 64-Core Processor x16, A100"


@pytest.mark.parametrize("key, value, message", [
    ("git_commit", "not a sha", "environment.git_commit: 'not a sha' does not have the expected form"),
    ("git_dirty", "yes", "environment.git_dirty: must be a boolean or a null"),
    ("source_hash", "abc", "environment.source_hash: 'abc' does not have the expected form"),
    ("gpus", "H100", "environment.gpus: must be an array or a null"),
])
def test_schema_checks_the_provenance_fields(key, value, message):
    res = synth.make(n_resamples=None)
    res["environment"][key] = value
    with pytest.raises(MedbenchError) as info:
        results_mod.validate(res, "r.json")
    assert str(info.value).startswith(f"r.json: {message}")


def test_old_results_without_provenance_still_compare():
    old = synth.make(n_resamples=None)  # environment without git / GPU fields, as older medbench wrote it
    new = synth.make(n_resamples=None, environment={"git_commit": "a" * 40, "git_dirty": False, "gpus": [],
                                                    "source_hash": "b" * 64})
    diffs = {d["key"]: (d["base"], d["new"]) for d in regression.environment_differences(old, new)}
    assert diffs == {"git_commit": (None, "a" * 40), "git_dirty": (None, "no"), "source_hash": (None, "b" * 64),
                     "gpus": (None, "none")}


@pytest.mark.slow
def test_a_real_run_records_its_provenance(shared_datasets, tmp_path):
    if not (shared_datasets / "pneumoniamnist.npz").is_file():
        pytest.skip(f"real data not found: {shared_datasets / 'pneumoniamnist.npz'}")
    assert main(["run", "--pipelines", "majority", "--out", str(tmp_path / "r"), "--bootstrap-resamples", "50"]) == 0
    env = json.loads((tmp_path / "r" / "results.json").read_text())["environment"]
    assert env["source_hash"] == cachekeys.source_hash("medbench")
    assert env["git_commit"] == profiling.git_state()["git_commit"] and env["deep"] is None
    assert env["gpus"] == profiling.gpu_models()
