"""``RunConfig``: everything a run is told, with its defaults and checks, in one place.

The command line (``medbench run`` / ``medbench suite``), :func:`medbench.run`, :func:`medbench.api_suite.run_suite`
and the Dask engine all take a :class:`RunConfig`; ``medbench.run(dataset=..., pipelines=[...], **kw)``
builds one from its keyword arguments (a field per keyword)::

    cfg = RunConfig(dataset="folder:data/xrays", pipelines=["hog-svm"], image_size=64, seeds=[0, 1])
    medbench.run(config=cfg)

Every check is here and nowhere else: seeds, split seed, fractions (:func:`check_fractions`, also used by
:func:`medbench.splits.make_split`), ``n_jobs`` (:func:`medbench.core.workers.check_n_jobs`), the dataset's
load options (:meth:`DatasetSpec.checked`), the scheduler (:class:`Scheduler`, parsed once and handed to
:mod:`medbench.engine`) and the Dask resource deep jobs ask for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.core.workers import check_n_jobs
from medbench.datasets.spec import DatasetSpec
from medbench.external import class_maps, parse_class_map
from medbench.splits import MAX_FRACTION, check_fractions, check_seed
from medbench.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

__all__ = ["RunConfig", "DatasetSpec", "Scheduler", "check_fractions", "check_seeds", "parse_options",
           "parse_resource", "DEFAULT_DATASET", "BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "MAX_FRACTION"]

DEFAULT_DATASET = "pneumoniamnist"
#: The dataset's load options: RunConfig fields that go into its DatasetSpec.
DATASET_FIELDS = ("task", "image_size", "allow_missing", "max_image_pixels", "channels")


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
            if not n.isdigit() or not 1 <= int(n) <= 256:
                raise MedbenchError(f"--scheduler {value}: N must be a number of worker processes from 1 to 256")
            return cls("processes", int(n), value)
        if value.startswith(("tcp://", "tls://")) and len(value) > 6:
            host, colon, port = value[6:].rpartition(":")
            if not colon or not host or value.endswith("]") or (":" in host and not host.startswith("[")):
                raise MedbenchError(f"--scheduler {value}: give the scheduler's port too, e.g. {value[:6]}"
                                    f"{value[6:].rstrip(':') or 'HOST'}:8786")
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                raise MedbenchError(f"--scheduler {value}: port {port!r} must be a number from 1 to 65535 "
                                    f"(e.g. {value[:6]}{host}:8786)")
            return cls("address", value, value)
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

    dataset: str | DatasetSpec = DEFAULT_DATASET
    pipelines: Sequence[str] = ("all",)
    seeds: Sequence[int] = (0,)
    options: Any = None
    out: str | Path | None = None
    task: str | None = None
    image_size: int | None = None
    allow_missing: bool = False
    max_image_pixels: int | None = None
    channels: str = "auto"
    split_seed: int = 0
    split_manifest: str | Path | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    resplit_per_seed: bool = False
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    bootstrap_seed: int = BOOTSTRAP_SEED
    n_jobs: int = -1
    fresh: bool = False
    profile: str | None = None
    scheduler: str | Scheduler | None = "local"
    gpu_resource: str | None = None
    save_models: bool = False
    gallery: bool = True  # the error gallery: most confident test mistakes as pictures (--no-gallery: off)
    external: Sequence[str] = ()  # --external: external validation sets (dataset specs), scored by every job
    class_map: Sequence[str] = ()  # --class-map SRC=DST: an external set's class SRC is the dataset's DST
    robustness: bool = False  # --robustness: score every job on corrupted copies of the test split
    dataset_spec: DatasetSpec = field(init=False, repr=False, compare=False)
    user_options: dict[str, dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.dataset, DatasetSpec):  # its load options are the config's
            for name in DATASET_FIELDS:
                if getattr(self, name) == getattr(RunConfig, name, None):
                    set_(self, name, getattr(self.dataset, name))
        set_(self, "seeds", tuple(check_seeds(self.seeds)))
        set_(self, "pipelines", tuple(self.pipelines))
        check_seed(self.split_seed)  # the checks load_dataset / make_split make, before any data is read
        spec = DatasetSpec.parse(self.dataset, **{n: getattr(self, n) for n in DATASET_FIELDS}).checked()
        set_(self, "dataset_spec", spec)
        check_n_jobs(self.n_jobs)
        check_fractions(self.val_fraction, self.test_fraction)
        if isinstance(self.bootstrap_resamples, bool) or not isinstance(self.bootstrap_resamples, int) \
                or self.bootstrap_resamples < 1:
            raise MedbenchError(f"--bootstrap-resamples {self.bootstrap_resamples} must be at least 1 (default "
                                f"{BOOTSTRAP_RESAMPLES})")
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

    @classmethod
    def from_args(cls, args: Any, **extra: Any) -> RunConfig:
        """A config from an argparse namespace: every field the namespace has (``--option`` is ``option``)."""
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
                  if f.init and hasattr(args, f.name)}
        if hasattr(args, "option") and "options" not in values:
            values["options"] = args.option
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
        """The ``config`` block of results.json (``pipelines`` resolved, ``options`` with the profile's)."""
        return {
            "dataset": self.dataset_text, "task": self.task, "image_size": self.image_size,
            "allow_missing": self.allow_missing, "pipelines": pipelines, "seeds": list(self.seeds),
            "split_seed": self.split_seed, "split_manifest": str(self.split_manifest) if self.split_manifest else None,
            "val_fraction": self.val_fraction, "test_fraction": self.test_fraction, "options": options,
            "n_jobs": self.n_jobs, "profile": self.profile, "resplit_per_seed": self.resplit_per_seed,
            "bootstrap_resamples": self.bootstrap_resamples, "bootstrap_seed": self.bootstrap_seed,
            "scheduler": str(self.scheduler), "max_image_pixels": self.max_image_pixels,
            "save_models": self.save_models, "channels": self.channels, "gallery": self.gallery,
            **({"external": list(self.external), "class_map": list(self.class_map)} if self.external else {}),
            **({"robustness": True} if self.robustness else {}),
        }


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
    if not isinstance(cfg.robustness, bool):
        raise MedbenchError(f"robustness={cfg.robustness!r} must be True or False")
    set_(cfg, "external", ext)
    set_(cfg, "class_map", cmap)
