"""History change-point detection (medbench.st.penalty / change_points) against an exact optimal
partitioning written here from scratch: minimise the sum of squared deviations from each segment's
mean plus ``pen`` per change point over every segmentation (dynamic programming, O(n^2)). PELT with
the l2 cost and min_size 1 finds the same optimum, so both must name the same change points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medbench.evaluation import stats as st


def _optimal(values: list[float], pen: float) -> list[int]:
    x = [float(v) for v in values]
    n = len(x)

    def sse(i: int, j: int) -> float:  # cost of the segment x[i:j]
        seg = x[i:j]
        mu = sum(seg) / len(seg)
        return sum((v - mu) ** 2 for v in seg)

    best = [0.0] + [math.inf] * n  # best[j]: least cost of x[:j] (each segment start after the first costs pen)
    last = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            c = best[i] + sse(i, j) + (pen if i > 0 else 0.0)
            if c < best[j] - 1e-15:
                best[j], last[j] = c, i
    cps, j = [], n
    while j > 0:
        if last[j] > 0:
            cps.append(last[j])
        j = last[j]
    return sorted(cps)


def test_change_points_equal_the_exact_optimal_partitioning():
    rng = np.random.default_rng(1807)
    checked = 0
    for _ in range(60):
        n = int(rng.integers(2, 12))
        levels = rng.choice([0.80, 0.85, 0.90], size=n)
        runs = np.repeat(levels, 3)[:n]  # runs of three versions at one level
        values = np.round(runs + rng.normal(0, 0.01, n), 4).tolist()
        pen = float(rng.choice([0.0004, 0.001, 0.0025]))
        expected = _optimal(values, pen)
        assert st.change_points(values, pen) == expected, (values, pen)
        checked += bool(expected)
    assert checked >= 15  # most series had a change to find


def test_two_changes_and_short_series():
    assert st.change_points([0.9, 0.9, 0.7, 0.7, 0.9, 0.9], 0.001) == [2, 4]
    assert st.change_points([0.5, 0.9], 0.01) == [1]  # two versions are enough
    assert st.change_points([0.5, 0.9], 0.2) == []  # ... unless the penalty is larger than the gain (0.08)
    assert st.change_points([0.9], 1e-9) == [] and st.change_points([], 1e-9) == []
    assert st.change_points([0.7] * 5, 0.0) == []  # constant: nothing, even with no penalty


@pytest.mark.parametrize(("half_width", "n", "tol", "expected"), [
    (0.05, 1, 0.01, 0.0025),  # ln(1) = 0: the floor 1.0 applies
    (0.05, 0, 0.01, 0.0025),  # n < 1 counts as 1
    (0.001, 6, 0.04, 0.0008),  # half-width below tolerance / sqrt(2): (0.04 / sqrt 2)^2
    (0.05, 7, 0.01, 0.0025 * 2 * math.log(7) / 1.959963984540054 ** 2),  # from n = 7 the BIC term wins
    (0.05, 6, 0.01, 0.0025),  # ... not yet at n = 6 (2 ln 6 / 1.96^2 = 0.933)
])
def test_penalty_values(half_width, n, tol, expected):
    assert st.penalty(half_width, n, tol) == pytest.approx(expected, rel=1e-9)
