"""A point-distribution model of the 19 ISBI 2015 cephalometric landmarks, with annotator noise."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.errors import DataError, UsageError

NUM_LANDMARKS = 19
DEFAULT_NUM_MODES = 10
SHAPE_MODEL_PATH = Path(__file__).parent / "data" / "ceph_shape_model.json"
_DECIMALS = 4
_PROCRUSTES_ITERATIONS = 20

SOURCE = (
    "Derived from the ISBI 2015 cephalometric annotations of all 400 images (Wang et al. 2016; "
    "senior.csv and junior.csv in millimetres). Shapes in (row, col) mm were aligned by "
    "generalised Procrustes analysis (translation and rotation, no scaling); mean_shape is the "
    "centroid-free mean, modes are the top principal components (unit vectors over the 38 "
    "coordinates, reshaped to 19 x 2) with their variances in mm^2. annotator_noise_std_mm is "
    "the per-landmark senior-vs-junior mean radial difference divided by sqrt(pi). Only these "
    "summary statistics are stored; no per-image annotation."
)


@dataclass(frozen=True)
class CephShapeModel:
    """Mean shape, principal modes and per-landmark annotator noise, all in millimetres.

    Attributes:
        mean_shape: (19, 2) mean landmark positions in (row, col) mm, centroid at the origin.
        modes: (K, 19, 2) orthonormal shape modes (each flattened mode has unit norm).
        variances: (K,) variance in mm^2 of the shape along each mode.
        annotator_noise_std_mm: (19,) isotropic per-axis std of one annotator's error.
    """

    mean_shape: np.ndarray
    modes: np.ndarray
    variances: np.ndarray
    annotator_noise_std_mm: np.ndarray
    mean_radial_difference_mm: np.ndarray
    explained_variance_ratio: np.ndarray
    num_shapes: int

    @property
    def num_modes(self) -> int:
        """Number of principal modes kept."""
        return int(self.variances.shape[0])

    def shape_from_coefficients(self, coefficients: np.ndarray) -> np.ndarray:
        """Build a shape from mode coefficients in units of standard deviations.

        Args:
            coefficients: (K,) weights ``b_k``; the shape is
                ``mean + sum_k b_k sqrt(lambda_k) mode_k``.

        Returns:
            (19, 2) landmark positions in (row, col) mm around the origin.
        """
        weights = np.asarray(coefficients, dtype=float) * np.sqrt(self.variances)
        return self.mean_shape + np.tensordot(weights, self.modes, axes=1)

    def to_json_dict(self) -> dict:
        """The model as a JSON-ready dict of rounded numbers plus a description of its source."""

        def rounded(array: np.ndarray) -> list:
            return np.round(np.asarray(array, dtype=float), _DECIMALS).tolist()

        return {
            "source": SOURCE,
            "units": "mm",
            "axis_order": "row, col (y, x)",
            "num_shapes": self.num_shapes,
            "num_modes": self.num_modes,
            "mean_shape": rounded(self.mean_shape),
            "modes": rounded(self.modes),
            "variances": rounded(self.variances),
            "explained_variance_ratio": rounded(self.explained_variance_ratio),
            "mean_radial_difference_mm": rounded(self.mean_radial_difference_mm),
            "annotator_noise_std_mm": rounded(self.annotator_noise_std_mm),
        }


def read_annotation_csv(csv_path: str | Path) -> np.ndarray:
    """Read an ISBI 2015 annotation table (``id,x1,y1,...,x19,y19`` in mm).

    Args:
        csv_path: Path to ``senior.csv`` or ``junior.csv``.

    Returns:
        (N, 19, 2) landmark positions in (row, col) mm order.

    Raises:
        DataError: if the file is missing or does not have 39 columns per row.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DataError(
            f"Annotation table {str(path)!r} does not exist; pass the folder holding the ISBI "
            "2015 senior.csv and junior.csv."
        )
    table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=float)
    if table.shape[1] != 1 + 2 * NUM_LANDMARKS:
        raise DataError(
            f"Annotation table {str(path)!r} has {table.shape[1]} columns per row; the ISBI 2015 "
            f"tables have {1 + 2 * NUM_LANDMARKS} (id then x, y for 19 landmarks)."
        )
    xy = table[:, 1:].reshape(-1, NUM_LANDMARKS, 2)
    return xy[:, :, ::-1].copy()


def _rotation_onto(shape: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate a centred shape onto a centred reference (least squares, no reflection)."""
    u, _, vt = np.linalg.svd(shape.T @ reference)
    correction = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    return shape @ (u @ correction @ vt)


def procrustes_align(shapes: np.ndarray) -> np.ndarray:
    """Align shapes by translation and rotation to their evolving mean (no scaling).

    The mean keeps the orientation of the plain centred mean of the input, so the
    aligned shapes stay in the image's anatomical orientation.

    Args:
        shapes: (N, L, 2) shapes.

    Returns:
        (N, L, 2) centred, rotation-aligned shapes.
    """
    centred = shapes - shapes.mean(axis=1, keepdims=True)
    orientation = centred.mean(axis=0)
    reference = orientation
    aligned = centred
    for _ in range(_PROCRUSTES_ITERATIONS):
        aligned = np.stack([_rotation_onto(s, reference) for s in centred])
        reference = _rotation_onto(aligned.mean(axis=0), orientation)
    return np.stack([_rotation_onto(s, reference) for s in centred])


def _principal_modes(aligned: np.ndarray, n_modes: int) -> tuple[np.ndarray, ...]:
    """Top principal modes (sign fixed: largest-magnitude entry positive) and variances."""
    flat = aligned.reshape(len(aligned), -1)
    deviations = flat - flat.mean(axis=0)
    covariance = deviations.T @ deviations / (len(flat) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    eigenvectors = eigenvectors[:, order[:n_modes]].T
    signs = np.sign(eigenvectors[np.arange(n_modes), np.abs(eigenvectors).argmax(axis=1)])
    modes = (eigenvectors * signs[:, None]).reshape(n_modes, NUM_LANDMARKS, 2)
    ratio = eigenvalues[:n_modes] / eigenvalues.sum()
    return modes, eigenvalues[:n_modes], ratio


def fit_shape_model(csv_path: str | Path, n_modes: int = DEFAULT_NUM_MODES) -> CephShapeModel:
    """Fit the shape model to ``senior.csv``; the noise comes from ``junior.csv`` beside it.

    Args:
        csv_path: Path to the senior annotation table; ``junior.csv`` must sit in the same folder.
        n_modes: Number of principal modes to keep (1..38).

    Returns:
        The fitted model (unrounded).

    Raises:
        UsageError: if ``n_modes`` is out of range.
        DataError: if a table is missing or malformed, or the tables differ in size.
    """
    if not 1 <= n_modes <= 2 * NUM_LANDMARKS:
        raise UsageError(
            f"The number of shape modes must be between 1 and {2 * NUM_LANDMARKS}, got "
            f"{n_modes}; pass e.g. n_modes={DEFAULT_NUM_MODES}."
        )
    senior = read_annotation_csv(csv_path)
    junior = read_annotation_csv(Path(csv_path).with_name("junior.csv"))
    if senior.shape != junior.shape:
        raise DataError(
            f"senior.csv has {len(senior)} rows but junior.csv has {len(junior)}; both tables "
            "must list the same images."
        )
    aligned = procrustes_align(senior)
    modes, variances, ratio = _principal_modes(aligned, n_modes)
    mean_radial_difference = np.linalg.norm(senior - junior, axis=2).mean(axis=0)
    return CephShapeModel(
        mean_shape=aligned.mean(axis=0),
        modes=modes,
        variances=variances,
        annotator_noise_std_mm=mean_radial_difference / math.sqrt(math.pi),
        mean_radial_difference_mm=mean_radial_difference,
        explained_variance_ratio=ratio,
        num_shapes=len(senior),
    )


def shape_model_from_json_dict(data: dict) -> CephShapeModel:
    """Rebuild a model from the dict written by ``CephShapeModel.to_json_dict``."""
    return CephShapeModel(
        mean_shape=np.asarray(data["mean_shape"], dtype=float),
        modes=np.asarray(data["modes"], dtype=float),
        variances=np.asarray(data["variances"], dtype=float),
        annotator_noise_std_mm=np.asarray(data["annotator_noise_std_mm"], dtype=float),
        mean_radial_difference_mm=np.asarray(data["mean_radial_difference_mm"], dtype=float),
        explained_variance_ratio=np.asarray(data["explained_variance_ratio"], dtype=float),
        num_shapes=int(data["num_shapes"]),
    )


def load_shape_model(path: str | Path = SHAPE_MODEL_PATH) -> CephShapeModel:
    """Read the committed shape model JSON.

    Args:
        path: JSON file; defaults to the one shipped with the package.

    Returns:
        The shape model.

    Raises:
        DataError: if the file is missing or not a shape model.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return shape_model_from_json_dict(data)
    except (OSError, ValueError, KeyError) as error:
        raise DataError(
            f"Cannot read the cephalometric shape model {str(path)!r} ({error}); regenerate it "
            "with 'python -m landmarkbench.datasets.synthetic.ceph_shape_model "
            "<annotations folder>'."
        ) from error


def write_shape_model(model: CephShapeModel, path: str | Path = SHAPE_MODEL_PATH) -> Path:
    """Write the model as rounded JSON and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(model.to_json_dict(), indent=1) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    """Regenerate the committed JSON from an ISBI 2015 annotation folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: python -m landmarkbench.datasets.synthetic.ceph_shape_model "
            "<folder with senior.csv>",
            file=sys.stderr,
        )
        return 2
    model = fit_shape_model(Path(args[0]) / "senior.csv")
    target = write_shape_model(model)
    explained = float(model.explained_variance_ratio.sum())
    print(f"Wrote {target} ({model.num_modes} modes, {explained:.1%} of the shape variance).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
