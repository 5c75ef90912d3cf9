"""The smallest difference a test set could have detected: power of the paired tests medbench uses.

"No significant difference" means little without the size of difference the test could have seen. For
each paired test of :mod:`medbench.evaluation.stats` this module gives the *minimum detectable difference* (MDD): the
smallest true difference that the same test, on a test set of the same size and make-up, rejects with
probability ``power`` (default 0.8) at two-sided level ``alpha`` (default 0.05).

**McNemar (accuracy)** - :func:`mcnemar_mdd`. With ``n`` paired images, let ``p10`` / ``p01`` be the
chances that only A / only B is right; the discordant-pair rate ``psi = p10 + p01`` is estimated by the
observed ``(b + c) / n`` and the accuracy difference is ``delta = p10 - p01``. The number of discordant
pairs is ``D ~ Bin(n, psi)`` and, given ``D``, ``b ~ Bin(D, (psi + delta) / (2 psi))``. medbench's test
rejects on the rejection region of :func:`medbench.evaluation.stats.mcnemar` for that ``D`` (exact binomial below
``EXACT_BELOW`` discordant pairs, else the continuity-corrected chi-square), so the power is computed
*exactly* as ``sum_D P(D) P(b in region(D) | D)`` and the MDD is the smallest ``delta`` with power >=
``power``, found by bisection to ``psi / 2000`` (the power rises with ``|delta|``). Connor's (1987) normal approximation
``sqrt(n) delta = z_(1-alpha/2) sqrt(psi) + z_power sqrt(psi - delta^2)`` (:func:`connor_mdd`) is the
large-sample limit (the exact test needs a little more). With ``|delta| <= psi`` a set with few discordant
pairs may detect nothing: then the MDD is None.

**DeLong (binary ROC-AUC)** - :func:`normal_mdd`. The test is ``z = d / se`` with ``se`` the square root of
DeLong's variance of the AUC difference; holding ``se`` at its observed value, the power at a true
difference ``delta`` is ``Phi(delta / se - z_(1-alpha/2)) + Phi(-delta / se - z_(1-alpha/2))``, and the MDD
solves it = ``power`` (about ``(z_(1-alpha/2) + z_power) se = 2.80 se``).

**Paired bootstrap (multi-class ROC-AUC)** - the same normal formula with ``se`` = the width of the 95%
percentile interval of the difference / (2 x 1.96) (:func:`se_from_interval`): an approximation.

tests/test_power.py checks the McNemar MDD against a Monte Carlo simulation of :func:`medbench.evaluation.stats.mcnemar`
and the DeLong MDD against simulated binormal scorers tested with :func:`medbench.evaluation.stats.delong`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy import stats as sps

from medbench.evaluation import protocol
from medbench.evaluation.stats import EXACT_BELOW

ALPHA = protocol.ALPHA
POWER = 0.8
GRID = 2000  # McNemar: the MDD is found to psi / GRID

__all__ = ["ALPHA", "POWER", "connor_mdd", "mcnemar_mdd", "mcnemar_power", "normal_mdd", "se_from_interval"]


def _region_edges(n_max: int, alpha: float) -> np.ndarray:
    """For each number of discordant pairs D = 0..n_max: the largest ``k`` such that ``min(b, c) <= k``
    rejects in :func:`medbench.evaluation.stats.mcnemar` (-1: nothing rejects)."""
    edges = np.full(n_max + 1, -1, dtype=np.int64)
    crit = float(sps.chi2.isf(alpha, 1))
    for d in range(1, n_max + 1):
        k = np.arange(0, d // 2 + 1)
        if d < EXACT_BELOW:
            reject = np.minimum(1.0, 2 * sps.binom.cdf(k, d, 0.5)) < alpha
        else:
            reject = (np.abs(d - 2 * k) - 1) ** 2 / d > crit
        hit = np.flatnonzero(reject)
        edges[d] = int(hit[-1]) if hit.size else -1
    return edges


def mcnemar_power(n: int, psi: float, delta: float, alpha: float = ALPHA,
                  _edges: np.ndarray | None = None) -> float:
    """Exact power of medbench's McNemar test on ``n`` pairs with discordant rate ``psi`` and accuracy
    difference ``delta`` (``|delta| <= psi``)."""
    if n <= 0 or psi <= 0:
        return 0.0
    delta = min(abs(delta), psi)
    edges = _region_edges(n, alpha) if _edges is None else _edges
    d = np.arange(0, n + 1)
    p_d = sps.binom.pmf(d, n, psi)
    q = (psi + delta) / (2 * psi)  # P(only A right | discordant)
    k = edges[d]
    ok = k >= 0
    # reject when b <= k or b >= D - k
    low = np.where(ok, sps.binom.cdf(k, d, q), 0.0)
    high = np.where(ok, sps.binom.sf(d - k - 1, d, q), 0.0)
    both = np.where(ok & (k >= d - k), 1.0, low + high)  # regions overlap only when everything rejects
    return float(np.sum(p_d * np.minimum(both, 1.0)))


def mcnemar_mdd(n: int, discordant: int, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest accuracy difference medbench's McNemar test detects with ``power`` at ``alpha`` on
    ``n`` pairs of which ``discordant`` (b + c) were discordant; None when no difference up to the
    discordant rate would (too few discordant pairs)."""
    if n <= 0 or discordant <= 0:
        return None
    psi = min(discordant / n, 1.0)
    edges = _region_edges(n, alpha)
    if mcnemar_power(n, psi, psi, alpha, edges) < power:
        return None
    lo, hi = 0.0, psi  # the power rises with |delta| (each D's region is symmetric about D / 2)
    while hi - lo > psi / GRID:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if mcnemar_power(n, psi, mid, alpha, edges) >= power else (mid, hi)
    return float(hi)


def connor_mdd(n: int, psi: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Connor's (1987) normal-approximation MDD for McNemar's test (no continuity correction)."""
    if n <= 0 or psi <= 0:
        return None
    za, zb = sps.norm.isf(alpha / 2), sps.norm.ppf(power)
    f = lambda d: math.sqrt(n) * d - za * math.sqrt(psi) - zb * math.sqrt(max(psi - d * d, 0.0))  # noqa: E731
    if f(psi) < 0:
        return None
    return float(optimize.brentq(f, 0.0, psi))


def normal_mdd(se: float | None, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The MDD of a two-sided z-test with standard error ``se`` (DeLong): solves
    ``Phi(d/se - z) + Phi(-d/se - z) = power``, z = the (1 - alpha/2) normal quantile."""
    if se is None or not math.isfinite(se) or se <= 0:
        return None
    z = sps.norm.isf(alpha / 2)
    f = lambda d: sps.norm.cdf(d / se - z) + sps.norm.cdf(-d / se - z) - power  # noqa: E731
    return float(optimize.brentq(f, 0.0, 20 * se))


def se_from_interval(ci: list[float] | tuple[float, float] | None, level: float = 0.95) -> float | None:
    """The standard error a normal ``level`` interval of this width implies."""
    if not ci or None in ci or not all(math.isfinite(v) for v in ci):
        return None
    return (ci[1] - ci[0]) / (2 * float(sps.norm.isf((1 - level) / 2)))
