"""One image as the network sees it: resized-with-pad to the network grid, then normalised.

``resize_to_grid`` is the resampling (``ResizePad.image_to_target`` of a float32 image; the
preprocessing cache stores its result), ``normalise_intensity`` the intensity rule applied
after it, and ``network_input`` both in that order: what training, prediction and exported
models feed the network.
"""

from __future__ import annotations

import numpy as np
import torch

from landmarkbench.preprocessing.geometry import ResizePad

INTENSITY_RULE = (
    "zero mean, unit standard deviation over the image's own pixels after resizing "
    "(std clamped at 1e-6); the padding is 0"
)


def resize_to_grid(image: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """``image`` (float32, original grid) resized-with-pad to ``grid`` (float32, padding 0)."""
    array = np.ascontiguousarray(image, dtype=np.float32)
    resize = ResizePad(array.shape, grid)
    with torch.no_grad():
        resized = resize.image_to_target(torch.from_numpy(array))
    return resized.numpy().astype(np.float32, copy=False)


def normalise_intensity(image: torch.Tensor, mapping: ResizePad) -> torch.Tensor:
    """Zero mean, unit standard deviation over the image's own pixels (not the padding);
    the padding becomes 0, the image mean."""
    region = tuple(
        slice(p, p + n) for p, n in zip(mapping.pad_before, mapping.resized_shape, strict=True)
    )
    pixels = image[region]
    normalised = torch.zeros_like(image)
    normalised[region] = (pixels - pixels.mean()) / pixels.std().clamp_min(1e-6)
    return normalised


def network_input(
    resized: np.ndarray, original_shape: tuple[int, ...]
) -> tuple[torch.Tensor, ResizePad]:
    """The network's (1, *grid) input from an image already resized to the grid
    (``resize_to_grid``), and the mapping between its original grid and the network grid."""
    mapping = ResizePad(tuple(original_shape), tuple(resized.shape))
    tensor = torch.from_numpy(np.array(resized, dtype=np.float32))
    return normalise_intensity(tensor, mapping)[None], mapping
