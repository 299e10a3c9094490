"""Uncalibrated highest-density regions: the baseline conformal calibration is measured against.

For each map the region is the smallest set of pixels holding at least ``1 - alpha`` of its
probability: pixels sorted by probability, taken until their cumulative mass reaches
``1 - alpha``; the threshold is the probability of the last pixel taken (ties included). It
trusts the map's own spread, so it covers ``1 - alpha`` only if the network is calibrated:
Jonkers et al. 2025 (the conformal prediction regions of ``conformal``) report Gaussian and
ensemble-spread regions without calibration covering only 5-80 % where 95 % was asked for.
No calibration cases are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from landmarkbench.uncertainty.probability_maps import check_alpha

__all__ = ["HighestDensityRule"]


@dataclass(frozen=True)
class HighestDensityRule:
    """``RegionRule`` of highest-density regions holding ``1 - alpha`` of each map's mass.

    Args:
        alpha: Miscoverage level in (0, 1): the regions hold ``1 - alpha`` of the mass.

    Raises:
        ValueError: If ``alpha`` is not in (0, 1).
    """

    alpha: float

    def __post_init__(self) -> None:
        check_alpha(self.alpha)

    def map_thresholds(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Per map, the lowest probability inside its highest-density region, (M, C) float64.

        Args:
            probabilities: Maps (M, C, *spatial), each summing to 1.

        Returns:
            Thresholds ``t`` with ``sum(p[p >= t]) >= 1 - alpha`` and ``t`` as high as that
            allows.
        """
        flat = probabilities.flatten(2).to(torch.float64)
        ordered = flat.sort(dim=-1, descending=True).values
        mass = ordered.cumsum(dim=-1)
        # Normalise: the maps sum to 1 up to rounding, and the last pixel must close the set.
        mass = mass / mass[..., -1:].clamp_min(torch.finfo(torch.float64).tiny)
        target = torch.full((*mass.shape[:2], 1), 1.0 - self.alpha, dtype=torch.float64)
        index = torch.searchsorted(mass.contiguous(), target.to(mass.device))
        index = index.clamp(max=ordered.shape[-1] - 1)
        return ordered.gather(-1, index)[..., 0]
