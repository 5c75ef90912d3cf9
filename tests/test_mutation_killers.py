"""Tests written to fail when the code is wrong (issue 18): each checks a behaviour against a reference
that does not come from medbench itself, so a mutation of the code cannot also move the expected value.

* the source hash follows the bytes of a copied package's files (checked against a SHA-256 computed here);
* a three-class report shows hostile class names literally in its multi-class confusion tables;
* DeLong's variance on an unbalanced test set equals the structural-components formula written out
  here with exact fractions (DeLong, DeLong & Clarke-Pearson 1988, eqs. for V10, V01, S10, S01);
* ``--resplit-per-seed`` with a ``--split-manifest`` that exists is refused with its own message.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import synthetic_results as synth
from scipy import stats as sps

from medbench.cli import main
from medbench.core import cachekeys
from medbench.datasets import load_dataset
from medbench.datasets.splits import make_split, save_manifest
from medbench.evaluation import stats

# --- the source hash follows file contents -------------------------------------------------------


def _reference_source_hash(package: str, root: Path) -> str:
    """SHA-256 over ``name\\n`` + bytes + NUL of every .py file below ``root``, in sorted path order:
    the documented recipe of :func:`cachekeys.source_hash`, written independently."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(f"{package}:{path.relative_to(root).as_posix()}\n".encode())
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def test_source_hash_follows_the_bytes_of_a_copied_package(tmp_path, monkeypatch):
    name = "mb_issue18_copy"
    src = Path(cachekeys.__file__).parent  # medbench.core: a small package tree
    pkg = tmp_path / name
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(tmp_path))
    cachekeys.source_hash.cache_clear()
    before = cachekeys.source_hash(name)
    assert before == _reference_source_hash(name, pkg)

    target = pkg / "cachekeys.py"
    data = target.read_bytes()
    target.write_bytes(data.replace(b"sha256", b"sha257", 1))  # same size, same names: only bytes change
    assert target.stat().st_size == len(data)
    cachekeys.source_hash.cache_clear()
    after = cachekeys.source_hash(name)
    assert after == _reference_source_hash(name, pkg)
    assert after != before

    (pkg / "sub").mkdir()
    (pkg / "sub" / "extra.py").write_text("x = 1\n")  # a new file below the package counts too
    cachekeys.source_hash.cache_clear()
    assert cachekeys.source_hash(name) == _reference_source_hash(name, pkg) != after
    cachekeys.source_hash.cache_clear()


# --- hostile class names in a multi-class report --------------------------------------------------

HOSTILE_CLASSES = ("<img src=x onerror=alert(1)> | a", "`tick` $\\alpha$ *b*", "<b>bold</b>|[l](javascript:x)")


class _Tables(HTMLParser):
    """The cell texts (character references decoded) of every table of an HTML document, and its tags."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def three_class_report(tmp_path_factory) -> Path:
    res = synth.make((("hog-svm", "classical", 2.0), ("cnn", "deep", 1.0)), class_names=HOSTILE_CLASSES, n=30,
                     n_resamples=30)
    folder = synth.write(res, tmp_path_factory.mktemp("three") / "out")
    assert main(["report", str(folder)]) == 0
    return folder


def test_multiclass_confusion_tables_show_hostile_class_names_literally(three_class_report):
    md = (three_class_report / "report.md").read_text()
    assert "Multi-class task" in md
    # report.md: no raw tag, no unescaped pipe inside a table cell (every row of a table has the same borders)
    tables = [b for b in md.split("\n\n") if b.lstrip().startswith("|")]
    assert tables
    for block in tables:
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({len(re.findall(r"(?<!\\)\|", r)) for r in rows}) == 1, block
        assert "<img" not in block and "<b>" not in block, block
    # report.html: each pipeline's confusion table has the three names, verbatim, as column and row headers
    page = _Tables((three_class_report / "report.html").read_text())
    assert "b" not in page.tags and "script" not in page.tags
    confusion = [t for t in page.tables if t and t[0] == ["", *HOSTILE_CLASSES]]
    assert len(confusion) == 2, [t[0] for t in page.tables]
    for table in confusion:
        assert [row[0] for row in table[1:]] == list(HOSTILE_CLASSES)
        assert all(len(row) == 4 for row in table)
        assert sum(int(c) for row in table[1:] for c in row[1:]) == 30


# --- DeLong on an unbalanced test set -------------------------------------------------------------


def _psi(x, y) -> Fraction:
    return Fraction(1) if x > y else Fraction(1, 2) if x == y else Fraction(0)


def _delong_reference(is_pos: list[bool], a: list[float], b: list[float]) -> tuple[Fraction, Fraction, Fraction]:
    """``(AUC(a), AUC(b), Var(AUC(a) - AUC(b)))`` by DeLong et al. (1988) in exact arithmetic:
    V10(X_i) = mean_j psi(X_i, Y_j) over the n negatives, V01(Y_j) = mean_i psi(X_i, Y_j) over the m
    positives; S10, S01 their sample covariance matrices (divisor m - 1, n - 1);
    Var = (S10_aa + S10_bb - 2 S10_ab) / m + (S01_aa + S01_bb - 2 S01_ab) / n."""
    pos = [i for i, p in enumerate(is_pos) if p]
    neg = [i for i, p in enumerate(is_pos) if not p]
    m, n = len(pos), len(neg)
    v10 = {s: [sum(_psi(sc[i], sc[j]) for j in neg) / n for i in pos] for s, sc in (("a", a), ("b", b))}
    v01 = {s: [sum(_psi(sc[i], sc[j]) for i in pos) / m for j in neg] for s, sc in (("a", a), ("b", b))}
    auc = {s: sum(v10[s]) / m for s in "ab"}

    def cov(u, v):
        mu, mv = sum(u) / len(u), sum(v) / len(v)
        return sum((x - mu) * (y - mv) for x, y in zip(u, v)) / (len(u) - 1)

    s10 = cov(v10["a"], v10["a"]) + cov(v10["b"], v10["b"]) - 2 * cov(v10["a"], v10["b"])
    s01 = cov(v01["a"], v01["a"]) + cov(v01["b"], v01["b"]) - 2 * cov(v01["a"], v01["b"])
    return auc["a"], auc["b"], s10 / m + s01 / n


def test_delong_matches_the_structural_components_formula_on_unbalanced_data():
    rng = np.random.default_rng(18)
    is_pos = np.array([True] * 7 + [False] * 19)  # 7 positives, 19 negatives
    a = np.round(rng.normal(is_pos * 1.2, 1.0), 1)  # rounded: ties within and across classes
    b = np.round(rng.normal(is_pos * 0.4, 1.0), 1)
    auc_a, auc_b, var = _delong_reference(is_pos.tolist(), a.tolist(), b.tolist())
    got = stats.delong(is_pos, a, b)
    assert got["auc_a"] == pytest.approx(float(auc_a), abs=1e-12)
    assert got["auc_b"] == pytest.approx(float(auc_b), abs=1e-12)
    assert got["var"] == pytest.approx(float(var), rel=1e-9)
    z = float(auc_a - auc_b) / math.sqrt(float(var))
    assert got["z"] == pytest.approx(z, rel=1e-9)
    assert got["p"] == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)
    half = sps.norm.ppf(0.975) * math.sqrt(float(var))
    assert got["ci"] == pytest.approx([float(auc_a - auc_b) - half, float(auc_a - auc_b) + half], rel=1e-9)
    # the same with the classes' roles reversed in size (19 positives, 7 negatives)
    auc_a2, auc_b2, var2 = _delong_reference((~is_pos).tolist(), (-a).tolist(), (-b).tolist())
    assert stats.delong(~is_pos, -a, -b)["var"] == pytest.approx(float(var2), rel=1e-9)


def test_delong_single_auc_variance_on_a_hand_worked_example():
    """2 positives (0.9, 0.4), 3 negatives (0.1, 0.4, 0.8): psi rows (1, 1, 1) and (1, 1/2, 0), so
    V10 = (1, 1/2), V01 = (1, 3/4, 1/2), AUC = 3/4, S10 = 1/8, S01 = 1/16,
    Var = S10 / 2 + S01 / 3 = 1/16 + 1/48 = 1/12."""
    is_pos = np.array([True, True, False, False, False])
    aucs, cov = stats.delong_covariance(is_pos, np.array([[0.9, 0.4, 0.1, 0.4, 0.8]]))
    assert aucs[0] == pytest.approx(0.75) and cov[0, 0] == pytest.approx(1 / 12)


# --- --resplit-per-seed with --split-manifest ----------------------------------------------------


def test_resplit_per_seed_refuses_an_existing_split_manifest(make_image_folder, tmp_path, capsys):
    folder = make_image_folder(12, name="tiny")
    ds = load_dataset(f"folder:{folder}", image_size=16)
    manifest = save_manifest(ds, make_split(ds, seed=0, val_fraction=0.25, test_fraction=0.25), tmp_path / "split.json")
    assert manifest.is_file()
    capsys.readouterr()
    rc = main(["run", "--dataset", f"folder:{folder}", "--image-size", "16", "--pipelines", "majority",
               "--seeds", "0", "1", "--resplit-per-seed", "--split-manifest", str(manifest),
               "--bootstrap-resamples", "20", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert ("medbench: error: --resplit-per-seed carves a split per seed; it cannot be combined with "
            "--split-manifest") in err
    assert not (tmp_path / "o" / "results.json").exists()
