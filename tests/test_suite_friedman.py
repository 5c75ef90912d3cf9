"""The suite's Friedman test (medbench.running.suitefile.friedman) against the textbook formula written here:
within-dataset mid-ranks, chi2_F = [12 / (N k (k+1)) * sum_j R_j^2 - 3 N (k+1)] / C with the tie
correction C = 1 - sum(t^3 - t) / (N k (k^2 - 1)), and Iman-Davenport's F = (N-1) chi2 / (N (k-1) - chi2)
on (k-1, (k-1)(N-1)) degrees of freedom (Demšar 2006, section 3.2.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from medbench.evaluation import stats as st


def _midranks(row: list[float]) -> list[float]:
    order = sorted(range(len(row)), key=lambda i: row[i])
    ranks = [0.0] * len(row)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and row[order[j + 1]] == row[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _friedman_reference(scores: np.ndarray) -> tuple[float, float | None]:
    n, k = scores.shape
    ranks = [_midranks(list(r)) for r in scores.tolist()]
    rsum = [sum(r[j] for r in ranks) for j in range(k)]
    ties = 0.0
    for row in scores.tolist():
        for v in set(row):
            t = row.count(v)
            ties += t ** 3 - t
    chi2 = (12 / (n * k * (k + 1)) * sum(r * r for r in rsum) - 3 * n * (k + 1)) / (1 - ties / (n * k * (k * k - 1)))
    denom = n * (k - 1) - chi2
    return chi2, ((n - 1) * chi2 / denom if denom > 1e-12 else None)


@pytest.mark.parametrize("seed", range(6))
def test_friedman_matches_the_formula_with_ties(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 9)), int(rng.integers(3, 6))
    scores = np.round(rng.normal(np.linspace(0, 0.6, k), 0.3, (n, k)), 1)  # rounded: ties within datasets
    scores[0] = 0.5  # one dataset a complete tie: the others still count
    chi2, f = _friedman_reference(scores)
    got = st.friedman(scores)
    assert got["chi2"] == pytest.approx(chi2, rel=1e-9)
    assert got["p_chi2"] == pytest.approx(sps.chi2.sf(chi2, k - 1), rel=1e-9)
    assert (got["df"], got["df1"], got["df2"]) == (k - 1, k - 1, (k - 1) * (n - 1))
    assert got["F"] == pytest.approx(f, rel=1e-9)
    assert got["p"] == pytest.approx(sps.f.sf(f, k - 1, (k - 1) * (n - 1)), rel=1e-9)


def test_friedman_complete_agreement_and_complete_tie():
    agree = np.tile([0.9, 0.8, 0.7], (4, 1)) + np.arange(4)[:, None] * 0.01
    got = st.friedman(agree)
    assert got["chi2"] == pytest.approx(4 * 2)  # N (k - 1): the largest chi2 there is
    assert got["F"] is None and got["p"] == 0.0 and got["p_chi2"] == pytest.approx(math.exp(-4))
    tie = st.friedman(np.full((4, 3), 0.5))
    assert tie == {"chi2": 0.0, "df": 2, "p_chi2": 1.0, "F": 0.0, "df1": 2, "df2": 6, "p": 1.0}


def test_critical_difference_formula():
    for k, n in ((2, 3), (4, 10), (7, 5)):
        q = sps.studentized_range.ppf(0.95, k, np.inf) / math.sqrt(2)
        assert st.nemenyi_q(k) == pytest.approx(q, rel=1e-9)
        assert st.critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), rel=1e-9)
    assert st.critical_difference(4, 10, alpha=0.1) < st.critical_difference(4, 10)


def test_friedman_near_agreement_keeps_a_finite_f():
    """Nine datasets rank the pipelines alike, the tenth ties two of them: N (k-1) - chi2 = 0.46 (below 1),
    so F is large but finite - only a complete agreement makes it infinite."""
    scores = np.tile([0.9, 0.8, 0.7], (10, 1))
    scores[0] = [0.9, 0.8, 0.8]
    chi2, f = _friedman_reference(scores)
    assert 0.4 < 10 * 2 - chi2 < 0.5 and f is not None
    got = st.friedman(scores)
    assert got["chi2"] == pytest.approx(chi2, rel=1e-9) and got["F"] == pytest.approx(f, rel=1e-9)
    assert got["p"] == pytest.approx(sps.f.sf(f, 2, 18), rel=1e-6) and got["p"] > 0
