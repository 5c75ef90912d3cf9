"""medbench.core.cachekeys against references computed here with hashlib and json directly: file and array
digests, the canonical JSON, key inputs, the key itself and the one-line explanations of a miss."""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json

import numpy as np
import pytest

from medbench.core import cachekeys


def test_file_sha256_reads_every_chunk(tmp_path, monkeypatch):
    data = bytes(range(256)) * 41 + b"tail"  # 10,500 bytes
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    monkeypatch.setattr(cachekeys, "_CHUNK", 1000)  # many chunks, the last one short
    assert cachekeys.file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert cachekeys.file_sha256(str(path), "md5") == hashlib.md5(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert cachekeys.file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def _ref_digest(x: np.ndarray) -> str:
    return hashlib.sha256(f"{x.dtype.str}{x.shape}".encode() + np.ascontiguousarray(x).tobytes()).hexdigest()


@pytest.mark.parametrize("make", [
    lambda a: a,  # contiguous
    lambda a: a[:, ::2],  # a strided view: hashed row by row
    lambda a: a.T,  # Fortran order
    lambda a: a[::2, 1],  # 1-D strided
    lambda a: a[:0],  # empty
    lambda a: a.reshape(3, 4, 5)[:, ::2, :],  # 3-D view
])
def test_array_digest_equals_the_hash_of_dtype_shape_and_bytes(make):
    base = np.arange(60, dtype=np.int16).reshape(6, 10)
    x = make(base)
    assert cachekeys.array_digest(x) == _ref_digest(x)


def test_array_digest_tells_dtype_shape_and_values_apart():
    a = np.arange(12, dtype=np.float32)
    digests = {cachekeys.array_digest(v) for v in (a, a.reshape(3, 4), a.astype(np.float64), a + 1,
                                                    a.astype(">f4"))}
    assert len(digests) == 5


def test_canonical_is_sorted_compact_json_with_numpy_and_paths_as_values(tmp_path):
    obj = {"b": np.int64(3), "a": [np.float32(0.5), tmp_path / "x"], "c": {"z": 1, "y": None}}
    assert cachekeys.canonical(obj) == (
        '{"a":[0.5,"' + str(tmp_path / "x") + '"],"b":3,"c":{"y":null,"z":1}}')
    assert json.loads(cachekeys.canonical({"i": np.int32(7)}))["i"] == 7
    assert isinstance(json.loads(cachekeys.canonical({"f": np.float64(0.25)}))["f"], float)


def test_library_versions_lists_installed_ones_only():
    got = cachekeys.library_versions(["numpy", "no-such-dist-medbench", "scikit-learn"])
    assert got == {"numpy": importlib.metadata.version("numpy"),
                   "scikit-learn": importlib.metadata.version("scikit-learn")}


def test_key_inputs_and_digest():
    inputs = cachekeys.key_inputs("features", code=["medbench.core", "medbench.core"], libs=["numpy"],
                                  size=np.int64(28), path="x")
    assert inputs == {"kind": "features",
                      "code": {"modules": ["medbench.core"], "sha256": cachekeys.source_hash("medbench.core")},
                      "libraries": {"numpy": importlib.metadata.version("numpy")}, "params": {"path": "x", "size": 28}}
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    assert cachekeys.digest(inputs) == hashlib.sha256(text.encode()).hexdigest()


def test_source_hash_depends_on_the_modules_not_their_order():
    a = cachekeys.source_hash("medbench.core", "medbench.metrics")
    assert a == cachekeys.source_hash("medbench.metrics", "medbench.core", "medbench.core")
    assert a != cachekeys.source_hash("medbench.core") != cachekeys.source_hash("medbench.metrics")
    with pytest.raises(ModuleNotFoundError):
        cachekeys.source_hash("medbench_no_such_module")


def test_explain_names_what_changed():
    base = {"kind": "k", "code": {"modules": ["m"], "sha256": "1"}, "libraries": {"numpy": "1", "x": "2"},
            "params": {"a": 1, "b": 2}}
    assert cachekeys.explain(None, base) == "no entry"
    assert cachekeys.explain(base, dict(base)) == "same inputs"
    assert cachekeys.explain(base, copy.deepcopy(base)) == "same inputs"  # equal, not the same objects
    changed = {"kind": "j", "code": {"modules": ["m", "n"], "sha256": "2"}, "libraries": {"numpy": "3", "y": "1"},
               "params": {"a": 1, "b": 3, "c": 0}}
    assert cachekeys.explain(base, changed) == (
        "kind changed; medbench source changed (m, n); libraries changed (numpy 1->3, x 2->None, y None->1); "
        "parameters changed (b, c)")
    assert cachekeys.explain({"kind": "k"}, {"kind": "k", "params": {"a": 1}}) == "parameters changed (a)"
    assert cachekeys.explain({"kind": "k", "libraries": {"a": "1"}}, {"kind": "k"}) == (
        "libraries changed (a 1->None)")


def test_file_sha256_with_the_module_chunk_size(tmp_path):
    data = b"x" * 3_000_001  # three chunks and a byte at the real chunk size (1 MiB)
    (tmp_path / "big").write_bytes(data)
    assert cachekeys.file_sha256(tmp_path / "big") == hashlib.sha256(data).hexdigest()


def test_key_inputs_takes_its_parts_by_keyword_only():
    with pytest.raises(TypeError):
        cachekeys.key_inputs("k", ["medbench.core"], ["numpy"])  # code and libs must be named


def test_explain_compares_values_not_identities():
    """Equal values that are different objects (as after reading JSON) are not reported as changes."""
    same_version, same_param = "".join(["2.", "1"]), [1, 2]
    stored = {"kind": "k", "libraries": {"numpy": same_version, "x": "1"}, "params": {"a": same_param, "b": 1}}
    current = {"kind": "k", "libraries": {"numpy": "".join(["2", ".1"]), "x": "2"},
               "params": {"a": list(same_param), "b": 2}}
    assert cachekeys.explain(stored, current) == "libraries changed (x 1->2); parameters changed (b)"
