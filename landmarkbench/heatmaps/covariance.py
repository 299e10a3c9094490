"""Rotations and covariance matrices of anisotropic heatmap targets, in array-index order.

Rotation convention (radians, axes are array axes: (row, col) in 2D, (d0, d1, d2) in 3D):

- 2D, one angle ``theta``: ``R = [[cos, -sin], [sin, cos]]``. The principal axis that
  sigma[1] describes points along ``R e_1 = (-sin theta, cos theta)``; ``theta = pi / 2``
  turns the column axis onto the row axis.
- 3D, three angles ``(a, b, c)``: ``R = R_2(a) @ R_1(b) @ R_0(c)`` where ``R_k`` is the
  right-handed rotation about array axis k, treating (d0, d1, d2) as (x, y, z). So ``R_2(a)``
  is the 2D matrix above acting on (d0, d1), and ``R = Rz Ry Rx`` about the array axes. This
  is the matrix landmarker builds from its ``rotation`` triple, so angles carry over.

The covariance is ``S = R diag(sigma^2) R^T``: sigma[k] is the spread along ``R e_k``.
"""

from __future__ import annotations

import torch


def rotation_matrix(angles: torch.Tensor, ndim: int) -> torch.Tensor:
    """Rotation matrices for the convention in the module docstring.

    Args:
        angles: Radians, shape (...,) in 2D or (..., 3) in 3D.
        ndim: 2 or 3.

    Returns:
        Tensor of shape (..., ndim, ndim) on the device and dtype of ``angles``.

    Raises:
        ValueError: If ``ndim`` is not 2 or 3, or the 3D angles are not triples.
    """
    if ndim == 2:
        return _plane_rotation(angles)
    if ndim != 3:
        raise ValueError(f"Rotations are defined for ndim 2 or 3; got {ndim}.")
    if angles.ndim == 0 or angles.shape[-1] != 3:
        raise ValueError(
            f"3D rotations take three angles (about array axes 2, 1, 0); got angles of shape "
            f"{tuple(angles.shape)}. Pass a tensor of shape (..., 3)."
        )
    about_2 = _embed(_plane_rotation(angles[..., 0]), (0, 1))
    about_1 = _embed(_plane_rotation(angles[..., 1]).transpose(-1, -2), (0, 2))
    about_0 = _embed(_plane_rotation(angles[..., 2]), (1, 2))
    return about_2 @ about_1 @ about_0


def covariance_matrix(sigma: torch.Tensor, angles: torch.Tensor | None = None) -> torch.Tensor:
    """Covariance ``S = R diag(sigma^2) R^T`` of a rotated anisotropic Gaussian.

    Args:
        sigma: Standard deviations along the principal axes, shape (..., d), d in {2, 3}.
        angles: Radians, shape (...,) in 2D or (..., 3) in 3D, or None for axis-aligned.

    Returns:
        Tensor of shape (..., d, d).
    """
    diagonal = torch.diag_embed(sigma**2)
    if angles is None:
        return diagonal
    rotation = rotation_matrix(angles, sigma.shape[-1])
    return rotation @ diagonal @ rotation.transpose(-1, -2)


def transform_covariance(covariance: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Covariance of a Gaussian after an affine map of space: ``A S A^T`` with A the LINEAR part.

    A translation moves the mean, never the spread: applying a homogeneous (d+1) x (d+1)
    matrix to S (a bug in the reference code) would add ``t t^T``. Only ``affine[:d, :d]`` is
    used.

    Args:
        covariance: Shape (..., d, d).
        affine: Shape (..., d, d), (..., d, d+1) or (..., d+1, d+1), broadcastable against
            ``covariance``; the translation column, if any, is ignored.

    Returns:
        Tensor of shape (..., d, d).

    Raises:
        ValueError: If the shapes do not fit together.
    """
    d = covariance.shape[-1]
    if covariance.ndim < 2 or covariance.shape[-2] != d:
        raise ValueError(f"Covariance must have shape (..., d, d); got {tuple(covariance.shape)}.")
    if affine.ndim < 2 or affine.shape[-2] not in (d, d + 1) or affine.shape[-1] not in (d, d + 1):
        raise ValueError(
            f"Affine must have shape (..., {d}, {d}), (..., {d}, {d + 1}) or "
            f"(..., {d + 1}, {d + 1}) for a {d}D covariance; got {tuple(affine.shape)}."
        )
    linear = affine[..., :d, :d].to(covariance.dtype)
    return linear @ covariance @ linear.transpose(-1, -2)


def _plane_rotation(angle: torch.Tensor) -> torch.Tensor:
    """``[[cos, -sin], [sin, cos]]`` of shape (..., 2, 2)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack((torch.stack((cos, -sin), -1), torch.stack((sin, cos), -1)), -2)


def _embed(block: torch.Tensor, axes: tuple[int, int]) -> torch.Tensor:
    """Place a (..., 2, 2) block on the given pair of axes of a (..., 3, 3) identity."""
    eye = torch.eye(3, device=block.device, dtype=block.dtype)
    full = eye.expand(*block.shape[:-2], 3, 3).clone()
    first, second = axes
    full[..., first, first] = block[..., 0, 0]
    full[..., first, second] = block[..., 0, 1]
    full[..., second, first] = block[..., 1, 0]
    full[..., second, second] = block[..., 1, 1]
    return full
