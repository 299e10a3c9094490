"""Experiment files: an ``ExperimentSpec`` from YAML (or a dict) and back.

Layout (every section and key optional; what is left out takes the spec's default)::

    dataset: {name: synthetic_ceph, options: {n_cases: 40}, ground_truth: null}
    protocol: {kind: null, folds: 5, split_seed: 0, val_fraction: 0.1}
    methods: {mean_shape: {}, subpixel: {max_epochs: 20}}   # or a list of names
    seeds: [0]
    evaluation: {sdr_operator: "<=", sdr_radii_mm: null, aggregation: pooled}
    uncertainty: {method: null, alpha: 0.1, calibration_fraction: 0.2}
    tracking: {uri: null, results_dir: results}
    device: auto
    recipe: cpu          # datasets with recipes only (spec.recipes); none: the defaults
    tags: [smoke]        # labels recorded with the results (reports filter on them)

An unknown key is refused with a did-you-mean sentence naming the file and the key; a bad
value with the spec's own sentence, prefixed by the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from landmarkbench.errors import ConfigError, LandmarkBenchError, UsageError
from landmarkbench.registry import did_you_mean
from landmarkbench.spec.experiment import (
    DatasetSpec,
    EvaluationSpec,
    ExperimentSpec,
    MethodSpec,
    ProtocolSpec,
    TrackingSpec,
    UncertaintySpec,
)

HEADER = (
    "# landmarkbench experiment (fully resolved). Run it with:\n"
    "#   landmarkbench run --config THIS_FILE\n"
    "# protocol.kind null: the dataset's declared split, else kfold;"
    " protocol.folds null: 5; evaluation.sdr_radii_mm null: the dataset's radii.\n"
)
SECTIONS: dict[str, type] = {
    "dataset": DatasetSpec,
    "protocol": ProtocolSpec,
    "evaluation": EvaluationSpec,
    "uncertainty": UncertaintySpec,
    "tracking": TrackingSpec,
}
TOP_KEYS = (*SECTIONS, "methods", "seeds", "device", "recipe", "tags")


def _keys(source: str, where: str, data: Any, known: list[str]) -> dict[str, Any]:
    """``data`` as a dict whose keys are all ``known``, else a did-you-mean sentence."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        what = f"section {where!r}" if where else "the file"
        raise ConfigError(
            f"In {source}: {what} must be a mapping of keys to values, not "
            f"{type(data).__name__}; see 'landmarkbench run --dump-config' for the layout."
        )
    for key in data:
        if key not in known:
            kind = f"{where} key" if where else "top-level key"
            raise ConfigError(f"In {source}: " + did_you_mean(kind, str(key), known))
    return dict(data)


def spec_from_dict(data: Any, source: str = "the experiment") -> ExperimentSpec:
    """Build (and so validate) a spec from the experiment file's layout.

    Raises:
        UsageError: naming ``source`` and, for an unknown key, the closest known keys.
    """
    top = _keys(source, "", data, list(TOP_KEYS))
    values: dict[str, Any] = {}
    try:
        for name, cls in SECTIONS.items():
            if name in top:
                known = [f.name for f in dataclasses.fields(cls)]
                section = _keys(source, name, top[name], known)
                values[name] = cls(**section)
        if "methods" in top:
            values["methods"] = _methods(source, top["methods"])
        if "seeds" in top:
            seeds = top["seeds"]
            values["seeds"] = tuple(seeds) if isinstance(seeds, (list, tuple)) else (seeds,)
        if "device" in top:
            values["device"] = top["device"]
        if top.get("recipe") is not None:
            values["recipe"] = str(top["recipe"])
        if top.get("tags") is not None:
            tags = top["tags"]
            values["tags"] = tuple(tags) if isinstance(tags, (list, tuple)) else (tags,)
        return ExperimentSpec(**values)
    except LandmarkBenchError as exc:
        if str(exc).startswith(f"In {source}:"):
            raise
        raise type(exc)(f"In {source}: {exc}") from None


def _methods(source: str, data: Any) -> tuple[MethodSpec, ...]:
    if isinstance(data, str):
        data = [data]
    if isinstance(data, (list, tuple)):
        data = {name: {} for name in data}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"In {source}: 'methods' must map method names to their settings (or list names), "
            f"not {type(data).__name__}."
        )
    specs = []
    for name, settings in data.items():
        if settings is not None and not isinstance(settings, Mapping):
            raise ConfigError(
                f"In {source}: the settings of method {name!r} must be a mapping of setting "
                f"names to values, e.g. {{max_epochs: 20}}."
            )
        specs.append(MethodSpec(str(name), dict(settings or {})))
    return tuple(specs)


def load_experiment(path: Path | str) -> ExperimentSpec:
    """Read and validate an experiment file.

    Raises:
        UsageError: for a missing or unreadable file, bad YAML, an unknown key or a bad value.
    """
    path = Path(path)
    data = read_yaml_file(
        path, "Experiment file", "e.g. one written by 'landmarkbench run --dump-config'"
    )
    return spec_from_dict(data, source=f"experiment file '{path}'")


def read_yaml_file(path: Path, kind: str, example: str) -> Any:
    """The plain data of a YAML file (experiment, grid...), or one sentence naming the file:
    ``kind`` starts it ("Grid file") and ``example`` ends its fix ("e.g. ...").

    Raises:
        UsageError: for a missing or unreadable file, or bad YAML (with its line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"{kind} '{path}' cannot be read ({exc.strerror or exc}); pass an existing YAML "
            f"file, {example}."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise UsageError(
            f"{kind} '{path}' is not valid YAML{line} "
            f"({getattr(exc, 'problem', None) or exc}); fix the syntax."
        ) from None


def dump_yaml(spec: ExperimentSpec) -> str:
    """The fully resolved experiment file of ``spec`` (loading it gives an equal spec)."""
    body = yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=None, width=88)
    return HEADER + body
