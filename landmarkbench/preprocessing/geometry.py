"""Resize-with-pad between an image's original grid and a network grid, for images and points.

Coordinates are continuous array indices with the pixel centre at the integer. Resampling uses
``align_corners=False``, under which output pixel ``q`` samples input position
``(q + 0.5) / s - 0.5`` with ``s = resized / original`` along that axis. Points therefore map as

    p_target = (p + 0.5) * s - 0.5 + pad_before,

and :meth:`ResizePad.points_to_original` is the exact inverse. ``s`` is the ACTUAL per-axis
ratio after rounding the resized shape, so image and landmark transforms agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


@dataclass(frozen=True)
class ResizePad:
    """Map images and points between an original grid and a fixed network (target) grid.

    With ``keep_aspect=True`` (default) the image is scaled by one isotropic factor
    ``scale = min_k target_k / original_k``, the resized shape is ``round(original * scale)``
    (half up, at least 1, at most the target) and the rest is padded; the padding of each axis
    is split evenly with the extra pixel on the HIGH side (``pad_before = total // 2``).

    With ``keep_aspect=False`` every axis is stretched to the target independently (no
    padding). This is the convention of the reference point-error check that
    ``tests/test_geometry.py`` reproduces: a network grid of 100x200 mapped back to original
    grids of 50x100 and 150x200 with per-axis factors gives PE [[0, 0.2], [1.204159,
    2.387990]] mm for its two images.

    Args:
        original_shape: Spatial shape of the original image, e.g. (H, W) or (D, H, W).
        target_shape: Spatial shape of the network grid, same length.
        keep_aspect: Preserve the aspect ratio and pad (True) or stretch per axis (False).

    Raises:
        ValueError: If the shapes differ in length or hold non-positive sizes.
    """

    original_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    keep_aspect: bool = True
    scale: float = field(init=False)
    resized_shape: tuple[int, ...] = field(init=False)
    pad_before: tuple[int, ...] = field(init=False)
    pad_after: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        original = tuple(int(s) for s in self.original_shape)
        target = tuple(int(s) for s in self.target_shape)
        if len(original) != len(target) or not original or min(original + target) < 1:
            raise ValueError(
                f"Original and target shapes must be positive sizes of the same length; got "
                f"original {self.original_shape} and target {self.target_shape}. Pass the "
                "spatial shapes only, without batch or channel axes."
            )
        scale = min(t / o for t, o in zip(target, original, strict=True))
        if self.keep_aspect:
            resized = tuple(
                min(max(math.floor(o * scale + 0.5), 1), t)
                for o, t in zip(original, target, strict=True)
            )
        else:
            resized = target
        pads = [t - r for t, r in zip(target, resized, strict=True)]
        object.__setattr__(self, "original_shape", original)
        object.__setattr__(self, "target_shape", target)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "resized_shape", resized)
        object.__setattr__(self, "pad_before", tuple(p // 2 for p in pads))
        object.__setattr__(self, "pad_after", tuple(p - p // 2 for p in pads))

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.original_shape)

    @property
    def effective_scale(self) -> tuple[float, ...]:
        """Per-axis ratio ``resized / original`` actually applied (after rounding)."""
        return tuple(r / o for r, o in zip(self.resized_shape, self.original_shape, strict=True))

    def image_to_target(self, image: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
        """Resample an image to the resized shape and pad it to the target shape.

        Linear interpolation (bilinear in 2D, trilinear in 3D) with ``align_corners=False``;
        in 2D an antialiasing filter is used when any axis is downscaled.

        Args:
            image: Tensor of shape (..., *original_shape); leading axes are kept. Integer
                images are converted to float32.
            pad_value: Value written into the padding.

        Returns:
            Tensor of shape (..., *target_shape) on the device of ``image``.

        Raises:
            ValueError: If the trailing axes of ``image`` are not ``original_shape``.
        """
        spatial = tuple(image.shape[image.ndim - self.ndim :])
        if image.ndim < self.ndim or spatial != self.original_shape:
            raise ValueError(
                f"Image must end with the original spatial shape {self.original_shape}; got "
                f"shape {tuple(image.shape)}. Build the ResizePad from this image's shape."
            )
        if not image.is_floating_point():
            image = image.float()
        leading = image.shape[: image.ndim - self.ndim]
        x = image.reshape(-1, 1, *spatial)
        if self.resized_shape != self.original_shape:
            downscale = any(s < 1 for s in self.effective_scale)
            x = F.interpolate(
                x,
                size=self.resized_shape,
                mode=_MODES[self.ndim],
                align_corners=False,
                antialias=downscale and self.ndim == 2,
            )
        # F.pad lists (before, after) pairs starting from the LAST axis.
        pads = [
            p for k in reversed(range(self.ndim)) for p in (self.pad_before[k], self.pad_after[k])
        ]
        if any(pads):
            x = F.pad(x, pads, mode="constant", value=pad_value)
        return x.reshape(*leading, *self.target_shape)

    def points_to_target(self, points: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Map points from the original grid to the target grid.

        Args:
            points: Array or tensor of shape (..., d), array-index order; NaN stays NaN.

        Returns:
            Same type and shape as ``points`` (float): ``(p + 0.5) * s - 0.5 + pad_before``.

        Raises:
            ValueError: If the last axis is not d.
        """
        scale, offset = self._affine()
        return _apply(points, scale, offset, inverse=False, ndim=self.ndim)

    def points_to_original(self, points: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Map points from the target grid back to the original grid (inverse of the above).

        Args:
            points: Array or tensor of shape (..., d) on the target grid; NaN stays NaN.

        Returns:
            Same type and shape as ``points`` (float), on the original grid.

        Raises:
            ValueError: If the last axis is not d.
        """
        scale, offset = self._affine()
        return _apply(points, scale, offset, inverse=True, ndim=self.ndim)

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis ``(scale, offset)`` with ``p_target = p * scale + offset``."""
        scale = np.asarray(self.effective_scale, dtype=np.float64)
        offset = 0.5 * scale - 0.5 + np.asarray(self.pad_before, dtype=np.float64)
        return scale, offset


def _apply(
    points: np.ndarray | torch.Tensor,
    scale: np.ndarray,
    offset: np.ndarray,
    inverse: bool,
    ndim: int,
) -> np.ndarray | torch.Tensor:
    """Apply ``p * scale + offset`` (or its inverse) to numpy or torch points of shape (..., d)."""
    if points.shape[-1:] != (ndim,):
        raise ValueError(
            f"Points must have shape (..., {ndim}) in array-index order; got shape "
            f"{tuple(points.shape)}. Pass one coordinate per spatial axis."
        )
    if isinstance(points, torch.Tensor):
        dtype = points.dtype if points.is_floating_point() else torch.get_default_dtype()
        # float64 where the device has it, so round trips are exact to float32 rounding.
        work_dtype = torch.float32 if points.device.type == "mps" else torch.float64
        scale_t = torch.as_tensor(scale, dtype=work_dtype, device=points.device)
        offset_t = torch.as_tensor(offset, dtype=work_dtype, device=points.device)
        work = points.to(work_dtype)
        out = (work - offset_t) / scale_t if inverse else work * scale_t + offset_t
        return out.to(dtype)
    arr = np.asarray(points)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    work = arr.astype(np.float64)
    out = (work - offset) / scale if inverse else work * scale + offset
    return out.astype(dtype, copy=False)
