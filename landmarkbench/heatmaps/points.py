"""Landmark tensors for target generators: the validity mask and per-landmark parameters.

Conventions (see ``landmarkbench.datasets.base``): points have shape (B, C, d) in
array-index order with the pixel centre at the integer; a NaN coordinate marks a missing
landmark. Generators treat any non-finite coordinate as missing and give it an all-zero map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def landmark_mask(points: torch.Tensor) -> torch.Tensor:
    """Which landmarks are present (no NaN coordinate).

    Args:
        points: Landmarks of shape (B, C, d).

    Returns:
        Bool tensor of shape (B, C): True for valid landmarks.
    """
    return ~torch.isnan(points).any(dim=-1)


def checked_points(points: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, tuple]:
    """Points as a floating tensor of shape (B, C, d), with the map shape as a tuple of ints.

    Args:
        points: Landmarks of shape (B, C, d).
        shape: Spatial shape of the maps, length d.

    Returns:
        ``(points, shape)``: integer points are cast to the default float dtype.

    Raises:
        ValueError: If the point shape does not match the map dimensionality.
    """
    shape = tuple(int(s) for s in shape)
    if points.ndim != 3 or points.shape[-1] != len(shape):
        raise ValueError(
            f"Points must have shape (B, C, {len(shape)}) for maps of shape {shape}; got "
            f"{tuple(points.shape)}. Give one coordinate per spatial axis."
        )
    if min(shape, default=0) < 1:
        raise ValueError(f"Map shape must be positive along every axis; got {shape}.")
    if not points.is_floating_point():
        points = points.to(torch.get_default_dtype())
    return points, shape


def finite_points(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split points into a NaN-free copy and the (B, C) mask of finite landmarks.

    Missing landmarks are replaced by 0 through ``torch.where``, so no NaN reaches the maps
    or the gradients.
    """
    valid = torch.isfinite(points).all(dim=-1)
    safe = torch.where(valid[..., None], points, torch.zeros_like(points))
    return safe, valid


def sigma_per_axis(sigma: float | torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Sigma as a (B, C, d) tensor on the device and dtype of ``points``, checked positive.

    Args:
        sigma: A number (all landmarks, all axes), a 1-D tensor of shape (C,) (isotropic, one
            per landmark), or a tensor broadcastable to (B, C, d) with at least 2 dimensions,
            e.g. (C, d) or (1, d) for per-axis sigmas.
        points: Landmarks of shape (B, C, d).

    Returns:
        Tensor of shape (B, C, d).

    Raises:
        ValueError: If sigma does not broadcast or is not positive.
    """
    batch, channels, ndim = points.shape
    sigma_t = torch.as_tensor(sigma, device=points.device, dtype=points.dtype)
    if sigma_t.ndim == 1:
        sigma_t = sigma_t[:, None]
    try:
        sigma_bcd = torch.broadcast_to(sigma_t, (batch, channels, ndim))
    except RuntimeError as error:
        raise ValueError(
            f"Sigma must be a number, shape (C,) or broadcastable to (B, C, d) = ({batch}, "
            f"{channels}, {ndim}); got shape {tuple(torch.as_tensor(sigma).shape)}. For one "
            f"per-axis sigma for all landmarks pass shape (1, {ndim})."
        ) from error
    if bool((sigma_bcd.detach() <= 0).any()):
        raise ValueError(
            f"Sigma must be positive (pixels); got minimum {float(sigma_bcd.min())}. "
            "Use a sigma of at least about 1 pixel."
        )
    return sigma_bcd


def angles_per_landmark(angles: float | torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Rotation angles as (B, C, 1) in 2D or (B, C, 3) in 3D, on the device/dtype of points.

    Args:
        angles: Radians. 2D: a number, shape (C,) or (B, C). 3D: a tensor broadcastable to
            (B, C, 3), e.g. (3,) or (C, 3).
        points: Landmarks of shape (B, C, d), d in {2, 3}.

    Returns:
        Tensor of shape (B, C, 1) (2D) or (B, C, 3) (3D).

    Raises:
        ValueError: If the angles do not broadcast or d is not 2 or 3.
    """
    batch, channels, ndim = points.shape
    if ndim not in (2, 3):
        raise ValueError(f"Rotated targets need 2 or 3 spatial axes; got {ndim}.")
    angles_t = torch.as_tensor(angles, device=points.device, dtype=points.dtype)
    count = 1 if ndim == 2 else 3
    if ndim == 2:
        angles_t = angles_t[..., None]
    try:
        return torch.broadcast_to(angles_t, (batch, channels, count))
    except RuntimeError as error:
        expected = "a number, (C,) or (B, C)" if ndim == 2 else "(3,), (C, 3) or (B, C, 3)"
        raise ValueError(
            f"Rotation angles in {ndim}D must have shape {expected}; got shape "
            f"{tuple(torch.as_tensor(angles).shape)} for {channels} landmarks. Give one "
            f"{'angle' if ndim == 2 else 'triple of angles'} per landmark."
        ) from error
