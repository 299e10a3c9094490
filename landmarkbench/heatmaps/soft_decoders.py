"""Soft decoders: soft-argmax, weighted spatial mean and local soft-argmax, 2D and 3D.

All take maps of shape (B, C, *spatial) and return (B, C, d) coordinates in array-index order
(pixel centre at the integer), float64 for float64 maps and float32 otherwise, on the device
of the input. They are vectorised over batch, landmarks and window, and give finite results
for finite maps (max-subtracted softmax, guarded denominators).
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch

from landmarkbench.heatmaps._grid import (
    argmax_index,
    check_heatmaps,
    check_temperature,
    coordinate_dtype,
    row_major_strides,
    weighted_mean_index,
)

InputSpace = Literal["logits", "probabilities"]
Activation = Literal["relu", "none"]


def soft_argmax(heatmaps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Expected index under a spatial softmax over the whole map (differentiable).

    ``y = sum_x x softmax(t h)(x)``, with the softmax taken over all pixels of each map,
    max-subtracted (``exp(t h - max t h)``), so logits of any size give finite values and
    gradients, and normalised after the spatial sums (accurate in float32 on large maps).
    A constant map gives the centre of the map.

    Args:
        heatmaps: Logit maps of shape (B, C, *spatial) with at least one spatial axis.
        temperature: Positive multiplier ``t`` of the logits; larger is sharper.

    Returns:
        Tensor of shape (B, C, d), differentiable with respect to ``heatmaps``.

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes or the temperature is not
            positive.
    """
    check_heatmaps(heatmaps)
    t = check_temperature(temperature)
    logits = heatmaps.flatten(2).to(coordinate_dtype(heatmaps))
    # Unnormalised softmax: exp(t (z - max z)) lies in (0, 1] with at least one 1, so the
    # mass is at least 1 (no overflow, no division by zero). The max is a constant for the
    # gradient (the softmax does not depend on it). In-place steps save two 4 B/pixel buffers.
    weights = logits - logits.amax(dim=-1, keepdim=True).detach()
    if t != 1.0:
        weights.mul_(t)
    weights.exp_()
    moments, mass = weighted_mean_index(weights.view(heatmaps.shape))
    return moments / mass[..., None]


def weighted_spatial_mean(heatmaps: torch.Tensor, activation: Activation = "relu") -> torch.Tensor:
    """Expected index under the map itself used as weights, ``w = f(h) / sum f(h)``.

    With ``activation="relu"`` the weights are ``relu(h)`` (negative values ignored); with
    ``"none"`` they are ``h`` as is, which is meaningful for non-negative maps (a map of mixed
    sign with a small positive sum can give a coordinate outside the map). A map whose
    weights sum to zero or less (all zeros; with ``"relu"`` all non-positive) has no mass:
    its coordinate is the map's argmax (the first pixel of an all-zero map), never NaN.

    Args:
        heatmaps: Maps of shape (B, C, *spatial) with at least one spatial axis.
        activation: ``"relu"`` or ``"none"``.

    Returns:
        Tensor of shape (B, C, d), differentiable with respect to ``heatmaps`` where the map
        has mass.

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes or the activation is unknown.
    """
    check_heatmaps(heatmaps)
    if activation not in ("relu", "none"):
        raise ValueError(
            f"Activation must be 'relu' or 'none'; got {activation!r}. "
            "Use 'relu' to ignore negative values."
        )
    weights = heatmaps.to(coordinate_dtype(heatmaps))
    if activation == "relu":
        weights = torch.relu(weights)
    moments, mass = weighted_mean_index(weights)
    has_mass = mass > 0
    coords = moments / torch.where(has_mass, mass, torch.ones_like(mass))[..., None]
    fallback = argmax_index(heatmaps).to(coords.dtype)
    return torch.where(has_mass[..., None], coords, fallback)


def local_soft_argmax(
    heatmaps: torch.Tensor,
    window: int = 5,
    temperature: float = 10.0,
    input_space: InputSpace = "logits",
) -> torch.Tensor:
    """Local soft-argmax (Bulat et al., BMVC 2021): a softmax in a window around the argmax.

    The window holds the ``window^d`` pixels centred on the argmax ``m``; pixels outside the
    image are left out of it (the window is clipped at the border and the weights are
    renormalised over the in-image pixels, so there is no pull toward the border as with
    zero padding). The coordinate is ``m + sum_o o w(m + o)`` over the window offsets ``o``
    with weights

    - ``input_space="logits"``: ``w = softmax(t z)`` over the window (``z`` the map values;
      landmarker's ``coord_local_soft_argmax`` uses these semantics on whatever map it gets,
      with ``t = 10``). Invariant to adding a constant to the logits.
    - ``input_space="probabilities"``: ``w = p^t / sum p^t`` over the window, computed as
      ``softmax(t log p)`` with ``p`` clamped to the smallest positive normal number. With
      ``t = 1`` this is the local mean weighted by the probabilities. Consistent with the
      logits space: ``p = softmax(z)`` gives the same coordinates as the logits ``z``.
      Invariant to rescaling ``p`` (e.g. a gamma-scaled Gaussian).

    Args:
        heatmaps: Maps of shape (B, C, *spatial) with at least one spatial axis.
        window: Odd window width in pixels (5 in the paper).
        temperature: Positive temperature ``t`` (see above).
        input_space: ``"logits"`` or ``"probabilities"``.

    Returns:
        Tensor of shape (B, C, d), differentiable with respect to the map values in the
        window.

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes, the window is not a positive
            odd integer, the temperature is not positive or the input space is unknown.
    """
    check_heatmaps(heatmaps)
    t = check_temperature(temperature)
    if isinstance(window, bool) or int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(
            f"Window must be a positive odd number of pixels; got {window!r}. "
            "Use e.g. 3, 5 or 7 so the window is centred on the argmax."
        )
    if input_space not in ("logits", "probabilities"):
        raise ValueError(
            f"Input space must be 'logits' or 'probabilities'; got {input_space!r}. "
            "Use 'logits' for raw network outputs and 'probabilities' for p >= 0 maps."
        )
    spatial = heatmaps.shape[2:]
    device = heatmaps.device
    dtype = coordinate_dtype(heatmaps)
    peak = argmax_index(heatmaps)  # (B, C, d)
    offsets = _window_offsets(int(window), len(spatial), device)  # (K, d)
    positions = peak[:, :, None, :] + offsets  # (B, C, K, d)
    sizes = torch.tensor(spatial, device=device)
    inside = ((positions >= 0) & (positions < sizes)).all(dim=-1)  # (B, C, K)
    strides = torch.tensor(row_major_strides(spatial), device=device)
    clipped = torch.minimum(positions.clamp_min(0), sizes - 1)
    values = heatmaps.flatten(2).gather(-1, (clipped * strides).sum(-1)).to(dtype)
    if input_space == "probabilities":
        values = values.clamp_min(torch.finfo(dtype).tiny).log()
    logits = (values * t).masked_fill(~inside, float("-inf"))  # the centre is always inside
    weights = torch.softmax(logits, dim=-1)
    return peak.to(dtype) + (weights[..., None] * offsets.to(dtype)).sum(dim=-2)


def _window_offsets(window: int, d: int, device: torch.device) -> torch.Tensor:
    """All ``window^d`` integer offsets of a centred window, shape (window^d, d)."""
    half = window // 2
    grid = list(itertools.product(range(-half, half + 1), repeat=d))
    return torch.tensor(grid, device=device, dtype=torch.long).view(len(grid), d)
