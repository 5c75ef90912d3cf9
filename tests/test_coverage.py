"""The coverage study (tests/coverage_study.py) as a slow test: medbench's 95% intervals keep their promise.

A smaller study than docs/coverage.md's, on its hardest scenarios: binary at prevalence 0.2 with 200 images
(40 positives: the AUC, the majority class's recall and the ECE are where the earlier methods fell short),
the same with a calibrated scorer (the ECE at its boundary, population value about 0) and 3-class with 150
images; :data:`SIMS` simulated test sets each, medbench's 1000 bootstrap resamples, population values from
:data:`DRAWS` draws. The band is [0.93, 0.97] widened by two Monte-Carlo standard errors of a coverage of 0.95
with :data:`SIMS` sets (the seeds are fixed, so the test is deterministic; the figures of the full study,
with 500-1000 sets per scenario, are docs/coverage.md's). The Metrics Reloaded metrics are held to it too
(average precision, log loss, class-wise ECE, LR+ / LR- and, binary, the sensitivity at fixed specificity at
each simulated set's validation thresholds, against the population sensitivity at that threshold).
It also checks the study can see a failure: the old all-stratified NPV interval, too narrow at prevalence
0.2, and the percentile interval of the plug-in ECE fall below the band.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import coverage_study as cs
import pytest

from medbench.evaluation import protocol

SIMS = 150
DRAWS = 200_000
SCENARIOS = (cs.Scenario((0.8, 0.2), 200), cs.Scenario((0.8, 0.2), 200, temperature=1.0),
             cs.Scenario((1 / 3, 1 / 3, 1 / 3), 150))
SLACK = 2 * math.sqrt(0.95 * 0.05 / SIMS)


@pytest.fixture(scope="module")
def measured():
    return {s: cs.simulate(s, SIMS, protocol.BOOTSTRAP_RESAMPLES, seed=100 + i, draws=DRAWS)
            for i, s in enumerate(SCENARIOS)}


def _published() -> set[str]:
    """The metrics docs/coverage.md measured (its figures, docs/coverage.json)."""
    kept = json.loads((Path(__file__).resolve().parents[1] / "docs" / "coverage.json").read_text(encoding="utf-8"))
    return {m for table in kept["table"].values() for m in table}


@pytest.mark.slow
def test_every_metric_interval_covers_its_population_value_95_percent_of_the_time(measured):
    """Every metric the published study measured is held to the band; a metric added to the catalogue since
    (until the study is run again) only has to get an interval."""
    lo, hi = cs.TARGET[0] - SLACK, cs.TARGET[1] + SLACK
    published = _published()
    for scenario, table in measured.items():
        assert set(table) == set(cs.population(scenario, draws=20_000))  # every metric of the catalogue
        for metric, cols in table.items():
            got = cols["medbench"]["coverage"]
            assert cols["medbench"]["width"] > 0, f"{scenario.name}: {metric} has no interval"
            if metric in published:
                assert lo <= got <= hi, \
                    f"{scenario.name}: {metric} interval covers {got:.3f}, outside [{lo:.3f}, {hi:.3f}]"
        if scenario.k == 2:  # by-metric-v2 reports DeLong's logit-scale interval for a binary AUC
            assert table["roc_auc"]["delong-logit"]["coverage"] == table["roc_auc"]["medbench"]["coverage"]


@pytest.mark.slow
def test_the_study_detects_an_interval_that_is_too_narrow(measured):
    """Stratified resampling fixes the class counts, so the NPV (which depends on them) gets too narrow an
    interval at prevalence 0.2; the plug-in ECE's percentile interval lies above the population value. The
    study must see both (and by-metric-v2's NPV interval is wider)."""
    binary = measured[SCENARIOS[0]]
    assert binary["npv"]["stratified"]["coverage"] < cs.TARGET[0] - SLACK
    assert binary["npv"]["medbench"]["width"] > binary["npv"]["stratified"]["width"]
    assert binary["ece"]["ordinary"]["coverage"] < 0.5
