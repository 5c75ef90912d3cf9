"""The report's Parameters section: what the tuning grid chose, and what an --option fixed."""

from __future__ import annotations

import synthetic_results as synth

from medbench.reports import markdown
from medbench.reports.escape import md_code as C


def test_fixed_parameters_are_marked_and_chosen_ones_are_not():
    res = synth.make()
    job = synth.find(res, "hog-svm")
    job["params"] = {"svc__C": 5, "hog__pixels_per_cell": 8}
    job["fixed_by_option"] = {"svc__C": 5}
    text = markdown.render(res)
    section = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in section.splitlines() if "hog-svm" in ln)
    assert f"{C('svc__C')} = {C('5')} *(fixed by --option)*" in line
    chosen = f"{C('hog__pixels_per_cell')} = {C('8')}"
    assert chosen in line and f"{chosen} *(fixed" not in line
    assert "cnn" not in section  # no parameters recorded: no line


def test_parameter_names_and_values_are_shown_literally():
    res = synth.make()
    job = synth.find(res, "cnn")
    job["params"] = {"a|b": "<img src=x onerror=alert(1)>"}
    section = markdown.render(res).split("## Parameters", 1)[1].split("\n## ", 1)[0]
    value = C("<img src=x onerror=alert(1)>")
    assert value.startswith("`") and f"{C('a|b')} = {value}" in section
    assert "<img" not in section.replace(value, "")  # only inside a code span


def test_no_section_without_parameters():
    assert "## Parameters" not in markdown.render(synth.make())
