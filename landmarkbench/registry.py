"""Typed name registries for datasets, methods and protocols, and how they are filled.

Things register themselves with a decorator where they are defined::

    @DATASETS.register("synthetic_ceph")
    class SyntheticCeph(LandmarkDataset): ...

A registry finds those modules itself: on first use it reads the source files of its
packages and imports each module that has a module-level ``@<MARKER>.register(`` line
(see ``discover_providers``), so a new module cannot be forgotten in a list. Those modules
keep torch, monai and mlflow out of their top-level imports, so that ``landmarkbench ls``
answers without loading them.

Two more sources, for code outside the package:

- plugins: installed distributions that declare entry points in the registry's group
  (``landmarkbench.datasets``, ``landmarkbench.methods``); the entry point's name is the
  registered name and its value (``package.module:Class``) the object. A plugin that fails
  (import error, wrong type, a name taken) is kept as a problem: ``problems()`` lists it and
  asking for its name raises the sentence, while every other entry stays usable.
- direct references: ``get("package.module:Class")`` imports the module and returns the
  class, checked like a plugin; nothing needs to be installed.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any, Generic, TypeVar, cast

from landmarkbench.errors import UnknownNameError, UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered thing: its name, a one-line description and the object itself.

    ``origin`` is None for the package's own entries; for a plugin it names the
    distribution ("plugin from mydist 0.1"), for a direct reference the reference.
    """

    name: str
    description: str
    obj: T
    origin: str | None = None


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


def registering_modules(package: str, marker: str) -> list[str]:
    """Modules under ``package`` (recursively) whose source has a line starting with
    ``@<marker>.register(``, found by reading the files, without importing any module.

    Only folders with an ``__init__.py`` are walked (data folders are not packages).
    """
    pattern = re.compile(rf"^@{re.escape(marker)}\.register\(", re.MULTILINE)
    found: list[str] = []

    def walk(folder: Any, prefix: str) -> None:
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.is_dir():
                if item.joinpath("__init__.py").is_file():
                    walk(item, f"{prefix}.{item.name}")
            elif item.name.endswith(".py") and pattern.search(item.read_text(encoding="utf-8")):
                stem = item.name[: -len(".py")]
                found.append(prefix if stem == "__init__" else f"{prefix}.{stem}")

    walk(resources.files(package), package)
    return found


def _resolve(reference: str) -> Any:
    """The object a ``package.module:attribute`` reference names (imports the module)."""
    module_name, _, attribute = reference.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class Registry(Generic[T]):
    """A mapping from unique names to registered objects of one kind.

    Args:
        kind: What the entries are, used in messages ("dataset", "method", ...).
        providers: Modules that register entries; imported lazily on first lookup.
        packages: Packages searched (by reading source, see ``registering_modules``) for
            more provider modules, on first lookup.
        marker: The name the registry is bound to in provider modules ("DATASETS"): a
            module-level ``@DATASETS.register(`` line marks a provider.
        group: Entry-point group of plugins ("landmarkbench.datasets"); None for none.
        base: ``module:Class`` that plugins and direct references must subclass.
        required: Class attributes that plugins and direct references must define.
    """

    def __init__(
        self,
        kind: str,
        providers: Sequence[str] = (),
        *,
        packages: Sequence[str] = (),
        marker: str = "",
        group: str | None = None,
        base: str | None = None,
        required: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self._providers = tuple(providers)
        self._packages = tuple(packages)
        self._marker = marker
        self._group = group
        self._base = base
        self._required = tuple(required)
        self._entries: dict[str, Entry[T]] = {}
        self._direct: dict[str, Entry[T]] = {}
        self._problems: dict[str, str] = {}
        self._loaded = False
        self._plugins_loaded = False

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

    def provider_modules(self) -> list[str]:
        """The modules that fill this registry: the listed ones and the discovered ones."""
        modules = list(self._providers)
        for package in self._packages:
            for module in registering_modules(package, self._marker):
                if module not in modules:
                    modules.append(module)
        return modules

    def _load_providers(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.provider_modules():
            importlib.import_module(module)

    def _load_plugins(self) -> None:
        """Register the entry points of the registry's group; failures become problems."""
        self._load_providers()
        if self._plugins_loaded or self._group is None:
            return
        self._plugins_loaded = True
        by_name: dict[str, list[metadata.EntryPoint]] = {}
        for point in metadata.entry_points(group=self._group):
            by_name.setdefault(point.name, []).append(point)
        for name, points in sorted(by_name.items()):
            dists = [_distribution(p) for p in points]
            if len(points) > 1 and len({p.value for p in points}) > 1:
                self._problems[name] = (
                    f"The {self.kind} plugin name {name!r} is declared by several installed "
                    f"distributions ({', '.join(sorted(dists))}); uninstall all but one."
                )
                continue
            self._load_plugin(name, points[0], dists[0])

    def _load_plugin(self, name: str, point: metadata.EntryPoint, dist: str) -> None:
        where = f"{self.kind} plugin {name!r} ({point.value}, from {dist})"
        if name in self._entries and self._entries[name].origin is None:
            self._problems[name] = (
                f"The {where} is not loaded: {name!r} is a built-in {self.kind}; the plugin "
                "must register under another entry-point name."
            )
            return
        try:
            obj = point.load()
        except Exception as exc:  # any failure of third-party code is reported, not raised
            self._problems[name] = f"The {where} failed to load: {_error_text(exc)}."
            return
        complaint = self._check(obj)
        if complaint:
            self._problems[name] = f"The {where} is not usable: {complaint}."
            return
        known = self._entries.get(name)
        if known is not None and known.obj is not obj:
            self._problems[name] = (
                f"The {where} is not loaded: its module registered another object under {name!r}."
            )
            return
        description = known.description if known else _first_docstring_line(obj)
        self._entries[name] = Entry(name, description, obj, origin=f"plugin from {dist}")

    def _check(self, obj: object) -> str:
        """Why ``obj`` cannot be an entry of this registry ("" when it can)."""
        if self._base is None:
            return ""
        base = _resolve(self._base)
        if not (inspect.isclass(obj) and issubclass(obj, base)):
            return f"{obj!r} is not a subclass of {base.__module__}.{base.__qualname__}"
        missing = [a for a in self._required if not hasattr(obj, a)]
        if missing:
            return f"{obj.__qualname__} does not set the class attribute(s) {', '.join(missing)}"
        if inspect.isabstract(obj):
            methods = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
            return f"{obj.__qualname__} does not implement {methods}"
        return ""

    def _load_direct(self, reference: str) -> Entry[T]:
        """The entry for a ``package.module:Class`` reference (imported now, then kept)."""
        if reference in self._direct:
            return self._direct[reference]
        module_name, _, attribute = reference.partition(":")
        if not module_name or not attribute:
            raise UsageError(
                f"The {self.kind} reference {reference!r} must be written "
                "package.module:Class, e.g. mypackage.models:MyClass."
            )
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise UsageError(
                f"The {self.kind} reference {reference!r} cannot be loaded: importing "
                f"{module_name!r} failed ({_error_text(exc)}); check that the module is "
                "installed or on PYTHONPATH."
            ) from exc
        obj: Any = module
        for part in attribute.split("."):
            if not hasattr(obj, part):
                raise UsageError(
                    f"The {self.kind} reference {reference!r} cannot be loaded: module "
                    f"{module_name!r} has no attribute {attribute!r}."
                )
            obj = getattr(obj, part)
        complaint = self._check(obj)
        if complaint:
            raise UsageError(f"The {self.kind} reference {reference!r} is not usable: {complaint}.")
        entry: Entry[T] = Entry(
            reference, _first_docstring_line(obj), cast(T, obj), origin=reference
        )
        self._direct[reference] = entry
        return entry

    def get(self, name: str) -> T:
        """Return the object registered under ``name`` (or named by ``module:Class``).

        Raises:
            UnknownNameError: naming close matches and every registered name.
            UsageError: for a broken plugin or reference, with its error.
        """
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        """Return the full entry registered under ``name`` (see ``get``)."""
        self._load_providers()
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            return self._load_direct(name)
        self._load_plugins()
        if name in self._entries:
            return self._entries[name]
        if name in self._problems:
            raise UsageError(self._problems[name])
        raise UnknownNameError(did_you_mean(self.kind, name, list(self._entries)))

    def names(self) -> list[str]:
        """All registered names (the package's and the plugins'), sorted."""
        self._load_plugins()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """All entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def problems(self) -> dict[str, str]:
        """Plugins that could not be registered: name -> the sentence saying why."""
        self._load_plugins()
        return dict(sorted(self._problems.items()))

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _distribution(point: metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"
