"""Typed name registries for datasets, methods and protocols.

Things register themselves with a decorator where they are defined::

    @DATASETS.register("synthetic_ceph")
    class SyntheticCeph(LandmarkDataset): ...

Each registry knows the (explicit, short) list of modules that define its entries and
imports them on first use. Those modules keep torch, monai and mlflow out of their
top-level imports, so that ``landmarkbench ls`` answers without loading them.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from landmarkbench.errors import UnknownNameError, UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered thing: its name, a one-line description and the object itself."""

    name: str
    description: str
    obj: T


def _first_docstring_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    lines = [line.strip() for line in doc.strip().splitlines()]
    return lines[0] if lines else ""


def did_you_mean(kind: str, name: str, available: Sequence[str]) -> str:
    """Build the sentence for an unknown ``name`` among ``available`` names of ``kind``."""
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(sorted(available)) or "(none)"
    return f"Unknown {kind} {name!r}.{hint} Available: {listing}."


class Registry(Generic[T]):
    """A mapping from unique names to registered objects of one kind.

    Args:
        kind: What the entries are, used in messages ("dataset", "method", ...).
        providers: Modules that register entries; imported lazily on first lookup.
    """

    def __init__(self, kind: str, providers: Sequence[str] = ()) -> None:
        self.kind = kind
        self._providers = tuple(providers)
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, description: str | None = None) -> Callable[[T], T]:
        """Decorator that registers the decorated object under ``name``.

        Raises:
            UsageError: if ``name`` is already registered.
        """

        def decorate(obj: T) -> T:
            if name in self._entries:
                raise UsageError(
                    f"The {self.kind} name {name!r} is registered twice "
                    f"({self._entries[name].obj!r} and {obj!r}); pick a unique name."
                )
            text = description if description is not None else _first_docstring_line(obj)
            self._entries[name] = Entry(name=name, description=text, obj=obj)
            return obj

        return decorate

    def _load_providers(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._providers:
            importlib.import_module(module)

    def get(self, name: str) -> T:
        """Return the object registered under ``name``.

        Raises:
            UnknownNameError: naming close matches and every registered name.
        """
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        """Return the full entry registered under ``name`` (see ``get``)."""
        self._load_providers()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(did_you_mean(self.kind, name, list(self._entries))) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_providers()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """All entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        self._load_providers()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
