"""Gaussian heatmap targets: separable when axis-aligned, windowed when rotated, 2D and 3D.

``g(x) = s * exp(-1/2 (x - y)^T S^-1 (x - y))`` on the pixel-centre grid (array-index order),
``S = R(theta) diag(sigma^2) R(theta)^T`` (rotation convention: ``covariance.py``), with
``s = 1`` (peak 1) or ``s = gamma / ((2 pi)^(d/2) sqrt(det S))`` (the continuous map integrates
to gamma; the pixel sum is gamma up to truncation at the border). Missing (NaN) landmarks get
all-zero maps; ``landmark_mask`` gives the (B, C) mask that losses use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from landmarkbench.heatmaps.covariance import rotation_matrix
from landmarkbench.heatmaps.points import (
    angles_per_landmark,
    checked_points,
    finite_points,
    sigma_per_axis,
)
from landmarkbench.heatmaps.window import (
    box_half_widths,
    evaluate_in_boxes,
    negative_quadratic_form,
)

DEFAULT_GAUSSIAN_WINDOW = 5.0


def gaussian_heatmaps(
    points: torch.Tensor,
    shape: Sequence[int],
    sigma: float | torch.Tensor,
    gamma: float | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Isotropic Gaussian heatmaps, built as outer products of 1D Gaussians (separable).

    ``g(x) = s * exp(-||x - y||^2 / (2 sigma^2))`` on the pixel-centre grid (array index
    order), with ``s = 1`` (peak 1) when ``gamma`` is None, else
    ``s = gamma / ((2 pi)^(d/2) sigma^d)`` so that the continuous map integrates to ``gamma``
    (the discrete sum is ``gamma`` up to truncation at the border). Exact on every pixel, except
    that values below ``finfo(dtype).tiny^(1/d)`` (2.3e-13 in float32 3D) are flushed to 0 to
    avoid slow subnormal arithmetic. The result is differentiable with respect to ``points``
    and ``sigma`` (learnable sigma).

    Args:
        points: Landmarks of shape (B, C, d) in pixel indices; NaN marks a missing landmark,
            whose map is all zeros.
        shape: Spatial shape of the maps, length d.
        sigma: Standard deviation in pixels: a float, or a tensor broadcastable to (B, C)
            (typically (C,), one per landmark).
        gamma: Target sum of each map, or None for peak 1.
        out: Optional contiguous (B, C, *shape) tensor of the dtype and device of ``points``
            that receives the maps (e.g. one buffer reused for every training batch: writing
            into memory already mapped avoids the page faults of a fresh allocation, which
            cost several times the arithmetic). Same values, bit for bit; not differentiable.

    Returns:
        Tensor of shape (B, C, *shape) on the device and (floating) dtype of ``points``
        (``out`` itself when given).

    Raises:
        ValueError: If the shapes disagree, sigma or gamma is not positive, or ``out`` does
            not fit (shape, dtype, device, layout) or gradients are needed.
    """
    points, shape = checked_points(points, shape)
    batch, channels, ndim = points.shape
    sigma_t = torch.as_tensor(sigma, device=points.device, dtype=points.dtype)
    try:
        sigma_bc = torch.broadcast_to(sigma_t, (batch, channels))
    except RuntimeError as error:
        raise ValueError(
            f"Sigma must be a number or broadcastable to (B, C) = ({batch}, {channels}); got "
            f"shape {tuple(sigma_t.shape)}. Pass one sigma per landmark, shape ({channels},)."
        ) from error
    sigma_bcd = sigma_per_axis(sigma_bc[..., None].expand(batch, channels, ndim), points)
    return _separable_gaussian(points, shape, sigma_bcd, gamma, out)


def anisotropic_gaussian_heatmaps(
    points: torch.Tensor,
    shape: Sequence[int],
    sigma: float | torch.Tensor,
    angles: float | torch.Tensor | None = None,
    gamma: float | None = None,
    window: float | None = DEFAULT_GAUSSIAN_WINDOW,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Anisotropic, optionally rotated Gaussian heatmaps, per-landmark sigma and angles.

    Axis-aligned maps (``angles`` None, or all zero and not requiring grad) take the
    separable path (exact up to values below finfo.tiny^(1/d), flushed to 0). Rotated maps
    are evaluated only inside the bounding box of the ellipsoid of Mahalanobis radius
    ``window`` (k) around each landmark (``half-width_a = ceil(k sqrt(S_aa))`` <=
    ``ceil(k max(sigma))``); values outside the box are exactly 0, so the absolute error is at
    most ``s * exp(-k^2 / 2)`` (3.7e-6 for the default k = 5 and s = 1). ``window=None``
    evaluates every pixel. Differentiable with respect to points, sigma and angles.

    Args:
        points: Landmarks of shape (B, C, d), d in {2, 3}; NaN marks a missing landmark.
        shape: Spatial shape of the maps, length d.
        sigma: Pixels along the principal axes: a number, (C,) (isotropic per landmark), or
            broadcastable to (B, C, d), e.g. (C, d) or (1, d).
        angles: Radians (convention in ``landmarkbench.heatmaps.covariance``): 2D a number,
            (C,) or (B, C); 3D broadcastable to (B, C, 3). None for axis-aligned maps.
        gamma: Target sum of each map, or None for peak 1.
        window: k, the box size in standard deviations, or None for the whole image.
        out: Optional buffer receiving the maps, as in :func:`gaussian_heatmaps`.

    Returns:
        Tensor of shape (B, C, *shape) on the device and (floating) dtype of ``points``
        (``out`` itself when given).

    Raises:
        ValueError: If shapes disagree, sigma, gamma or window is not positive, or ``out``
            does not fit or gradients are needed.
    """
    points, shape = checked_points(points, shape)
    sigma_bcd = sigma_per_axis(sigma, points)
    if angles is None:
        return _separable_gaussian(points, shape, sigma_bcd, gamma, out)
    angles_t = angles_per_landmark(angles, points)
    if not angles_t.requires_grad and not bool(angles_t.any()):
        return _separable_gaussian(points, shape, sigma_bcd, gamma, out)
    if out is not None:
        check_output_buffer(out, (*points.shape[:2], *shape), points, sigma_bcd, angles_t)
    rotation = rotation_matrix(angles_t if len(shape) == 3 else angles_t[..., 0], len(shape))
    safe, valid = finite_points(points)
    half_widths = box_half_widths(sigma_bcd, rotation, shape, window)
    log_scale = log_map_scale(sigma_bcd, valid, gamma, (2 * math.pi) ** (len(shape) / 2))

    def values(offsets: list[torch.Tensor]) -> torch.Tensor:
        return negative_quadratic_form(offsets, sigma_bcd, rotation, 0.5, log_scale).exp()

    return evaluate_in_boxes(safe, shape, half_widths, values, out)


def log_map_scale(
    sigma_bcd: torch.Tensor, valid: torch.Tensor, gamma: float | None, normaliser: float
) -> torch.Tensor:
    """``log s`` per map (B, C): -inf if missing, else 0 or ``log(gamma / (c prod sigma))``.

    The scale enters the exponent (``exp(log s - q)``), which saves a full-size multiply; a
    missing landmark's ``exp(-inf)`` is exactly 0 and, through ``torch.where``, its gradient
    is 0 rather than NaN. ``prod sigma = sqrt(det S)`` for any rotation.

    Args:
        sigma_bcd: Shape (B, C, d), positive.
        valid: Bool (B, C).
        gamma: Target sum, or None for peak 1.
        normaliser: c, e.g. ``(2 pi)^(d/2)`` for a Gaussian.

    Returns:
        Tensor of shape (B, C).

    Raises:
        ValueError: If gamma is not positive.
    """
    if gamma is None:
        log_scale = torch.zeros_like(sigma_bcd[..., 0])
    elif not gamma > 0:
        raise ValueError(f"Gamma must be positive (the sum of each map); got {gamma}.")
    else:
        log_scale = math.log(gamma / normaliser) - sigma_bcd.log().sum(dim=-1)
    return torch.where(valid, log_scale, -math.inf)


def _separable_gaussian(
    points: torch.Tensor,
    shape: tuple[int, ...],
    sigma_bcd: torch.Tensor,
    gamma: float | None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Axis-aligned Gaussian as an outer product of 1D profiles: one pass over the output.

    All d profiles are computed together on a (B, C, d, max(shape)) tensor in five operations
    (each a parallel region: on a busy CPU each one costs a scheduling delay, so few matter
    more than small), with the log-scale folded into the first profile's exponent. The full
    map is then written once, by the last broadcast multiply (into ``out`` when given).
    """
    if out is not None:
        check_output_buffer(out, (*points.shape[:2], *shape), points, sigma_bcd)
    safe, valid = finite_points(points)
    ndim = len(shape)
    log_scale = log_map_scale(sigma_bcd, valid, gamma, (2 * math.pi) ** (ndim / 2))
    bias = torch.cat((log_scale[..., None], torch.zeros_like(sigma_bcd[..., 1:])), dim=-1)
    inverse = math.sqrt(0.5) / sigma_bcd  # (B, C, d)
    coords = torch.arange(max(shape), device=points.device, dtype=points.dtype)
    # Subtract before scaling: coords * inverse - point * inverse would cancel catastrophically.
    scaled = (coords - safe[..., None]) * inverse[..., None]
    profiles = torch.addcmul(bias[..., None], scaled, scaled, value=-1.0).exp()
    # A product of d values below tiny^(1/d) would be subnormal, and subnormal arithmetic is
    # ~100x slower on CPUs: such values (< 2.3e-13 in float32 3D, < 1.1e-19 in float32 2D)
    # are set to exactly 0 instead.
    cutoff = torch.finfo(points.dtype).tiny ** (1 / ndim)
    profiles = torch.nn.functional.threshold(profiles, cutoff, 0.0)
    heatmaps = None
    for axis, size in enumerate(shape):
        view = (*profiles.shape[:2], *(size if k == axis else 1 for k in range(ndim)))
        profile = profiles[:, :, axis, :size].reshape(view)
        if heatmaps is None:
            heatmaps = profile
        elif axis == ndim - 1 and out is not None:
            heatmaps = torch.mul(heatmaps, profile, out=out)
        else:
            heatmaps = heatmaps * profile
    if ndim == 1 and out is not None:
        heatmaps = out.copy_(heatmaps)
    return heatmaps


def check_output_buffer(
    out: torch.Tensor, shape: tuple[int, ...], like: torch.Tensor, *parameters: torch.Tensor
) -> None:
    """Raise unless ``out`` can receive maps of ``shape`` computed from ``like`` without grad.

    Raises:
        ValueError: On a shape, dtype, device or layout mismatch, or when gradients are
            needed (``out=`` writes are not differentiable).
    """
    if tuple(out.shape) != tuple(shape) or out.dtype != like.dtype or out.device != like.device:
        raise ValueError(
            f"The out buffer must have shape {tuple(shape)}, dtype {like.dtype} and device "
            f"{like.device}; got {tuple(out.shape)}, {out.dtype}, {out.device}. Allocate it "
            "with torch.empty(shape, dtype=points.dtype, device=points.device)."
        )
    if not out.is_contiguous():
        raise ValueError("The out buffer must be contiguous; pass out.contiguous() once.")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (like, *parameters)):
        raise ValueError(
            "Heatmaps written into an out buffer are not differentiable, but the points or "
            "sigma require grad; drop out= (learnable targets) or use torch.no_grad()."
        )
