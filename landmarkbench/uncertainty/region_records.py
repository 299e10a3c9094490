"""Stored conformal regions of one fold, and their statistics over folds.

Two files beside a fold's ``predictions.csv``:

- ``regions.csv``: one row per (test case, landmark) with ``case_id, landmark_index,
  landmark, present, covered, region_size, size_unit, whole_image, expected_coverage``
  (``covered`` is empty where the truth is missing; ``expected_coverage`` is the fold's
  ``k / (n + 1)`` for the landmark);
- ``regions.npz``: the region masks on the network grid (bit-packed), with each case's map
  from its original grid to the network grid (``grid = original * grid_scale +
  grid_offset``, array-index order), so plots draw regions on the original images without
  the model.

The calibration itself (thresholds per landmark, counts, whole-image flags) is in the fold's
``fold.json`` under ``uncertainty``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmarkbench.errors import ResultsError
from landmarkbench.uncertainty.region_stats import RegionPairs, summarize_regions

REGIONS_FILE = "regions.csv"
MASKS_FILE = "regions.npz"


@dataclass(frozen=True)
class FoldRegions:
    """Per (case, landmark) coverage and region size of one fold's test cases."""

    case_ids: tuple[str, ...]
    landmark_names: tuple[str, ...]
    pairs: RegionPairs
    whole_image: np.ndarray  # (C,) bool
    size_unit: str
    expected_coverage: np.ndarray  # (C,) k / (n + 1) of the fold's calibration

    def to_frame(self) -> pd.DataFrame:
        n, c = self.pairs.size.shape
        covered = np.where(self.pairs.present, self.pairs.covered.astype(float), np.nan)
        return pd.DataFrame(
            {
                "case_id": np.repeat(self.case_ids, c),
                "landmark_index": np.tile(np.arange(c), n),
                "landmark": np.tile(self.landmark_names, n),
                "present": self.pairs.present.reshape(-1).astype(int),
                "covered": pd.array(covered.reshape(-1), dtype="Int64"),
                "region_size": self.pairs.size.reshape(-1),
                "size_unit": self.size_unit,
                "whole_image": np.tile(self.whole_image.astype(int), n),
                "expected_coverage": np.tile(self.expected_coverage, n),
            }
        )


@dataclass(frozen=True)
class RegionMasks:
    """Region masks of a fold's cases, bit-packed per case (a 3D test set stays small in
    memory), with each case's original-to-grid map.

    Attributes:
        case_ids: The cases, in order.
        bits: (N, bytes per case) uint8: ``np.packbits`` of each case's (C, *grid) mask.
        case_shape: (C, *grid).
        grid_scale: (N, d).
        grid_offset: (N, d).
    """

    case_ids: tuple[str, ...]
    bits: np.ndarray
    case_shape: tuple[int, ...]
    grid_scale: np.ndarray
    grid_offset: np.ndarray

    @staticmethod
    def pack(masks: np.ndarray) -> np.ndarray:
        """(N, C, *grid) bool -> (N, bytes per case) uint8."""
        return np.packbits(masks.reshape(masks.shape[0], -1), axis=1)

    def case(self, index: int) -> np.ndarray:
        """The (C, *grid) bool mask of case ``index``."""
        count = int(np.prod(self.case_shape))
        return np.unpackbits(self.bits[index], count=count).astype(bool).reshape(self.case_shape)

    @property
    def masks(self) -> np.ndarray:
        """All cases' masks, (N, C, *grid) bool (unpacked: mind the memory in 3D)."""
        return np.stack([self.case(i) for i in range(len(self.case_ids))])

    def to_original(self, index: int, grid_points: np.ndarray) -> np.ndarray:
        """Grid coordinates (..., d) of case ``index`` on its original grid."""
        return (grid_points - self.grid_offset[index]) / self.grid_scale[index]


def write_regions(folder: Path, regions: FoldRegions, masks: RegionMasks) -> None:
    """Write ``regions.csv`` and ``regions.npz`` into a fold's staging folder (the folder
    is committed in one rename, so the files appear together or not at all)."""
    regions.to_frame().to_csv(folder / REGIONS_FILE, index=False, float_format="%.17g")
    np.savez_compressed(
        folder / MASKS_FILE,
        case_ids=np.asarray(masks.case_ids),
        case_shape=np.asarray(masks.case_shape),
        bits=masks.bits,
        grid_scale=masks.grid_scale,
        grid_offset=masks.grid_offset,
    )


def read_regions(folder: Path) -> FoldRegions:
    """Read a fold's ``regions.csv``.

    Raises:
        ResultsError: if the file is missing or its rows do not form a (case, landmark) grid.
    """
    path = folder / REGIONS_FILE
    if not path.is_file():
        raise ResultsError(
            f"'{path}' is missing: this fold was run without --uncertainty conformal; rerun "
            "it with the flag (the trained models are reused)."
        )
    frame = pd.read_csv(path, dtype={"case_id": str})
    case_ids = tuple(dict.fromkeys(frame["case_id"]))
    names = tuple(dict.fromkeys(frame["landmark"]))
    shape = (len(case_ids), len(names))
    if len(frame) != shape[0] * shape[1]:
        raise ResultsError(
            f"'{path}' has {len(frame)} rows, not one per case and landmark "
            f"({shape[0]} x {shape[1]}); delete the fold folder and rerun to recompute it."
        )
    present = frame["present"].to_numpy(bool).reshape(shape)
    covered = frame["covered"].fillna(0).to_numpy(bool).reshape(shape) & present
    return FoldRegions(
        case_ids=case_ids,
        landmark_names=names,
        pairs=RegionPairs(covered, frame["region_size"].to_numpy(float).reshape(shape), present),
        whole_image=frame["whole_image"].to_numpy(bool).reshape(shape)[0],
        size_unit=str(frame["size_unit"].iloc[0]),
        expected_coverage=frame["expected_coverage"].to_numpy(float).reshape(shape)[0],
    )


def read_region_masks(folder: Path) -> RegionMasks:
    """Read a fold's ``regions.npz``.

    Raises:
        ResultsError: if the file is missing.
    """
    path = folder / MASKS_FILE
    if not path.is_file():
        raise ResultsError(
            f"'{path}' is missing: this fold was run without --uncertainty conformal; rerun "
            "it with the flag (the trained models are reused)."
        )
    with np.load(path) as data:
        return RegionMasks(
            case_ids=tuple(str(c) for c in data["case_ids"]),
            bits=data["bits"],
            case_shape=tuple(int(s) for s in data["case_shape"]),
            grid_scale=data["grid_scale"],
            grid_offset=data["grid_offset"],
        )


def _number(value: Any) -> float | None:
    """A JSON number, or None for NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def summarize_fold_regions(
    regions: Sequence[FoldRegions],
    point_errors: Sequence[Mapping[str, np.ndarray]],
    *,
    alpha: float,
    ndim: int,
) -> dict[str, Any]:
    """Coverage, region sizes and the error-size correlation over one or more folds.

    Args:
        regions: Stored regions of the folds.
        point_errors: Per fold, the point error (C,) in mm of each test case by case id.
        alpha: The miscoverage level of the run.
        ndim: Spatial dimensionality.

    Returns:
        A JSON-friendly dict (percentages in %, sizes in ``size_unit``, NaN as None), with a
        ``per_landmark`` breakdown and the landmarks whose region was the whole image in
        some fold.
    """
    names = regions[0].landmark_names
    pairs = RegionPairs.concatenate([r.pairs for r in regions])
    error = np.concatenate(
        [
            np.stack([errors[case] for case in r.case_ids])
            for r, errors in zip(regions, point_errors, strict=True)
        ]
    )
    whole = np.any([r.whole_image for r in regions], axis=0)
    expected = np.concatenate(
        [np.broadcast_to(r.expected_coverage, r.pairs.size.shape) for r in regions]
    )
    stats = summarize_regions(
        pairs,
        alpha=alpha,
        ndim=ndim,
        whole_image_landmarks=[int(i) for i in np.flatnonzero(whole)],
        point_error=error,
    )
    return {
        "alpha": alpha,
        "target_coverage_percent": 100.0 * (1.0 - alpha),
        "coverage_percent": _number(100.0 * stats["coverage"]),
        "expected_coverage_percent": _number(100.0 * np.mean(expected[pairs.present]))
        if pairs.present.any()
        else None,
        "mean_size": _number(stats["mean_size"]),
        "median_size": _number(stats["median_size"]),
        "size_unit": stats["size_unit"],
        "spearman_rho_error_size": _number(stats["spearman_rho"]),
        "spearman_p": _number(stats["spearman_p"]),
        "n_pairs": stats["n_evaluated"],
        "n_excluded": stats["n_excluded"],
        "whole_image_landmarks": [names[i] for i in stats["whole_image_landmarks"]],
        "per_landmark": {
            name: {
                "coverage_percent": _number(100.0 * stats["coverage_per_landmark"][i]),
                "mean_size": _number(stats["mean_size_per_landmark"][i]),
                "median_size": _number(stats["median_size_per_landmark"][i]),
                "spearman_rho_error_size": _number(stats["spearman_rho_per_landmark"][i]),
            }
            for i, name in enumerate(names)
        },
    }
