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

    The window holds the ``window^d`` pixels centred on the argmax ``m``. The coordinate is
    ``m + sum_o o w(m + o)`` over the window offsets ``o`` with weights

    - ``input_space="logits"``: ``w = softmax(t z)`` over the window (``z`` the map values;
      landmarker's ``coord_local_soft_argmax`` uses these semantics on whatever map it gets,
      with ``t = 10``). Invariant to adding a constant to the logits.
    - ``input_space="probabilities"``: ``w = p^t / sum p^t`` over the window, computed as
      ``softmax(t log p)`` with ``p`` clamped to the smallest positive normal number. With
      ``t = 1`` this is the local mean weighted by the probabilities. Consistent with the
      logits space: ``p = softmax(z)`` gives the same coordinates as the logits ``z``.
      Invariant to rescaling ``p`` (e.g. a gamma-scaled Gaussian).

    At the border (a window that sticks out of the image) the missing pixels are not padded
    (zero padding pulls toward the border) and not simply left out (a clipped, renormalised
    window pulls inward: +0.16 px mean, 0.51 px max on sigma-3 Gaussians within 2 px of the
    border, window 5, t 10). They are COMPLETED: a quadratic in the log domain (with cross
    terms, so rotated Gaussians too) is fitted by weighted least squares to the in-image
    pixels of the window and extrapolated to the missing ones, and the softmax is taken over
    the whole window as inside the image. On an exact Gaussian the completed window is the
    window the same peak would have away from the border, so a border peak decodes exactly
    as an interior one with the same sub-pixel offset (bias 0 up to rounding). See
    :func:`_complete_cut_windows` for the log domain, the weights and the fallback to the
    clipped window where the fit is not trustworthy. Windows inside the image take the plain
    path (unchanged results and speed).

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
    coords = peak.to(dtype) + (weights[..., None] * offsets.to(dtype)).sum(dim=-2)
    cut = ~inside.all(dim=-1)  # (B, C): windows sticking out of the image
    if window >= 5 and bool(cut.any()):
        rows = cut.nonzero(as_tuple=True)
        completed = _complete_cut_windows(
            values[rows], inside[rows], offsets, t, input_space == "logits"
        )
        fitted = peak[rows].to(dtype) + completed.to(dtype)
        fitted = torch.minimum(fitted.clamp_min(0), (sizes - 1).to(dtype))
        coords = coords.index_put(rows, torch.where(completed.isnan(), coords[rows], fitted))
    return coords


def _complete_cut_windows(
    values: torch.Tensor,
    inside: torch.Tensor,
    offsets: torch.Tensor,
    temperature: float,
    logits: bool,
) -> torch.Tensor:
    """Softmax mean offset of windows whose out-of-image pixels are filled by a fitted peak.

    The log domain ``s`` is where a Gaussian peak is a quadratic: ``log p`` for probabilities
    (``values`` already holds it), and for logits either the logits ``z`` themselves (logits
    of a Gaussian) or ``log z`` (a Gaussian-shaped map used as logits, e.g. a heatmap
    regressed by a U-Net; only where every in-image value is positive). For logits both are
    fitted and the one leaving the smaller fraction of the weighted variance unexplained is
    used, so ``p = softmax(z)`` and ``z`` still give the same coordinates unless ``z`` is a
    better Gaussian than a log-Gaussian. The fit is
    ``s(o) ~ c + g.o + sum_{i <= j} a_ij o_i o_j`` over the in-image offsets ``o``, weighted
    by ``exp(2 (s - max s))`` (``p^2``: the flat tails, where the log is noisy, weigh little;
    Guo, IEEE Signal Process. Mag. 2011). The fitted values replace the missing pixels,
    capped at the argmax value (a border peak is never completed into a higher one).

    Fallback (NaN returned; the caller keeps the clipped window): a fit that is ill-conditioned
    (too few or too unevenly weighted pixels, e.g. a one-pixel spike, an axis of two pixels),
    not concave (a plateau, noise, a one-hot pixel on zeros), whose vertex lies more than one
    pixel from the argmax, or on non-finite values. (Windows of 3 are never completed: a cut
    one has two pixels along the cut axis, too few for a parabola.)

    Args:
        values: (N, K) map values of the window (log p for probabilities); out-of-image
            entries are ignored.
        inside: (N, K) in-image mask, with at least one False per row.
        offsets: (K, d) window offsets.
        temperature: The softmax temperature.
        logits: Whether ``values`` are logits (two candidate log domains) or log p (one).

    Returns:
        (N, d) mean offsets from the argmax in float64, NaN rows where the fit is rejected.
    """
    z = values.double()
    design = _quadratic_design(offsets.double())  # (K, P)
    centre = (offsets == 0).all(-1).nonzero()[:, 0]  # the argmax, the window's maximum
    offset, unexplained, fill = _fit_log_domain(z, inside, design, offsets.shape[1])
    fill = torch.minimum(fill, z[:, centre])
    if logits:
        positive = z > 0
        log_z = torch.where(positive, z, torch.ones_like(z)).log()
        log_offset, log_unexplained, log_fill = _fit_log_domain(
            log_z, inside, design, offsets.shape[1]
        )
        use_log = (positive | ~inside).all(dim=-1) & ~log_offset.isnan().any(-1)
        use_log &= offset.isnan().any(-1) | (log_unexplained < unexplained)
        capped = torch.minimum(log_fill, log_z[:, centre])  # capped before exp: finite
        fill = torch.where(use_log[:, None], capped.exp(), fill)
        offset = torch.where(use_log[:, None], log_offset, offset)
    rejected = offset.isnan().any(dim=-1, keepdim=True)
    full = torch.where(inside, z, fill)
    weights = torch.softmax(full * temperature, dim=-1)
    mean = weights @ offsets.double()
    return torch.where(rejected, torch.full_like(mean, float("nan")), mean)


def _fit_log_domain(
    s: torch.Tensor, inside: torch.Tensor, design: torch.Tensor, d: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted least-squares quadratic of ``s`` over the in-image pixels (see above).

    Returns the vertex offset (N, d), NaN where rejected; the unexplained fraction of the
    weighted variance (N,); and the fitted ``s`` on every window pixel (N, K).
    """
    finite = (s.isfinite() | ~inside).all(dim=-1)  # non-finite maps: rejected, not raised
    s = torch.where(inside & s.isfinite(), s, torch.zeros_like(s))
    peak = s.masked_fill(~inside, float("-inf")).amax(dim=-1, keepdim=True)
    weight = torch.where(inside, (2 * (s - peak)).exp(), torch.zeros_like(s)).detach()
    weighted = design * weight[..., None]  # (N, K, P)
    normal = weighted.transpose(1, 2) @ design  # (N, P, P)
    eigen = torch.linalg.eigvalsh(normal.detach())
    conditioned = finite & (eigen[:, 0] > 1e-7 * eigen[:, -1])
    eye = torch.eye(normal.shape[-1], dtype=normal.dtype, device=normal.device)
    safe = torch.where(conditioned[:, None, None], normal, eye)
    coefficients = torch.linalg.solve(safe, (weighted.transpose(1, 2) @ s[..., None]))[..., 0]
    fitted = coefficients @ design.T  # (N, K)
    hessian, gradient = _hessian_and_gradient(coefficients, d)
    concave = torch.linalg.eigvalsh(hessian.detach().nan_to_num())[:, -1] < 0
    safe_hessian = torch.where((conditioned & concave)[:, None, None], hessian, -eye[:d, :d])
    vertex = torch.linalg.solve(safe_hessian, -gradient[..., None])[..., 0]
    near = (vertex.detach().abs() <= 1).all(dim=-1)
    accepted = conditioned & concave & near
    vertex = torch.where(accepted[:, None], vertex, torch.full_like(vertex, float("nan")))
    total = weight.sum(-1).clamp_min(torch.finfo(s.dtype).tiny)
    mean = (weight * s).sum(-1, keepdim=True) / total[:, None]
    spread = (weight * (s - mean).square()).sum(-1).clamp_min(torch.finfo(s.dtype).tiny)
    unexplained = (weight * (s - fitted).square()).sum(-1) / spread
    return vertex, unexplained.detach(), fitted


def _quadratic_design(offsets: torch.Tensor) -> torch.Tensor:
    """Columns ``1, o_0 .. o_{d-1}, o_i o_j (i <= j)`` of the quadratic fit, (K, P)."""
    d = offsets.shape[1]
    columns = [torch.ones_like(offsets[:, 0]), *offsets.unbind(-1)]
    columns += [offsets[:, i] * offsets[:, j] for i in range(d) for j in range(i, d)]
    return torch.stack(columns, dim=-1)


def _hessian_and_gradient(coefficients: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hessian (N, d, d) and gradient at offset 0 (N, d) of the fitted quadratic."""
    gradient = coefficients[:, 1 : 1 + d]
    entries = iter(coefficients[:, 1 + d :].unbind(-1))
    rows: list[list[torch.Tensor | None]] = [[None] * d for _ in range(d)]
    for i in range(d):
        for j in range(i, d):
            a = next(entries)
            rows[i][j] = 2 * a if i == j else a
            rows[j][i] = rows[i][j]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2), gradient


def _window_offsets(window: int, d: int, device: torch.device) -> torch.Tensor:
    """All ``window^d`` integer offsets of a centred window, shape (window^d, d)."""
    half = window // 2
    grid = list(itertools.product(range(-half, half + 1), repeat=d))
    return torch.tensor(grid, device=device, dtype=torch.long).view(len(grid), d)
