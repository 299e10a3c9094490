"""Conformal prediction regions for heatmap methods: M-R2CCP (Jonkers et al. 2025).

Split conformal, per landmark. On a calibration split (disjoint from the test split) the
conformity score of landmark ``i`` in one case is ``s = -p_i(y_i)``: minus the spatial-softmax
probability at the true location ``y_i``, interpolated bilinearly (2D) or trilinearly (3D)
between pixel centres. With ``n_i`` non-missing calibration scores and ``k_i =
ceil((n_i + 1)(1 - alpha))``, the threshold ``q_i`` is the ``k_i``-th smallest score, and the
region of a test case is ``{u : p_i(u) >= -q_i}`` (possibly several blobs). When ``k_i > n_i``
(too few calibration points for the level, e.g. ``n_i = 5`` at ``alpha = 0.1``) no finite
threshold has the guarantee: the region is the whole image and the landmark is flagged
(``whole_image``). The reference implementation picks the smallest score instead, which is
anti-conservative; this module does not.

Guarantee (exchangeable calibration and test cases): ``P(y_i in region) >= 1 - alpha``, and
at most ``1 - alpha + 1 / (n_i + 1)`` without ties.

Conventions (those of ``landmarkbench.datasets.base``): maps have shape (N, C, *spatial);
points have shape (N, C, d) in array-index order ((row, col) / (d0, d1, d2)) as continuous
pixel indices of the *map* grid with the pixel centre at the integer; NaN marks a missing
landmark, which is excluded from calibration and coverage and counted. Spacing is mm per
map pixel along each array axis.

Coverage is decided on the interpolated map: a truth is covered when ``s <= q_i``, i.e. when
its interpolated probability is at least ``-q_i`` (exactly the event the guarantee is about),
and always when the landmark is flagged whole-image. ``regions`` gives the pixels whose centre
satisfies ``p_i(u) >= -q_i``; region sizes measure the continuous region of the interpolated
map (``region_measure``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

__all__ = [
    "ConformalCalibration",
    "RegionRule",
    "calibrate",
    "calibrate_scores",
    "conformity_scores",
    "interpolate_at",
    "interpolate_points",
    "quantile_rank",
    "regions",
    "spatial_softmax",
    "truth_covered",
]

METHOD = "M-R2CCP"


class RegionRule(Protocol):
    """How a region is cut from a probability map: ``{u : p(u) >= t}`` with ``t`` from the
    rule (``ConformalCalibration``: one calibrated ``t`` per landmark; ``hdr``: one per map)."""

    def map_thresholds(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Exact thresholds (M, C) float64 for maps (M, C, *spatial); -inf = whole image."""
        ...


SCORE = "-p(y), spatial-softmax probability at the truth, bilinear/trilinear interpolation"


# ----------------------------------------------------------------------------- validation


def _as_tensor(value: Any, name: str) -> torch.Tensor:
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


def _check_maps(maps: torch.Tensor, name: str) -> None:
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


def _check_points(points: torch.Tensor, maps: torch.Tensor, name: str) -> None:
    expected = (*maps.shape[:2], maps.ndim - 2)
    if tuple(points.shape) != expected:
        raise ValueError(
            f"{name} must have shape {expected} (cases, landmarks, spatial axes) to match "
            f"maps of shape {tuple(maps.shape)}; got {tuple(points.shape)}. Pass one point "
            "per map in array-index order."
        )


def _check_alpha(alpha: float) -> float:
    value = float(alpha)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(
            f"alpha must lie strictly between 0 and 1; got {alpha!r}. "
            "Use e.g. 0.1 for 90 % regions or 0.05 for 95 % regions."
        )
    return value


def _check_probabilities(maps: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(maps).all()) or bool((maps < 0).any()):
        raise ValueError(
            f"{name} must be finite and non-negative (spatial-softmax probabilities); "
            "got negative or non-finite values. Apply spatial_softmax to the logits first."
        )


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
    logits = _as_tensor(logits, "logits")
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
    maps = _as_tensor(maps, "maps")
    points = _as_tensor(points, "points")
    _check_maps(maps, "maps")
    _check_points(points, maps, "points")
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


def conformity_scores(probabilities: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """M-R2CCP scores ``s = -p_i(y_i)``, NaN where the truth is missing.

    Use this to score the calibration split batch by batch (large 3D volumes) and pass the
    concatenated scores to ``calibrate_scores``.

    Args:
        probabilities: Spatial-softmax maps of shape (N, C, *spatial).
        truth: True points of shape (N, C, d) in pixel indices of the map grid, NaN = missing.

    Returns:
        float64 tensor of shape (N, C).

    Raises:
        ValueError: If the shapes do not match or the maps are not probabilities.
    """
    probabilities = _as_tensor(probabilities, "probabilities")
    _check_maps(probabilities, "probabilities")
    _check_probabilities(probabilities, "probabilities")
    return -interpolate_at(probabilities, truth)


def quantile_rank(n: int, alpha: float) -> int:
    """``k = ceil((n + 1)(1 - alpha))``, robust to binary rounding (10 x 0.9 is 9, not 10).

    Args:
        n: Number of calibration scores.
        alpha: Miscoverage level in (0, 1).

    Returns:
        The rank ``k``; ``k > n`` means the region must be the whole image.
    """
    return max(1, math.ceil(round((n + 1) * (1.0 - _check_alpha(alpha)), 9)))


# ----------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class ConformalCalibration:
    """Per-landmark conformal thresholds.

    Attributes:
        alpha: Miscoverage level; regions aim at coverage ``1 - alpha``.
        n: Non-missing calibration scores per landmark.
        rank: ``k = ceil((n + 1)(1 - alpha))`` per landmark.
        q: Threshold per landmark (the ``k``-th smallest score, in ``[-1, 0]``); None
            where the region is the whole image.
        whole_image: Per landmark, True when ``k > n`` (too few calibration points).
        n_excluded: Missing (NaN) calibration truths per landmark.
    """

    alpha: float
    n: tuple[int, ...]
    rank: tuple[int, ...]
    q: tuple[float | None, ...]
    whole_image: tuple[bool, ...]
    n_excluded: tuple[int, ...]

    @property
    def num_landmarks(self) -> int:
        """Number of landmarks calibrated."""
        return len(self.n)

    @property
    def whole_image_landmarks(self) -> list[int]:
        """Indices of the landmarks whose region is the whole image."""
        return [i for i, flag in enumerate(self.whole_image) if flag]

    def expected_coverage(self) -> tuple[float, ...]:
        """Per landmark, the exact expected coverage ``k / (n + 1)`` for exchangeable cases
        and continuous scores (1 for whole-image landmarks): with few calibration cases it
        lies above ``1 - alpha`` (e.g. n = 16, alpha = 0.1: k = 16, 16/17 = 94.1 %)."""
        return tuple(
            1.0 if whole else rank / (n + 1)
            for rank, n, whole in zip(self.rank, self.n, self.whole_image, strict=True)
        )

    def probability_thresholds(self) -> torch.Tensor:
        """``-q`` per landmark as float64 (C,), ``-inf`` where the region is the whole image."""
        return torch.tensor([-math.inf if q is None else -q for q in self.q], dtype=torch.float64)

    def map_thresholds(self, probabilities: torch.Tensor) -> torch.Tensor:
        """``-q`` of each map's landmark, (M, C) float64 (``RegionRule``).

        Raises:
            ValueError: If the maps' landmark count differs from the calibration's.
        """
        if probabilities.shape[1] != self.num_landmarks:
            raise ValueError(
                f"Maps have {probabilities.shape[1]} landmarks but the calibration has "
                f"{self.num_landmarks}; calibrate on maps of the same method and dataset."
            )
        exact = self.probability_thresholds().to(probabilities.device)
        return exact.expand(probabilities.shape[0], -1)

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``q`` is null for whole-image landmarks)."""
        return {
            "method": METHOD,
            "score": SCORE,
            "alpha": self.alpha,
            "n": list(self.n),
            "rank": list(self.rank),
            "q": list(self.q),
            "whole_image": list(self.whole_image),
            "n_excluded": list(self.n_excluded),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> ConformalCalibration:
        """Inverse of ``to_json_dict``.

        Args:
            data: A dict written by ``to_json_dict``.

        Returns:
            The calibration.

        Raises:
            ValueError: If a key is missing or the per-landmark lists differ in length.
        """
        keys = ("alpha", "n", "rank", "q", "whole_image", "n_excluded")
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(
                f"Conformal calibration dict lacks {', '.join(missing)}; "
                "pass a dict written by ConformalCalibration.to_json_dict()."
            )
        lengths = {len(data[key]) for key in keys[1:]}
        if len(lengths) != 1:
            raise ValueError(
                f"Conformal calibration lists have different lengths {sorted(lengths)}; "
                "pass a dict written by ConformalCalibration.to_json_dict()."
            )
        return cls(
            alpha=_check_alpha(data["alpha"]),
            n=tuple(int(v) for v in data["n"]),
            rank=tuple(int(v) for v in data["rank"]),
            q=tuple(None if v is None else float(v) for v in data["q"]),
            whole_image=tuple(bool(v) for v in data["whole_image"]),
            n_excluded=tuple(int(v) for v in data["n_excluded"]),
        )


def calibrate_scores(scores: torch.Tensor, alpha: float) -> ConformalCalibration:
    """Per-landmark thresholds from calibration scores (see ``conformity_scores``).

    Args:
        scores: Scores of shape (N, C), NaN where the truth is missing.
        alpha: Miscoverage level in (0, 1).

    Returns:
        The calibration; landmarks with ``ceil((n + 1)(1 - alpha)) > n`` are whole-image.

    Raises:
        ValueError: If ``scores`` is not two-dimensional or ``alpha`` is not in (0, 1).
    """
    alpha = _check_alpha(alpha)
    scores = _as_tensor(scores, "scores").to(torch.float64)
    if scores.ndim != 2:
        raise ValueError(
            f"scores must have shape (N, C); got {tuple(scores.shape)}. "
            "Pass one score per calibration case and landmark."
        )
    missing = torch.isnan(scores)
    n = (~missing).sum(dim=0)  # (C,)
    # NaN sorts last with +inf: the k-th smallest of the non-missing scores is at k - 1.
    ordered = torch.where(missing, torch.full_like(scores, math.inf), scores).sort(dim=0).values
    ranks = [quantile_rank(int(count), alpha) for count in n.tolist()]
    whole = [rank > count for rank, count in zip(ranks, n.tolist(), strict=True)]
    if ordered.shape[0] > 0:
        index = torch.tensor([min(rank, ordered.shape[0]) - 1 for rank in ranks])
        picked = ordered.gather(0, index[None].clamp(min=0))[0].tolist()
    else:
        picked = [math.nan] * scores.shape[1]
    return ConformalCalibration(
        alpha=alpha,
        n=tuple(int(v) for v in n.tolist()),
        rank=tuple(ranks),
        q=tuple(None if flag else float(value) for flag, value in zip(whole, picked, strict=True)),
        whole_image=tuple(whole),
        n_excluded=tuple(int(v) for v in missing.sum(dim=0).tolist()),
    )


def calibrate(
    probabilities: torch.Tensor, truth: torch.Tensor, alpha: float
) -> ConformalCalibration:
    """Calibrate M-R2CCP thresholds per landmark on a calibration split.

    Args:
        probabilities: Spatial-softmax maps of the calibration split, (N, C, *spatial).
        truth: True points (N, C, d) in pixel indices of the map grid, NaN = missing.
        alpha: Miscoverage level in (0, 1), e.g. 0.1 for 90 % regions.

    Returns:
        The calibration (thresholds, counts, whole-image flags).

    Raises:
        ValueError: If the shapes do not match, the maps are not probabilities or ``alpha``
            is not in (0, 1).
    """
    return calibrate_scores(conformity_scores(probabilities, truth), alpha)


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
    probabilities = _as_tensor(probabilities, "probabilities")
    _check_maps(probabilities, "probabilities")
    _check_probabilities(probabilities, "probabilities")
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
    probabilities = _as_tensor(probabilities, "probabilities")
    _check_maps(probabilities, "probabilities")
    _check_probabilities(probabilities, "probabilities")
    truth = _as_tensor(truth, "truth")
    _check_points(truth, probabilities, "truth")
    exact = rule.map_thresholds(probabilities).cpu().numpy()
    present = ~torch.isnan(truth).any(dim=-1).cpu().numpy()
    value = interpolate_at(probabilities, truth).cpu().numpy()
    return present & ((value >= exact) | np.isneginf(exact)), present
