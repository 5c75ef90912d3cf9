"""What `medbench run` prints: every job line carries its counter (``[2/3] hog-tree seed 0: ...``, in
medbench.log too); on a terminal a live bar with elapsed time and ETA; the final leaderboard fits the
terminal's width (the wide table stays in report.md); a closing block with the verdict, the best
classical and deep rows and the paths of report.html and results.json.

Runs are small and real (a few chest X-rays from the shared Kermany folder, 16 px)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
import synthetic_results as synth
from tabulate import tabulate

from medbench.cli import main
from medbench.records import results as results_mod
from medbench.reports import tables, terminal

COUNTER = re.compile(r"^\[(\d+)/(\d+)\] (\S+) seed (\d+): accuracy ")


def _run_args(folder, out) -> list[str]:
    return ["run", "--dataset", f"folder:{folder}", "--pipelines", "majority", "hog-tree", "--seeds", "0", "1",
            "--image-size", "16", "--n-jobs", "1", "--bootstrap-resamples", "30", "--out", str(out)]


def test_run_counts_jobs_fits_the_terminal_and_closes_with_the_verdict(make_image_folder, tmp_path, capsys,
                                                                       monkeypatch):
    folder = make_image_folder(12, name="terminal")
    out = tmp_path / "out"
    monkeypatch.setenv("COLUMNS", "72")
    capsys.readouterr()
    assert main(_run_args(folder, out)) == 0
    captured = capsys.readouterr()
    counted = [m.groups() for line in captured.err.splitlines() if (m := COUNTER.match(line))]
    assert [int(i) for i, *_ in counted] == [1, 2, 3, 4] and {n for _, n, *_ in counted} == {"4"}, captured.err
    assert {(p, s) for _, _, p, s in counted} == {("majority", "0"), ("majority", "1"), ("hog-tree", "0"),
                                                  ("hog-tree", "1")}
    logged = [line for line in (out / "medbench.log").read_text(encoding="utf-8").splitlines() if "] " in line]
    assert sum(bool(re.search(r"\[\d/4\] \S+ seed \d: accuracy", line)) for line in logged) == 4, logged
    # the leaderboard printed on stdout fits 72 columns and says where the full one is
    board = captured.out.splitlines()
    assert board and max(len(line) for line in board) <= 72, captured.out
    assert any("hog-tree" in line for line in board) and "report.md" in captured.out
    wide_headers = tables.leaderboard(results_mod.load(out))[0]
    full = (out / "report.md").read_text(encoding="utf-8")
    assert all(h in full for h in wide_headers)  # the wide table stays in the report
    assert not all(h in board[0] for h in wide_headers)  # ... and only there
    # the closing block
    err = captured.err.splitlines()
    tail = err[err.index(next(line for line in err if line.startswith("Verdict: "))):]
    assert tail[0].startswith("Verdict: ") and tail[0].endswith(".")
    assert tail[1].startswith("Best classical: hog-tree: ROC-AUC ")
    assert tail[2] == "Best deep:      no deep pipeline finished"
    assert tail[3] == f"Report:  {out / 'report.html'}" and (out / "report.html").is_file()
    assert tail[4] == f"Results: {out / 'results.json'}" and (out / "results.json").is_file()


@pytest.mark.slow  # a subprocess run of medbench on a pseudo-terminal (~10 s)
def test_live_bar_with_elapsed_time_and_eta_on_a_terminal(make_image_folder, tmp_path):
    folder = make_image_folder(12, name="tty")
    primary, replica = pty.openpty()
    fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "medbench", *_run_args(folder, tmp_path / "out")],
                            stdin=replica, stdout=replica, stderr=replica, env=env, close_fds=True)
    os.close(replica)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the other end closed (Linux reports EIO)
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(primary)
    text = b"".join(chunks).decode("utf-8", "replace")
    # tqdm's bar: "pipelines:  50%|█████     | 2/4 [00:03<00:03,  1.52s/job]" - elapsed < ETA
    assert re.search(r"pipelines:\s+\d+%\|.*\| [0-4]/4 \[\d\d:\d\d<(\d\d:\d\d|\?)", text), text[-3000:]
    assert re.search(r"\[2/4\] \S+ seed \d: accuracy", text), text[-3000:]


def _synthetic():
    pipes = (("hog-svm-with-a-rather-long-variant-name", "classical", 2.0), ("cnn", "deep", 1.2),
             ("majority", "baseline", 0.0))
    res = synth.make(pipelines=pipes, n_resamples=60)
    return res, res["statistics"]


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_fitted_leaderboard_never_exceeds_the_width(width):
    res, stats = _synthetic()
    text = terminal.fitted_leaderboard(res, stats, width)
    assert max(len(line) for line in text.splitlines()) <= width, text
    assert "ROC-AUC" in text.splitlines()[0]
    wide = tabulate(*reversed(tables.leaderboard(res, stats)), tablefmt="simple", disable_numparse=True)
    if max(len(line) for line in wide.splitlines()) <= width:
        assert text == wide  # nothing left out when it fits
    else:
        assert "full table: report.md, metrics.csv" in " ".join(text.splitlines()[-2:])


def test_verdict_is_one_sentence_naming_both_families(tmp_path):
    res, stats = _synthetic()
    verdict = terminal.verdict(res, stats)
    assert "\n" not in verdict and verdict.endswith(".")
    assert "classical hog-svm-with-a-rather-long-variant-name vs deep cnn" in verdict
    assert "ROC-AUC" in verdict and "per image" in verdict
    block = terminal.closing_block(res, stats, tmp_path)
    assert block[1].startswith("Best classical: hog-svm-with-a-rather-long-variant-name: ROC-AUC ")
    assert block[2].startswith("Best deep:      cnn: ROC-AUC ")
    assert block[3:] == [f"Report:  {tmp_path / 'report.html'}", f"Results: {tmp_path / 'results.json'}"]
