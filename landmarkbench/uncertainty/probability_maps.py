"""Probability maps and the regions cut from them: the conventions every region rule shares.

Maps have shape (N, C, *spatial), each map non-negative and summing to 1 (``spatial_softmax``);
points have shape (N, C, d) in array-index order ((row, col) / (d0, d1, d2)) as continuous
pixel indices of the *map* grid with the pixel centre at the integer (those of
``landmarkbench.datasets.base``); NaN marks a missing landmark. A map's value between pixel
centres is its bilinear (2D) or trilinear (3D) interpolation (``interpolate_at``).

A ``RegionRule`` gives a threshold ``t`` per map; the region is ``{u : p(u) >= t}``
(``regions`` at pixel centres; ``region_measure`` measures the continuous region), and a
truth is covered when its interpolated probability reaches ``t`` (``truth_covered``). Rules:
``conformal.ConformalCalibration`` (calibrated, per landmark) and ``hdr.HighestDensityRule``
(uncalibrated, per map).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

__all__ = [
    "FixedThresholds",
    "RegionRule",
    "as_tensor",
    "check_alpha",
    "check_maps",
    "check_points",
    "check_probabilities",
    "interpolate_at",
    "interpolate_points",
    "regions",
    "spatial_softmax",
    "truth_covered",
]


class RegionRule(Protocol):
    """How a region is cut from a probability map: ``{u : p(u) >= t}`` with ``t`` from the
    rule (``ConformalCalibration``: one calibrated ``t`` per landmark; ``hdr``: one per map)."""

    def map_thresholds(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Exact thresholds (M, C) float64 for maps (M, C, *spatial); -inf = whole image."""
        ...


@dataclass(frozen=True)
class FixedThresholds:
    """A ``RegionRule`` whose thresholds were computed once for one batch of maps, so that
    regions, coverage and sizes of that batch share them (a per-map rule such as ``hdr``
    sorts every map to find its threshold).

    Args:
        thresholds: (M, C) float64, as ``RegionRule.map_thresholds`` returns them.
    """

    thresholds: torch.Tensor

    @classmethod
    def of(cls, rule: RegionRule, probabilities: torch.Tensor) -> FixedThresholds:
        """``rule``'s thresholds for ``probabilities``, fixed."""
        return cls(rule.map_thresholds(probabilities))

    def map_thresholds(self, probabilities: torch.Tensor) -> torch.Tensor:
        """The fixed thresholds; ``probabilities`` must be the batch they were computed for.

        Raises:
            ValueError: If the maps' (M, C) differs from the thresholds'.
        """
        if tuple(probabilities.shape[:2]) != tuple(self.thresholds.shape):
            raise ValueError(
                f"Thresholds were fixed for maps of {tuple(self.thresholds.shape)} (cases, "
                f"landmarks); got maps of {tuple(probabilities.shape[:2])}. Fix them per batch."
            )
        return self.thresholds


# ----------------------------------------------------------------------------- validation


def as_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a torch tensor (numpy arrays and sequences are converted)."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be a tensor or array; got {type(value).__name__}. "
            "Pass a torch.Tensor or a numpy array."
        ) from error


def check_maps(maps: torch.Tensor, name: str) -> None:
    if maps.ndim not in (4, 5):
        raise ValueError(
            f"{name} must have shape (N, C, H, W) or (N, C, D, H, W); got "
            f"{tuple(maps.shape)}. Add the batch and landmark axes."
        )
    if not maps.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor; got dtype {maps.dtype}. "
            "Convert it with .float()."
        )


def check_points(points: torch.Tensor, maps: torch.Tensor, name: str) -> None:
    expected = (*maps.shape[:2], maps.ndim - 2)
    if tuple(points.shape) != expected:
        raise ValueError(
            f"{name} must have shape {expected} (cases, landmarks, spatial axes) to match "
            f"maps of shape {tuple(maps.shape)}; got {tuple(points.shape)}. Pass one point "
            "per map in array-index order."
        )


def check_probabilities(maps: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(maps).all()) or bool((maps < 0).any()):
        raise ValueError(
            f"{name} must be finite and non-negative (spatial-softmax probabilities); "
            "got negative or non-finite values. Apply spatial_softmax to the logits first."
        )


def check_alpha(alpha: float) -> float:
    value = float(alpha)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(
            f"alpha must lie strictly between 0 and 1; got {alpha!r}. "
            "Use e.g. 0.1 for 90 % regions or 0.05 for 95 % regions."
        )
    return value


# ----------------------------------------------------------------------------- primitives


def spatial_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Softmax over all pixels of each map: the probability maps the scores are taken on.

    Args:
        logits: Maps of shape (N, C, *spatial).
        temperature: Positive multiplier of the logits (use the method's own, if any).

    Returns:
        Probabilities of the same shape and dtype, each map summing to 1.

    Raises:
        ValueError: If ``logits`` has fewer than three axes or the temperature is not
            positive.
    """
    logits = as_tensor(logits, "logits")
    if logits.ndim < 3:
        raise ValueError(
            f"logits must have shape (N, C, *spatial); got {tuple(logits.shape)}. "
            "Add the batch and landmark axes."
        )
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(
            f"temperature must be a positive finite number; got {temperature!r}. Use 1.0."
        )
    flat = logits.flatten(2)
    return torch.softmax(flat * t if t != 1.0 else flat, dim=-1).view(logits.shape)


def interpolate_at(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear (2D) or trilinear (3D) value of each map at its point, in float64.

    Gather-based (the ``2**d`` neighbouring pixel centres of every point), so a point at a
    pixel centre returns that pixel's value exactly; this equals ``grid_sample`` with
    ``align_corners=True`` and ``padding_mode="border"`` inside the image. Points within the
    image extent but beyond the outermost pixel centres (``[-0.5, 0)`` or
    ``(size - 1, size - 0.5]`` on an axis) take the border value; points outside the image
    extent give 0 (no probability mass there); NaN points give NaN.

    Args:
        maps: Maps of shape (B, C, *spatial) with two or three spatial axes.
        points: Points of shape (B, C, d) in pixel indices, array-index order.

    Returns:
        float64 tensor of shape (B, C) on the device of ``maps``.

    Raises:
        ValueError: If the shapes do not match or the maps are not floating point.
    """
    maps = as_tensor(maps, "maps")
    points = as_tensor(points, "points")
    check_maps(maps, "maps")
    check_points(points, maps, "points")
    return interpolate_points(maps, points[:, :, None, :])[..., 0]


def interpolate_points(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``interpolate_at`` for K points per map: points (B, C, K, d) -> values (B, C, K).

    Same rules as ``interpolate_at`` (border values within the image extent, 0 outside it,
    NaN for NaN points); shapes are not checked here.
    """
    spatial = maps.shape[2:]
    pts = points.to(device=maps.device, dtype=torch.float64)
    missing = torch.isnan(pts).any(dim=-1)
    pts = torch.nan_to_num(pts, nan=0.0)
    inside = torch.ones(missing.shape, dtype=torch.bool, device=maps.device)
    lows, highs, fracs = [], [], []
    for axis, size in enumerate(spatial):
        x = pts[..., axis]
        inside &= (x >= -0.5) & (x <= size - 0.5)
        x = x.clamp(0.0, size - 1.0)
        low = x.floor().clamp(max=max(size - 2, 0))
        lows.append(low.long())
        highs.append((low + 1).clamp(max=size - 1).long())
        fracs.append(x - low)
    strides = [math.prod(spatial[axis + 1 :]) for axis in range(len(spatial))]
    flat = maps.flatten(2)
    value = torch.zeros(missing.shape, dtype=torch.float64, device=maps.device)
    for corner in itertools.product((0, 1), repeat=len(spatial)):
        index = torch.zeros_like(lows[0])
        weight = torch.ones_like(fracs[0])
        for axis, upper in enumerate(corner):
            index = index + (highs[axis] if upper else lows[axis]) * strides[axis]
            weight = weight * (fracs[axis] if upper else 1.0 - fracs[axis])
        corner_value = flat.gather(2, index.flatten(2)).view(index.shape).to(torch.float64)
        value = value + weight * corner_value
    value = torch.where(inside, value, torch.zeros_like(value))
    return torch.where(missing, torch.full_like(value, math.nan), value)


# ----------------------------------------------------------------------------- regions


def _thresholds_for(rule: RegionRule, maps: torch.Tensor) -> torch.Tensor:
    """The rule's thresholds in the maps' dtype, rounded up so ``p >= t`` is exact, shaped
    (M, C, 1, ...) to compare with the maps."""
    exact = rule.map_thresholds(maps).to(maps.device)
    cast = exact.to(maps.dtype)
    # For values p of the maps' dtype, p >= exact  <=>  p >= (smallest such value >= exact).
    below = cast.to(torch.float64) < exact
    cast = torch.where(below, torch.nextafter(cast, torch.full_like(cast, math.inf)), cast)
    return cast.view(*exact.shape, *([1] * (maps.ndim - 2)))


def regions(rule: RegionRule, probabilities: torch.Tensor) -> torch.Tensor:
    """Regions ``{u : p_i(u) >= t}`` as boolean masks (conformal: ``t = -q_i``).

    Args:
        rule: A ``ConformalCalibration`` from ``calibrate`` (or another ``RegionRule``).
        probabilities: Spatial-softmax maps of the test split, (M, C, *spatial).

    Returns:
        Bool tensor of shape (M, C, *spatial); all True for whole-image landmarks.

    Raises:
        ValueError: If the maps are not (M, C, *spatial) probabilities or the landmark count
            differs from the calibration.
    """
    probabilities = as_tensor(probabilities, "probabilities")
    check_maps(probabilities, "probabilities")
    check_probabilities(probabilities, "probabilities")
    return probabilities >= _thresholds_for(rule, probabilities)


def truth_covered(
    rule: RegionRule, probabilities: torch.Tensor, truth: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each true point lies in its region, and whether it is present at all.

    A truth is covered when its interpolated probability is at least the threshold (for
    conformal regions ``s <= q_i``, the event of the guarantee), and always where the region
    is the whole image.

    Args:
        rule: A ``ConformalCalibration`` from ``calibrate`` (or another ``RegionRule``).
        probabilities: Spatial-softmax maps (M, C, *spatial).
        truth: True points (M, C, d) in pixel indices of the map grid, NaN = missing.

    Returns:
        ``(covered, present)``, two bool arrays (M, C); missing truths are never covered.

    Raises:
        ValueError: If the shapes do not match or the maps are not probabilities.
    """
    probabilities = as_tensor(probabilities, "probabilities")
    check_maps(probabilities, "probabilities")
    check_probabilities(probabilities, "probabilities")
    truth = as_tensor(truth, "truth")
    check_points(truth, probabilities, "truth")
    exact = rule.map_thresholds(probabilities).cpu().numpy()
    present = ~torch.isnan(truth).any(dim=-1).cpu().numpy()
    value = interpolate_at(probabilities, truth).cpu().numpy()
    return present & ((value >= exact) | np.isneginf(exact)), present
