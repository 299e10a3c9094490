"""The grid a heatmap network works on, and what the network's depth requires of it.

A network that halves the grid ``L`` times needs every axis to be a multiple of ``2**L``
(the SCN also of its pooling factor), and MONAI's U-Net normalises each coarsest map over its
voxels, so its coarsest grid must hold more than one voxel. An explicit ``input_shape`` that
breaks this is refused when the run is planned; the grid a dataset suggests is enlarged to
the smallest one that works. No torch here: planning a run must stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from landmarkbench.errors import ConfigError


def size_multiple(config: Mapping[str, Any]) -> int:
    """What every axis of the grid must be a multiple of for the configured network."""
    if config.get("network", "unet") == "scn":
        levels = max(int(config["scn_levels"]), 1)
        return math.lcm(max(int(config["scn_downsample"]), 1), 2 ** (levels - 1))
    return 2 ** max(len(config["channels"]) - 1, 0)


def _needs_two_coarse_voxels(config: Mapping[str, Any]) -> bool:
    # The U-Net's instance normalisation needs more than one value per map; the SCN has no
    # normalisation layers.
    return config.get("network", "unet") != "scn"


def _fits(config: Mapping[str, Any], grid: Sequence[int]) -> bool:
    multiple = size_multiple(config)
    if any(s < 1 or s % multiple for s in grid):
        return False
    coarse = math.prod(s // multiple for s in grid)
    return coarse > 1 or not _needs_two_coarse_voxels(config)


def smallest_fitting(config: Mapping[str, Any], grid: Sequence[int]) -> tuple[int, ...]:
    """``grid`` rounded up to the network's multiple, each axis enlarged to two multiples
    when the coarsest grid would otherwise hold a single voxel."""
    multiple = size_multiple(config)
    rounded = tuple(max(multiple, -(-int(s) // multiple) * multiple) for s in grid)
    if _fits(config, rounded):
        return rounded
    return tuple(max(s, 2 * multiple) for s in rounded)


def _depth_words(config: Mapping[str, Any]) -> str:
    if config.get("network", "unet") == "scn":
        return (
            f"network 'scn' with scn_levels={config['scn_levels']} and "
            f"scn_downsample={config['scn_downsample']}"
        )
    levels = len(config["channels"])
    return f"network 'unet' with {levels} channels entries ({levels - 1} halvings)"


def _shallower(config: Mapping[str, Any]) -> str:
    if config.get("network", "unet") == "scn":
        return "--set scn_levels=3 --set scn_downsample=8"
    channels = tuple(config["channels"])
    return "--set channels=" + ",".join(map(str, channels[: max(2, len(channels) - 2)]))


def input_shape_problem(config: Mapping[str, Any], owner: str) -> str | None:
    """A sentence when an explicit ``input_shape`` does not suit the network's depth."""
    requested = tuple(config.get("input_shape") or ())
    if not requested or _fits(config, requested):
        return None
    shown = ",".join(map(str, requested))
    fitting = ",".join(map(str, smallest_fitting(config, requested)))
    return (
        f"Setting input_shape={shown} of {owner} does not suit {_depth_words(config)}: every "
        f"axis must be a multiple of {size_multiple(config)}"
        + (
            " and the coarsest grid must hold more than one voxel"
            if _needs_two_coarse_voxels(config)
            else ""
        )
        + f"; pass --set input_shape={fitting}, or use a shallower network ({_shallower(config)})."
    )


def working_grid(
    config: Mapping[str, Any], suggested: Sequence[int], ndim: int, owner: str = "the method"
) -> tuple[int, ...]:
    """The grid the network works on: ``input_shape`` when set, else ``suggested`` (the
    dataset's hint) enlarged to the smallest grid the network's depth allows.

    Raises:
        ConfigError: if ``input_shape`` has the wrong number of axes or does not suit the
            network (see ``input_shape_problem``).
    """
    requested = tuple(int(s) for s in config.get("input_shape") or ())
    if requested:
        if len(requested) != ndim:
            example = ",".join(map(str, smallest_fitting(config, (*requested, *suggested)[:ndim])))
            raise ConfigError(
                f"Setting input_shape={','.join(map(str, requested))} of {owner} has "
                f"{len(requested)} axes but the dataset is {ndim}-D; pass {ndim} sizes, e.g. "
                f"--set input_shape={example}, or leave it empty for the dataset's grid."
            )
        problem = input_shape_problem(config, owner)
        if problem:
            raise ConfigError(problem)
        return requested
    return smallest_fitting(config, suggested)
