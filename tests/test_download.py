"""The MedMNIST fetch path for real: verified local file, wrong MD5, offline, and real HTTP downloads
from a local server (serving a copy of the real pneumoniamnist.npz, and small generated files for the
other sets, whose facts are patched in a copy, never in info.py)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from medbench.core.errors import MedbenchError
from medbench.datasets import info, load_dataset
from medbench.datasets.download import fetch, md5sum

FACTS = info.MEDMNIST["pneumoniamnist"]
FILE, MD5 = FACTS["file"], FACTS["md5"]
UNREACHABLE = "http://127.0.0.1:9/x.npz"  # discard port: connection refused at once


@pytest.fixture(scope="module")
def real_npz(shared_datasets: Path) -> Path:
    path = shared_datasets / FILE
    if not path.is_file():
        pytest.skip(f"real data not found: {path}")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local HTTP server on 127.0.0.1 (free port) serving ``tmp_path/www``: (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _patch_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the registry's pneumoniamnist entry (a copy of it) at ``url``."""
    monkeypatch.setitem(info.MEDMNIST, "pneumoniamnist", {**FACTS, "url": url})


def test_verified_local_file_is_used(real_npz: Path, monkeypatch: pytest.MonkeyPatch):
    # Offline URL: the local, verified file must be used without any network access.
    assert fetch(FILE, UNREACHABLE, MD5, directory=real_npz.parent) == real_npz
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(real_npz.parent))
    _patch_url(monkeypatch, UNREACHABLE)
    ds = load_dataset("pneumoniamnist")
    assert len(ds) == sum(FACTS["n_samples"].values())
    assert ds.source["path"] == str(real_npz)
    assert ds.source["md5"] == MD5


def test_wrong_md5_names_the_file(real_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bad = data_dir / FILE
    bad.write_bytes(real_npz.read_bytes()[:-100])  # truncated copy
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    _patch_url(monkeypatch, UNREACHABLE)
    with pytest.raises(MedbenchError) as err:
        load_dataset("pneumoniamnist")
    msg = str(err.value)
    assert str(bad) in msg and MD5 in msg and md5sum(bad) in msg
    assert "delete it" in msg
    assert bad.exists()  # a user's file is never deleted behind their back


def test_missing_file_offline_says_what_to_put_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data_dir = tmp_path / "empty"
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    _patch_url(monkeypatch, UNREACHABLE)
    with pytest.raises(MedbenchError) as err:
        load_dataset("pneumoniamnist")
    msg = str(err.value)
    assert FILE in msg and MD5 in msg and str(data_dir) in msg and UNREACHABLE in msg
    assert "MEDBENCH_DATA_DIR" in msg
    assert "\n" not in msg
    assert list(data_dir.iterdir()) == []  # no .part file left behind


def test_download_from_local_server(real_npz: Path, http_root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    www, base = http_root
    shutil.copy(real_npz, www / FILE)
    data_dir = tmp_path / "data"  # does not exist yet: fetch creates it
    path = fetch(FILE, f"{base}/{FILE}", MD5, directory=data_dir)
    assert path == data_dir / FILE
    assert md5sum(path) == MD5
    assert sorted(p.name for p in data_dir.iterdir()) == [FILE]  # no .part file
    # and the loader uses the downloaded file
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    _patch_url(monkeypatch, UNREACHABLE)
    ds = load_dataset("pneumoniamnist")
    assert ds.source["path"] == str(path)
    assert {s: int((ds.official_split == s).sum()) for s in ("train", "val", "test")} == FACTS["n_samples"]


def test_download_through_loader(real_npz: Path, http_root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    www, base = http_root
    shutil.copy(real_npz, www / "served.npz")
    data_dir = tmp_path / "data"
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    _patch_url(monkeypatch, f"{base}/served.npz")
    ds = load_dataset("pneumoniamnist")
    assert (data_dir / FILE).is_file() and md5sum(data_dir / FILE) == MD5
    assert len(ds) == sum(FACTS["n_samples"].values())
    assert sorted(p.name for p in data_dir.iterdir()) == [FILE]


def test_corrupt_download_is_refused(real_npz: Path, http_root, tmp_path: Path):
    www, base = http_root
    data = bytearray(real_npz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, wrong MD5
    (www / FILE).write_bytes(bytes(data))
    data_dir = tmp_path / "data"
    url = f"{base}/{FILE}"
    with pytest.raises(MedbenchError) as err:
        fetch(FILE, url, MD5, directory=data_dir)
    assert url in str(err.value) and MD5 in str(err.value)
    assert list(data_dir.iterdir()) == []  # neither the file nor a .part file


def test_http_error_is_a_clear_error(http_root, tmp_path: Path):
    _, base = http_root
    data_dir = tmp_path / "data"
    url = f"{base}/missing.npz"  # 404
    with pytest.raises(MedbenchError) as err:
        fetch(FILE, url, MD5, directory=data_dir)
    msg = str(err.value)
    assert FILE in msg and MD5 in msg and str(data_dir) in msg and url in msg
    assert list(data_dir.iterdir()) == []


# ---------------------------------------------------------------- every MedMNIST set: the same generic path


def _fake_colour_set(path: Path, sizes: dict[str, int], n_classes: int) -> None:
    """A small MedMNIST-style colour file (random pixels, every class in every split)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % n_classes).astype(np.uint8)[:, None]
    np.savez_compressed(path, **arrays)


def test_any_medmnist_set_downloads_verifies_and_keeps_colour(http_root, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    """bloodmnist (a colour set) through the same fetch path, from a local server: the file is a small
    fake, so the test patches a copy of its facts (URL, MD5, sizes), never info.py itself."""
    www, base = http_root
    facts = info.MEDMNIST["bloodmnist"]
    sizes = {"train": 24, "val": 8, "test": 16}
    _fake_colour_set(www / "served.npz", sizes, len(facts["label_names"]))
    md5 = md5sum(www / "served.npz")
    monkeypatch.setitem(info.MEDMNIST, "bloodmnist", {**facts, "url": f"{base}/served.npz", "md5": md5,
                                                      "n_samples": sizes})
    data_dir = tmp_path / "data"
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    ds = load_dataset("bloodmnist")
    assert sorted(p.name for p in data_dir.iterdir()) == [facts["file"]] and md5sum(data_dir / facts["file"]) == md5
    assert ds.channels == "rgb" and ds.images.shape == (48, 28, 28, 3) and ds.n_classes == 8
    assert ds.source["md5"] == md5 and ds.card()["channels"] == "rgb"
    gray = load_dataset("bloodmnist", channels="gray")  # the verified local file: no second download
    assert gray.images.shape == (48, 28, 28) and gray.fingerprint != ds.fingerprint


def test_any_medmnist_set_offline_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    facts = info.MEDMNIST["dermamnist"]
    monkeypatch.setitem(info.MEDMNIST, "dermamnist", {**facts, "url": UNREACHABLE})
    data_dir = tmp_path / "none"
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(data_dir))
    with pytest.raises(MedbenchError) as err:
        load_dataset("dermamnist")
    msg = str(err.value)
    assert facts["file"] in msg and facts["md5"] in msg and str(data_dir / facts["file"]) in msg
    assert "\n" not in msg


def test_a_file_with_other_split_sizes_is_refused(http_root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    www, base = http_root
    facts = info.MEDMNIST["retinamnist"]
    _fake_colour_set(www / "r.npz", {"train": 10, "val": 5, "test": 5}, 5)
    monkeypatch.setitem(info.MEDMNIST, "retinamnist", {**facts, "url": f"{base}/r.npz", "md5": md5sum(www / "r.npz")})
    monkeypatch.setenv("MEDBENCH_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(MedbenchError, match="train split has 10 images, RetinaMNIST .* has 1080"):
        load_dataset("retinamnist")
