"""Where a run's jobs execute: here, one after another (``local``), or as tasks on Dask workers.

``--scheduler`` takes ``local`` (the default), ``processes:N`` (a Dask ``LocalCluster`` of N worker
processes on this machine, bound to 127.0.0.1) or ``tcp://HOST:PORT`` (an existing Dask distributed
scheduler). Dask is an optional extra (``pip install medbench[dask]``).

What crosses the network to a worker: the dataset *reference* (spec, task, image size, the
fingerprint it must match), the split's index arrays, the job (pipeline, seed, options, key inputs).
Workers load the dataset themselves from a path they can see, or download it (same checksum), and
refuse to run on data whose fingerprint differs. What comes back: the job record (metrics, test
predictions, runtime). Only the client writes: each record atomically, as its future completes, so
a killed run resumes with the finished jobs kept. A worker that dies mid-job has the job retried once
on another worker (``distributed.scheduler.allowed-failures = 1`` for the clusters medbench starts),
then the job is recorded as an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medbench.core import quiet, settings
from medbench.core.errors import MedbenchError
from medbench.datasets import load_dataset
from medbench.datasets.dataset import Dataset
from medbench.datasets.spec import DatasetSpec
from medbench.datasets.splits import Split
from medbench.running import runner
from medbench.running.config import Scheduler, parse_resource

__all__ = ["DatasetRef", "Scheduler", "client_for", "parse", "parse_resource", "run", "sigint_flag"]

Done = Callable[[runner.Planned, dict[str, Any]], None]


@dataclass(frozen=True)
class DatasetRef:
    """Enough to load the same dataset on another machine (its :class:`DatasetSpec`), and to check that it
    is the same (the fingerprint)."""

    spec: DatasetSpec
    fingerprint: str

    def load(self) -> Dataset:
        ds = load_dataset(self.spec, n_jobs=1)
        if ds.fingerprint != self.fingerprint:
            raise MedbenchError(f"this worker sees different data for {self.spec} (fingerprint "
                                f"{ds.fingerprint[:12]}, the client's is {self.fingerprint[:12]}): give every worker "
                                f"the same files")
        return ds


_worker_datasets: dict[DatasetRef, Dataset] = {}


def _execute_on_worker(ref: DatasetRef, split: Split, planned: runner.Planned, n_jobs: int
                       ) -> tuple[dict[str, Any], str]:
    """The task a Dask worker runs: load (once per worker process) the dataset, fit and score the job.
    Returns the record and what native code (TensorFlow's C++ runtime: ``E0000 ... NodeDef mentions ...``)
    wrote to the worker's descriptor 2 meanwhile: the client appends it to the run's medbench.log, as the
    main process does with its own (a worker's descriptor 2 is the terminal that started the cluster, and a
    remote worker cannot see the run's folder)."""
    settings.set_default("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads in this worker, as in the client
    with tempfile.TemporaryDirectory(prefix="medbench-worker-") as tmp:
        log = Path(tmp) / "native.log"
        with quiet.native_output_to(log):
            if ref not in _worker_datasets:
                _worker_datasets[ref] = ref.load()
            record = runner.execute(_worker_datasets[ref], split, planned, n_jobs)
        native = log.read_text(encoding="utf-8", errors="backslashreplace") if log.exists() else ""
    return record, native


def _forward_native(text: str) -> None:
    """A worker's native log lines to this process's descriptor 2: the run's medbench.log while
    :func:`medbench.core.quiet.native_output_to` holds it (never the terminal's progress bars otherwise)."""
    if text:
        with contextlib.suppress(OSError):
            os.write(2, text.encode("utf-8", "backslashreplace"))


def parse(scheduler: str | Scheduler | None) -> tuple[str, str | int | None]:
    """``local`` -> ("local", None); ``processes:N`` -> ("processes", N); ``tcp://H:P`` -> ("address", ...)
    (:meth:`medbench.running.config.Scheduler.parse`)."""
    parsed = Scheduler.parse(scheduler)
    return parsed.kind, parsed.arg


def _dask():
    try:
        import dask
        from dask import distributed
    except ImportError:
        raise MedbenchError("--scheduler other than local needs Dask distributed: pip install 'medbench[dask]'") from None
    return dask, distributed


def client_for(scheduler: str | Scheduler | None) -> contextlib.AbstractContextManager[Any]:
    """A Dask client for ``scheduler`` (``None`` for ``local``), closed (with its cluster) on exit: a suite
    opens one and hands it to every dataset's run."""
    parsed = Scheduler.parse(scheduler)
    return contextlib.nullcontext(None) if parsed.kind == "local" else _client(parsed.kind, parsed.arg)


@contextlib.contextmanager
def _client(kind: str, arg: str | int | None) -> Iterator[Any]:
    dask, distributed = _dask()
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        if kind == "processes":
            cluster = distributed.LocalCluster(n_workers=int(arg), threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None)
            client = distributed.Client(cluster)
        else:
            cluster = None
            try:
                client = distributed.Client(str(arg), timeout="20s")
            except OSError as exc:
                raise MedbenchError(f"--scheduler {arg}: cannot reach the Dask scheduler ({exc}); start it with "
                                    f"`dask scheduler` and workers with `dask worker {arg}`") from None
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


@contextlib.contextmanager
def sigint_flag() -> Iterator[threading.Event]:
    """An event set by every SIGINT while the block runs (the previous handler still runs, so Ctrl-C still
    raises KeyboardInterrupt). Native code can swallow that exception (XGBoost's ctypes callbacks print and
    drop it, or turn it into its own error, recorded as the job's failure); the caller checks the event
    after each job so an interrupted run still stops. Outside the main thread, or with SIGINT ignored or
    handled by C code, nothing is installed."""
    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield hit
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN (ignored on purpose), SIG_DFL or None (not Python's): leave it
        yield hit
        return

    def handler(signum, frame):
        hit.set()
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, previous)


def run(items: list[tuple[Split, runner.Planned]], ds: Dataset, ref: DatasetRef, done: Done, *,
        scheduler: str | Scheduler | None = "local", n_jobs: int = -1,
        deep_resources: dict[str, float] | None = None, client: Any = None) -> None:
    """Execute every planned job and call ``done(planned, record)`` as each finishes (in completion order).
    ``client``: a Dask client to use (a suite's, shared by its datasets) instead of starting one."""
    kind, arg = parse(scheduler)
    if kind == "local":
        with sigint_flag() as hit:
            for split, planned in items:
                record = runner.execute(ds, split, planned, n_jobs)
                if hit.is_set():  # Ctrl-C came during the job, and the job swallowed it: not its result
                    raise KeyboardInterrupt
                done(planned, record)
        return
    _, distributed = _dask()
    worker_jobs = 1 if n_jobs == -1 else n_jobs  # N workers x all cores each would oversubscribe
    with contextlib.nullcontext(client) if client is not None else _client(kind, arg) as client:
        futures = {}
        for split, planned in items:
            resources = deep_resources if planned.family == "deep" and deep_resources else None
            fut = client.submit(_execute_on_worker, ref, split, planned, worker_jobs, pure=False,
                                key=f"medbench-{planned.job.job_id}-{os.urandom(4).hex()}", resources=resources)
            futures[fut] = planned
        for fut in distributed.as_completed(list(futures)):
            planned = futures[fut]
            try:
                record, native = fut.result()
                _forward_native(native)
            except distributed.KilledWorker:
                record = runner.error_record(ds, planned, "its Dask worker died twice (the job was retried once); "
                                                          "see the worker logs")
            except MedbenchError as exc:
                record = runner.error_record(ds, planned, str(exc))
            except Exception as exc:  # noqa: BLE001 - a failed task is that job's error, not the run's
                record = runner.error_record(ds, planned, f"{type(exc).__name__}: {exc}")
            done(planned, record)
