"""The coverage study (tests/coverage_study.py) as a slow test: medbench's 95% intervals keep their promise.

A smaller study than docs/coverage.md's (two scenarios, :data:`SIMS` simulated test sets each, medbench's
1000 bootstrap resamples), so the band is [0.93, 0.97] widened by two of its Monte-Carlo standard errors.
DeLong's normal interval of one ROC-AUC is measured too, but medbench reports no such interval (DeLong
is its paired test of two AUCs), so it is only checked to be computed; docs/coverage.md gives its figures.
It also checks the study can see a failure: the old all-stratified NPV interval, too narrow at prevalence
0.2, falls below the band.
"""

from __future__ import annotations

import math

import coverage_study as cs
import pytest

from medbench.evaluation import protocol

SIMS = 400
SCENARIOS = (cs.Scenario((0.8, 0.2), 200), cs.Scenario((1 / 3, 1 / 3, 1 / 3), 150))


@pytest.fixture(scope="module")
def measured():
    return {s: cs.simulate(s, SIMS, protocol.BOOTSTRAP_RESAMPLES, seed=100 + i) for i, s in enumerate(SCENARIOS)}


@pytest.mark.slow
def test_every_metric_interval_covers_its_population_value_95_percent_of_the_time(measured):
    slack = 2 * math.sqrt(0.95 * 0.05 / SIMS)
    lo, hi = cs.TARGET[0] - slack, cs.TARGET[1] + slack
    for scenario, table in measured.items():
        assert set(table) == set(cs.population(scenario, draws=20_000))  # every metric of the catalogue
        for metric, cols in table.items():
            got = cols["medbench"]["coverage"]
            assert lo <= got <= hi, f"{scenario.name}: {metric} interval covers {got:.3f}, outside [{lo:.3f}, {hi:.3f}]"
            assert cols["medbench"]["width"] > 0
        if scenario.k == 2:  # DeLong's single-AUC interval is measured (docs/coverage.md), not one medbench reports
            assert 0.85 <= table["roc_auc"]["delong"]["coverage"] <= 1.0


@pytest.mark.slow
def test_the_study_detects_an_interval_that_is_too_narrow(measured):
    """Stratified resampling fixes the class counts, so the NPV (which depends on them) gets too narrow an
    interval at prevalence 0.2: the study must see it (and by-metric's ordinary resampling is wider)."""
    binary = measured[SCENARIOS[0]]
    slack = 2 * math.sqrt(0.95 * 0.05 / SIMS)
    assert binary["npv"]["stratified"]["coverage"] < cs.TARGET[0] - slack
    assert binary["npv"]["medbench"]["width"] > binary["npv"]["stratified"]["width"]
