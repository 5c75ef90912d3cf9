"""Run options declared once: each :class:`~medbench.running.config.RunConfig` field carries an :class:`Option`
(its command-line flag, help, argparse keywords, whether a suite file may set it and whether results.json
records it), and everything else is generated from those declarations:

* :func:`add_arguments` - the ``medbench run`` (and ``suite``) arguments, with the true defaults in the help;
* :func:`suite_keys` - the JSON schema of the keys a suite file's ``[suite]`` / ``[[datasets]]`` may set;
* :func:`record` - the ``config`` block of results.json.

Adding a run option is one field: ``name: type = opt(default, flag="--name", help="...")``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Where a suite file may set an option: in ``[suite]`` (for every dataset) and/or in a ``[[datasets]]`` entry.
SUITE_PLACES = ("both", "suite", "dataset")


@dataclass(frozen=True)
class Option:
    """How one run option is set from outside (see the module docstring)."""

    flag: str | None = None
    help: str = ""
    cli: Mapping[str, Any] = field(default_factory=dict)  # argparse keywords: nargs, type, metavar, action, ...
    default_text: str | None = None  # the default as the help states it, when not the field's own value
    suite: str | None = None  # one of SUITE_PLACES, or None: a suite file cannot set it
    suite_schema: Mapping[str, Any] | None = None  # JSON schema of its value in a suite file
    record: bool | Callable[[Any], bool] = True  # recorded in results.json (a callable: when it says so)
    record_value: Callable[[Any], Any] | None = None  # how it is recorded (default: as it is)

    def __post_init__(self) -> None:
        if self.suite is not None and self.suite not in SUITE_PLACES:
            raise ValueError(f"Option.suite={self.suite!r} must be one of {SUITE_PLACES} or None")
        if self.suite is not None and self.suite_schema is None:
            raise ValueError("an option a suite file may set needs its suite_schema")


def opt(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None, **option: Any) -> Any:
    """A dataclass field declaring a run option: ``opt(0, flag="--split-seed", help="...")``."""
    meta = {"option": Option(**option)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def declared(cls: type) -> list[tuple[dataclasses.Field, Option]]:
    """The declared options of a config class, in declaration order."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata]


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _help(f: dataclasses.Field, o: Option, default: Any) -> str:
    action = o.cli.get("action")
    if action == "store_true":
        return o.help  # a switch: off unless given
    if action == "store_false":
        return o.help + " (on by default)" if "by default" not in o.help else o.help
    shown = o.default_text if o.default_text is not None else (
        " ".join(map(str, default)) if isinstance(default, list | tuple) else default)
    if shown is None or shown == "" or shown == []:
        return o.help
    return f"{o.help} (default: {shown})".replace("%", "%%")


def add_arguments(parser: argparse.ArgumentParser, cls: type, names: Iterable[str] | None = None,
                  replace: Iterable[str] = ()) -> None:
    """Add ``cls``'s declared options (those in ``names``, default: every one with a flag) to ``parser``.
    The options in ``replace`` default to None and say they replace a suite file's value."""
    wanted = None if names is None else set(names)
    replace = set(replace)
    for f, o in declared(cls):
        if o.flag is None or (wanted is not None and f.name not in wanted):
            continue
        kw = dict(o.cli)
        default = default_of(f)
        if isinstance(default, tuple):
            default = list(default)
        if f.name in replace:
            kw.update(default=None, help=o.help.replace("%", "%%") + " (replaces the suite file's)")
        else:
            kw.update(default=default, help=_help(f, o, default))
        parser.add_argument(o.flag, dest=f.name, **kw)


def suite_keys(cls: type, place: str) -> dict[str, Any]:
    """JSON-schema properties of the options a suite file may set in ``place`` (``suite`` / ``dataset``)."""
    return {f.name: dict(o.suite_schema) for f, o in declared(cls)  # type: ignore[arg-type]
            if o.suite in ("both", place)}


def record(config: Any, **resolved: Any) -> dict[str, Any]:
    """The results.json ``config`` block of ``config``: every recorded option in declaration order
    (``resolved`` replaces a value by what the run resolved it to, e.g. the pipeline names)."""
    out: dict[str, Any] = {}
    for f, o in declared(type(config)):
        when = o.record(config) if callable(o.record) else o.record
        if not when:
            continue
        value = resolved[f.name] if f.name in resolved else getattr(config, f.name)
        out[f.name] = o.record_value(value) if o.record_value is not None else value
    return out
