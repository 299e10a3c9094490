"""ISBI-size BMP fixtures and the two epochs the preprocessing-cache benchmark compares.

The fixtures are BMPs of 1935 wide x 2400 high (divided by ``scale`` for a dry run), 24-bit
with three identical channels, as in ISBI 2015. An uncached epoch decodes every image and
resizes it with padding to the target grid; a cached epoch reads the same network-grid images
from :class:`PreprocessCache` and copies them into memory, as a data loader would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.imageio import read_image, read_image_shape, write_image
from landmarkbench.preprocessing.geometry import ResizePad

HEIGHT, WIDTH = 2400, 1935


def smooth_image(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Random-ish smooth uint8 content: a blocky random field plus waves."""
    rng = np.random.default_rng(index)
    block = max(1, height // 24)
    coarse = rng.uniform(0, 120, size=(height // block + 1, width // block + 1))
    field = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)[:height, :width]
    rows = np.linspace(0.0, 1.0, height)[:, None]
    cols = np.linspace(0.0, 1.0, width)[None, :]
    waves = 60 * np.sin(2 * np.pi * (2 + index % 5) * rows) * np.cos(2 * np.pi * 3 * cols)
    return np.clip(field + waves + 70, 0, 255).astype(np.uint8)


def lazy_case(path: Path, landmarks: np.ndarray | None = None) -> Case:
    """A case that decodes its BMP only when ``case.image`` is read."""
    return Case(
        case_id=path.stem,
        landmarks=np.zeros((19, 2)) if landmarks is None else landmarks,
        spacing=np.array([0.1, 0.1]),
        image_shape=read_image_shape(path),
        image_reader=lambda: read_image(path).array,
        source=str(path),
    )


def isbi_bmp_cases(folder: str | Path, count: int, scale: int = 1) -> list[Case]:
    """Write ``count`` ISBI-layout BMPs (001.bmp, ...) into ``folder`` and return lazy cases."""
    images = Path(folder) / "RawImage" / "TrainingData"
    images.mkdir(parents=True, exist_ok=True)
    cases = []
    for k in range(1, count + 1):
        path = images / f"{k:03d}.bmp"
        write_image(path, smooth_image(k, HEIGHT // scale, WIDTH // scale), rgb=True)
        cases.append(lazy_case(path))
    read_image(cases[0].source)  # import MONAI and friends outside the timings
    return cases


def uncached_epoch(cases: list[Case], target: tuple[int, int]) -> float:
    """Decode and resize every image; returns a checksum of the centre pixels."""
    total = 0.0
    for case in cases:
        image = torch.from_numpy(case.image)
        resized = ResizePad(case.shape, target).image_to_target(image)
        total += float(resized[target[0] // 2, target[1] // 2])
    return total


def cached_epoch(cache, cases: list[Case], target: tuple[int, int]) -> float:
    """Read every network-grid image from ``cache``; same checksum as ``uncached_epoch``."""
    total = 0.0
    for case in cases:
        image = np.array(cache.network_image(case, target))  # materialise, as a loader would
        total += float(image[target[0] // 2, target[1] // 2])
    return total
