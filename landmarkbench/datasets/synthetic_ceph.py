"""The synthetic 2D cephalogram dataset: shape-model landmarks on rendered schematic skulls."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.errors import DataError, UsageError

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


def _cache_root() -> Path:
    """``$LANDMARKBENCH_CACHE`` if set, else the platform's user cache folder."""
    override = os.environ.get("LANDMARKBENCH_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("landmarkbench"))


def _write_atomically(path: Path, write: Any) -> None:
    """Write via ``write(file_object)`` to a temporary file beside ``path``, then rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _validate_image_shape(image_shape: Any) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in image_shape)
        exact = all(int(v) == v and not isinstance(v, bool) for v in image_shape)
    except (TypeError, ValueError):
        exact = False
    if not exact or rows < 32 or cols < 32 or rows % 16 or cols % 16:
        raise UsageError(
            f"synthetic_ceph image_shape must be two integers (rows, cols), each at least 32 "
            f"and a multiple of 16, got {image_shape!r}; use e.g. image_shape=(160, 128)."
        )
    return rows, cols


def _validate_whole_number(name: str, value: Any, minimum: int, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UsageError(
            f"synthetic_ceph {name} must be an integer of at least {minimum}, got {value!r}; "
            f"use e.g. {name}={example}."
        )
    return int(value)


@DATASETS.register(
    "synthetic_ceph", "Synthetic lateral cephalograms with the 19 ISBI 2015 landmarks (2D)."
)
class SyntheticCeph(LandmarkDataset):
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
    ndim = 2
    landmark_names = (
        "sella",
        "nasion",
        "orbitale",
        "porion",
        "subspinale",
        "supramentale",
        "pogonion",
        "menton",
        "gnathion",
        "gonion",
        "lower_incisal_incision",
        "upper_incisal_incision",
        "upper_lip",
        "lower_lip",
        "subnasale",
        "soft_tissue_pogonion",
        "posterior_nasal_spine",
        "anterior_nasal_spine",
        "articulare",
    )
    ground_truth_options = ("mean", "annotator1", "annotator2", "truth")

    def __init__(
        self,
        n_cases: int = 100,
        image_shape: tuple[int, int] = (160, 128),
        seed: int = 0,
        cache_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.n_cases = _validate_whole_number("n_cases", n_cases, 2, 100)
        self.image_shape = _validate_image_shape(image_shape)
        self.seed = _validate_whole_number("seed", seed, 0, 0)
        self.spacing_mm = max(
            f / n for f, n in zip(FIELD_OF_VIEW_MM, self.image_shape, strict=True)
        )
        self._explicit_cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._shape_model = None
        self._cache_ready: bool | None = None
        self._digits = max(3, len(str(self.n_cases - 1)))

    # ----------------------------------------------------------------- public interface

    def options(self) -> dict[str, Any]:
        """The generation parameters (recorded and hashed with every result)."""
        return {"n_cases": self.n_cases, "image_shape": list(self.image_shape), "seed": self.seed}

    def network_shape(self) -> tuple[int, ...]:
        """Half the image resolution (rounded up to multiples of 16): the landmarks' features
        survive 2x downsampling and a CPU trains four times faster."""
        return tuple(max(32, -(-(s // 2) // 16) * 16) for s in self.image_shape)

    def case_ids(self) -> list[str]:
        """``case_000`` ... zero padded, sorted."""
        return [f"case_{k:0{self._digits}d}" for k in range(self.n_cases)]

    def load(self, case_id: str) -> Case:
        """Load (generating and caching on first use) one case with the chosen ground truth.

        Raises:
            DataError: if ``case_id`` is not one of ``case_ids()``.
        """
        arrays = self.case_arrays(self._case_index(case_id))
        return Case.in_memory(
            case_id=case_id,
            image=arrays["image"],
            landmarks=arrays[self.ground_truth].copy(),
            spacing=np.array([self.spacing_mm, self.spacing_mm]),
            extra={key: arrays[key] for key in ("truth", "annotator1", "annotator2")},
        )

    @property
    def cache_dir(self) -> Path:
        """Folder holding ``meta.json`` and one ``.npz`` per generated case."""
        if self._explicit_cache_dir is not None:
            return self._explicit_cache_dir
        return _cache_root() / self.name / self.generation_hash()

    def generation_hash(self) -> str:
        """Short hash of everything that determines the case content (not ``n_cases``)."""
        text = json.dumps(self._generation_identity(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def case_arrays(self, index: int) -> dict[str, np.ndarray]:
        """Arrays of case ``index``: image, truth, annotator1, annotator2, mean (pixels).

        Reads the cached file when present and valid; otherwise generates and caches it.

        Raises:
            DataError: if the cache folder holds cases generated with other settings.
        """
        cache_ready = self._prepare_cache()
        path = self.cache_dir / f"case_{index:05d}.npz"
        arrays = self._read_cached(path) if cache_ready else None
        if arrays is None:
            arrays = self.generate_case(index)
            if cache_ready:
                self._write_cached(path, arrays)
        arrays["mean"] = (arrays["annotator1"] + arrays["annotator2"]) / 2
        return arrays

    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        """Generate case ``index`` from scratch (deterministic in seed, index and image shape).

        Returns:
            Dict with ``image`` (float32), ``truth``, ``annotator1``, ``annotator2`` (19 x 2
            pixel (row, col)) and ``spacing`` (2,).
        """
        from landmarkbench.datasets.ceph_render import render_cephalogram

        case_sequence = np.random.SeedSequence(self.seed, spawn_key=(index,))
        shape_seq, render_seq, annotator_seq = case_sequence.spawn(3)
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
            from landmarkbench.datasets.ceph_shape_model import load_shape_model

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

    def _generation_identity(self) -> dict[str, Any]:
        model_bytes = _shape_model_path().read_bytes()
        return {
            "dataset": self.name,
            "version": self.version,
            "cache_format": _CACHE_FORMAT,
            "image_shape": list(self.image_shape),
            "seed": self.seed,
            "shape_model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        }

    def _case_index(self, case_id: str) -> int:
        ids = self.case_ids()
        if case_id not in ids:
            raise DataError(
                f"Case id {case_id!r} is not in synthetic_ceph with n_cases={self.n_cases}; "
                f"use one of {ids[0]!r} .. {ids[-1]!r} (see case_ids())."
            )
        return ids.index(case_id)

    def _read_cached(self, path: Path) -> dict[str, np.ndarray] | None:
        if not path.is_file():
            return None
        try:
            with np.load(path) as stored:
                arrays = {key: stored[key] for key in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            return None
        expected = {"image", "truth", "annotator1", "annotator2", "spacing"}
        if set(arrays) != expected or arrays["image"].shape != self.image_shape:
            return None
        return arrays

    def _write_cached(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        try:
            _write_atomically(path, lambda stream: np.savez(stream, **arrays))
        except OSError as error:
            self._warn_uncached(error)

    def _warn_uncached(self, error: OSError) -> None:
        warnings.warn(
            f"Could not cache synthetic_ceph cases in {str(self.cache_dir)!r} ({error}); they "
            "will be generated again next time. Set LANDMARKBENCH_CACHE to a writable folder.",
            stacklevel=4,
        )

    def _prepare_cache(self) -> bool:
        """Create the cache folder with its ``meta.json`` once; False if it is not writable."""
        if self._cache_ready is None:
            try:
                self._cache_ready = self._check_or_write_meta(self.cache_dir)
            except OSError as error:
                self._warn_uncached(error)
                self._cache_ready = False
        return self._cache_ready

    def _check_or_write_meta(self, folder: Path) -> bool:
        meta_path = folder / "meta.json"
        meta = {**self._generation_identity(), "spacing_mm": self.spacing_mm}
        if meta_path.is_file():
            try:
                existing = json.loads(meta_path.read_text(encoding="utf-8"))
            except ValueError:
                existing = None
            if existing == meta:
                return True
            raise DataError(
                f"Cache folder {str(folder)!r} holds synthetic_ceph data generated with other "
                f"settings (meta.json: {existing}); pass another cache_dir or delete that folder."
            )
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(meta, indent=1, sort_keys=True) + "\n"
        _write_atomically(meta_path, lambda stream: stream.write(text.encode("utf-8")))
        return True
