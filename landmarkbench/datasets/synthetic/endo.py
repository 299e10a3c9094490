"""The synthetic endoscopy dataset: a variable number of point instances per class (2D)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.synthetic.generated import GeneratedDataset, grid_shape
from landmarkbench.datasets.synthetic.instrument_render import CLASS_NAMES


@DATASETS.register(
    "synthetic_endo", "Synthetic endoscopy frames: 0-3 instruments (joint, tips), distractors (2D)."
)
class SyntheticEndo(GeneratedDataset):
    """Synthetic endoscopy frames with multi-instance points, generated and cached.

    Each frame shows 0 to 3 instruments; each has one ``joint`` and two ``tip`` points, so a
    frame has 0-3 joints and 0-6 tips. Specular blobs are distractors. There is no physical
    spacing: errors are in pixels (spacing 1 x 1) and a prediction matches a truth within
    ``match_radius_px``.

    Args:
        n_cases: Number of frames (at least 2).
        image_shape: (rows, cols), multiples of 16.
        seed: Non-negative generation seed.
        cache_dir: Folder for generated frames (default: the user cache).
        ground_truth: Only "truth" (the exact rendered points).
    """

    name = "synthetic_endo"
    version = "1"
    # Bump when sample_scene or instrument_render change what a case holds (cache key).
    GENERATOR_VERSION = "1"
    ndim = 2
    multi_instance = True
    landmark_names = CLASS_NAMES
    ground_truth_options = ("truth",)
    cached_arrays = frozenset({"image", "joint", "tip"})
    default_sdr_radii_mm = (2.0, 4.0, 6.0)
    match_radius_px = 6.0

    def __init__(
        self,
        n_cases: int = 80,
        image_shape: tuple[int, int] = (96, 128),
        seed: int = 0,
        cache_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.image_shape = grid_shape(self.name, image_shape, 2, (96, 128))
        self._setup_generation(n_cases, seed, cache_dir)

    def network_shape(self) -> tuple[int, ...]:
        """Full resolution: the jaws are only a few pixels wide."""
        return self.image_shape

    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        """Sample and render one frame; points in (row, col) pixels per class."""
        from landmarkbench.datasets.synthetic.instrument_render import render_frame, sample_scene

        scene_seq, render_seq = self.case_sequences(index, 2)
        capsules, blobs, instances = sample_scene(
            np.random.default_rng(scene_seq), self.image_shape
        )
        image = render_frame(capsules, blobs, self.image_shape, np.random.default_rng(render_seq))
        return {"image": image, **dict(zip(CLASS_NAMES, instances, strict=True))}

    def options(self) -> dict[str, Any]:
        return {**super().options(), "match_radius_px": self.match_radius_px}

    def load(self, case_id: str) -> Case:
        """Load (generating on first use) one frame with its points per class."""
        arrays = self.case_arrays(self.case_index(case_id))
        return Case.in_memory(
            case_id=case_id,
            image=arrays["image"],
            landmarks=np.zeros((0, 2)),
            spacing=np.ones(2),
            instances=tuple(arrays[name].reshape(-1, 2) for name in CLASS_NAMES),
        )
