"""``RunConfig``: everything a run is told, with its defaults and checks, in one place.

The command line (``medbench run`` / ``medbench suite``), :func:`medbench.run`, :func:`medbench.api_suite.run_suite`
and the Dask engine all take a :class:`RunConfig`; ``medbench.run(dataset=..., pipelines=[...], **kw)``
builds one from its keyword arguments (a field per keyword)::

    cfg = RunConfig(dataset="folder:data/xrays", pipelines=["hog-svm"], image_size=64, seeds=[0, 1])
    medbench.run(config=cfg)

Each field is declared once, with its command-line flag, help, suite-file rule and whether results.json
records it (:mod:`medbench.running.options`); ``medbench run``'s parser, the suite file's schema and the ``config``
block are generated from those declarations. Adding a run option is adding one field.

Every check is here and nowhere else: seeds, split seed, fractions (:func:`check_fractions`, also used by
:func:`medbench.datasets.splits.make_split`), ``n_jobs`` (:func:`medbench.core.workers.check_n_jobs`), the dataset's
load options (:meth:`DatasetSpec.checked`), the scheduler (:class:`Scheduler`, parsed once and handed to
:mod:`medbench.running.engine`) and the Dask resource deep jobs ask for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core.address import check_address, is_number
from medbench.core.errors import MedbenchError
from medbench.core.workers import check_n_jobs
from medbench.datasets.groups import check_pattern
from medbench.datasets.images import CHANNEL_CHOICES
from medbench.datasets.spec import DatasetSpec
from medbench.datasets.splits import MAX_SEED, check_fractions, check_seed
from medbench.evaluation.protocol import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MAX_BOOTSTRAP_RESAMPLES
from medbench.models.profiles import PROFILES
from medbench.running.options import add_arguments, declared, opt, suite_keys
from medbench.running.options import record as record_options
from medbench.running.protocols import MEDMNIST_SEEDS, PROTOCOLS, check_protocol
from medbench.shift.external import class_maps, parse_class_map
from medbench.shift.presets import NAMES as ROBUSTNESS_PRESETS
from medbench.shift.presets import check as check_robustness

__all__ = ["RunConfig", "Scheduler", "check_seeds", "parse_options", "parse_resource", "DEFAULT_DATASET"]

DEFAULT_DATASET = "pneumoniamnist"
#: The dataset's load options: RunConfig fields that go into its DatasetSpec.
DATASET_FIELDS = ("task", "image_size", "allow_missing", "max_image_pixels", "channels")
# JSON schemas of option values a suite file may set.
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}
_SEEDS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "uniqueItems": True}
_OPTIONS = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {
    "type": ["string", "number", "boolean", "array"]}}}


def check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    dupes = sorted({s for s in seeds if seeds.count(s) > 1})
    if dupes:
        raise MedbenchError(f"--seeds lists {dupes[0]} more than once; give each seed once (e.g. --seeds 0 1 2)")
    if not seeds:
        raise MedbenchError("--seeds is empty; give at least one seed (e.g. --seeds 0)")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise MedbenchError(f"--seeds {seeds}: seeds must be whole numbers")
    if any(s < 0 for s in seeds):
        raise MedbenchError(f"--seeds {min(seeds)}: seeds must be non-negative integers")
    if any(s > MAX_SEED for s in seeds):  # numpy's seeds stop there: every job would fail
        raise MedbenchError(f"--seeds {max(seeds)}: a seed must be a whole number from 0 to {MAX_SEED}")
    return seeds


def parse_options(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["hog-svm.C=5", "cnn.epochs=3"]`` -> ``{"hog-svm": {"C": "5"}, "cnn": {"epochs": "3"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        pipe, dot, name = key.partition(".")
        if not eq or not dot or not pipe or not name:
            raise MedbenchError(f"--option {item!r} is not PIPELINE.KEY=VALUE (e.g. resnet50.weights=random)")
        out.setdefault(pipe, {})[name] = value
    return out


def parse_resource(text: str | None) -> dict[str, float]:
    """``GPU=1`` -> ``{"GPU": 1.0}`` (the worker resource deep jobs ask for)."""
    if not text:
        return {}
    name, eq, amount = text.partition("=")
    try:
        value = float(amount)
    except ValueError:
        value = -1.0
    if not eq or not name.strip() or value <= 0:
        raise MedbenchError(f"--gpu-resource {text!r}: use NAME=AMOUNT, e.g. GPU=1")
    return {name.strip(): value}


@dataclass(frozen=True)
class Scheduler:
    """Where jobs run: ``local``, ``processes`` (``arg``: N workers) or ``address`` (``arg``: tcp://H:P)."""

    kind: str = "local"
    arg: str | int | None = None
    text: str = "local"

    @classmethod
    def parse(cls, scheduler: str | Scheduler | None) -> Scheduler:
        if isinstance(scheduler, Scheduler):
            return scheduler
        value = (scheduler or "local").strip()
        if value == "local":
            return cls("local", None, value)
        if value.startswith("processes:"):
            n = value.split(":", 1)[1]
            if not is_number(n) or not 1 <= int(n) <= 256:
                raise MedbenchError(f"--scheduler {value}: N must be a number of worker processes from 1 to 256")
            return cls("processes", int(n), value)
        if value.startswith(("tcp://", "tls://")) and len(value) > 6:
            return cls("address", check_address(value), value)
        raise MedbenchError(f"--scheduler {value!r}: use local, processes:N or tcp://HOST:PORT")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RunConfig:
    """One run: which dataset, pipelines and seeds, how to split, score and schedule; checked on creation.

    ``dataset`` is the spec text (``pneumoniamnist``, ``folder:PATH``, ...) or a :class:`DatasetSpec`; the
    dataset's load options (``task``, ``image_size``, ``allow_missing``, ``max_image_pixels``, ``channels``)
    are fields here and end up in :attr:`dataset_spec`. ``options`` maps pipeline -> ``{param: value}``
    or is a list of ``"PIPELINE.KEY=VALUE"`` strings (kept as given; :attr:`user_options` is the mapping).
    """

    # Declaration order is the order of `medbench run --help` and of results.json's config block.
    dataset: str | DatasetSpec = opt(
        DEFAULT_DATASET, flag="--dataset",
        help="a MedMNIST name (pneumoniamnist, bloodmnist, ...) | folder:PATH | coronahack:PATH | npz:PATH "
             "(see `medbench datasets`)")
    task: str | None = opt(None, flag="--task", cli={"metavar": "TASK"}, suite="dataset", suite_schema={"type": "string", "minLength": 1},
                           help="labelling for datasets with several (coronahack: pneumonia, etiology)")
    image_size: int | None = opt(None, flag="--image-size", cli={"type": int, "metavar": "PX"}, suite="both",
                                 suite_schema={"type": "integer", "minimum": 8, "maximum": 4096},
                                 default_text="224 for folder: and coronahack:; MedMNIST and npz: keep their own size",
                                 help="side length path datasets are decoded to")
    allow_missing: bool = opt(False, flag="--allow-missing", cli={"action": "store_true"}, suite="dataset",
                              suite_schema={"type": "boolean"},
                              help="go on without missing or unreadable image files (they are still counted and "
                                   "reported)")
    pipelines: Sequence[str] = opt(("all",), flag="--pipelines", cli={"nargs": "+", "metavar": "NAME"},
                                   suite="both", suite_schema=_NAMES,
                                   help="pipeline names or families (baseline, classical, deep); 'all' = every "
                                        "default pipeline")
    seeds: Sequence[int] = opt((0,), flag="--seeds", cli={"nargs": "+", "type": int, "metavar": "SEED"},
                               suite="both", suite_schema=_SEEDS, record_value=list,
                               help="run every pipeline once per seed (same split unless --resplit-per-seed); the "
                                    "report gives mean ± sd over seeds beside the per-seed values")
    split_seed: int = opt(0, flag="--split-seed", cli={"type": int, "metavar": "SEED"}, suite="both",
                          suite_schema={"type": "integer", "minimum": 0}, help="seed for any split carved by medbench")
    split_manifest: str | Path | None = opt(None, flag="--split-manifest", cli={"type": Path, "metavar": "FILE"},
                                            record_value=lambda m: str(m) if m else None,
                                            help="re-use a saved split (a split.json from an earlier run)")
    val_fraction: float = opt(0.1, flag="--val-fraction", cli={"type": float, "metavar": "F"},
                              help="validation share carved from train when needed")
    test_fraction: float = opt(0.2, flag="--test-fraction", cli={"type": float, "metavar": "F"},
                               help="test share when the dataset has no split")
    options: Any = opt(None, flag="--option", cli={"action": "append", "metavar": "PIPELINE.KEY=VALUE"},
                       default_text="", suite="both", suite_schema=_OPTIONS,
                       help="set a pipeline parameter, repeatable: KEY is a scikit-learn step parameter "
                            "(hog-svm.svm__C=5) or its unique short name (hog-svm.C=5, cnn.epochs=20, "
                            "resnet50.weights=/path/notop.h5); an unknown KEY is an error; a tuned parameter "
                            "set here is fixed (not tuned)")
    n_jobs: int = opt(-1, flag="--n-jobs", cli={"type": int, "metavar": "N"}, default_text="-1, all cores",
                      help="workers for image decoding and feature extraction")
    profile: str | None = opt(None, flag="--profile", cli={"choices": sorted(PROFILES)},
                              help="named pipeline set (see `medbench profiles`); --pipelines overrides its list")
    resplit_per_seed: bool = opt(False, flag="--resplit-per-seed", cli={"action": "store_true"},
                                 help="carve a new split for every seed (split seed = the seed) wherever medbench "
                                      "carves one (no official split, or validation carved from train); official "
                                      "parts stay")
    bootstrap_resamples: int = opt(BOOTSTRAP_RESAMPLES, flag="--bootstrap-resamples", cli={"type": int, "metavar": "N"},
                                   suite="suite", suite_schema={"type": "integer", "minimum": 1, "maximum": MAX_BOOTSTRAP_RESAMPLES},
                                   help="bootstrap resamples of the test images behind every 95% CI (docs/coverage.md)")
    bootstrap_seed: int = opt(BOOTSTRAP_SEED, flag="--bootstrap-seed", cli={"type": int, "metavar": "SEED"},
                              help="seed of the bootstrap resamples")
    scheduler: str | Scheduler | None = opt(
        "local", flag="--scheduler", cli={"metavar": "WHERE"}, record_value=str,
        help="where jobs run: local (here, one after another), processes:N (a Dask cluster of N worker processes "
             "on this machine) or tcp://HOST:PORT (an existing Dask scheduler); needs pip install "
             "'medbench[dask]' except for local")
    max_image_pixels: int | None = opt(None, flag="--max-image-pixels", cli={"type": int, "metavar": "N"},
                                       default_text="Pillow's 89,478,485",
                                       help="refuse (per file) images with more pixels than this; a guard against "
                                            "decompression bombs")
    save_models: bool = opt(False, flag="--save-models", cli={"action": "store_true"},
                            help="save every fitted pipeline to OUT/models/<pipeline>__seed<N>/ with a "
                                 "MODEL_CARD.md (no pickle; use it with `medbench predict`)")
    channels: str = opt("auto", flag="--channels", cli={"choices": CHANNEL_CHOICES}, suite="both",
                        suite_schema={"enum": list(CHANNEL_CHOICES)},
                        help="keep colour where the source has it (auto), reduce to ITU-R 601-2 luminance (gray) "
                             "or force three channels (rgb)")
    gallery: bool = opt(True, flag="--no-gallery", cli={"action": "store_false"},
                        help="skip the report's pictures of each pipeline's most confident test mistakes "
                             "(thumbnails, Grad-CAM for deep pipelines, HOG glyphs; made at run time, on by "
                             "default)")
    external: Sequence[str] = opt((), flag="--external", cli={"action": "append", "metavar": "DATASET"},
                                  suite="dataset", suite_schema=_NAMES, record=lambda c: bool(c.external),
                                  record_value=list,
                                  help="external validation set, repeatable (folder:PATH, coronahack:PATH, ...): "
                                       "every image of it is scored by every fitted pipeline at the dataset's image "
                                       "size and validation threshold")
    class_map: Sequence[str] = opt((), flag="--class-map", cli={"action": "append", "metavar": "SRC=DST"},
                                   suite="dataset", record=lambda c: bool(c.external), record_value=list,
                                   suite_schema={"type": "array", "items": {"type": "string",
                                                                            "pattern": "^.+=[^=]+$"}},
                                   help="an external set's class SRC is the dataset's class DST, repeatable (names "
                                        "are otherwise matched case-insensitively where unambiguous); SRC=- leaves "
                                        "the class out; SET::SRC=DST maps one external set only")
    robustness: str | bool | None = opt(
        None, flag="--robustness", cli={"nargs": "?", "const": "medbench", "metavar": "PRESET"}, suite="both",
        suite_schema={"anyOf": [{"type": "boolean"}, {"enum": list(ROBUSTNESS_PRESETS)}]},
        record=lambda c: bool(c.robustness), record_value=str,
        help="also score every pipeline on corrupted copies of the test split, 5 severities each: medbench (the "
             "default when PRESET is left out: noise, blur, contrast, brightness, JPEG, pixelation) or medmnist-c "
             "(the dataset's MedMNIST-C corruptions, with BE and rBE against MedMNIST-C's AlexNet)")
    protocol: str = opt("medbench", flag="--protocol", cli={"choices": list(PROTOCOLS)},
                        help="medmnist: the published MedMNIST protocol (official split, ACC at the arg-max / 0.5 "
                             "threshold, seeds 0 1 2 when --seeds is left at 0, zero-padding to --image-size when it "
                             "is above the file's); medbench: threshold chosen on validation (Youden's J)")
    groups: str | Path | None = opt(None, flag="--groups", cli={"metavar": "CSV"}, record=lambda c: bool(c.groups),
                                   record_value=str,
                                   help="patient groups: a CSV with columns path,group (image path relative to the "
                                        "dataset folder -> patient id); splits keep a patient's images together")
    group_pattern: str | None = opt(None, flag="--group-pattern", cli={"metavar": "REGEX"},
                                    record=lambda c: bool(c.group_pattern),
                                    help="patient groups: a regular expression with one capture group, searched in "
                                         "each image's relative path (e.g. '^(\\d{8})_' for NIH ChestX-ray14 names)")
    dedupe: bool = opt(False, flag="--dedupe", cli={"action": "store_true"}, record=lambda c: bool(c.dedupe),
                       help="remove near-duplicates of train/val images from the test split and the external sets "
                            "before scoring (recorded in results.json's audit block)")
    out: str | Path | None = opt(None, flag="--out", cli={"metavar": "DIR"}, record=False, default_text="results/<dataset>",
                                 help="results folder")
    fresh: bool = opt(False, flag="--fresh", cli={"action": "store_true"}, record=False,
                      help="ignore finished jobs in OUT and run everything again")
    gpu_resource: str | None = opt(None, flag="--gpu-resource", cli={"metavar": "NAME=AMOUNT"}, record=False,
                                   help="Dask worker resource the deep jobs ask for (e.g. GPU=1), so they land on "
                                        "GPU workers")
    dataset_spec: DatasetSpec = field(init=False, repr=False, compare=False)
    user_options: dict[str, dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.dataset, DatasetSpec):  # its load options are the config's
            for name in DATASET_FIELDS:
                if getattr(self, name) == getattr(RunConfig, name, None):
                    set_(self, name, getattr(self.dataset, name))
        set_(self, "seeds", tuple(check_seeds(self.seeds)))
        if check_protocol(self.protocol) == "medmnist" and self.seeds == (0,):  # the default: 3 seeds
            set_(self, "seeds", MEDMNIST_SEEDS)
        set_(self, "pipelines", tuple(self.pipelines))
        check_seed(self.split_seed)  # the checks load_dataset / make_split make, before any data is read
        spec = DatasetSpec.parse(self.dataset, **{n: getattr(self, n) for n in DATASET_FIELDS},
                                 pad=self.protocol == "medmnist").checked()
        set_(self, "dataset_spec", spec)
        check_n_jobs(self.n_jobs)
        check_fractions(self.val_fraction, self.test_fraction)
        if isinstance(self.bootstrap_resamples, bool) or not isinstance(self.bootstrap_resamples, int) \
                or not 1 <= self.bootstrap_resamples <= MAX_BOOTSTRAP_RESAMPLES:
            raise MedbenchError(f"--bootstrap-resamples {self.bootstrap_resamples} must be from 1 to "
                                f"{MAX_BOOTSTRAP_RESAMPLES:,} (default {BOOTSTRAP_RESAMPLES})")
        if self.resplit_per_seed and self.split_manifest:
            raise MedbenchError("--resplit-per-seed carves a split per seed; it cannot be combined with "
                                "--split-manifest")
        set_(self, "scheduler", Scheduler.parse(self.scheduler))  # a bad --scheduler is an error before any work
        parse_resource(self.gpu_resource)
        options = self.options
        if options is not None and not isinstance(options, dict):
            items = list(options)
            set_(self, "options", tuple(items))
            user = parse_options(items)
        else:
            user = {k: dict(v) for k, v in (options or {}).items()}
        set_(self, "user_options", user)
        _check_shift(self, set_)
        _check_audit(self)

    @classmethod
    def from_args(cls, args: Any, **extra: Any) -> RunConfig:
        """A config from an argparse namespace: every declared option the namespace has."""
        values = {f.name: getattr(args, f.name) for f, _ in declared(cls) if hasattr(args, f.name)}
        return cls(**{**values, **extra})

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @property
    def dataset_text(self) -> str:
        return self.dataset_spec.text

    @property
    def deep_resources(self) -> dict[str, float]:
        return parse_resource(self.gpu_resource)

    def record(self, pipelines: list[str], options: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The ``config`` block of results.json (``pipelines`` resolved, ``options`` with the profile's):
        every option declared as recorded (:func:`medbench.running.options.record`)."""
        return record_options(self, dataset=self.dataset_text, pipelines=pipelines, options=options)

    @classmethod
    def add_arguments(cls, parser: Any, names: Any = None, replace: Any = ()) -> None:
        """The command-line arguments of the declared options (``medbench run``; ``suite`` takes some)."""
        add_arguments(parser, cls, names, replace)

    @classmethod
    def suite_keys(cls, place: str) -> dict[str, Any]:
        """JSON-schema properties of what a suite file may set in ``[suite]`` / a ``[[datasets]]`` entry."""
        return suite_keys(cls, place)


def _check_audit(cfg: RunConfig) -> None:
    """--groups / --group-pattern / --dedupe: checked before any data is read."""
    if cfg.groups and cfg.group_pattern:
        raise MedbenchError("--groups and --group-pattern both give patient groups; use one of them")
    if cfg.group_pattern:
        check_pattern(cfg.group_pattern)
    if cfg.dedupe and cfg.resplit_per_seed:
        raise MedbenchError("--dedupe removes near-duplicates from one split; it cannot be combined with "
                            "--resplit-per-seed")


def _check_shift(cfg: RunConfig, set_) -> None:
    """--external / --class-map / --robustness: normalised to tuples and checked before any data is read."""
    ext = (cfg.external,) if isinstance(cfg.external, str | DatasetSpec) else tuple(cfg.external or ())
    ext = tuple(DatasetSpec.parse(e).text for e in ext)
    dupes = sorted({e for e in ext if ext.count(e) > 1})
    if dupes:
        raise MedbenchError(f"--external {dupes[0]} is given more than once; give each external set once")
    cmap = (cfg.class_map,) if isinstance(cfg.class_map, str) else tuple(cfg.class_map or ())
    if cmap and not ext:
        raise MedbenchError(f"--class-map {cmap[0]} maps an external set's classes; add --external DATASET")
    parse_class_map(cmap)  # a bad SRC=DST is one line now
    class_maps(cmap, list(ext))  # and a SET::SRC=DST naming no external set of the run
    if cfg.robustness is False or cfg.robustness is None:
        set_(cfg, "robustness", None)
    else:
        set_(cfg, "robustness", check_robustness(cfg.robustness, cfg.dataset))
    set_(cfg, "external", ext)
    set_(cfg, "class_map", cmap)
