"""Listings and help that a new user reads first: `medbench datasets` / `pipelines` fit the terminal's
width (a table when it fits, one block per row when not), class lists cannot be misread (counted and
quoted: BreastMNIST has two classes, "malignant" and "normal, benign"), and every option of the
sub-commands other than `run` that has a default says it in its help."""

from __future__ import annotations

import argparse

import pytest

from medbench import cli
from medbench.datasets import info


@pytest.mark.parametrize("command", ["datasets", "pipelines"])
@pytest.mark.parametrize("width", [60, 80, 120, 400])
def test_listing_fits_the_terminal(command, width, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    assert cli.main([command]) == 0
    out = capsys.readouterr().out
    assert out.strip() and max(len(line) for line in out.splitlines()) <= width, out
    assert "pneumoniamnist" in out or "hog-svm" in out


def test_class_lists_are_counted_and_quoted(capsys, monkeypatch):
    assert info.MEDMNIST["breastmnist"]["label_names"] == ["malignant", "normal, benign"]
    for width in ("1000", "100"):  # one table row; one block, the classes on their own line
        monkeypatch.setenv("COLUMNS", width)
        capsys.readouterr()
        assert cli.main(["datasets"]) == 0
        out = capsys.readouterr().out
        block = out[out.index("breastmnist"):].split("\n\n")[0]
        assert '2 classes: "malignant", "normal, benign"' in block, block


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, parser, action


def test_help_of_other_commands_shows_true_defaults():
    checked = 0
    for path, parser, action in _options(cli.build_parser()):
        if path[:1] == ("run",) or path == ():
            continue  # `run`'s options are generated from RunConfig's declarations (tested there)
        text = parser._get_formatter()._expand_help(action) if action.help else ""
        assert "(default: None)" not in text, (path, action.option_strings)
        if action.default not in (None, False) and action.default != []:  # an empty repeatable option: none
            shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
            assert f"(default: {shown}" in text, (path, action.option_strings, text)
            checked += 1
    assert checked >= 2  # predict --n-jobs, suite --scheduler at least
