"""``--robustness PRESET``: which corruptions, at which levels, a run applies to its test split.

Two presets: ``medbench`` (the default of a bare ``--robustness``: the six rows of
:data:`medbench.shift.corruptions.CORRUPTIONS` with their own levels) and ``medmnist-c`` (the dataset's
MedMNIST-C preset, :mod:`medbench.shift.medmnistc`, with AlexNet's published errors as the reference of BE and
rBE). :func:`resolve` gives a run's :class:`Preset`: an unknown preset is a one-line error listing the known
ones; ``medmnist-c`` on a dataset without a MedMNIST-C preset is a one-line error naming those that have one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.shift import corruptions, medmnistc

__all__ = ["DEFAULT", "NAMES", "Preset", "Step", "check", "check_name", "dataset_key", "resolve"]

DEFAULT = "medbench"
MEDMNIST_C = "medmnist-c"
NAMES = (DEFAULT, MEDMNIST_C)


@dataclass(frozen=True)
class Step:
    """One corruption of a preset: its ``name`` in the preset, the registry ``kind`` applying it, 5 ``levels``."""

    name: str
    kind: str
    levels: tuple[float, ...]

    def row(self) -> dict[str, Any]:
        c = corruptions.CORRUPTIONS.get(self.kind)
        return {"name": self.name, "kind": self.kind, "summary": c.summary, "parameter": c.parameter,
                "levels": [float(v) for v in self.levels]}


@dataclass(frozen=True)
class Preset:
    """A preset for one dataset: its steps and, for ``medmnist-c``, the AlexNet reference (clean and per-step
    balanced errors) with its source."""

    name: str
    dataset: str | None
    steps: tuple[Step, ...]
    reference: dict[str, Any] | None = None

    def table(self) -> list[dict[str, Any]]:
        return [s.row() for s in self.steps]

    def key(self) -> dict[str, Any]:
        """What the corrupted scores depend on (part of every job key)."""
        return {"preset": self.name, "steps": [[s.name, s.kind, list(s.levels)] for s in self.steps]}


def check_name(name: Any) -> str:
    """``name`` if it is a known preset (``True`` means the default); else a one-line error listing them."""
    if name is True:
        return DEFAULT
    if not isinstance(name, str) or name not in NAMES:
        raise MedbenchError(f"--robustness {name!r}: unknown preset; known: {', '.join(NAMES)}")
    return name


def check(name: Any, dataset: Any) -> str:
    """The preset name a run asks for (``True`` = the default), checked against its dataset before any data is
    read (one-line errors: see :func:`resolve`)."""
    return resolve(name, getattr(dataset, "text", dataset)).name


def dataset_key(spec: Any) -> str | None:
    """The MedMNIST name of a dataset spec (``pneumoniamnist``, ``pneumoniamnist@64`` -> ``pneumoniamnist``),
    None for a folder, npz or other source."""
    text = str(spec or "").strip().lower()
    if ":" in text:
        return None
    return text.split("@", 1)[0] or None


def with_preset() -> list[str]:
    return list(medmnistc.PRESETS)


def resolve(name: Any, dataset: Any = None) -> Preset:
    """The :class:`Preset` called ``name`` for ``dataset`` (a spec text or MedMNIST name)."""
    name = check_name(name)
    if name == DEFAULT:
        return Preset(DEFAULT, None, tuple(Step(c["name"], c["name"], tuple(c["levels"]))  # type: ignore[arg-type]
                                           for c in corruptions.table()))
    key = dataset_key(dataset)
    if key not in medmnistc.PRESETS:
        raise MedbenchError(f"--robustness {MEDMNIST_C}: dataset {dataset} has no MedMNIST-C preset; datasets with "
                            f"one: {', '.join(with_preset())} (or use --robustness {DEFAULT})")
    steps = tuple(Step(n, medmnistc.KINDS[n], tuple(levels)) for n, levels in medmnistc.PRESETS[key].items())
    alex = medmnistc.ALEXNET.get(key)
    reference = None if alex is None else {
        "model": "AlexNet", "clean_error": alex["clean"], "errors": dict(alex["errors"]),  # type: ignore[call-overload]
        "source": medmnistc.SOURCE, "citation": medmnistc.CITATION}
    return Preset(MEDMNIST_C, key, steps, reference)
