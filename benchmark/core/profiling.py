"""Runtime measurement: wall-clock timers, a peak-RSS sampler, and the machine/library description.

:func:`environment` is the ``environment`` section of every results.json: the machine (CPU model,
core count, memory, GPUs from ``nvidia-smi -L``), the library versions, the Keras backend, and the
provenance of the medbench code that ran: the git commit of the medbench source folder and whether
its tree was dirty (``"unknown"`` / null outside a git checkout, e.g. an installed wheel), and the
SHA-256 of the medbench source files (:func:`medbench.core.cachekeys.source_hash`), which identifies
the code even without git. The device the deep models computed on comes from their job records
(:func:`deep_device`; Keras is never imported just to ask). :func:`machine` and :func:`same_machine`
say whether two runs' runtimes are comparable; :func:`machine_id` names a machine in a history store.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from medbench.core import cachekeys, readfile, settings
from medbench.core.errors import MedbenchError

LIBRARIES = ("medbench", "numpy", "scikit-learn", "scikit-image", "opencv-python-headless", "opencv-python",
             "xgboost", "tensorflow", "tensorflow-cpu", "keras", "jax", "torch")


@contextmanager
def timer(into: dict[str, float], key: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - t0


class PeakMemory:
    """Samples this process's resident set size every ``interval`` s; ``peak_mb`` after the block.
    (Child worker processes used for feature extraction are included.)"""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "asimd", "sve")


def cpu_id() -> str | None:
    """CPU family / model and the SIMD extensions numeric libraries dispatch on (``"family 26 model 2;
    avx avx2 avx512f ..."``), from /proc/cpuinfo; None where there is none. Two hosts that both read "AMD
    EPYC" can compute different floating point: this tells them apart."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("cpu family", "model", "flags", "Features", "CPU implementer", "CPU part"):
                    info.setdefault(key, value.strip())
                if not line.strip() and info:
                    break
    except OSError:
        return None
    if not info:
        return None
    flags = set((info.get("flags") or info.get("Features") or "").split())
    ident = (f"family {info['cpu family']} model {info.get('model', '?')}" if "cpu family" in info
             else f"implementer {info.get('CPU implementer', '?')} part {info.get('CPU part', '?')}")
    simd = " ".join(f for f in SIMD_FLAGS if f in flags)
    return f"{ident}; {simd}" if simd else ident


SOURCE_DIR = Path(__file__).resolve().parent  # the medbench source folder (benchmark/ in a checkout)
COMMAND_TIMEOUT_S = 5.0
UNKNOWN = "unknown"


def _command(args: list[str], cwd: Path | None = None) -> str | None:
    """stdout of a short command, or None when it is missing, fails or takes longer than the timeout."""
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(folder: Path = SOURCE_DIR) -> dict[str, Any]:
    """``{"git_commit": sha or "unknown", "git_dirty": bool or None}`` of the git checkout holding
    ``folder``; unknown when git is missing, ``folder`` is not tracked by a repository (an installed
    package inside someone else's repository does not borrow its commit) or git is slow."""
    unknown = {"git_commit": UNKNOWN, "git_dirty": None}
    if shutil.which("git") is None or not folder.is_dir():
        return unknown
    if _command(["git", "ls-files", "--error-unmatch", "--", "__init__.py"], folder) is None:
        return unknown
    head = _command(["git", "rev-parse", "--verify", "HEAD"], folder)
    if not head or not re.fullmatch(r"[0-9a-f]{40,64}", head.strip()):
        return unknown
    status = _command(["git", "status", "--porcelain", "--untracked-files=no"], folder)
    return {"git_commit": head.strip(), "git_dirty": None if status is None else bool(status.strip())}


def gpu_models() -> list[str] | None:
    """The GPUs ``nvidia-smi -L`` lists (names, without their UUIDs); ``[]`` without nvidia-smi (no
    NVIDIA GPU), None when nvidia-smi is there but does not answer in time."""
    if shutil.which("nvidia-smi") is None:
        return []
    out = _command(["nvidia-smi", "-L"])
    if out is None:
        return None
    names = []
    for line in out.splitlines():
        m = re.match(r"\s*GPU \d+:\s*(.*?)\s*(\(UUID:.*\))?\s*$", line)
        if m and m.group(1):
            names.append(m.group(1))
    return names


def deep_device(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Backend and device the deep jobs computed on, from their ``model_info`` (the first deep job that
    records one); None when no deep job ran."""
    for job in jobs:
        info = job.get("model_info") or {}
        if info.get("device"):
            return {"backend": info.get("backend"), "device": info.get("device"),
                    "device_name": info.get("device_name")}
    return None


def environment() -> dict[str, Any]:
    """Machine, library versions and code provenance recorded in every result (see the module docstring)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": gpu_models(),
        "keras_backend": settings.keras_backend(),
        "libraries": cachekeys.library_versions(LIBRARIES),
        **git_state(),
        "source_hash": cachekeys.source_hash("medbench"),
        "lock_digest": lock_digest(),
    }


def lock_pins(text: str) -> list[str]:
    """The requirement lines of a lock file (``name==version ; markers``), comments, blanks and order
    dropped: what decides the installed versions."""
    pins = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return sorted(" ".join(p.split()) for p in pins if p)


def lock_digest() -> str | None:
    """SHA-256 of the pins of the lock file this environment was installed from (``MEDBENCH_LOCK_FILE``,
    which tox sets to requirements/lock.txt; :func:`lock_pins`, so a comment the resolver rewrites does not
    change it), or None when unset or unreadable: a run outside tox records none."""
    lock = settings.path(settings.LOCK_FILE_ENV)
    try:
        if lock is None or not lock.is_file():
            return None
        text = readfile.read_text(lock, "lock file")
    except (OSError, MedbenchError):
        return None
    return hashlib.sha256("\n".join(lock_pins(text)).encode()).hexdigest()


# --- machines: when are two runs' runtimes comparable -------------------------------------------
def machine(env: dict[str, Any] | None) -> dict[str, Any]:
    """What makes runtimes comparable: CPU model, core count and GPUs (None: not recorded, e.g. a
    results.json from a medbench before GPUs were recorded)."""
    env = env or {}
    return {"cpu": env.get("cpu"), "cpu_count": env.get("cpu_count"), "gpus": env.get("gpus")}


def machine_differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """How two runs' machines differ, in words (empty: the same machine). GPUs recorded by one run
    only are not a difference (an older results.json did not record them)."""
    ma, mb = machine(a), machine(b)
    out = []
    for key, what in (("cpu", "CPU"), ("cpu_count", "core count"), ("gpus", "GPUs")):
        if key == "gpus" and (ma[key] is None or mb[key] is None):
            continue
        if ma[key] != mb[key]:
            out.append(f"{what} {describe_value(ma[key])} vs {describe_value(mb[key])}")
    return out


def machine_text(env: dict[str, Any] | None) -> str:
    """A machine in words: ``AMD EPYC x2, no GPU`` (GPUs left out when the run did not record them)."""
    env = env or {}
    gpus = env.get("gpus")
    gpu = "" if gpus is None else (", no GPU" if not gpus else f", {', '.join(map(str, gpus))}")
    return f"{env.get('cpu') or '?'} x{env.get('cpu_count') or '?'}{gpu}"


def same_machine(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return not machine_differences(a, b)


def describe_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return "?" if value is None else str(value)


def machine_id(env: dict[str, Any] | None) -> str:
    """A folder name for a machine: its CPU model and cores in a few characters plus a short hash of
    :func:`machine` (``amd-epyc-x2-3f9c0a1b``)."""
    m = machine(env)
    slug = re.sub(r"[^a-z0-9]+", "-", str(m["cpu"] or "cpu").lower()).strip("-")[:32].strip("-") or "cpu"
    gpu = "-gpu" if m["gpus"] else ""
    digest = hashlib.sha256(cachekeys.canonical({**m, "gpus": m["gpus"] or []}).encode()).hexdigest()[:8]
    return f"{slug}-x{m['cpu_count'] or 0}{gpu}-{digest}"
