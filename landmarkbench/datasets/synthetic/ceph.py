"""The synthetic 2D cephalogram dataset: shape-model landmarks on rendered schematic skulls."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.cephalometric import ISBI_LANDMARK_NAMES
from landmarkbench.datasets.synthetic.generated import GeneratedDataset, grid_shape
from landmarkbench.errors import UsageError

FIELD_OF_VIEW_MM = (200.0, 160.0)
# Where the mean shape's centroid sits, relative to the image centre, in (row, col) mm.
CENTROID_OFFSET_MM = np.array([0.0, 8.0])
MAX_ROTATION_DEG = 8.0
MAX_SCALE_CHANGE = 0.08
MAX_TRANSLATION_MM = 5.0
MAX_MODE_SD = 3.0
MARGIN_MM = 8.0
_POSE_ATTEMPTS = 50
_CACHE_FORMAT = 1


def _shape_model_path() -> Path:
    return Path(__file__).parent / "data" / "ceph_shape_model.json"


@DATASETS.register(
    "synthetic_ceph", "Synthetic lateral cephalograms with the 19 ISBI 2015 landmarks (2D)."
)
class SyntheticCeph(GeneratedDataset):
    """Synthetic lateral cephalograms with the 19 ISBI 2015 landmarks, generated and cached.

    Each case samples a shape from a point-distribution model of the real ISBI 2015
    annotations, varies its pose, renders a schematic skull whose landmarks sit on image
    features, and simulates two annotators with the real per-landmark inter-observer noise.
    Case ``k`` depends only on ``(seed, k, image_shape)``, never on ``n_cases``.

    Args:
        n_cases: Number of cases (at least 2).
        image_shape: (rows, cols), each a multiple of 16 and at least 32. The field of view
            stays 200 x 160 mm, so the spacing scales with the size (1.25 mm at (160, 128)).
        seed: Non-negative generation seed.
        cache_dir: Folder for the generated case files; default
            ``<user cache or $LANDMARKBENCH_CACHE>/synthetic_ceph/<hash of the generation>``.
        ground_truth: "mean" (average of the two annotators, default), "annotator1",
            "annotator2" or "truth" (the exact rendered feature positions).
    """

    name = "synthetic_ceph"
    version = "1"
    # Bump when the shape-model sampling, the pose, ceph_render or the annotator noise
    # change what a case holds (part of the cache key).
    GENERATOR_VERSION = "1"
    ndim = 2
    landmark_names = ISBI_LANDMARK_NAMES
    ground_truth_options = ("mean", "annotator1", "annotator2", "truth")
    cached_arrays = frozenset({"image", "truth", "annotator1", "annotator2", "spacing"})
    annotator_pair = ("annotator1", "annotator2")

    def __init__(
        self,
        n_cases: int = 100,
        image_shape: tuple[int, int] = (160, 128),
        seed: int = 0,
        cache_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.image_shape = grid_shape(self.name, image_shape, 2, (160, 128))
        if min(self.image_shape) < 32:
            raise UsageError(
                f"synthetic_ceph image_shape must be at least 32 x 32, got {image_shape!r}; "
                "use e.g. image_shape=160,128."
            )
        self._setup_generation(n_cases, seed, cache_dir)
        self.spacing_mm = max(
            f / n for f, n in zip(FIELD_OF_VIEW_MM, self.image_shape, strict=True)
        )
        self._shape_model = None

    # ----------------------------------------------------------------- public interface

    def network_shape(self) -> tuple[int, ...]:
        """Half the image resolution (rounded up to multiples of 16): the landmarks' features
        survive 2x downsampling and a CPU trains four times faster."""
        return tuple(max(32, -(-(s // 2) // 16) * 16) for s in self.image_shape)

    def load(self, case_id: str) -> Case:
        """Load (generating and caching on first use) one case with the chosen ground truth.

        Raises:
            DataError: if ``case_id`` is not one of ``case_ids()``.
        """
        arrays = self.case_arrays(self.case_index(case_id))
        arrays["mean"] = (arrays["annotator1"] + arrays["annotator2"]) / 2
        return Case.in_memory(
            case_id=case_id,
            image=arrays["image"],
            landmarks=arrays[self.ground_truth].copy(),
            spacing=np.array([self.spacing_mm, self.spacing_mm]),
            extra={key: arrays[key] for key in ("truth", "annotator1", "annotator2")},
        )

    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        """Generate case ``index`` from scratch (deterministic in seed, index and image shape).

        Returns:
            Dict with ``image`` (float32), ``truth``, ``annotator1``, ``annotator2`` (19 x 2
            pixel (row, col)) and ``spacing`` (2,).
        """
        from landmarkbench.datasets.synthetic.ceph_render import render_cephalogram

        shape_seq, render_seq, annotator_seq = self.case_sequences(index, 3)
        truth = self._sample_landmarks(np.random.default_rng(shape_seq))
        noise_px = self.shape_model.annotator_noise_std_mm[:, None] / self.spacing_mm
        annotator_rng = np.random.default_rng(annotator_seq)
        annotators = [truth + noise_px * annotator_rng.standard_normal(truth.shape) for _ in "12"]
        image = render_cephalogram(
            truth, self.image_shape, self.spacing_mm, np.random.default_rng(render_seq)
        )
        return {
            "image": image,
            "truth": truth,
            "annotator1": annotators[0],
            "annotator2": annotators[1],
            "spacing": np.array([self.spacing_mm, self.spacing_mm]),
        }

    @property
    def shape_model(self):
        """The committed ISBI 2015 shape model (loaded on first use)."""
        if self._shape_model is None:
            from landmarkbench.datasets.synthetic.ceph_shape_model import load_shape_model

            self._shape_model = load_shape_model(_shape_model_path())
        return self._shape_model

    # ----------------------------------------------------------------- generation

    def _sample_landmarks(self, rng: np.random.Generator) -> np.ndarray:
        """Shape from the model, posed and placed in pixels, all inside the margin."""
        model = self.shape_model
        rows, cols = self.image_shape
        margin = MARGIN_MM / self.spacing_mm
        centre_px = (
            np.array([(rows - 1) / 2, (cols - 1) / 2]) + CENTROID_OFFSET_MM / self.spacing_mm
        )
        for _ in range(_POSE_ATTEMPTS):
            coefficients = np.clip(rng.standard_normal(model.num_modes), -MAX_MODE_SD, MAX_MODE_SD)
            shape_mm = model.shape_from_coefficients(coefficients)
            angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
            scale = 1.0 + rng.uniform(-MAX_SCALE_CHANGE, MAX_SCALE_CHANGE)
            shift_mm = rng.uniform(-MAX_TRANSLATION_MM, MAX_TRANSLATION_MM, size=2)
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            posed_mm = scale * shape_mm @ rotation.T + shift_mm
            landmarks = centre_px + posed_mm / self.spacing_mm
            inside = (landmarks >= margin) & (landmarks <= np.array([rows, cols]) - 1 - margin)
            if inside.all():
                return landmarks
        return centre_px + model.mean_shape / self.spacing_mm

    # ----------------------------------------------------------------- cache

    def generation_identity(self) -> dict[str, Any]:
        """Generation settings plus the shape model's hash and the spacing."""
        model_bytes = _shape_model_path().read_bytes()
        return {
            **super().generation_identity(),
            "shape_model_sha256": hashlib.sha256(model_bytes).hexdigest(),
            "spacing_mm": self.spacing_mm,
        }
