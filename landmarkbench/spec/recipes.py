"""Recipes: the method settings a real dataset is trained with, as experiment files.

A recipe is an experiment file with a ``recipe`` key, shipped in the package as
``landmarkbench/recipes/<dataset>/<name>.yaml``; ``landmarkbench run --config`` runs it as
any experiment file, and a run of that dataset with ``--recipe NAME`` (or with no recipe
chosen, see ``default_recipe``) takes each method's settings from it. Two names exist:

- ``cpu``: the best accuracy found within 30 minutes per trained model (ensemble members
  each) on 2 CPU cores, preprocessing included;
- ``paper``: the reference settings of the methods' papers, sized for a GPU.

Settings stack as: the method's declared defaults < the recipe's settings < the experiment
file's settings < ``--set``. ``none`` runs the declared defaults. The recipe a method ran
with is part of its run's identity (``run.runner``) and of its name in tables.

This module is the one place recipe files are found and read; ``ExperimentSpec`` calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from landmarkbench.errors import ConfigError, UsageError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
NO_RECIPE = "none"
DEVICE_RECIPES = {"cpu": "cpu", "cuda": "paper"}  # the default recipe for each device


def recipe_path(dataset: str, recipe: str) -> Path:
    """Where the recipe file of ``dataset`` named ``recipe`` lives (whether or not it does)."""
    return RECIPES_DIR / dataset / f"{recipe}.yaml"


def available_recipes(dataset: str) -> tuple[str, ...]:
    """The recipe names shipped for ``dataset`` (empty for the synthetic datasets)."""
    folder = RECIPES_DIR / dataset
    return tuple(sorted(p.stem for p in folder.glob("*.yaml"))) if folder.is_dir() else ()


def default_recipe(dataset: str, device: str) -> str | None:
    """The recipe a run of ``dataset`` uses when none is chosen: ``cpu`` on a CPU, ``paper``
    on CUDA (``device`` "auto" is resolved here); None for a dataset without recipes."""
    recipe = DEVICE_RECIPES[device_kind(device)]
    return recipe if recipe in available_recipes(dataset) else None


def device_kind(device: str) -> str:
    """ "cpu" or "cuda": ``device`` with "auto" resolved (``devices.resolve_device``'s rule)."""
    if device != "auto":
        return device
    from landmarkbench.devices import resolve_device

    return resolve_device(device)


def check_recipe(dataset: str, recipe: str) -> None:
    """Refuse a recipe name the dataset does not ship, with the names it does.

    Raises:
        UsageError: naming the dataset, the recipe and the choices.
    """
    if recipe == NO_RECIPE:
        return
    names = available_recipes(dataset)
    if recipe not in names:
        have = (
            f"its recipes are {', '.join(names)} (or {NO_RECIPE} for the methods' defaults)"
            if names
            else "it has no recipes (its methods run with their declared defaults)"
        )
        raise UsageError(
            f"Dataset {dataset!r} has no recipe {recipe!r}: {have}; "
            f"pass one of those with --recipe, or drop --recipe."
        )


def recipe_settings(dataset: str, recipe: str | None) -> dict[str, dict[str, Any]]:
    """Each method's settings in the recipe (method name -> settings); empty for no recipe.

    Raises:
        UsageError: for an unknown recipe or an unreadable or malformed recipe file.
    """
    if recipe is None or recipe == NO_RECIPE:
        return {}
    check_recipe(dataset, recipe)
    return {name: dict(values) for name, values in _read(str(recipe_path(dataset, recipe))).items()}


@cache
def _read(path: str) -> dict[str, Mapping[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"Recipe file '{path}' cannot be read ({exc}); reinstall landmarkbench or fix it."
        ) from None
    methods = data.get("methods") if isinstance(data, Mapping) else None
    if not isinstance(methods, Mapping) or not all(
        isinstance(v, Mapping) or v is None for v in methods.values()
    ):
        raise ConfigError(
            f"Recipe file '{path}' must have a 'methods' mapping of method names to their "
            "settings; fix the file."
        )
    return {str(name): dict(values or {}) for name, values in methods.items()}
