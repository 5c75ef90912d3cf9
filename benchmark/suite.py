"""Benchmark suites: one set of pipelines on several datasets, and the statistics *across* datasets
that say whether a difference between pipelines holds beyond a single dataset (harness layer).

Suite file (TOML, :func:`load`; validated against :data:`SUITE_SCHEMA`, so an error is one line that
names the file and the field)::

    [suite]
    name = "chest-xray"            # results go to results/<name>/ unless --out; default: the file's stem
    title = "Chest X-ray pneumonia across four datasets"
    note = "free text shown at the top of the report (e.g. how independent the datasets are)"
    pipelines = ["majority", "hog-svm", "cnn"]   # default for every dataset; default ["all"]
    seeds = [0]
    image_size = 64                # for path datasets (folder:, coronahack:)
    [suite.options.cnn]            # per pipeline, like --option cnn.epochs=5
    epochs = 5

    [analysis]
    metric = "roc_auc"             # what ranks the pipelines: roc_auc (default) or balanced_accuracy
    alpha = 0.05

    [[datasets]]
    name = "kermany"               # folder name under the suite's output (default: from the spec)
    dataset = "folder:${MEDBENCH_DATA_DIR}/chest_xray"
    # optional per dataset: task, image_size, allow_missing, pipelines, seeds, options, split_seed, channels,
    # robustness (also a [suite] default), external = ["folder:..."], class_map = ["No_findings=NORMAL"]

A suite file that does not exist is looked up by name among the suites shipped with medbench
(``medbench suite chest-xray``). Paths in a ``KIND:PATH`` dataset spec are relative to the suite file's folder. ``${MEDBENCH_DATA_DIR}``
is replaced by the folder medbench reads dataset files from (``$MEDBENCH_DATA_DIR``, else the user
cache), so one suite file works on every machine. No other variable is expanded (it could be a
secret that would end up in suite.json / md / html): ``${NAME}`` is a one-line error.

Analysis (:func:`analyse`, from the datasets' results.json documents alone):

* per pipeline and dataset: ROC-AUC and balanced accuracy (mean over seeds) with the 95% stratified
  bootstrap CI of the results' ``statistics`` (one seed) or the sd over seeds (several);
* ranks per dataset (1 = best, ties share the average rank) on the analysis metric, and the mean
  rank, over the pipelines that have a value on *every* dataset (others are listed, not ranked);
* the Friedman test over datasets (Demšar, JMLR 7, 2006), decided on the Iman-Davenport F form
  Demšar recommends (the chi-square p-value is shown too), then the Nemenyi post-hoc test: critical
  difference ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentized range quantile
  ``/ sqrt(2)`` (2.343 for k = 3 at alpha 0.05); with two pipelines the Wilcoxon signed-rank test;
* classical vs deep: per dataset the best classical and the best deep pipeline, their paired test on
  the test images (DeLong for a binary ROC-AUC, the paired stratified bootstrap otherwise; read from the
  results' statistics when stored, computed from the stored predictions when not); a *win* needs that
  test significant (with several seeds: significant on every seed, the same way round); plus every
  classical x deep pair's win/tie/loss count (Holm over the pairs within a dataset) and the Wilcoxon
  signed-rank test of the best-classical minus best-deep differences across datasets;
* a plain-language verdict.

Tests across datasets need enough datasets: below :data:`MIN_DATASETS` (5) the analysis gives the
ranks and win/tie/loss counts but no p-value, and says so. The datasets are the sample: the tests
assume they are independent (datasets built from the same images are not).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from medbench import identity, schemas, view
from medbench import options as options_mod
from medbench import stats as st
from medbench.config import RunConfig
from medbench.core import packaged, paths, readfile, settings
from medbench.core.errors import MedbenchError
from medbench.core.version import __version__
from medbench.datasets.spec import DatasetSpec
from medbench.evaluation import paired as evaluation_paired
from medbench.evaluation import protocol
from medbench.evaluation import section as evaluation
from medbench.metrics import higher_is_better

SCHEMA = "medbench.suite"
SCHEMA_VERSION = 1
#: Fewest datasets for any test across datasets (Friedman/Nemenyi, Wilcoxon): with fewer, the
#: chi-square and F approximations behind the Friedman test are unreliable and the exact two-sided
#: Wilcoxon p-value cannot go below 2 / 2**N (0.125 at N = 4).
MIN_DATASETS = 5
TABLE_METRICS = ("roc_auc", "balanced_accuracy")
FAMILIES = ("classical", "deep")
SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# --- the suite file --------------------------------------------------------------------------------

def suite_file_schema(config: type = RunConfig) -> dict[str, Any]:
    """The JSON schema of a suite file: its own keys, plus every run option ``config`` declares a suite file
    may set (:meth:`RunConfig.suite_keys`), in ``[suite]`` (for every dataset) or a ``[[datasets]]`` entry."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "medbench suite file",
        "type": "object",
        "additionalProperties": False,
        "required": ["datasets"],
        "properties": {
            "suite": {"type": "object", "additionalProperties": False, "properties": {
                "name": {"type": "string", "pattern": SLUG}, "title": {"type": "string", "minLength": 1},
                "note": {"type": "string"}, **config.suite_keys("suite")}},
            "analysis": {"type": "object", "additionalProperties": False, "properties": {
                "metric": {"enum": list(protocol.RANK_METRICS)},
                "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5}}},
            "datasets": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["dataset"], "properties": {
                    "name": {"type": "string", "pattern": SLUG}, "dataset": {"type": "string", "minLength": 1},
                    **config.suite_keys("dataset")}}},
        },
    }


SUITE_SCHEMA = suite_file_schema()
#: Run options a suite file may set both in [suite] and per dataset (a dataset's value wins).
_RUN_KEYS = tuple(k for k in RunConfig.suite_keys("dataset") if k in RunConfig.suite_keys("suite"))
#: Run options only a dataset entry sets.
_DATASET_KEYS = tuple(k for k in RunConfig.suite_keys("dataset") if k not in _RUN_KEYS)


@dataclass
class SuiteDataset:
    """One dataset of a suite, as :func:`medbench.api.run` takes it (``dataset`` with paths resolved):
    ``settings`` holds the run options the suite file set for it (RunConfig fields), readable as attributes
    (``ds.pipelines``)."""

    name: str
    dataset: str
    written: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        settings = self.__dict__.get("settings") or {}
        if key in settings:
            return settings[key]
        fields = {f.name: f for f in dataclasses.fields(RunConfig)}
        if key in fields:  # not set by the suite file: the run's default
            value = options_mod.default_of(fields[key])
            return list(value) if isinstance(value, tuple) else value
        raise AttributeError(key)

    def to_dict(self) -> dict[str, Any]:
        """suite.json's entry: the name, the dataset, and each suite-settable option (flat)."""
        return {"name": self.name, "dataset": self.dataset, "written": self.written,
                **{k: getattr(self, k) for k in RunConfig.suite_keys("dataset")}}


@dataclass
class Suite:
    name: str
    title: str
    file: str
    datasets: list[SuiteDataset]
    note: str = ""
    metric: str = "roc_auc"
    alpha: float = protocol.ALPHA
    bootstrap_resamples: int = protocol.BOOTSTRAP_RESAMPLES

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "file": self.file,
                "datasets": [d.to_dict() for d in self.datasets], "note": self.note, "metric": self.metric,
                "alpha": self.alpha, "bootstrap_resamples": self.bootstrap_resamples}


def load(path: str | Path) -> Suite:
    """Read and validate a suite file, or the suite shipped with medbench of that name (``chest-xray``,
    when no such file exists); raises a one-line :class:`MedbenchError` naming file and field."""
    path = find(path)
    text = readfile.read_text(path, "suite file", missing_hint=(
        f" and no suite of that name ships with medbench ({', '.join(packaged.suite_names()) or 'none'})"))
    return loads(text, path)


def find(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped suite file of that name (medbench.core.packaged), else ``path``."""
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    return packaged.suite(path.name) or path


def loads(text: str, path: str | Path) -> Suite:
    """Parse suite-file ``text``; ``path`` names it in errors and anchors its relative paths."""
    path = Path(path)
    source = str(path)
    data = readfile.parse_toml(text, source, "suite file")
    schemas.validate(data, SUITE_SCHEMA, source)
    _whole_numbers(data, source)
    head, analysis = data.get("suite", {}), data.get("analysis", {})
    base = path.parent
    entries, seen = [], {}
    for i, raw in enumerate(data["datasets"]):
        merged = {k: raw.get(k, head.get(k)) for k in _RUN_KEYS}
        options = {p: {**kv} for p, kv in (head.get("options") or {}).items()}
        for pipe, kv in (raw.get("options") or {}).items():
            options[pipe] = {**options.get(pipe, {}), **kv}  # the dataset's options win over the suite's
        spec = _resolve_spec(raw["dataset"], base, source, ["datasets", i, "dataset"])
        name = raw.get("name") or default_name(raw["dataset"], raw.get("task"))
        if name in seen:
            raise schemas.fail(source, ["datasets", i, "name"] if "name" in raw else ["datasets", i],
                               f"{name!r} is the name of datasets[{seen[name]}] too: give each dataset its own "
                               f"name = \"...\" (it is the folder its results go to)")
        seen[name] = i
        settings = {k: merged[k] for k in _RUN_KEYS if merged[k] is not None}
        settings.update({k: raw[k] for k in _DATASET_KEYS if k in raw})
        settings["options"] = {p: {k: _option_text(v) for k, v in kv.items()} for p, kv in options.items()}
        if "external" in settings:
            settings["external"] = [_resolve_spec(e, base, source, ["datasets", i, "external", j])
                                    for j, e in enumerate(settings["external"])]
        entries.append(SuiteDataset(name=name, dataset=spec, written=raw["dataset"], settings=settings))
    return Suite(name=head.get("name") or default_name(path.stem), title=head.get("title") or path.stem,
                 file=source, datasets=entries, note=head.get("note", ""),
                 metric=analysis.get("metric", "roc_auc"), alpha=float(analysis.get("alpha", protocol.ALPHA)),
                 bootstrap_resamples=head.get("bootstrap_resamples", protocol.BOOTSTRAP_RESAMPLES))


_WHOLE = ("image_size", "split_seed", "bootstrap_resamples")


def _whole_numbers(data: dict[str, Any], source: str) -> None:
    """JSON Schema counts 32.0 as an integer; a suite file's sizes, seeds and resample counts must be
    written as integers (``image_size = 32``), so 32.0 is a one-line error saying so."""
    places = [(["suite"], data.get("suite") or {})] + [(["datasets", i], d) for i, d in enumerate(data["datasets"])]
    for where, table in places:
        for key in _WHOLE:
            if isinstance(table.get(key), float):
                raise schemas.fail(source, [*where, key], f"must be an integer (write {int(table[key])}, not "
                                                          f"{table[key]!r})" if table[key].is_integer() else
                                   f"must be an integer, got {table[key]!r}")
        for k, seed in enumerate(table.get("seeds") or []):
            if isinstance(seed, float):
                raise schemas.fail(source, [*where, "seeds", k], f"must be an integer, got {seed!r}")


def _option_text(value: Any) -> str:
    """An option value as the command line gives it (``5`` -> ``"5"``, ``true`` -> ``"True"``)."""
    return value if isinstance(value, str) else str(value)


def _resolve_spec(spec: str, base: Path, source: str, where: list[Any]) -> str:
    """``KIND:PATH`` with ``${NAME}`` expanded and a relative PATH made relative to ``base``."""
    def var(m: re.Match) -> str:
        name = m.group(1)
        if name == settings.DATA_DIR_ENV:
            return str(paths.data_dir())
        # Any other variable could be a secret (a token, a password) that would be written into
        # suite.json, suite.md and suite.html: never read it.
        raise schemas.fail(source, where, f"${{{name}}}: only ${{{settings.DATA_DIR_ENV}}} is expanded in a suite "
                                          f"file; write the path itself")

    parsed = DatasetSpec.parse(spec)
    if parsed.path is None:
        return _VAR.sub(var, parsed.kind)
    if not parsed.path:
        raise schemas.fail(source, where, f"{spec!r} has no path after {parsed.kind}: (e.g. folder:data/xrays)")
    target = Path(_VAR.sub(var, parsed.path)).expanduser()
    if not target.is_absolute():
        target = base.absolute() / target
    return DatasetSpec(parsed.kind, str(target)).text


def default_name(spec: str, task: str | None = None) -> str:
    """A folder name for a dataset: ``pneumoniamnist``, ``chest_xray`` (a path's last part), plus ``-<task>``."""
    parsed = DatasetSpec.parse(spec)
    stem = Path(_VAR.sub(r"\1", parsed.path)).name if parsed.path else parsed.kind
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{stem}-{task}" if task else stem).strip("-.") or "dataset"
    return text if re.match(SLUG, text) else f"d-{text}"


def check_paths(suite: Suite) -> None:
    """Refuse, before anything runs, a ``KIND:PATH`` dataset whose path does not exist."""
    for i, ds in enumerate(suite.datasets):
        path = DatasetSpec.parse(ds.dataset).path
        if path is not None and not Path(path).exists():
            raise schemas.fail(suite.file, ["datasets", i, "dataset"], f"{path} does not exist (from "
                               f"{ds.written!r}; relative paths start at the suite file's folder, "
                               f"${{MEDBENCH_DATA_DIR}} is the data folder)")


# --- per pipeline and dataset ----------------------------------------------------------------------

def _cells(res: dict[str, Any], stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{pipeline: {"name", "family", "seeds", metric: {"value", "sd", "ci"}}}`` for one dataset."""
    out: dict[str, dict[str, Any]] = {}
    for g in stats["pipelines"]:
        cell: dict[str, Any] = {"name": g["name"], "family": g["family"], "seeds": g["seeds"], "status": "ok"}
        for m in TABLE_METRICS:
            ms = g["metrics"].get(m) or {}
            one = len(g["job_ids"]) == 1
            ci = (stats["jobs"].get(g["job_ids"][0]) or {}).get("metrics_ci", {}).get(m) if one else None
            cell[m] = {"value": ms.get("mean"), "sd": ms.get("sd"), "ci": ci}
        out[g["pipeline"]] = cell
    for job in res["jobs"]:
        if job["status"] != "ok" and job["pipeline"] not in out:
            out[job["pipeline"]] = {"name": job.get("name", job["pipeline"]), "family": job.get("family", "unknown"),
                                    "seeds": [job["seed"]], "status": "failed", "error": job.get("error", ""),
                                    **{m: {"value": None, "sd": None, "ci": None} for m in TABLE_METRICS}}
    return out


def _dataset_info(name: str, res: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    ds, split = res["dataset"], res["split"]
    test = sum((split.get("counts", {}).get("test") or {}).values())
    return {"name": name, "title": ds["title"], "spec": ds["spec"], "task": ds.get("task"),
            "class_names": ds["class_names"], "n_images": ds["n_images"], "n_test": test,
            "fingerprint": ds["fingerprint"], "split": split["fingerprint"], "split_method": split["method"],
            "seeds": sorted({j["seed"] for j in res["jobs"]}),
            "failed_jobs": [{"pipeline": j["pipeline"], "seed": j["seed"], "error": j.get("error", "")}
                            for j in res["jobs"] if j["status"] != "ok"],
            "bootstrap": stats["settings"]}


# --- paired tests on one dataset -------------------------------------------------------------------

def _jobs(res: dict[str, Any], pipeline: str) -> dict[int, dict[str, Any]]:
    return {j["seed"]: j for j in view.ok_jobs(res) if j["pipeline"] == pipeline}


def _stored(stats: dict[str, Any], a: str, b: str, seed: int) -> dict[str, Any] | None:
    """The stored ROC-AUC comparison of ``a`` vs ``b`` on ``seed`` (turned round when stored as b vs a)."""
    stored = list(stats.get("comparisons") or []) + list((stats.get("headline") or {}).get("comparisons") or [])
    for c in stored:
        if c["seed"] != seed or not c.get("paired") or not c.get("roc_auc") or c["roc_auc"].get("p") is None:
            continue
        auc = c["roc_auc"]
        if (c["a_pipeline"], c["b_pipeline"]) == (a, b):
            return {"diff": auc["diff"], "ci": auc["ci"], "p": auc["p"], "test": auc.get("test", "DeLong")}
        if (c["a_pipeline"], c["b_pipeline"]) == (b, a):
            ci = None if auc["ci"] is None else [-auc["ci"][1], -auc["ci"][0]]
            return {"diff": -auc["diff"], "ci": ci, "p": auc["p"], "test": auc.get("test", "DeLong")}
    return None


def _computed(res: dict[str, Any], stats: dict[str, Any], ja: dict[str, Any], jb: dict[str, Any],
              metric: str) -> dict[str, Any]:
    """The paired test of jobs ``ja`` - ``jb`` from their stored test predictions (the one rule of
    :mod:`medbench.evaluation.paired`, with the run's own bootstrap settings)."""
    a, b = view.JobView(ja), view.JobView(jb)
    problem = evaluation_paired.pairing_problem(a, b)
    if problem:
        return {"diff": None, "ci": None, "p": None, "test": f"none ({problem})"}
    run = view.RunView(res)
    cfg = stats["settings"]
    boot = evaluation_paired.Bootstraps(run.n_classes, run.positive_index, cfg["n_resamples"], cfg["seed"],
                                        cfg.get("ci_method", "stratified"))  # the run's own resampling
    r = evaluation_paired.paired_metric(a, b, metric, boot, cfg.get("level", protocol.CI_LEVEL))
    return {k: r[k] for k in ("diff", "ci", "p", "test")}


def paired(res: dict[str, Any], stats: dict[str, Any], a: str, b: str, metric: str) -> dict[str, Any]:
    """Pipeline ``a`` against ``b`` on one dataset, seed by seed (same test images): ``diff`` (a - b,
    mean over seeds), ``p`` (the largest p over seeds: significant only if every seed is), ``same_sign``,
    ``test`` and ``per_seed``."""
    ja, jb = _jobs(res, a), _jobs(res, b)
    per_seed = []
    for seed in sorted(set(ja) & set(jb)):
        found = _stored(stats, a, b, seed) if metric == "roc_auc" else None
        per_seed.append({"seed": seed, **(found or _computed(res, stats, ja[seed], jb[seed], metric))})
    diffs = [s["diff"] for s in per_seed]
    ps = [s["p"] for s in per_seed]
    known = bool(per_seed) and all(st.finite(d) for d in diffs) and all(p is not None for p in ps)
    return {"a": a, "b": b, "per_seed": per_seed,
            "diff": float(np.mean(diffs)) if known else None,
            "ci": per_seed[0]["ci"] if known and len(per_seed) == 1 else None,
            "p": max(ps) if known else None,  # intersection-union: every seed must be significant
            "same_sign": known and (all(d > 0 for d in diffs) or all(d < 0 for d in diffs)),
            "test": per_seed[0]["test"] if per_seed else "none (no seed in common)"}


def _outcome(p: float | None, diff: float | None, same_sign: bool, alpha: float) -> str:
    """``win`` (a significantly better), ``loss``, ``tie`` (not significant) or ``untested``."""
    if p is None or diff is None:
        return "untested"
    if p < alpha and same_sign:
        return "win" if diff > 0 else "loss"
    return "tie"


# --- across datasets -------------------------------------------------------------------------------

def _cliques(order: list[str], mean: dict[str, float], cd: float | None) -> list[list[str]]:
    """Groups of pipelines (in mean-rank order) whose ranks lie within ``cd`` of each other: the bars
    of a critical-difference diagram (maximal groups of two or more; ``cd`` None: one group of all)."""
    if cd is None:
        return [order] if len(order) > 1 else []
    groups: list[list[str]] = []
    for i, a in enumerate(order):
        members = [b for b in order[i:] if mean[b] - mean[a] <= cd + 1e-12]
        if len(members) > 1 and not any(set(members) <= set(g) for g in groups):
            groups.append(members)
    return groups


def _ranks(names: list[str], cells: dict[str, dict[str, dict[str, Any]]], pipelines: list[str],
           metric: str) -> dict[str, Any]:
    """Ranks (1 = best) per dataset over the pipelines with a value on every dataset."""
    complete, excluded = [], []
    for p in pipelines:
        missing = [d for d in names if not st.finite(((cells[d].get(p) or {}).get(metric) or {}).get("value"))]
        if missing:
            why = ", ".join(f"{d} ({(cells[d].get(p) or {}).get('status', 'not run')})" for d in missing)
            excluded.append({"pipeline": p, "reason": f"no {metric} on {why}"})
        else:
            complete.append(p)
    scores = np.array([[cells[d][p][metric]["value"] for p in complete] for d in names], dtype=float)
    scores = scores.reshape(len(names), len(complete))
    if names and complete:
        sign = -1.0 if higher_is_better(metric) else 1.0  # rank 1 = best in the metric's direction
        ranks = np.vstack([sps.rankdata(sign * row, method="average") for row in scores])
    else:
        ranks, complete = np.zeros((len(names), 0)), []
    mean = {p: float(ranks[:, i].mean()) for i, p in enumerate(complete)}
    order = sorted(complete, key=lambda p: (mean[p], complete.index(p)))
    return {"pipelines": order, "excluded": excluded, "mean": mean, "scores": scores, "matrix": ranks,
            "complete": complete,
            "per_dataset": {d: {p: float(ranks[i, complete.index(p)]) for p in complete} for i, d in enumerate(names)}}


def _omnibus(rk: dict[str, Any], n: int, alpha: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The test across datasets (Friedman, or Wilcoxon for two pipelines) and the Nemenyi post-hoc."""
    k = len(rk["pipelines"])
    base = {"n_datasets": n, "k": k, "min_datasets": MIN_DATASETS, "alpha": alpha}
    if k < 2:
        why = f"{count(k, 'pipeline')} with a value on every dataset, and a ranking needs at least 2"
        return {**base, "status": "too_few_pipelines", "test": None, "significant": False, "reason": why}, None
    test = "Friedman" if k > 2 else "Wilcoxon signed-rank"
    if n < MIN_DATASETS:
        return {**base, "status": "too_few_datasets", "test": test, "significant": False,
                "reason": f"{_too_few(n)} (below that the Friedman test's approximations are unreliable, and "
                          f"with N = {n} a two-sided Wilcoxon p-value cannot go below 2/2^N = {2 / 2 ** n:.3g}); "
                          f"the ranks describe these datasets only"}, None
    scores = rk["scores"]
    if k == 2:
        d = scores[:, 0] - scores[:, 1]
        p = st.wilcoxon_p(d)
        return {**base, "status": "ok", "test": test, "p": p, "significant": p < alpha,
                "pair": rk["complete"]}, None
    fr = st.friedman(scores)
    sig = fr["p"] < alpha
    omni = {**base, "status": "ok", "test": test, **fr, "significant": sig,
            "decision": "Iman-Davenport F (Demšar 2006); the chi-square p is shown for reference"}
    cd = st.critical_difference(k, n, alpha)
    order, mean = rk["pipelines"], rk["mean"]
    pairs = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            diff = mean[b] - mean[a]
            p = st.nemenyi_p(diff, k, n)
            pairs.append({"better": a, "worse": b, "rank_diff": diff, "p": min(1.0, p),
                          "significant": bool(sig and diff > cd)})
    post = {"method": "Nemenyi", "alpha": alpha, "q_alpha": st.nemenyi_q(k, alpha), "cd": cd, "applies": sig,
            "pairs": pairs, "cliques": _cliques(order, mean, cd if sig else None)}
    return omni, post


def _best(cells: dict[str, dict[str, Any]], family: str, metric: str) -> str | None:
    """The family's best pipeline on one dataset by ``metric`` first, then the ranking rule
    (:func:`medbench.results.rank_key`)."""
    cands = [p for p, c in cells.items() if c["family"] == family and st.finite(c[metric]["value"])]
    if not cands:
        return None
    return min(cands, key=lambda p: evaluation.rank_key({m: cells[p][m]["value"] for m in TABLE_METRICS}, p,
                                                         first=metric))


def _family_comparison(runs: list[tuple[str, dict[str, Any], dict[str, Any]]],
                       cells: dict[str, dict[str, dict[str, Any]]], metric: str, alpha: float,
                       rk: dict[str, Any]) -> dict[str, Any]:
    """Best classical vs best deep per dataset, every classical x deep pair, and the test across datasets."""
    rows = []
    for name, res, stats in runs:
        c, d = _best(cells[name], "classical", metric), _best(cells[name], "deep", metric)
        if c is None or d is None:
            missing = " and ".join(f for f, p in (("classical", c), ("deep", d)) if p is None)
            rows.append({"dataset": name, "classical": c, "deep": d, "outcome": "untested", "diff": None,
                         "ci": None, "p": None, "test": "none", "reason": f"no successful {missing} pipeline"})
            continue
        t = paired(res, stats, c, d, metric)
        rows.append({"dataset": name, "classical": c, "deep": d, "diff": t["diff"], "ci": t["ci"], "p": t["p"],
                     "test": t["test"], "n_seeds": len(t["per_seed"]),
                     "outcome": _outcome(t["p"], t["diff"], t["same_sign"], alpha)})
    counts = {o: sum(r["outcome"] == o for r in rows) for o in ("win", "tie", "loss", "untested")}
    diffs = [cells[r["dataset"]][r["classical"]][metric]["value"] - cells[r["dataset"]][r["deep"]][metric]["value"]
             for r in rows if r["classical"] and r["deep"]]
    n = len(diffs)
    across: dict[str, Any] = {"test": "Wilcoxon signed-rank test of the per-dataset differences best classical - best deep",
                              "n_datasets": n, "min_datasets": MIN_DATASETS}
    if n == 0:
        across.update(status="no_pairs", p=None, significant=False,
                      reason="no dataset has both a successful classical and a successful deep pipeline")
    elif n < MIN_DATASETS:
        across.update(status="too_few_datasets", p=None, significant=False,
                      reason=f"{_too_few(n)} with both a classical and a deep pipeline (with N = {n} a two-sided "
                             f"Wilcoxon p-value cannot go below 2/2^N = {2 / 2 ** n:.3g})")
    else:
        d = np.asarray(diffs)
        p = st.wilcoxon_p(d)
        across.update(status="ok", p=p, significant=p < alpha, median_diff=float(np.median(d)),
                      higher={"classical": int(np.sum(d > 0)), "deep": int(np.sum(d < 0)), "equal": int(np.sum(d == 0))})
    pairs = _pair_matrix(runs, rk, cells, metric, alpha)
    return {"metric": metric, "rows": rows, "counts": counts, "across": across, "pairs": pairs}


def _pair_matrix(runs, rk, cells, metric: str, alpha: float) -> list[dict[str, Any]]:
    """Win/tie/loss of every classical x deep pair (ranked pipelines) across datasets; within a
    dataset the pairs' p-values are Holm-adjusted."""
    classical = [p for p in rk["pipelines"] if cells[runs[0][0]][p]["family"] == "classical"] if runs else []
    deep = [p for p in rk["pipelines"] if cells[runs[0][0]][p]["family"] == "deep"] if runs else []
    pairs = [(c, d) for c in classical for d in deep]
    table = {pair: {"classical": pair[0], "deep": pair[1], "win": 0, "tie": 0, "loss": 0, "untested": 0,
                    "per_dataset": {}} for pair in pairs}
    for name, res, stats in runs:
        tests = [paired(res, stats, c, d, metric) for c, d in pairs]
        adjusted = st.holm([t["p"] for t in tests])
        for pair, t, p_adj in zip(pairs, tests, adjusted):
            outcome = _outcome(p_adj, t["diff"], t["same_sign"], alpha)
            table[pair][outcome] += 1
            table[pair]["per_dataset"][name] = {"diff": t["diff"], "p": t["p"], "p_holm": p_adj, "outcome": outcome}
    return list(table.values())


def analyse(runs: Sequence[tuple[str, dict[str, Any]]], *, metric: str = "roc_auc", alpha: float = protocol.ALPHA,
            failed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The cross-dataset analysis of ``runs`` (``(dataset name, results.json dict)`` pairs, in suite
    order); ``failed`` names datasets that produced no results (name -> error). JSON-ready and
    deterministic (the statistics are read from each results file, or computed with its settings)."""
    if metric not in protocol.RANK_METRICS:
        raise MedbenchError(f"analysis metric {metric!r} is not one of {', '.join(protocol.RANK_METRICS)}")
    if not 0 < alpha <= 0.5:
        raise MedbenchError(f"alpha {alpha} must be in (0, 0.5]")
    names = [name for name, _ in runs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise MedbenchError(f"dataset name {dup!r} is given twice: each dataset of a suite needs its own name")
    shared = _shared([(name, res, None) for name, res in runs])
    duplicates = _duplicates(runs)
    left_out = {d["name"] for d in duplicates}
    runs = [(name, res) for name, res in runs if name not in left_out]
    names = [name for name, _ in runs]
    with_stats = [(name, res, evaluation.statistics(res)) for name, res in runs]
    cells = {name: _cells(res, stats) for name, res, stats in with_stats}
    pipelines = list(dict.fromkeys(p for name in names for p in cells[name]))
    rk = _ranks(names, cells, pipelines, metric)
    omni, post = _omnibus(rk, len(names), alpha)
    families = _family_comparison(with_stats, cells, metric, alpha, rk)
    order = rk["pipelines"] + [p for p in pipelines if p not in rk["pipelines"]]
    info = {p: next((cells[d][p] for d in names if p in cells[d]), {}) for p in order}
    analysis = {
        "metric": metric, "alpha": alpha, "min_datasets": MIN_DATASETS,
        "datasets": [_dataset_info(name, res, stats) for name, res, stats in with_stats],
        "failed_datasets": [{"name": k, "error": v} for k, v in (failed or {}).items()],
        "pipelines": [{"pipeline": p, "name": info[p].get("name", p), "family": info[p].get("family", "unknown"),
                       "mean_rank": rk["mean"].get(p)} for p in order],
        "cells": {p: {d: cells[d][p] for d in names if p in cells[d]} for p in order},
        "ranks": {"pipelines": rk["pipelines"], "mean": rk["mean"], "per_dataset": rk["per_dataset"],
                  "excluded": rk["excluded"]},
        "omnibus": omni,
        "posthoc": post,
        "classical_vs_deep": families,
        "shared_data": shared,
        "duplicates": duplicates,
    }
    analysis["verdict"] = verdict(analysis)
    return analysis


def _duplicates(runs: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, str]]:
    """Every dataset after the first with the same fingerprint (the same data under another name), with
    the dataset it repeats: left out of the analysis, since a test across datasets counting the same data
    twice treats one sample as several (six copies of one dataset gave a 'significant' Wilcoxon p)."""
    out = []
    for group in identity.groups([(name, _identity_keys(res)) for name, res in runs]):
        out += [{"name": name, "same_as": group[0]} for name in group[1:]]
    return out


def _identity_keys(res: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two datasets the same data (:mod:`medbench.identity`): the fingerprint, or the resolved
    source (the same folder read at another image size has another fingerprint but is the same data)."""
    ds = res["dataset"]
    return (("fingerprint", ds["fingerprint"]), ("source", identity.source_identity(ds.get("spec"), ds.get("task"))))


def duplicate_note(dup: dict[str, str]) -> str:
    """One line on a dataset left out as a duplicate."""
    return (f"dataset {dup['name']} is the same data as {dup['same_as']} (same fingerprint or source): left out of the "
            f"analysis and the tests across datasets (the same data twice is not two independent samples)")


def _shared(runs) -> list[list[str]]:
    """Datasets that are the same data (same fingerprint): not independent samples."""
    return identity.groups([(name, _identity_keys(res)) for name, res, _ in runs])


def count(n: int, word: str) -> str:
    """``1 dataset``, ``3 datasets``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _too_few(n: int) -> str:
    return f"only {count(n, 'dataset')}, and medbench tests across datasets from {MIN_DATASETS} on"


# --- the verdict -----------------------------------------------------------------------------------

def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def verdict(analysis: dict[str, Any]) -> list[str]:
    """Plain-language conclusions, one sentence each (names as in the results; the report escapes them)."""
    metric = {"roc_auc": "ROC-AUC", "balanced_accuracy": "balanced accuracy"}[analysis["metric"]]
    names = {p["pipeline"]: p["name"] for p in analysis["pipelines"]}
    n = len(analysis["datasets"])
    lines = []
    if analysis["failed_datasets"]:
        lines.append(f"{count(len(analysis['failed_datasets']), 'dataset')} produced no results "
                     f"({_and([f['name'] for f in analysis['failed_datasets']])}) and are left out.")
    rk, omni, post = analysis["ranks"], analysis["omnibus"], analysis["posthoc"]
    if rk["pipelines"]:
        best = rk["pipelines"][0]
        lines.append(f"On {count(n, 'dataset')}, {names[best]} has the best mean rank by {metric} "
                     f"({rk['mean'][best]:.2f}; 1 = best of {len(rk['pipelines'])} pipelines).")
    if omni["status"] != "ok":
        lines.append(f"No test across datasets: {omni['reason']}.")
    elif omni["test"] == "Friedman":
        if not omni["significant"]:
            lines.append(f"The Friedman test finds no difference between the pipelines' ranks across datasets "
                         f"({_fmt_p(omni['p'])}, alpha {omni['alpha']}): no pipeline is shown to be better in general.")
        else:
            lines.append(f"The Friedman test finds that the pipelines' ranks differ across datasets "
                         f"({_fmt_p(omni['p'])}).")
            sig = [p for p in post["pairs"] if p["significant"]]
            if sig:
                lines.append(f"Nemenyi (critical difference {post['cd']:.2f} ranks): "
                             + "; ".join(f"{names[p['better']]} is better than {names[p['worse']]}" for p in sig)
                             + "; every other pair is within the critical difference.")
            else:
                lines.append(f"No pair of pipelines differs by more than Nemenyi's critical difference "
                             f"({post['cd']:.2f} ranks): which pipelines differ cannot be said.")
    else:
        a, b = omni["pair"]
        lines.append(f"Wilcoxon signed-rank test of {names[a]} vs {names[b]} across datasets: {_fmt_p(omni['p'])}"
                     + (" (a difference)." if omni["significant"] else " (no difference shown)."))
    fam = analysis["classical_vs_deep"]
    tested = [r for r in fam["rows"] if r["outcome"] != "untested"]
    if tested:
        c = fam["counts"]
        lines.append(f"Best classical vs best deep pipeline, per dataset (paired test on the test images, "
                     f"alpha {analysis['alpha']}): classical wins {c['win']}, ties {c['tie']}, loses {c['loss']}"
                     + (f", untested {c['untested']}" if c["untested"] else "") + ".")
        across = fam["across"]
        if across["status"] == "ok":
            lead, trail = (("classical", "deep") if across["median_diff"] > 0 else ("deep", "classical"))
            lines.append(f"Across datasets, the best {lead} pipeline scores higher than the best {trail} one "
                         f"(Wilcoxon signed-rank, {_fmt_p(across['p'])}; median difference "
                         f"{across['median_diff']:+.3f})." if across["significant"] else
                         f"Across datasets, neither family's best pipeline is shown to score higher (Wilcoxon "
                         f"signed-rank, {_fmt_p(across['p'])}).")
        else:
            lines.append("Too few datasets to test classical against deep across datasets; the counts above "
                         "describe these datasets only.")
    elif fam["rows"]:
        why = sorted({r.get("reason") or r["test"] for r in fam["rows"]})
        lines.append(f"Classical and deep pipelines are not compared: {'; '.join(why)}.")
    for group in analysis["shared_data"]:
        lines.append(f"Datasets {_and(group)} are the same data (same fingerprint or source): they are not independent"
                     + (f"; only {group[0]} is analysed." if analysis.get("duplicates") else "."))
    return lines


# --- the suite.json document -----------------------------------------------------------------------

def document(suite: Suite, analysis: dict[str, Any], datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """suite.json: the suite as run, each dataset's status and results folder, and the analysis."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "medbench_version": __version__,
            "suite": suite.to_dict(), "datasets": datasets, "analysis": analysis}


SUITE_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "medbench suite.json",
    "type": "object",
    "required": ["schema", "schema_version", "suite", "datasets"],
    "properties": {
        "schema": {"const": SCHEMA},
        "schema_version": {"type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION},
        "suite": {"type": "object", "required": ["name", "title", "file", "datasets", "metric", "alpha"],
                  "properties": {"name": {"type": "string", "pattern": SLUG}, "title": {"type": "string"},
                                 "note": {"type": "string"}, "file": {"type": "string"},
                                 "metric": {"enum": list(protocol.RANK_METRICS)},
                                 "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
                                 "datasets": {"type": "array", "items": {
                                     "type": "object", "required": ["name", "dataset", "written"],
                                     "properties": {"name": {"type": "string", "pattern": SLUG},
                                                    "dataset": {"type": "string"}, "written": {"type": "string"}}}}}},
        "datasets": {"type": "array", "items": {
            "type": "object", "required": ["name", "status", "results"],
            "properties": {"name": {"type": "string", "pattern": SLUG}, "status": {"enum": ["ok", "error"]},
                           "results": {"type": "string"}, "error": {"type": "string"}}}},
        "analysis": {"type": "object"},
    },
}


def suite_from_dict(data: dict[str, Any]) -> Suite:
    """The :class:`Suite` stored in a validated suite.json (unknown keys ignored)."""
    keep = lambda cls, d: {k: v for k, v in d.items() if k in cls.__dataclass_fields__}  # noqa: E731
    options = RunConfig.suite_keys("dataset")
    return Suite(**{**keep(Suite, data), "datasets": [
        SuiteDataset(name=d["name"], dataset=d["dataset"], written=d["written"],
                     settings={k: v for k, v in d.items() if k in options}) for d in data["datasets"]]})
