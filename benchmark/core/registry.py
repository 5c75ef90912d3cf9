"""One registration mechanism for everything medbench looks up by name: pipelines, dataset kinds and
image corruptions (timm's ``@register_model`` is the model: the registration sits on the thing registered).

    CORRUPTIONS = Registry("corruption")

    @CORRUPTIONS.register("blur")
    def blur(...): ...

A name registered twice is a programming error (``ValueError``); an unknown name asked for is the user's
(:class:`~medbench.core.errors.MedbenchError`, one line listing the known names), never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from medbench.core.errors import MedbenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named things of one kind (``what``: "pipeline", "corruption", ...), in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name`` (twice is an error) and return it."""
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} registered twice")
        self._items[name] = item
        return item

    def register(self, name: str, wrap: Callable[[Callable], T] | None = None) -> Callable[[Callable], Callable]:
        """Decorator: ``@registry.register("name")`` registers the function (or ``wrap(function)``, e.g. a
        row of a table holding it) and returns the function unchanged."""
        def decorate(fn: Callable) -> Callable:
            self.add(name, wrap(fn) if wrap is not None else fn)  # type: ignore[arg-type]
            return fn
        return decorate

    def get(self, name: str) -> T:
        """The item registered as ``name``; an unknown name is a one-line error naming the known ones."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise MedbenchError(f"unknown {self.what} {name!r}; known: {', '.join(self._items) or 'none'}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def names(self) -> list[str]:
        return list(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def index(self, name: str) -> int:
        """Registration position of ``name`` (stable: e.g. a noise seed derives from it)."""
        return list(self._items).index(name)

    def as_dict(self) -> dict[str, T]:
        return dict(self._items)
