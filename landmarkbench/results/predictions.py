"""The per-fold source of truth: every test case's predicted and true landmarks and PE.

``predictions.csv`` has one row per (case, landmark) with columns
``case_id, landmark_index, landmark, pred_0..pred_{d-1}, true_0.., spacing_0.., pe_mm``
(coordinates in array-index order on the ORIGINAL grid, spacing in mm per pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmarkbench.errors import ResultsError
from landmarkbench.evaluation.metrics import point_error_mm


@dataclass(frozen=True)
class FoldPredictions:
    """Predictions of one fold as arrays: (N, C, d) points, (N, d) spacing, (N, C) PE."""

    case_ids: tuple[str, ...]
    landmark_names: tuple[str, ...]
    predicted: np.ndarray
    truth: np.ndarray
    spacing: np.ndarray

    @property
    def point_error(self) -> np.ndarray:
        return point_error_mm(self.predicted, self.truth, self.spacing)

    def to_frame(self) -> pd.DataFrame:
        n, c, d = self.predicted.shape
        frame = pd.DataFrame(
            {
                "case_id": np.repeat(self.case_ids, c),
                "landmark_index": np.tile(np.arange(c), n),
                "landmark": np.tile(self.landmark_names, n),
            }
        )
        for axis in range(d):
            frame[f"pred_{axis}"] = self.predicted[..., axis].reshape(-1)
        for axis in range(d):
            frame[f"true_{axis}"] = self.truth[..., axis].reshape(-1)
        for axis in range(d):
            frame[f"spacing_{axis}"] = np.repeat(self.spacing[:, axis], c)
        frame["pe_mm"] = self.point_error.reshape(-1)
        return frame


def write_predictions(path: Path, predictions: FoldPredictions) -> None:
    """Write ``predictions.csv`` (full float precision)."""
    predictions.to_frame().to_csv(path, index=False, float_format="%.17g")


def read_predictions(path: Path) -> FoldPredictions:
    """Read a ``predictions.csv`` back into arrays.

    Raises:
        ResultsError: if the file is missing or not in the expected layout.
    """
    try:
        frame = pd.read_csv(path, dtype={"case_id": str})
    except (OSError, ValueError) as exc:
        raise ResultsError(
            f"Predictions file '{path}' cannot be read ({exc}); delete its fold folder "
            "and rerun to regenerate it."
        ) from exc
    d = sum(1 for col in frame.columns if col.startswith("pred_"))
    required = {"case_id", "landmark_index", "landmark", "pe_mm"}
    if d == 0 or not required <= set(frame.columns):
        raise ResultsError(
            f"Predictions file '{path}' lacks the columns {sorted(required)} and pred_*; "
            "it was not written by landmarkbench: delete its fold folder and rerun."
        )
    case_ids = tuple(dict.fromkeys(frame["case_id"]))
    c = int(frame["landmark_index"].max()) + 1
    frame = frame.sort_values(["case_id", "landmark_index"], key=_case_order(case_ids))

    def block(prefix: str) -> np.ndarray:
        cols = [f"{prefix}_{axis}" for axis in range(d)]
        return frame[cols].to_numpy(dtype=float).reshape(len(case_ids), c, d)

    spacing = frame[[f"spacing_{a}" for a in range(d)]].to_numpy(dtype=float)[::c]
    return FoldPredictions(
        case_ids=case_ids,
        landmark_names=tuple(frame["landmark"].iloc[:c].astype(str)),
        predicted=block("pred"),
        truth=block("true"),
        spacing=spacing,
    )


def _case_order(case_ids: Sequence[str]):
    rank = {case_id: i for i, case_id in enumerate(case_ids)}

    def key(column: pd.Series) -> pd.Series:
        return column.map(rank) if column.name == "case_id" else column

    return key
