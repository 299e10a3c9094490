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

Maps, points and regions follow ``probability_maps`` (a ``ConformalCalibration`` is its
``RegionRule``); a missing landmark (NaN) is excluded from calibration and counted. Coverage is
decided on the interpolated map: a truth is covered when ``s <= q_i``, i.e. when its
interpolated probability is at least ``-q_i`` (exactly the event the guarantee is about), and
always when the landmark is flagged whole-image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from landmarkbench.uncertainty.probability_maps import (
    as_tensor,
    check_alpha,
    check_maps,
    check_probabilities,
    interpolate_at,
)

__all__ = [
    "ConformalCalibration",
    "calibrate",
    "calibrate_scores",
    "conformity_scores",
    "quantile_rank",
]

METHOD = "M-R2CCP"


SCORE = "-p(y), spatial-softmax probability at the truth, bilinear/trilinear interpolation"


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
    probabilities = as_tensor(probabilities, "probabilities")
    check_maps(probabilities, "probabilities")
    check_probabilities(probabilities, "probabilities")
    return -interpolate_at(probabilities, truth)


def quantile_rank(n: int, alpha: float) -> int:
    """``k = ceil((n + 1)(1 - alpha))``, robust to binary rounding (10 x 0.9 is 9, not 10).

    Args:
        n: Number of calibration scores.
        alpha: Miscoverage level in (0, 1).

    Returns:
        The rank ``k``; ``k > n`` means the region must be the whole image.
    """
    return max(1, math.ceil(round((n + 1) * (1.0 - check_alpha(alpha)), 9)))


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
            alpha=check_alpha(data["alpha"]),
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
    alpha = check_alpha(alpha)
    scores = as_tensor(scores, "scores").to(torch.float64)
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
