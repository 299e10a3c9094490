"""Grid files: datasets x protocols x methods x seeds, expanded to cells.

Layout (YAML)::

    datasets:                      # a list; each entry:
      - name: synthetic_ceph       #   a registered dataset
        options: {n_cases: 40}     #   its options (as an experiment file's dataset.options)
        ground_truth: [mean]       #   one name or a list (crossed); null: the dataset's
        protocols: [{kind: kfold}] #   optional: replaces the grid's protocols for this entry
        method_settings:           #   optional: settings merged over the grid's, per method
          subpixel: {input_shape: [64, 48]}
        resources: {num_cpus: 2}   #   optional: replaces the grid's resources for this entry
    protocols: [{kind: null}]      # experiment-file protocol sections [default: one, the
                                   # dataset's declared split, else k-fold]
    methods: {mean_shape: {}, subpixel: {max_epochs: 20}}   # or a list of names
    seeds: [0, 1, 2]
    resources: {num_cpus: 1, num_gpus: 0}                   # what each cell asks for
    exclude: [{dataset: endovis2015}]                       # cells matching any entry
    include: [{dataset: endovis2015, method: peak_heatmap}] # cells kept despite exclude

Every other top-level key is an experiment-file key (``evaluation``, ``uncertainty``,
``tracking``, ``device``, ...) applied to every cell. A cell is kept when no ``exclude``
entry matches it, or when an ``include`` entry does; entries match on ``dataset``,
``ground_truth``, ``protocol`` (the kind; ``default`` for the dataset's declared split),
``method`` and ``seed``, and an entry that matches no cell of the cross product is refused
(it is a typo). Each cell is one ``ExperimentSpec`` narrowed to one method and seed, built
(and so validated) by ``spec.yaml_io.spec_from_dict``; its key is the hash of that spec
without its tracking section (where results go does not change what a cell computes).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.errors import ConfigError, UsageError
from landmarkbench.registry import did_you_mean
from landmarkbench.spec.experiment import ExperimentSpec, TrackingSpec
from landmarkbench.spec.yaml_io import TOP_KEYS, read_yaml_file, spec_from_dict

GRID_KEYS = ("datasets", "protocols", "methods", "seeds", "resources", "exclude", "include")
# Experiment-file keys a grid applies to every cell (the crossed ones are the grid's own).
SHARED_KEYS = tuple(k for k in TOP_KEYS if k not in ("dataset", "protocol", "methods", "seeds"))
ENTRY_KEYS = ("name", "options", "ground_truth", "protocols", "method_settings", "resources")
MATCH_KEYS = ("dataset", "ground_truth", "protocol", "method", "seed")
DEFAULT_PROTOCOL = "default"  # how a match names the dataset's declared split


@dataclass(frozen=True)
class Resources:
    """What one cell asks of an executor: CPUs (its torch threads) and GPUs."""

    num_cpus: int = 1
    num_gpus: float = 0

    @classmethod
    def parse(cls, data: Any, where: str) -> Resources:
        """Resources from a grid mapping, checked.

        Raises:
            ConfigError: naming ``where``, for an unknown key or a bad value.
        """
        values = _mapping(data, where, ("num_cpus", "num_gpus"))
        cpus, gpus = values.get("num_cpus", 1), values.get("num_gpus", 0)
        if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
            raise ConfigError(
                f"{where}: num_cpus {cpus!r} must be a whole number of CPUs >= 1, e.g. num_cpus: 2."
            )
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
            raise ConfigError(
                f"{where}: num_gpus {gpus!r} must be a number of GPUs >= 0, e.g. num_gpus: 1."
            )
        return cls(cpus, gpus)

    def replace(self, num_cpus: int | None = None, num_gpus: float | None = None) -> Resources:
        """A copy with the given values (None keeps this one's)."""
        return Resources(
            self.num_cpus if num_cpus is None else num_cpus,
            self.num_gpus if num_gpus is None else num_gpus,
        )

    def describe(self) -> str:
        gpus = f", {self.num_gpus:g} GPU" if self.num_gpus else ""
        return f"{self.num_cpus} CPU{gpus}"


@dataclass(frozen=True)
class GridCell:
    """One cell: an experiment narrowed to one (dataset entry, ground truth, protocol,
    method, seed), with the resources it asks for."""

    label: str
    spec: ExperimentSpec
    resources: Resources
    coordinates: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The hash of the cell's spec, tracking left out."""
        return self.spec.replace(tracking=TrackingSpec()).identity

    @property
    def method(self) -> str:
        return self.spec.methods[0].name

    @property
    def seed(self) -> int:
        return self.spec.seeds[0]

    @property
    def dataset(self) -> str:
        return self.spec.dataset.name


@dataclass(frozen=True)
class Grid:
    """A parsed grid file: its source and its cells, in file order."""

    source: str
    cells: tuple[GridCell, ...]

    @property
    def datasets(self) -> list[str]:
        """The grid's dataset names, in file order, each once."""
        return list(dict.fromkeys(cell.dataset for cell in self.cells))


def load_grid(path: Path | str, shared: Mapping[str, Any] | None = None) -> Grid:
    """Read, validate and expand a grid file.

    Args:
        path: The YAML file.
        shared: Experiment-file sections replacing the file's (e.g. ``tracking`` from the
            command line), applied to every cell.

    Raises:
        UsageError: naming the file (and the cell or entry) for anything that is wrong.
    """
    path = Path(path)
    source = f"grid file '{path}'"
    data = read_yaml_file(path, "Grid file", "such as benchmarks/grids/tiny.yaml")
    return expand_grid(data, source, shared)


def expand_grid(data: Any, source: str, shared: Mapping[str, Any] | None = None) -> Grid:
    """The cells of a grid given as plain data (the file's layout); see ``load_grid``."""
    top = _mapping(data, f"In {source}", (*GRID_KEYS, *SHARED_KEYS))
    if not top.get("datasets"):
        raise ConfigError(
            f"In {source}: 'datasets' is missing or empty; list at least one, e.g. "
            "datasets: [{name: synthetic_ceph}]."
        )
    if not isinstance(top["datasets"], list):
        raise ConfigError(
            f"In {source}: 'datasets' must be a list of entries such as {{name: synthetic_ceph}}."
        )
    methods = _methods(top.get("methods"), source)
    seeds = _list(top.get("seeds", [0]), f"In {source}: 'seeds'")
    protocols = _protocols(top.get("protocols"), f"In {source}: 'protocols'")
    resources = Resources.parse(top.get("resources"), f"In {source}: 'resources'")
    common = {k: top[k] for k in SHARED_KEYS if k in top}
    common.update(shared or {})
    entries = [
        _entry(entry, k, source, protocols, resources) for k, entry in enumerate(top["datasets"])
    ]
    names = [e["name"] for e in entries]
    candidates = []
    for entry in entries:
        repeated = names.count(entry["name"]) > 1
        shown = f"{entry['name']}[{entry['index']}]" if repeated else entry["name"]
        for gt, protocol, (method, settings), seed in itertools.product(
            entry["ground_truths"], entry["protocols"], methods.items(), seeds
        ):
            coordinates = {
                "dataset": entry["name"],
                "ground_truth": gt,
                "protocol": protocol.get("kind") or DEFAULT_PROTOCOL,
                "method": method,
                "seed": seed,
            }
            gt_text = f" gt {gt}" if gt is not None else ""
            label = f"{shown}{gt_text}/{coordinates['protocol']}/{method}/seed {seed}"
            merged = {**settings, **entry["method_settings"].get(method, {})}
            candidates.append((label, coordinates, entry, protocol, {method: merged}, seed))
    kept = _select(candidates, top.get("exclude"), top.get("include"), source)
    cells = []
    for label, coordinates, entry, protocol, method, seed in kept:
        _check_fit(entry["name"], coordinates["method"], source, label)
        experiment = {
            **common,
            "dataset": {
                "name": entry["name"],
                "options": entry["options"],
                "ground_truth": coordinates["ground_truth"],
            },
            "protocol": protocol,
            "methods": method,
            "seeds": [seed],
        }
        spec = spec_from_dict(experiment, source=f"{source}, cell {label}")
        cells.append(GridCell(label, spec, entry["resources"], coordinates))
    keys = [cell.key for cell in cells]
    if len(set(keys)) != len(keys):
        twice = next(c.label for c in cells if keys.count(c.key) > 1)
        raise ConfigError(
            f"In {source}: cell {twice} appears twice (two dataset entries or protocols give "
            "the same experiment); remove the repeated entry."
        )
    if not cells:
        raise ConfigError(
            f"In {source}: 'exclude' removes every cell; narrow it or add 'include' entries."
        )
    return Grid(source, tuple(cells))


def _mapping(data: Any, where: str, known: tuple[str, ...]) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping of keys to values, not {type(data).__name__}; see "
            "benchmarks/grids/tiny.yaml for the layout."
        )
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: " + did_you_mean("key", str(key), list(known)))
    return dict(data)


def _list(value: Any, where: str) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError(f"{where} is empty; list at least one value.")
    return values


def _methods(data: Any, source: str) -> dict[str, dict[str, Any]]:
    if data is None:
        raise ConfigError(
            f"In {source}: 'methods' is missing; name at least one, e.g. methods: [mean_shape]."
        )
    if isinstance(data, str):
        data = [data]
    if isinstance(data, list):
        data = {name: {} for name in data}
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(
            f"In {source}: 'methods' must map method names to their settings (or list names), "
            "e.g. methods: {mean_shape: {}, subpixel: {max_epochs: 20}}."
        )
    out = {}
    for name, settings in data.items():
        if settings is not None and not isinstance(settings, Mapping):
            raise ConfigError(
                f"In {source}: the settings of method {name!r} must be a mapping, e.g. "
                "{max_epochs: 20}."
            )
        METHODS.get(str(name))
        out[str(name)] = dict(settings or {})
    return out


def _protocols(data: Any, where: str) -> list[dict[str, Any]]:
    if data is None:
        return [{}]
    protocols = []
    for item in _list(data, where):
        if not isinstance(item, Mapping):
            raise ConfigError(
                f"{where}: each protocol is a mapping such as {{kind: kfold, folds: 5}}, not "
                f"{item!r}."
            )
        protocols.append(dict(item))
    return protocols


def _entry(
    data: Any, index: int, source: str, protocols: list[dict[str, Any]], resources: Resources
) -> dict[str, Any]:
    where = f"In {source}: datasets[{index}]"
    if isinstance(data, str):
        data = {"name": data}
    entry = _mapping(data, where, ENTRY_KEYS)
    if "name" not in entry:
        raise ConfigError(f"{where} has no 'name'; add e.g. name: synthetic_ceph.")
    name = str(entry["name"])
    DATASETS.get(name)
    settings = _mapping(entry.get("method_settings"), f"{where}.method_settings", tuple(METHODS))
    return {
        "index": index,
        "name": name,
        "options": _options(entry.get("options"), where),
        "ground_truths": _list(entry.get("ground_truth"), f"{where}.ground_truth"),
        "protocols": _protocols(entry["protocols"], f"{where}.protocols")
        if "protocols" in entry
        else protocols,
        "method_settings": {k: dict(v or {}) for k, v in settings.items()},
        "resources": Resources.parse(entry["resources"], f"{where}.resources")
        if "resources" in entry
        else resources,
    }


def _options(data: Any, where: str) -> dict[str, Any]:
    """An entry's dataset options (their names and values are checked by the spec)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}.options must map option names to values, e.g. {{n_cases: 40}}.")
    return dict(data)


def _matches(match: Mapping[str, Any], coordinates: Mapping[str, Any]) -> bool:
    return all(coordinates[k] == v for k, v in match.items())


def _select(candidates: list, exclude: Any, include: Any, source: str) -> list:
    """Candidates no ``exclude`` entry matches, plus those an ``include`` entry matches."""
    chosen = []
    for name, entries in (("exclude", exclude), ("include", include)):
        matches = []
        for k, entry in enumerate([] if entries is None else _list(entries, name)):
            where = f"In {source}: {name}[{k}]"
            match = _mapping(entry, where, MATCH_KEYS)
            if not match:
                raise ConfigError(f"{where} is empty; name e.g. dataset: or method:.")
            if not any(_matches(match, c[1]) for c in candidates):
                values = {k: sorted({str(c[1][k]) for c in candidates}) for k in match}
                shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in values.items())
                raise ConfigError(
                    f"{where} {dict(match)} matches no cell of the grid (its values: {shown}); "
                    "fix the entry or remove it."
                )
            matches.append(match)
        chosen.append(matches)
    excluded, included = chosen
    return [
        c
        for c in candidates
        if not any(_matches(m, c[1]) for m in excluded) or any(_matches(m, c[1]) for m in included)
    ]


def _check_fit(dataset: str, method: str, source: str, label: str) -> None:
    """Refuse a method that cannot handle the dataset's kind of data (from the classes,
    without reading the data, so a dry run checks it too)."""
    data_cls, method_cls = DATASETS.get(dataset), METHODS.get(method)
    if data_cls.multi_instance != method_cls.multi_instance:
        kind = "multi-instance" if data_cls.multi_instance else "one-point-per-landmark"
        raise UsageError(
            f"In {source}: cell {label}: method {method!r} cannot handle dataset {dataset!r}, "
            f"which is {kind}; add an exclude entry {{dataset: {dataset}, method: {method}}}."
        )
    ndim = getattr(data_cls, "ndim", None)
    if ndim is not None and ndim not in method_cls.supported_ndim:
        raise UsageError(
            f"In {source}: cell {label}: method {method!r} supports "
            f"{method_cls.supported_ndim}-D data but dataset {dataset!r} is {ndim}-D; add an "
            f"exclude entry {{dataset: {dataset}, method: {method}}}."
        )
