"""Jobs on Dask workers (medbench.running.engine): the same numbers as a local run, a dead worker's job retried,
and one-line errors for bad --scheduler values. The clusters are bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import medbench
from medbench.core.errors import MedbenchError
from medbench.running import engine

distributed = pytest.importorskip("dask.distributed", reason="install medbench[dask] (tox does)")

DETERMINISTIC = ["majority", "hog-tree", "hog-svm"]


@pytest.mark.parametrize("value, message", [
    ("processes:0", "N must be a number of worker processes"),
    ("processes:x", "N must be a number of worker processes"),
    ("threads", "use local, processes:N or tcp://HOST:PORT"),
])
def test_bad_scheduler_is_one_line(value, message):
    with pytest.raises(MedbenchError, match=message):
        engine.parse(value)


def test_bad_gpu_resource_is_one_line():
    assert engine.parse_resource("GPU=1") == {"GPU": 1.0}
    with pytest.raises(MedbenchError, match="--gpu-resource 'GPU': use NAME=AMOUNT"):
        engine.parse_resource("GPU")


@pytest.mark.slow
def test_processes_cluster_gives_the_local_numbers(make_image_folder, tmp_path):
    spec = f"folder:{make_image_folder(20, name='dask')}"
    kw = dict(pipelines=DETERMINISTIC, image_size=32, log=None, bootstrap_resamples=20)
    local = medbench.run(spec, out=tmp_path / "out-local", **kw)
    dask = medbench.run(spec, out=tmp_path / "out-dask", scheduler="processes:2", **kw)
    assert not local.failed and not dask.failed
    for a, b in zip(local.jobs, dask.jobs, strict=True):
        assert a["pipeline"] == b["pipeline"] and a["key"] == b["key"]
        assert a["metrics"] == b["metrics"] and a["predictions"] == b["predictions"]
    # the client wrote every record; a re-run reuses them all
    again = medbench.run(spec, out=tmp_path / "out-dask", scheduler="processes:2", **kw)
    assert [j["finished"] for j in again.jobs] == [j["finished"] for j in dask.jobs]


@pytest.mark.slow
def test_a_killed_worker_has_its_job_retried(tmp_path):
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        box: dict = {}
        runner = threading.Thread(target=lambda: box.setdefault("res", medbench.run(
            "pneumoniamnist", pipelines=["hog-svm"], out=tmp_path / "out", log=None, bootstrap_resamples=20,
            scheduler=cluster.scheduler_address)))
        runner.start()
        pids = client.run(os.getpid)
        victim = key = None
        deadline = time.time() + 300
        while victim is None and time.time() < deadline:
            for worker, keys in client.processing().items():
                for k in keys:
                    if str(k).startswith("medbench-hog-svm__seed0"):
                        victim, key = worker, k
            time.sleep(0.2)
        assert victim is not None, "the job never started on a worker"
        time.sleep(1.0)  # mid-job
        os.kill(pids[victim], signal.SIGKILL)
        runner.join(timeout=600)
        res = box["res"]
        (job,) = res.jobs
        assert job["status"] == "ok", job.get("error")  # retried on the other worker
        assert job["metrics"]["accuracy"] > 0.8
        # the scheduler's own record: the job was sent to a worker twice, the first time to the one killed
        story = client.run_on_scheduler(lambda dask_scheduler: [(t[1], t[2], t[4]) for t in dask_scheduler.story(key)])
        processing = [s for s in story if s[1] == "processing"]
        assert len(processing) >= 2, story
        assert any(s[0] == "processing" and s[1] != "memory" for s in story), story  # the first run was lost
        assert victim not in client.scheduler_info()["workers"]
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_a_suite_sends_every_dataset_through_one_dask_client(tmp_path, make_image_folder):
    """A suite of two datasets on a Dask scheduler: one client connects for the whole suite (not one per
    dataset), and both datasets' jobs run through it. Read from the scheduler's own event log (clients
    added) and transition log (medbench tasks that finished), after the suite."""
    from medbench import api_suite

    for name in "ab":
        make_image_folder(12, name=f"two/{name}")
    suite_file = tmp_path / "two.toml"
    suite_file.write_text('[suite]\nname = "two"\npipelines = ["majority", "hog-tree"]\nseeds = [0]\n'
                          'image_size = 16\nbootstrap_resamples = 20\n\n'
                          '[[datasets]]\nname = "a"\ndataset = "folder:two/a"\n\n'
                          '[[datasets]]\nname = "b"\ndataset = "folder:two/b"\n', encoding="utf-8")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    watcher = distributed.Client(cluster)

    def added_clients() -> list[str]:
        return [e["client"] for _, e in watcher.get_events("all") if e.get("action") == "add-client"]

    try:
        before = added_clients()
        doc = api_suite.run_suite(suite_file, tmp_path / "out", log=None, scheduler=cluster.scheduler_address)
        assert [(d["name"], d["status"]) for d in doc["datasets"]] == [("a", "ok"), ("b", "ok")]
        suite_clients = [c for c in added_clients() if c not in before]
        assert len(suite_clients) == 1, suite_clients  # one client for both datasets
        finished = watcher.run_on_scheduler(lambda dask_scheduler: sorted(
            {str(t[0]) for t in dask_scheduler.transition_log if str(t[0]).startswith("medbench-") and t[2] == "memory"}))
        # 2 datasets x 2 pipelines x 1 seed, each a task of this scheduler
        assert len(finished) == 4 and sorted(k.rsplit("-", 1)[0] for k in finished) == [
            "medbench-hog-tree__seed0", "medbench-hog-tree__seed0", "medbench-majority__seed0",
            "medbench-majority__seed0"], finished
    finally:
        watcher.close()
        cluster.close()
