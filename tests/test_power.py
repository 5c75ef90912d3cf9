"""The minimum detectable differences of :mod:`medbench.evaluation.power`, checked against independent computations.

McNemar: the exact power sum against a Monte Carlo simulation of medbench's own test
(:func:`medbench.evaluation.stats.mcnemar`) on simulated paired answers, and against Connor's normal approximation for
a large set. DeLong: the normal MDD against simulated binormal scorers (two correlated classifiers whose true
ROC-AUCs differ by exactly the MDD) tested with :func:`medbench.evaluation.stats.delong`: the rejection rate is the power.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from medbench.evaluation import power
from medbench.evaluation import stats as st


def _simulated_mcnemar_power(n: int, psi: float, delta: float, sims: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    p10, p01 = (psi + delta) / 2, (psi - delta) / 2
    hits = 0
    for _ in range(sims):
        b, c, _rest = rng.multinomial(n, [p10, p01, 1 - psi])
        # paired right/wrong answers with b images only A gets right and c only B
        a_right = np.r_[np.ones(b, bool), np.zeros(c, bool), np.ones(n - b - c, bool)]
        b_right = np.r_[np.zeros(b, bool), np.ones(c, bool), np.ones(n - b - c, bool)]
        hits += st.mcnemar(a_right, b_right)["p"] < power.ALPHA
    return hits / sims


@pytest.mark.parametrize("n, discordant", [(300, 30), (120, 25)])
def test_mcnemar_mdd_has_power_080_in_a_simulation_of_medbench_s_test(n, discordant):
    mdd = power.mcnemar_mdd(n, discordant)
    psi = discordant / n
    assert mdd is not None and 0 < mdd <= psi
    at_mdd = _simulated_mcnemar_power(n, psi, mdd, 2000, seed=1)
    assert 0.77 <= at_mdd <= 0.85, at_mdd  # power 0.8 (Monte Carlo sd ~0.009)
    below = _simulated_mcnemar_power(n, psi, 0.6 * mdd, 1000, seed=2)
    assert below < 0.7, below  # a clearly smaller difference is detected less often
    # the exact power sum agrees with the simulation away from the MDD too
    assert abs(power.mcnemar_power(n, psi, 0.6 * mdd) - below) < 0.04


def test_mcnemar_mdd_approaches_connor_s_formula_on_a_large_set():
    n, disc = 4000, 400
    exact, connor = power.mcnemar_mdd(n, disc), power.connor_mdd(n, disc / n)
    assert exact == pytest.approx(connor, rel=0.05)
    assert exact >= connor * 0.99  # the continuity correction costs a little power


def test_mcnemar_mdd_is_none_when_too_few_pairs_disagree():
    assert power.mcnemar_mdd(20, 2) is None  # even 2 of 2 discordant pairs one way is not significant
    assert power.mcnemar_mdd(100, 0) is None
    assert power.mcnemar_mdd(0, 0) is None


def test_normal_mdd_is_the_z_sum_times_se():
    se = 0.02
    z = sps.norm.isf(0.025) + sps.norm.ppf(0.8)  # 2.80: the usual one-tail approximation
    assert power.normal_mdd(se) == pytest.approx(z * se, rel=1e-3)
    assert power.normal_mdd(None) is None and power.normal_mdd(0.0) is None
    assert power.se_from_interval([0.1 - 1.959964 * se, 0.1 + 1.959964 * se]) == pytest.approx(se, rel=1e-6)


def _binormal(rng, m: int, k: int, mu_a: float, mu_b: float, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m positives, k negatives; two scorers with correlation ``rho``; true AUC = Phi(mu / sqrt(2))."""
    shared = rng.standard_normal(m + k)
    ea = shared
    eb = rho * shared + math.sqrt(1 - rho * rho) * rng.standard_normal(m + k)
    is_pos = np.r_[np.ones(m, bool), np.zeros(k, bool)]
    return is_pos, ea + mu_a * is_pos, eb + mu_b * is_pos


@pytest.mark.slow
def test_delong_mdd_has_power_080_on_simulated_scorers():
    rng = np.random.default_rng(5)
    m = k = 100
    mu_a, rho = 1.5, 0.6
    auc = lambda mu: sps.norm.cdf(mu / math.sqrt(2))  # noqa: E731
    mu_b = mu_a - 0.3
    for _ in range(2):  # the MDD from DeLong's standard error near the alternative (two rounds settle it)
        ses = [math.sqrt(st.delong(*_binormal(rng, m, k, mu_a, mu_b, rho))["var"]) for _ in range(100)]
        mdd = power.normal_mdd(float(np.mean(ses)))
        mu_b = math.sqrt(2) * sps.norm.ppf(auc(mu_a) - mdd)  # true AUC difference = the MDD
    assert auc(mu_a) - auc(mu_b) == pytest.approx(mdd)
    rejected = np.mean([st.delong(*_binormal(rng, m, k, mu_a, mu_b, rho))["p"] < 0.05 for _ in range(1000)])
    assert 0.75 <= rejected <= 0.85, rejected  # power 0.8 (Monte Carlo sd ~0.013)
