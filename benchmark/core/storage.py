"""How each pipeline step class is saved: the declarations :mod:`medbench.models.persist` acts on.

A fitted step is saved only when its class declares how, next to the class::

    @stored_as("skops")                                    # scikit-learn-style object, saved with skops.io
    class HOG(...): ...

    @stored_as("skops", holds=("sklearn.calibration._SigmoidCalibration",))  # plus the inner types
    class CalibratedSVC(...): ...                          # its fitted state holds

    @stored_as("xgboost")                                  # XGBoost's own model format
    @stored_as("keras-estimator", keras_models=("model_",), custom_objects=fn)  # JSON + .keras files

and a class medbench uses without defining it (scikit-learn's ``StandardScaler``) is declared where
medbench uses it: ``declare(StandardScaler, "skops")``. A plugin declares its own step classes the
same way, in the module its ``medbench.pipelines`` entry point imports.

The same declarations are the load-time trust list: a skops file may hold only the declared skops
classes and the types they declare they hold (on top of skops' own defaults), and an XGBoost or Keras
step is rebuilt only from a class object found here. A class is known by the object that declared
it, keyed by its qualified name: a name read from a file is looked up, never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The ways a step can be stored (see :mod:`medbench.models.persist`).
CODECS = ("skops", "xgboost", "keras-estimator")


@dataclass(frozen=True)
class Storage:
    """How one step class is saved.

    ``holds``: (skops) qualified names of inner types the fitted object holds that skops does not trust
    by default. ``keras_models``: (keras-estimator) fitted attributes holding Keras models, each saved
    as a ``.keras`` file. ``unsaved``: (keras-estimator) fitted attributes not stored (rebuilt only for
    training, or not JSON). ``custom_objects``: (keras-estimator) returns the custom Keras classes by
    name that its ``.keras`` files need (registered serialisable Keras objects).
    """

    cls: type
    codec: str
    holds: tuple[str, ...] = ()
    keras_models: tuple[str, ...] = ()
    unsaved: tuple[str, ...] = ()
    custom_objects: Callable[[], dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return qualified_name(self.cls)


_DECLARED: dict[str, Storage] = {}


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def declare(cls: type, codec: str, *, holds: tuple[str, ...] = (), keras_models: tuple[str, ...] = (),
            unsaved: tuple[str, ...] = (), custom_objects: Callable[[], dict[str, Any]] | None = None) -> type:
    """Declare how instances of ``cls`` are saved; returns ``cls``. Declaring a class again with the
    same codec replaces the declaration (a module imported again); with another codec, a ``ValueError``."""
    if not isinstance(cls, type):
        raise TypeError(f"declare() takes a class, not {cls!r}")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
    if codec == "keras-estimator" and not keras_models:
        raise ValueError(f"{qualified_name(cls)}: a keras-estimator declares the attributes holding its Keras models")
    if codec != "keras-estimator" and (keras_models or unsaved or custom_objects):
        raise ValueError(f"{qualified_name(cls)}: keras_models, unsaved and custom_objects are for keras-estimator")
    if codec != "skops" and holds:
        raise ValueError(f"{qualified_name(cls)}: holds is for skops")
    storage = Storage(cls, codec, tuple(holds), tuple(keras_models), tuple(unsaved), custom_objects)
    known = _DECLARED.get(storage.name)
    if known is not None and known.codec != codec:
        raise ValueError(f"step class {storage.name} is declared as {known.codec} and as {codec}")
    _DECLARED[storage.name] = storage
    return cls


def stored_as(codec: str, **how: Any) -> Callable[[type], type]:
    """Class decorator form of :func:`declare`."""
    return lambda cls: declare(cls, codec, **how)


def storage_of(cls: type) -> Storage | None:
    """The declared storage of exactly ``cls`` (a subclass declares its own), or ``None``."""
    found = _DECLARED.get(qualified_name(cls))
    return found if found is not None and found.cls is cls else None


def lookup(name: str, codec: str) -> Storage | None:
    """The declared storage of the class named ``name`` (a string read from a file) if it is stored with
    ``codec``; ``None`` otherwise. Nothing is imported."""
    found = _DECLARED.get(name) if isinstance(name, str) else None
    return found if found is not None and found.codec == codec else None


def skops_trusted() -> tuple[str, ...]:
    """Every type a skops file may hold beyond skops' own defaults: the declared skops classes and the
    inner types they hold, sorted."""
    names = set()
    for storage in _DECLARED.values():
        if storage.codec == "skops":
            names.add(storage.name)
            names.update(storage.holds)
    return tuple(sorted(names))


def declared() -> dict[str, Storage]:
    """Every declaration so far, by qualified class name."""
    return dict(_DECLARED)


__all__ = ["CODECS", "Storage", "declare", "declared", "lookup", "qualified_name", "skops_trusted", "storage_of",
           "stored_as"]
