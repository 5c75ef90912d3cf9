"""``medbench export RUN --format csv|latex|parquet`` and ``Results.to_dataframe()`` on a real run of the real
PneumoniaMNIST file. The LaTeX tabular is checked without TeX (none is installed): a small parser checks
balanced braces, the column count of every row against the tabular's spec, and that no special character
is left unescaped, also with hostile data strings."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path

import pytest

from medbench import api
from medbench.cli import main
from medbench.core.errors import MedbenchError
from medbench.reports import export as export_report
from medbench.reports.escape import LATEX_SPECIAL, latex

HOSTILE = "a&b%c$d#e_f{g}h~i^j\\k"
#: Commands the exporter writes itself; what is left after removing them and the escapes must be plain text.
_OWN = re.compile(r"\\(?:textasciitilde\{\}|textasciicircum\{\}|textbackslash\{\}|[&%$#_{}])|\$\\pm\$")


def _split_row(line: str) -> list[str]:
    """Cells of one tabular row (``... \\\\``), split at unescaped ``&``."""
    assert line.endswith(" \\\\"), line
    return re.split(r"(?<!\\)&", line[:-3])


def check_tabular(text: str) -> int:
    """Checks ``text`` as a LaTeX tabular and returns its number of rows."""
    lines = text.strip().splitlines()
    spec = re.fullmatch(r"\\begin\{tabular\}\{([lcr]+)\}", lines[0])
    assert spec and lines[-1] == "\\end{tabular}", (lines[0], lines[-1])
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):  # escaped braces are text
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    n = 0
    for line in lines[1:-1]:
        if line in ("\\toprule", "\\midrule", "\\bottomrule"):
            continue
        cells = _split_row(line)
        assert len(cells) == len(spec.group(1)), line
        for c in cells:  # inside a cell: only escapes and the exporter's own commands
            assert not re.search(r"[&%$#_{}~^\\]", _OWN.sub("", c)), (c, line)
        n += 1
    return n


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_datasets: Path) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    assert main(["run", "--dataset", "pneumoniamnist", "--pipelines", "majority", "--n-jobs", "1",
                 "--no-gallery", "--out", str(out)]) == 0
    return out


def test_latex_escape_covers_every_special():
    assert latex(HOSTILE) == ("a\\&b\\%c\\$d\\#e\\_f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j"
                              "\\textbackslash{}k")
    assert set(LATEX_SPECIAL) == set("&%$#_{}~^\\")
    assert latex("two\nlines") == "two lines"


def test_latex_export_is_a_valid_tabular(run_dir: Path, capsys):
    assert main(["export", str(run_dir), "--format", "latex"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run_dir / 'export.tex'}"
    text = (run_dir / "export.tex").read_text()
    n = check_tabular(text)
    assert n == 1 + 1 + 5 + 12  # header, majority, MedMNIST v2 (5), MedMNIST+ (12)
    stats = json.loads((run_dir / "results.json").read_text())["statistics"]
    lo, hi = stats["jobs"]["majority__seed0"]["metrics_ci"]["accuracy"]  # the interval results.json states
    assert "91.56 $\\pm$ 0.27" in text and f"62.50 [{100 * lo:.1f}, {100 * hi:.1f}]" in text


def test_latex_escapes_hostile_data_strings(run_dir: Path):
    res = api.load_results(run_dir)
    stats = res.statistics()
    stats["pipelines"][0]["name"] = HOSTILE
    stats["pipelines"][0]["family"] = "50% & more"
    text = export_report.to_latex(res.data, stats)
    check_tabular(text)
    assert latex(HOSTILE) in text and "50\\% \\& more" in text


def test_csv_export_holds_the_run_and_published_rows(run_dir: Path, tmp_path: Path):
    out = tmp_path / "t.csv"
    assert main(["export", str(run_dir), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    data = json.loads((run_dir / "results.json").read_text())
    own = [r for r in rows if r["row"] == "this run"]
    assert [r["model"] for r in own] == ["majority"]
    job = data["jobs"][0]
    ci = data["statistics"]["jobs"][job["job_id"]]["metrics_ci"]["accuracy"]
    assert float(own[0]["accuracy"]) == job["metrics"]["accuracy"]
    assert (float(own[0]["accuracy_ci_low"]), float(own[0]["accuracy_ci_high"])) == tuple(ci)
    dino = next(r for r in rows if r["model"] == "DINO ViT-B/16" and r["input_size"] == "224"
                and r["scheme"] == "linear probe")
    assert (float(dino["accuracy"]), float(dino["accuracy_sd"]), float(dino["roc_auc"])) == (0.9156, 0.0027, 0.9892)
    assert len(rows) == 1 + 5 + 12


def test_parquet_and_dataframe_are_optional(run_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "t.parquet"
    rc = main(["export", str(run_dir), "--format", "parquet", "--out", str(out)])
    res = api.load_results(run_dir)
    if importlib.util.find_spec("pyarrow") is None:
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.startswith("medbench: error: --format parquet needs pyarrow") and "\n" not in err
        assert not out.exists()
    else:
        import pyarrow.parquet as pq
        assert rc == 0 and pq.read_table(out).num_rows == 18
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(MedbenchError, match="needs pandas"):
            res.to_dataframe()
    else:
        df = res.to_dataframe()
        assert list(df.columns) == export_report.rows(res.data)[0] and len(df) == 18
        assert len(res.to_dataframe(published=False)) == 1
