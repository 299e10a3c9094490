"""Command-line options applied to an experiment spec (the defaults' or an experiment file's).

Every option is None (or empty) when not given, so the spec's value stands; a given option
replaces it. ``--set`` and ``--data-option`` values are merged key by key onto the settings
and options already in the spec, and each ``--set`` key goes to the methods that know it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.config import parse_overrides
from landmarkbench.errors import ConfigError, UsageError
from landmarkbench.registry import did_you_mean
from landmarkbench.spec.experiment import (
    DatasetSpec,
    ExperimentSpec,
    MethodSpec,
    dataset_option_defaults,
)


def split_names(values: Sequence[str]) -> list[str]:
    """Names from repeatable, comma-separated option values."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_radii(text: str | None) -> tuple[float, ...] | None:
    """``--sdr-radii`` text as numbers (None when not given); the spec checks the values."""
    if not text:
        return None
    try:
        return tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise UsageError(
            f"--sdr-radii {text!r} is not a comma-separated list of numbers; write e.g. 2,2.5,3,4."
        ) from None


def _dataset(spec: ExperimentSpec, options: dict[str, Any]) -> DatasetSpec:
    name = options.get("dataset") or spec.dataset.name
    same = name == spec.dataset.name
    values = dict(spec.dataset.options) if same else {}
    values.update(parse_overrides(options.get("data_options") or ()))
    data_dir = options.get("data_dir")
    if data_dir is not None:
        # Real datasets read from data_dir; synthetic ones keep their generated cases there.
        defaults = dataset_option_defaults(DATASETS.get(name))
        key = "data_dir" if "data_dir" in defaults else "cache_dir"
        if key not in defaults:
            raise UsageError(f"Dataset {name!r} takes no folder; drop --data-dir.")
        # Absolute, so that reports and predict find the data from any working folder.
        values[key] = str(Path(data_dir).expanduser().resolve())
    ground_truth = options.get("ground_truth")
    if ground_truth is None and same:
        ground_truth = spec.dataset.ground_truth
    return DatasetSpec(name, values, ground_truth)


def _methods(spec: ExperimentSpec, options: dict[str, Any]) -> tuple[MethodSpec, ...]:
    names = split_names(options.get("methods") or ()) or [m.name for m in spec.methods]
    kept = {m.name: m.given for m in spec.methods}
    texts = parse_overrides(options.get("overrides") or ())
    known = {name: set(METHODS.get(name).defaults) for name in names}
    for key in texts:
        if not any(key in keys for keys in known.values()):
            every = sorted(set().union(*known.values()))
            raise ConfigError(did_you_mean(f"setting for {', '.join(names)}", key, every))
    return tuple(
        MethodSpec(
            name,
            {**kept.get(name, {}), **{k: v for k, v in texts.items() if k in known[name]}},
        )
        for name in names
    )


def _section(section: Any, changes: dict[str, Any]) -> Any:
    given = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(section, **given) if given else section


def apply_options(spec: ExperimentSpec, **options: Any) -> ExperimentSpec:
    """``spec`` with the given command-line options applied (validated as a whole).

    Options (all optional, None or empty = keep): dataset, data_options, data_dir,
    ground_truth, methods, overrides, protocol, folds, split_seed, val_fraction, seeds,
    sdr_radii (text), sdr_operator, aggregation, uncertainty, alpha, calibration_fraction,
    device, results_dir, tracking_uri, recipe, tags (added to the spec's).
    """
    get = options.get
    seeds = tuple(get("seeds") or ()) or spec.seeds
    methods = _methods(spec, options)
    if get("uncertainty") and not any(METHODS.get(m.name).supports_conformal for m in methods):
        # Only for a command line: a stored run of a method without maps keeps --uncertainty
        # (it leaves the calibration cases out of training, comparable with the others).
        able = sorted(n for n in METHODS.names() if METHODS.get(n).supports_conformal)
        raise UsageError(
            f"None of {', '.join(m.name for m in methods)} gives probability maps, so there "
            f"are no prediction regions to compute; drop --uncertainty or add one of: "
            f"{', '.join(able)}."
        )
    return ExperimentSpec(
        dataset=_dataset(spec, options),
        protocol=_section(
            spec.protocol,
            {
                "kind": get("protocol"),
                "folds": get("folds"),
                "split_seed": get("split_seed"),
                "val_fraction": get("val_fraction"),
            },
        ),
        methods=methods,
        seeds=seeds,
        evaluation=_section(
            spec.evaluation,
            {
                "sdr_radii_mm": parse_radii(get("sdr_radii")),
                "sdr_operator": get("sdr_operator"),
                "aggregation": get("aggregation"),
            },
        ),
        uncertainty=_section(
            spec.uncertainty,
            {
                "method": get("uncertainty"),
                "alpha": get("alpha"),
                "calibration_fraction": get("calibration_fraction"),
            },
        ),
        tracking=_section(
            spec.tracking,
            {
                "uri": get("tracking_uri"),
                "results_dir": None if get("results_dir") is None else str(get("results_dir")),
            },
        ),
        device=get("device") or spec.device,
        recipe=_recipe(spec, options),
        tags=(*spec.tags, *split_names(get("tags") or ())),
    )


def _recipe(spec: ExperimentSpec, options: dict[str, Any]) -> str | None:
    """``--recipe`` if given; else the spec's where the dataset stays the same; else None
    (the new dataset's default, chosen by device)."""
    if options.get("recipe"):
        return str(options["recipe"])
    same = (options.get("dataset") or spec.dataset.name) == spec.dataset.name
    device_changed = options.get("device") not in (None, spec.device)
    return spec.recipe if same and not device_changed and spec.recipe_chosen else None
