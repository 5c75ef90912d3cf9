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

The analysis across the datasets, its verdict and suite.json: :mod:`medbench.evaluation.across`.
"""


from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core import packaged, paths, readfile, settings
from medbench.datasets.spec import DatasetSpec
from medbench.evaluation import protocol

#: Fewest datasets for any test across datasets (Friedman/Nemenyi, Wilcoxon): with fewer, the
#: chi-square and F approximations behind the Friedman test are unreliable and the exact two-sided
#: Wilcoxon p-value cannot go below 2 / 2**N (0.125 at N = 4).
from medbench.evaluation.across import SLUG
from medbench.records import schemas
from medbench.running import options as options_mod
from medbench.running.config import RunConfig

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

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("name", "dataset", "written", "settings"):
            object.__setattr__(self, key, value)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:  # a run option: it lives in settings
            self.settings[key] = value
        else:
            raise AttributeError(f"{key!r} is neither a suite dataset's own field nor a RunConfig option")

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


def suite_from_dict(data: dict[str, Any]) -> Suite:
    """The :class:`Suite` stored in a validated suite.json (unknown keys ignored)."""
    keep = lambda cls, d: {k: v for k, v in d.items() if k in cls.__dataclass_fields__}  # noqa: E731
    options = RunConfig.suite_keys("dataset")
    return Suite(**{**keep(Suite, data), "datasets": [
        SuiteDataset(name=d["name"], dataset=d["dataset"], written=d["written"],
                     settings={k: v for k, v in d.items() if k in options}) for d in data["datasets"]]})
