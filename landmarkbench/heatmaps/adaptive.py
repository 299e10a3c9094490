"""Learnable (adaptive) Gaussian heatmap targets: per-landmark sigma and rotation as parameters.

Adaptive heatmaps (Payer et al. 2019; Thaler et al. 2021) learn each landmark's spread and
orientation with the network. The loss adds ``alpha * sum_i prod_k sigma_{i,k}``
(``sigma_penalty``) so that the targets do not simply widen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from landmarkbench.heatmaps.gaussian import DEFAULT_GAUSSIAN_WINDOW, anisotropic_gaussian_heatmaps


class AdaptiveGaussianHeatmaps(nn.Module):
    """Gaussian targets whose per-landmark sigma (and optionally rotation) can be learned.

    Sigma is parametrised positive as ``sigma = exp(log_sigma)``: any real ``log_sigma`` gives a
    valid Gaussian, so no clamping is needed and gradient steps are relative. Angles are in
    radians, unconstrained (the convention is in ``landmarkbench.heatmaps.covariance``), one per
    landmark in 2D and three in 3D, initialised to 0. Without rotation the maps take the exact
    separable path; with rotation the windowed path (see ``anisotropic_gaussian_heatmaps``).
    Parameters are cast to the dtype and device of the points in ``forward``.

    Args:
        num_landmarks: C.
        ndim: 2 or 3.
        sigma_init: Initial sigma in pixels: a number, (C,) or (C, ndim).
        rotation: Whether the maps have rotation angles.
        learnable: Whether sigma and angles are ``nn.Parameter`` (else buffers).
        gamma: Target sum of each map, or None for peak 1 (the reference uses 100).
        window: Box size in standard deviations for rotated maps, or None for every pixel.

    Raises:
        ValueError: If ndim is not 2 or 3, or sigma_init is not positive or has a bad shape.
    """

    def __init__(
        self,
        num_landmarks: int,
        ndim: int,
        sigma_init: float | Sequence[float] | torch.Tensor = 3.0,
        rotation: bool = True,
        learnable: bool = True,
        gamma: float | None = None,
        window: float | None = DEFAULT_GAUSSIAN_WINDOW,
    ) -> None:
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"Adaptive heatmaps need ndim 2 or 3; got {ndim}.")
        sigma = torch.as_tensor(sigma_init, dtype=torch.float32)
        if sigma.ndim == 1:
            sigma = sigma[:, None]
        try:
            sigma = torch.broadcast_to(sigma, (num_landmarks, ndim)).clone()
        except RuntimeError as error:
            raise ValueError(
                f"sigma_init must be a number, shape ({num_landmarks},) or ({num_landmarks}, "
                f"{ndim}); got shape {tuple(sigma.shape)}."
            ) from error
        if bool((sigma <= 0).any()):
            raise ValueError(
                f"sigma_init must be positive (pixels); got minimum {float(sigma.min())}."
            )
        self.num_landmarks, self.ndim = num_landmarks, ndim
        self.gamma, self.window, self.learnable = gamma, window, learnable
        self._register("log_sigma", sigma.log())
        if rotation:
            shape = (num_landmarks,) if ndim == 2 else (num_landmarks, 3)
            self._register("angles", torch.zeros(shape))
        else:
            self.register_buffer("angles", None)

    def _register(self, name: str, value: torch.Tensor) -> None:
        if self.learnable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    @property
    def sigma(self) -> torch.Tensor:
        """Current sigma, shape (C, ndim), differentiable."""
        return self.log_sigma.exp()

    def forward(self, points: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        """Heatmaps of shape (B, C, *shape) for landmarks (B, C, ndim); NaN gives zero maps.

        Args:
            points: Landmarks in pixel indices (array order).
            shape: Spatial shape of the maps, length ndim.

        Returns:
            Maps on the device and dtype of ``points``, with gradients to sigma and angles.
        """
        dtype = points.dtype if points.is_floating_point() else torch.get_default_dtype()
        sigma = self.sigma.to(device=points.device, dtype=dtype)
        angles = None
        if self.angles is not None:
            angles = self.angles.to(device=points.device, dtype=dtype)
        return anisotropic_gaussian_heatmaps(
            points, shape, sigma, angles=angles, gamma=self.gamma, window=self.window
        )

    def sigma_penalty(self) -> torch.Tensor:
        """``sum_i prod_k sigma_{i,k}``: the adaptive-heatmap loss term (times alpha)."""
        return self.sigma.prod(dim=-1).sum()

    def describe(self) -> dict[str, Any]:
        """Current sigmas (C lists of ndim floats), angles (radians) and penalty, for logging."""
        angles = None if self.angles is None else self.angles.detach().cpu().tolist()
        return {
            "sigma": self.sigma.detach().cpu().tolist(),
            "angles": angles,
            "sigma_penalty": float(self.sigma_penalty().detach()),
        }
