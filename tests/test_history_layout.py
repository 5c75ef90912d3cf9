"""The history report's layout: one grid of small multiples per series (not one figure per metric),
version labels ``#1 abc1234`` (a run without a commit: the time it ran), the legend outside the panels
explaining every mark, and a warning with the ``--commit`` hint for runs filed without a git commit
(when they are added, and in the report)."""

from __future__ import annotations

import argparse
from pathlib import Path

import browser
import synthetic_results as synth

from medbench.commands import history as history_cmd
from medbench.reports import history as render
from medbench.stores import history


def _history(*argv) -> int:
    parser = argparse.ArgumentParser(prog="medbench")
    history_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["history", *map(str, argv)])
    return args.handler(args)


def _run(i: int, root: Path, commit: str | None) -> Path:
    res = synth.make(n=120, n_resamples=None, created=f"2026-01-0{i + 1}T10:3{i}:00+0000",
                     environment={"git_commit": commit, "git_dirty": False, "gpus": []})
    return synth.write(res, root / f"run{i + 1}")


def test_history_grid_short_labels_legend_outside_and_commit_warning(tmp_path, capsys):
    store = tmp_path / "store"
    commits = ["abcdef1234567890" * 2 + "abcdef12", "1234567abcdef" * 3 + "1", None, None]
    for i, commit in enumerate(commits):
        capsys.readouterr()
        assert _history("add", _run(i, tmp_path / "runs", commit), "--store", store) == 0
        err = capsys.readouterr().err
        if commit is None:
            assert "has no git commit" in err and "--commit NAME" in err, err
        else:
            assert "warning" not in err, err
    analysis = history.analyse(store)
    (series,) = analysis["series"]
    assert len(series["metrics"]) >= 8
    fig = render.series_figure(series)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == len(series["metrics"])  # one grid: a panel per metric
    labels = [t.get_text() for t in panels[0].get_xticklabels()]
    assert labels == ["#1 abcdef1", "#2 1234567", "#3 01-03 10:32", "#4 01-04 10:33"], labels
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1
    fig.canvas.draw()
    legend_box = fig.legends[0].get_window_extent()
    assert legend_box.x0 >= max(ax.get_window_extent().x1 for ax in panels) - 1  # beside the panels, not over them
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"hog-svm", "cnn", "majority", "band: 95% CI", "change for the worse", "change for the better"} <= set(texts)

    written = render.write(analysis, tmp_path / "report")
    assert written["figure_failures"] == []
    assert sorted(p.name for p in (tmp_path / "report" / "figures").iterdir()) == ["history-1.png"]
    md = (tmp_path / "report" / "history.md").read_text(encoding="utf-8")
    assert "**Warning:** #3, #4 have no git commit" in md and "`medbench history add RUN --commit NAME`" in md
    dom = browser.dump_dom(tmp_path / "report" / "history.html")
    assert dom.count("<img ") == 1
