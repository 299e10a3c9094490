"""A synthetic dataset that rewards spatial configuration: identical teeth in a row.

Every landmark is the cusp tip of one of eight IDENTICAL teeth along an arch. Locally the
eight tips look the same; only their place in the row, counted from a distinct anchor
tooth (a large round crown), says which is which. Extra identical teeth continue the row
beyond the eighth, so "the last tooth" is no cue either, and the whole arch varies in pose,
scale and spacing, so absolute position is no cue. A method that sees only local appearance
confuses neighbours; one that models the spatial configuration does not.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.synthetic.generated import GeneratedDataset, grid_shape

TEETH = 8
SPACING_MM = 0.5


def _arch_geometry(rng: np.random.Generator, shape: tuple[int, int]):
    """Tooth bases and outward normals along a posed parabolic arch (pixels, (row, col))."""
    rows, cols = shape
    extra = int(rng.integers(1, 4))  # identical teeth beyond the eighth
    count = 1 + TEETH + extra  # anchor + landmarks + extras
    step = rng.uniform(0.062, 0.072) * cols
    u = (np.arange(count) - (count - 1) / 2) * step
    curvature = rng.uniform(0.004, 0.008) * 128 / cols
    local = np.stack([curvature * u**2, u], axis=1)  # (row, col) before pose
    tangent = np.stack([2 * curvature * u, np.ones_like(u)], axis=1)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)  # pointing to smaller rows
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    angle = np.deg2rad(rng.uniform(-15, 15))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    scale = rng.uniform(0.92, 1.08)
    centre = np.array([rows * rng.uniform(0.55, 0.65), cols * rng.uniform(0.45, 0.55)])
    if rng.random() < 0.5:  # the anchor is on the left or on the right
        local, normal = local[::-1], normal[::-1]
    bases = centre + scale * local @ rotation.T
    return bases, normal @ rotation.T, scale


def render_teeth(rng: np.random.Generator, shape: tuple[int, int]):
    """Image (float32) and the (8, 2) cusp tips of the teeth after the anchor."""
    from scipy import ndimage

    from landmarkbench.datasets.synthetic.shape_sdf import (
        capsule_apex,
        capsule_sdf,
        grid_mm,
        soft_fill,
    )

    bases, normals, scale = _arch_geometry(rng, shape)
    points = grid_mm(shape, (1.0, 1.0))
    image = np.full(shape, 0.2)
    jaw = np.min(
        [capsule_sdf(points, a, b, 5.0 * scale) for a, b in itertools.pairwise(bases)],
        axis=0,
    )
    image = np.maximum(image, 0.45 * soft_fill(jaw, 1.0))
    tips = []
    for index, (base, normal) in enumerate(zip(bases, normals, strict=True)):
        if index == 0:  # the anchor: a large round crown, unlike every other tooth
            distance = np.linalg.norm(points - (base + normal * 7 * scale), axis=-1) - 4.5 * scale
            image = np.maximum(image, 0.95 * soft_fill(distance, 1.0))
            continue
        end = base + normal * 9.0 * scale
        radius = 1.6 * scale
        image = np.maximum(image, 0.9 * soft_fill(capsule_sdf(points, base, end, radius), 1.0))
        if 1 <= index <= TEETH:
            tips.append(capsule_apex(base, end, radius))
    image = ndimage.gaussian_filter(image, 0.7) + rng.normal(0, 0.04, size=shape)
    return image.astype(np.float32), np.array(tips)


@DATASETS.register(
    "synthetic_teeth", "Eight identical teeth in a row: only the configuration tells them apart."
)
class SyntheticTeeth(GeneratedDataset):
    """Synthetic arches of identical teeth; landmark k is the tip of the k-th tooth after the
    anchor. Rewards methods that model spatial configuration (e.g. ``scn``).

    Args:
        n_cases: Number of cases (at least 2).
        image_shape: (rows, cols), multiples of 16.
        seed: Non-negative generation seed.
        cache_dir: Folder for generated cases (default: the user cache).
        ground_truth: Only "truth" (the exact cusp tips).
    """

    name = "synthetic_teeth"
    version = "1"
    # Bump when render_teeth or the arch geometry change what a case holds (cache key).
    GENERATOR_VERSION = "1"
    ndim = 2
    landmark_names = tuple(f"tooth_{k}" for k in range(1, TEETH + 1))
    ground_truth_options = ("truth",)
    cached_arrays = frozenset({"image", "truth"})
    default_sdr_radii_mm = (1.0, 2.0, 3.0, 4.0)

    def __init__(
        self,
        n_cases: int = 100,
        image_shape: tuple[int, int] = (96, 128),
        seed: int = 0,
        cache_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.image_shape = grid_shape(self.name, image_shape, 2, (96, 128))
        self._setup_generation(n_cases, seed, cache_dir)

    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        (sequence,) = self.case_sequences(index, 1)
        image, tips = render_teeth(np.random.default_rng(sequence), self.image_shape)
        return {"image": image, "truth": tips}

    def load(self, case_id: str) -> Case:
        """Load (generating on first use) one case."""
        arrays = self.case_arrays(self.case_index(case_id))
        return Case.in_memory(
            case_id=case_id,
            image=arrays["image"],
            landmarks=arrays["truth"].copy(),
            spacing=np.full(2, SPACING_MM),
        )
