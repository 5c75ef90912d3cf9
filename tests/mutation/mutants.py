"""Mutation testing of medbench's core numerics and escaping with cosmic-ray (``tox -e mutants``).

Each target is one source file (optionally only some of its functions) with the test files that are meant
to pin it down. For every target this script

1. copies the working tree to a temporary folder (the checkout is never edited: cosmic-ray mutates a file
   on disk, and others may be using the checkout), and makes that copy the ``medbench`` every test
   process imports - a ``sitecustomize`` on ``PYTHONPATH`` puts a finder mapping ``medbench`` and its
   sub-packages onto the copy's folders (pyproject's package-dir mapping) in front of the installed one,
   so subprocesses (``python -m medbench``, Dask and loky workers) import the mutant too;
2. runs ``cosmic-ray init`` / ``baseline`` / ``exec`` there with the target's tests (``pytest -x``);
3. prints killed / survived / incompetent (timeouts count as killed) and the kill rate per module.

Mutations inside type annotations of a module with ``from __future__ import annotations`` are not run (marked
skipped, and counted as such): Python never evaluates those annotations, so such a mutant cannot be killed.

    python tests/mutation/mutants.py                 # every target, smallest first
    python tests/mutation/mutants.py escape stats    # some targets (names below)
    python tests/mutation/mutants.py --list          # the targets
    python tests/mutation/mutants.py --survivors escape   # also print every survivor's diff
    python tests/mutation/mutants.py --report-only   # the table from the sessions so far (nothing run)
    python tests/mutation/mutants.py --retest-survivors splits   # after adding tests: re-run the survivors
    python tests/mutation/mutants.py --sample 250 regression     # a random sample (kill rate with a 95% CI)
    python tests/mutation/mutants.py --whole regression          # then the rest of it (the sample's verdicts kept)

Sessions are kept under ``--work`` (default ``$TMPDIR/medbench-mutants``) so an interrupted run resumes;
delete a target's folder there to start it again after editing code or tests.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {"medbench": "benchmark", "medbench.features": "features", "medbench.models": "models",
                "medbench.reports": "reports"}


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # only mutations inside these top-level functions (empty: the whole file)
    skip_functions: tuple[str, ...] = ()  # no mutations inside these (another target measures them)
    markers: str = "not slow and not perf"  # pytest -m: which of its tests run
    keyword: str = ""  # pytest -k, when set
    timeout: float = 120.0


TARGETS = [
    Target("escape", "reports/escape.py", ("tests/test_escape.py", "tests/test_mutation_killers.py::"
                                           "test_multiclass_confusion_tables_show_hostile_class_names_literally")),
    Target("changepoints", "benchmark/evaluation/stats.py", ("tests/test_history.py::test_penalty_is_the_ci_width",
                                                    "tests/test_history_changepoints.py"),
           functions=("penalty", "change_points")),
    Target("friedman", "benchmark/evaluation/stats.py", ("tests/test_suite.py::test_nemenyi_critical_values_match_demsar_table",
                                              "tests/test_suite.py::test_friedman_statistic_by_hand",
                                              "tests/test_suite_friedman.py"),
           functions=("nemenyi_q", "critical_difference", "friedman")),
    Target("cachekeys", "benchmark/core/cachekeys.py", ("tests/test_mutation_killers.py", "tests/test_cachekeys.py")),
    Target("metrics", "benchmark/metrics.py", ("tests/test_metrics.py", "tests/test_calibration.py")),
    Target("stats", "benchmark/evaluation/stats.py", ("tests/test_stats.py", "tests/test_mutation_killers.py",
                                           "tests/test_calibration.py", "tests/test_compare.py"),
           skip_functions=("penalty", "change_points", "nemenyi_q", "critical_difference", "friedman")),
    Target("splits", "benchmark/datasets/splits.py", ("tests/test_splits.py",)),
    # the CNN's save/load test is slow-marked but is the one that saves and loads a real Keras model
    Target("persist", "models/persist.py", ("tests/test_persist.py",), timeout=300.0, markers="not perf",
           keyword="not sift and not transfer"),
    Target("regression", "benchmark/evaluation/gate.py", ("tests/test_compare.py", "tests/test_calibration.py",
                                                     "tests/test_gate.py", "tests/test_baseline.py"),
           timeout=300.0),
]

SITECUSTOMIZE = """\
import importlib.util
import sys

_MAP = {mapping!r}


class _MutantTree:
    \"\"\"Imports medbench and its sub-packages from the mutation copy.\"\"\"

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in _MAP:
            return None
        return importlib.util.spec_from_file_location(name, _MAP[name] + "/__init__.py",
                                                      submodule_search_locations=[_MAP[name]])


sys.meta_path.insert(0, _MutantTree)
"""


def copy_tree(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the checkout, copied to ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def site_dir(tree: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    mapping = {name: str(tree / folder) for name, folder in PACKAGE_DIRS.items()}
    (dest / "sitecustomize.py").write_text(SITECUSTOMIZE.format(mapping=mapping))
    return dest


def function_lines(path: Path, functions: tuple[str, ...]) -> list[tuple[int, int]]:
    tree = ast.parse(path.read_text())
    spans = [(n.lineno, n.end_lineno) for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in functions]
    missing = set(functions) - {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if missing:
        raise SystemExit(f"{path}: no function {', '.join(sorted(missing))}")
    return spans


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of every annotation in a module that has ``from __future__ import
    annotations``: Python never evaluates those, so a mutation inside one is equivalent by construction
    (cachekeys: 33 of its 60 survivors were such). Empty for other modules (their annotations run)."""
    tree = ast.parse(path.read_text())
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                 and any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not future:
        return []
    notes: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            notes += [a.annotation for a in every if a is not None and a.annotation is not None]
            if node.returns is not None:
                notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes]


def skip_annotations(session: Path, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> int:
    """Mark every mutation that lies wholly inside an annotation skipped; returns how many were."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    skipped = 0
    with use_db(str(session)) as db:
        for item in list(db.pending_work_items):
            m = item.mutations[0]
            start, end = tuple(m.start_pos), tuple(m.end_pos)
            if any(a <= start and end <= b for a, b in spans):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    return skipped


def keep_only(session: Path, spans: list[tuple[int, int]], inside: bool = True) -> int:
    """Mark every mutation outside ``spans`` (``inside=False``: inside them) skipped; returns how many are
    left."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    left = 0
    with use_db(str(session)) as db:
        for item in list(db.pending_work_items):
            line = item.mutations[0].start_pos[0]
            if any(a <= line <= b for a, b in spans) == inside:
                left += 1
            else:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return left


def sample_only(session: Path, n: int, seed: int = 0) -> dict[str, int]:
    """Keep a seeded random sample of ``n`` of the session's mutants that are not skipped (the rest marked
    skipped, results already run included, so the sample stays a simple random one): a kill rate estimated
    from a sample, for a module too large to run whole in the time at hand. Returns ``{"sampled": n, "of":
    eligible, "seed": seed}`` (kept in ``sample.json`` beside the session)."""
    import random

    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session)) as db:
        done = {item.job_id: result for item, result in db.completed_work_items}
        eligible = sorted(item.job_id for item in db.work_items
                          if item.job_id not in done or done[item.job_id].worker_outcome != WorkerOutcome.SKIPPED)
        keep = set(random.Random(seed).sample(eligible, min(n, len(eligible))))
        for job in eligible:
            if job not in keep:
                db.set_result(job, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return {"sampled": len(keep), "of": len(eligible), "seed": seed}


def unsample(t: Target, session: Path, source: Path) -> int:
    """Turn a sampled session into a whole one: the mutants the sample left out are made pending again (the
    sample's verdicts are kept; the target's function filter and annotation skips are applied again).
    Returns how many mutants are pending."""
    with sqlite3.connect(session) as db:
        db.execute("DELETE FROM work_results WHERE worker_outcome = 'SKIPPED'")
    if t.functions:
        keep_only(session, function_lines(source, t.functions))
    if t.skip_functions:
        keep_only(session, function_lines(source, t.skip_functions), inside=False)
    skip_annotations(session, annotation_spans(source))
    with sqlite3.connect(session) as db:
        return db.execute("SELECT COUNT(*) FROM work_items WHERE job_id NOT IN "
                          "(SELECT job_id FROM work_results)").fetchone()[0]


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (the kill rate of a sample), in percent."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = killed / n
    mid, half = p + z * z / (2 * n), z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (100 * (mid - half) / (1 + z * z / n), 100 * (mid + half) / (1 + z * z / n))


def tally(session: Path, notes: list[tuple[tuple[int, int], tuple[int, int]]] = ()) -> dict:
    """Counts of a session; a mutant inside one of ``notes`` (annotation spans) counts as skipped even when a
    session made before annotations were skipped ran it."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    out = {"killed": 0, "survived": 0, "incompetent": 0, "skipped": 0, "pending": 0, "errors": 0, "survivors": []}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            m = item.mutations[0]
            in_note = any(a <= tuple(m.start_pos) and tuple(m.end_pos) <= b for a, b in notes)
            if result.worker_outcome == WorkerOutcome.SKIPPED or in_note:
                out["skipped"] += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                out["survived"] += 1
                out["survivors"].append({"line": m.start_pos[0], "operator": m.operator_name, "diff": result.diff})
            elif result.worker_outcome != WorkerOutcome.NORMAL:  # the worker died (interrupted run): no verdict
                out["errors"] += 1
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                out["incompetent"] += 1
            else:
                out["killed"] += 1
        out["pending"] = sum(1 for _ in db.pending_work_items)
    return out


def reopen_survivors(t: Target, work: Path, cosmic: list[str], env: dict, config: Path) -> int:
    """Copy the checkout's current ``tests/`` into the mutation copy and mark every survivor of the session
    pending again, so the next ``exec`` runs them against the new tests (the source file is not re-copied:
    the session's mutation positions refer to it). The new tests must pass on the unmutated copy first
    (tests that need newer code would "kill" every mutant): otherwise the old tests are put back and the
    run stops. Returns how many survivors were reopened."""
    tree, session = work / t.name / "tree", work / t.name / "session.sqlite"
    before = tree / "tests.before"
    shutil.rmtree(before, ignore_errors=True)
    (tree / "tests").rename(before)
    shutil.copytree(ROOT / "tests", tree / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    problem = baseline_problem(cosmic, config, work / t.name / "baseline.sqlite", tree, env)
    if problem:
        shutil.rmtree(tree / "tests")
        before.rename(tree / "tests")
        raise SystemExit(f"{t.name}: the current tests do not pass on this session's copy of the code (start the "
                         f"session again: delete {work / t.name}): {problem}")
    shutil.rmtree(before)
    with sqlite3.connect(session) as db:
        return db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'").rowcount


def baseline_problem(cosmic: list[str], config: Path, session: Path, tree: Path, env: dict) -> str | None:
    """None when the target's tests pass on the unmutated copy, else the end of their output. cosmic-ray's own
    ``baseline`` passes when the test command cannot even start (it only fails on "killed"), and every mutant
    would then count as killed ("incompetent"): the outcome is read from the session instead."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    subprocess.run([*cosmic, "baseline", str(config), "--session-file", str(session)], cwd=tree, env=env)
    with use_db(str(session), WorkDB.Mode.open) as db:
        result = next(iter(db.results), (None, None))[1]
    if result is not None and result.test_outcome == TestOutcome.SURVIVED:
        return None
    return (result.output or "")[-2000:] if result is not None else "no baseline result"


def run_target(t: Target, work: Path, python: str, cosmic: list[str], execute: bool = True,
               retest: bool = False, sample: int | None = None, whole: bool = False) -> dict:
    tree = work / t.name / "tree"
    session = work / t.name / "session.sqlite"
    pristine = work / t.name / "pristine.py"
    if not tree.is_dir():
        copy_tree(tree)
    if not pristine.exists():
        shutil.copy2(tree / t.path, pristine)
    elif execute and (tree / t.path).read_bytes() != pristine.read_bytes():
        # cosmic-ray puts the original back after each mutant; a run killed mid-mutant leaves the mutant in
        # place, and every later mutant would be tested on top of it
        shutil.copy2(pristine, tree / t.path)
        print(f"{t.name}: {t.path} in the copy restored (an interrupted run had left a mutant in it)", flush=True)
    if sample and session.exists() and not (work / t.name / "sample.json").exists():
        # a session begun whole, turned into a sample (annotation mutants are skipped first, as at its start)
        skip_annotations(session, annotation_spans(tree / t.path))
        (work / t.name / "sample.json").write_text(json.dumps(sample_only(session, sample)))
    if whole and execute and (work / t.name / "sample.json").exists():
        pending = unsample(t, session, tree / t.path)
        (work / t.name / "sample.json").unlink()
        print(f"{t.name}: the sampled session made whole ({pending} mutants to run)", flush=True)
    site = site_dir(tree, work / t.name / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "PYTHONDONTWRITEBYTECODE": "1",
           # the copy has no ../shared beside it: point the tests at the checkout's real data, and make a
           # skipped test fail (a test skipped for want of data would let every mutant survive)
           "MEDBENCH_SHARED": os.environ.get("MEDBENCH_SHARED") or str(ROOT.parent / "shared" / "datasets"),
           "MEDBENCH_STRICT_SKIPS": "1"}
    test_cmd = " ".join([python, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", "-p", "no:randomly",
                         "--no-cov", "-m", f"'{t.markers}'", *(["-k", f"'{t.keyword}'"] if t.keyword else []),
                         "--timeout", str(int(t.timeout)), *t.tests])
    config = work / t.name / "config.toml"
    config.write_text("[cosmic-ray]\n"
                      f"module-path = {json.dumps(t.path)}\n"
                      f"timeout = {t.timeout}\n"
                      "excluded-modules = []\n"
                      f"test-command = {json.dumps(test_cmd)}\n"
                      "[cosmic-ray.distributor]\nname = \"local\"\n")
    if retest and session.exists() and execute:
        reopened = reopen_survivors(t, work, cosmic, env, config) - skip_annotations(session,
                                                                                      annotation_spans(tree / t.path))
        print(f"{t.name}: {reopened} survivors re-run against the current tests/", flush=True)
    start = time.monotonic()
    if not execute:
        res = tally(session, annotation_spans(tree / t.path)) if session.exists() else {"killed": 0, "survived": 0, "incompetent": 0, "skipped": 0,
                                                       "pending": -1, "errors": 0, "survivors": []}
        res["seconds"] = 0.0
        return res
    if not session.exists():
        subprocess.run([*cosmic, "init", str(config), str(session)], cwd=tree, env=env, check=True)
        if t.functions:
            keep_only(session, function_lines(tree / t.path, t.functions))
        if t.skip_functions:
            keep_only(session, function_lines(tree / t.path, t.skip_functions), inside=False)
        skip_annotations(session, annotation_spans(tree / t.path))
        if sample:
            (work / t.name / "sample.json").write_text(json.dumps(sample_only(session, sample)))
        problem = baseline_problem(cosmic, config, work / t.name / "baseline.sqlite", tree, env)
        if problem:
            session.unlink()
            raise SystemExit(f"{t.name}: the tests do not pass on the unmutated code: {problem}")
    with sqlite3.connect(session) as db:  # a worker killed by an interrupted run left no verdict: run it again
        db.execute("DELETE FROM work_results WHERE worker_outcome IN ('EXCEPTION', 'ABNORMAL', 'NO_TEST')")
    subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=tree, env=env, check=True)
    res = tally(session, annotation_spans(tree / t.path))
    res["seconds"] = round(time.monotonic() - start, 1)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("targets", nargs="*", help="target names (default: all, smallest first)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "medbench-mutants")
    p.add_argument("--python", default=sys.executable, help="the Python that runs the tests")
    p.add_argument("--list", action="store_true")
    p.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    p.add_argument("--report-only", action="store_true", help="tally the sessions in --work, run nothing")
    p.add_argument("--retest-survivors", action="store_true",
                   help="copy the current tests/ into each target's copy and re-run its survivors against them")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="run a seeded random sample of N mutants of each new session (kill rate with a 95%% CI)")
    p.add_argument("--whole", action="store_true",
                   help="run the mutants a sampled session left out (its verdicts kept), making it whole")
    p.add_argument("--fail-under", type=float, default=None, help="exit 1 when a module's kill rate is lower (%%)")
    args = p.parse_args(argv)
    known = {t.name: t for t in TARGETS}
    if args.list:
        for t in TARGETS:
            print(f"{t.name:13} {t.path}{' (' + ', '.join(t.functions) + ')' if t.functions else ''}: "
                  f"{' '.join(t.tests)}")
        return 0
    unknown = [n for n in args.targets if n not in known]
    if unknown:
        p.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.targets] if args.targets else TARGETS
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    # the tests run in the copy's folder: a relative interpreter path would not start there
    found = shutil.which(args.python)
    args.python = str(Path(found).absolute()) if found else args.python
    rows = []
    for t in chosen:
        work = args.work.resolve()
        res = run_target(t, work, args.python, cosmic, execute=not args.report_only,
                         retest=args.retest_survivors, sample=args.sample,
                         whole=args.whole)
        done = res["killed"] + res["survived"] + res["incompetent"]
        rate = 100.0 * (res["killed"] + res["incompetent"]) / done if done else float("nan")
        sampled = work / t.name / "sample.json"
        res["sample"] = json.loads(sampled.read_text()) if sampled.exists() else None
        rows.append((t, res, rate))
        of = ""
        if res["sample"]:
            low, high = wilson(res["killed"] + res["incompetent"], done)
            of = (f" (a random sample of {res['sample']['sampled']} of {res['sample']['of']} mutants: "
                  f"95% CI {low:.1f}-{high:.1f}%)")
        print(f"{t.name}: {res['killed']} killed, {res['survived']} survived, {res['incompetent']} incompetent, "
              f"{res['pending']} pending{', ' + str(res['errors']) + ' without a verdict (run again)' if res['errors'] else ''}; "
              f"kill rate {rate:.1f}%{of} ({res['seconds']} s)", flush=True)
        if args.survivors:
            for s in res["survivors"]:
                print(f"  survivor at {t.path}:{s['line']} ({s['operator']})\n{s['diff']}")
    print("\n| module | mutants | killed | survived | kill rate | time (s) |\n|---|---:|---:|---:|---:|---:|")
    for t, res, rate in rows:
        n = res["killed"] + res["survived"] + res["incompetent"]
        scope = f"{t.path} ({', '.join(t.functions)})" if t.functions else t.path
        if res["sample"]:
            scope += f", sample of {res['sample']['sampled']} of {res['sample']['of']}"
        print(f"| {scope} | {n} | {res['killed'] + res['incompetent']} | {res['survived']} | {rate:.1f}% | "
              f"{res['seconds']} |")
    if args.fail_under is not None and any(not rate >= args.fail_under for _, _, rate in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
