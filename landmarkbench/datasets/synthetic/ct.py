"""The synthetic 3D CT dataset: 14 molar/cuspid landmarks, anisotropic voxels, missing teeth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.synthetic.generated import GeneratedDataset, grid_shape
from landmarkbench.datasets.synthetic.molar_render import FIELD_OF_VIEW_MM, LANDMARK_NAMES

ANNOTATOR_NOISE_MM = 0.4


@DATASETS.register(
    "synthetic_ct", "Synthetic 3D dental CT: 14 molar/cuspid landmarks, anisotropic, some missing."
)
class SyntheticCT(GeneratedDataset):
    """Synthetic CT volumes of a mandibular dentition, generated and cached.

    Landmarks follow MML's definition (crowns and roots of the 2nd and 3rd mandibular
    molars, plus the two cuspid cusps). Voxels are anisotropic (1.5 x 1 x 1 mm at the
    default 32 x 64 x 64). About one in five third molars is absent: its three landmarks
    are NaN and excluded from every metric.

    Args:
        n_cases: Number of cases (at least 2).
        image_shape: (d0, d1, d2), multiples of 16; the field of view stays 48 x 64 x 64 mm.
        seed: Non-negative generation seed.
        cache_dir: Folder for generated cases (default: the user cache).
        ground_truth: "mean" of two simulated annotators (default), "annotator1",
            "annotator2" or "truth".
    """

    name = "synthetic_ct"
    version = "1"
    # Bump when sample_dentition, molar_render or the annotator noise change what a case
    # holds (part of the cache key).
    GENERATOR_VERSION = "1"
    ndim = 3
    landmark_names = LANDMARK_NAMES
    ground_truth_options = ("mean", "annotator1", "annotator2", "truth")
    cached_arrays = frozenset({"image", "truth", "annotator1", "annotator2"})
    default_sdr_radii_mm = (2.0, 2.5, 3.0, 4.0)

    def __init__(
        self,
        n_cases: int = 60,
        image_shape: tuple[int, int, int] = (32, 64, 64),
        seed: int = 0,
        cache_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.image_shape = grid_shape(self.name, image_shape, 3, (32, 64, 64))
        self._setup_generation(n_cases, seed, cache_dir)
        self.spacing_mm = tuple(
            f / n for f, n in zip(FIELD_OF_VIEW_MM, self.image_shape, strict=True)
        )

    def network_shape(self) -> tuple[int, ...]:
        """Half resolution (multiples of 16): 16 x 32 x 32 at the default size."""
        return tuple(max(16, -(-(s // 2) // 16) * 16) for s in self.image_shape)

    def generation_identity(self) -> dict[str, Any]:
        return {**super().generation_identity(), "spacing_mm": list(self.spacing_mm)}

    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        """Sample a dentition, render it, and simulate two annotators (voxel coordinates)."""
        from landmarkbench.datasets.synthetic.molar_render import render_volume, sample_dentition

        shape_seq, render_seq, annotator_seq = self.case_sequences(index, 3)
        solids, landmarks_mm = sample_dentition(np.random.default_rng(shape_seq))
        spacing = np.asarray(self.spacing_mm)
        truth = landmarks_mm / spacing
        image = render_volume(
            solids, self.image_shape, self.spacing_mm, np.random.default_rng(render_seq)
        )
        rng = np.random.default_rng(annotator_seq)
        noise = ANNOTATOR_NOISE_MM / spacing
        annotators = [truth + noise * rng.standard_normal(truth.shape) for _ in range(2)]
        return {
            "image": image,
            "truth": truth,
            "annotator1": annotators[0],
            "annotator2": annotators[1],
        }

    def load(self, case_id: str) -> Case:
        """Load (generating on first use) one case; missing landmarks are NaN."""
        arrays = self.case_arrays(self.case_index(case_id))
        arrays["mean"] = (arrays["annotator1"] + arrays["annotator2"]) / 2
        return Case.in_memory(
            case_id=case_id,
            image=arrays["image"],
            landmarks=arrays[self.ground_truth].copy(),
            spacing=np.asarray(self.spacing_mm),
            extra={key: arrays[key] for key in ("truth", "annotator1", "annotator2")},
        )
