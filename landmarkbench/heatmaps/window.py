"""Windowed evaluation of compact targets: compute only a box around each landmark, scatter.

A rotated Gaussian is not separable, and evaluating its quadratic form on every pixel is what
makes the reference generator slow. Far from the landmark the map is negligible, so each
landmark's values are computed in a box of fixed size (the same for all landmarks, so the work
is one batched tensor op over B and C, no Python loop) and scattered into a zero map.

Boxes are clipped at the image border by SHIFTING them inside the image (never padding): a
shifted box still contains every pixel of the unclipped box that lies in the image. When the
box is larger than the image along an axis it covers the whole axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def box_half_widths(
    sigma: torch.Tensor, rotation: torch.Tensor, shape: Sequence[int], window: float | None
) -> tuple[int, ...]:
    """Half-widths (pixels, per axis) of the box holding Mahalanobis distance <= ``window``.

    The bounding box of the ellipsoid ``(x - y)^T S^-1 (x - y) <= k^2`` has half-width
    ``k sqrt(S_aa)`` along axis a, so every pixel outside it is farther than k; for
    ``S = R diag(sigma^2) R^T`` the diagonal is ``S_aa = sum_j R_aj^2 sigma_j^2``. One box
    size serves all landmarks (the largest), so the evaluation stays one batched op.

    Args:
        sigma: Standard deviations along the principal axes, shape (B, C, d).
        rotation: Rotation matrices R, shape (B, C, d, d).
        shape: Spatial shape of the maps.
        window: k, or None for the whole image.

    Returns:
        One half-width per axis.

    Raises:
        ValueError: If ``window`` is not a positive finite number.
    """
    if window is None:
        return tuple(int(n) for n in shape)
    if not math.isfinite(window) or window <= 0:
        raise ValueError(
            f"Window must be a positive number of standard deviations; got {window}. "
            "Use e.g. 5 (Gaussian) or None to evaluate every pixel."
        )
    diagonal = torch.einsum("...ij,...j->...i", rotation.detach().square(), sigma.detach().square())
    spread = diagonal.reshape(-1, len(shape)).amax(dim=0).sqrt()
    return tuple(
        min(int(n), math.ceil(window * float(s))) for n, s in zip(shape, spread, strict=True)
    )


def evaluate_in_boxes(
    points: torch.Tensor,
    shape: Sequence[int],
    half_widths: Sequence[int],
    values_from_offsets: Callable[[list[torch.Tensor]], torch.Tensor],
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Evaluate a target in a box around each landmark and scatter it into zero maps.

    Args:
        points: Finite landmarks of shape (B, C, d) (replace missing ones beforehand).
        shape: Spatial shape of the maps, length d.
        half_widths: Box half-width per axis; the box has ``min(2 w + 1, n)`` pixels.
        values_from_offsets: Called with d tensors ``x_a - y_a`` (pixel coordinate minus
            landmark), the a-th of shape (B, C, 1, .., L_a, .., 1); returns the values, shape
            (B, C, L_0, ..., L_{d-1}).
        out: Optional contiguous (B, C, *shape) buffer that is zeroed and receives the maps
            (checked by the caller; not differentiable).

    Returns:
        Maps of shape (B, C, *shape), zero outside the boxes; differentiable with respect to
        the values (and through them to the points and parameters).
    """
    batch, channels, ndim = points.shape
    strides = [math.prod(shape[axis + 1 :]) for axis in range(ndim)]
    offsets, flat_index = [], None
    for axis, (size, half) in enumerate(zip(shape, half_widths, strict=True)):
        length = min(2 * half + 1, size)
        coordinate = points[..., axis]
        # Clamp before the integer cast so far-away landmarks cannot overflow.
        centre = torch.floor(coordinate.detach() + 0.5).clamp(-length - 1, size + length).long()
        start = (centre - half).clamp(0, size - length)  # (B, C)
        index = start[..., None] + torch.arange(length, device=points.device)  # (B, C, L)
        view = (batch, channels, *(length if k == axis else 1 for k in range(ndim)))
        offsets.append((index.to(points.dtype) - coordinate[..., None]).reshape(view))
        term = (index * strides[axis]).reshape(view)
        flat_index = term if flat_index is None else flat_index + term
    values = values_from_offsets(offsets)
    flat_index = flat_index.expand(values.shape).reshape(batch * channels, -1)
    if out is None:
        maps = torch.zeros(
            batch * channels, math.prod(shape), device=points.device, dtype=values.dtype
        )
    else:
        maps = out.view(batch * channels, -1).zero_()
    # In place on a fresh zero tensor: autograd still records it, and no 2nd full-size copy.
    maps.scatter_(1, flat_index, values.reshape(batch * channels, -1))
    return maps.reshape(batch, channels, *shape)


def negative_quadratic_form(
    offsets: list[torch.Tensor],
    sigma: torch.Tensor,
    rotation: torch.Tensor,
    factor: float = 1.0,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``bias - factor * (x - y)^T S^-1 (x - y)`` with ``S = R diag(sigma^2) R^T``.

    Computed as ``bias - |sqrt(factor) diag(1/sigma) R^T (x - y)|^2``: no matrix inverse, and
    the per-axis products are formed on the small 1D offsets so that only d + 1 operations
    touch full-window tensors (each full-size op is a parallel region, and on a busy CPU every
    parallel region costs a scheduling delay).

    Args:
        offsets: d tensors from ``evaluate_in_boxes`` (broadcastable against each other).
        sigma: Shape (B, C, d).
        rotation: Shape (B, C, d, d).
        factor: Multiplies the quadratic form (e.g. 1/2 for a Gaussian exponent).
        bias: Shape (B, C) added to every value (e.g. a log-scale), or None for 0.

    Returns:
        Tensor of shape (B, C, L_0, ..., L_{d-1}).
    """
    ndim = len(offsets)
    trailing = (1,) * ndim
    # weights[..., a, j] = sqrt(factor) R[a, j] / sigma_j
    weights = rotation * (math.sqrt(factor) / sigma[..., None, :])
    weights = weights.reshape(*weights.shape, *trailing)
    total = None
    if bias is not None:
        total = bias.reshape(*bias.shape, *trailing)
    for j in range(ndim):
        projected = None
        for a in range(ndim):
            term = weights[:, :, a, j] * offsets[a]
            projected = term if projected is None else projected + term
        if total is None:
            total = torch.mul(projected, projected).neg()
        else:
            total = torch.addcmul(total, projected, projected, value=-1.0)
    return total
