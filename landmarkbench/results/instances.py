"""The per-fold source of truth for multi-instance datasets: every predicted and true point.

``instances.csv`` has one row per point with columns
``case_id, class_index, class, role, instance, coord_0..coord_{d-1}, spacing_0..`` where
``role`` is ``pred`` or ``true``. Every test case also has one ``role = case`` row (NaN
coordinates), so frames without any point are still counted as evaluated images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmarkbench.errors import ResultsError

INSTANCES_FILE = "instances.csv"


@dataclass(frozen=True)
class FoldInstances:
    """Points of one fold: per case, one (k, d) array per class, predicted and true."""

    case_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    predicted: tuple[tuple[np.ndarray, ...], ...]
    truth: tuple[tuple[np.ndarray, ...], ...]
    spacing: np.ndarray

    def as_dicts(self, which: str) -> list[dict[str, np.ndarray]]:
        """Per case, class name -> points (the layout ``matching.match_batch`` takes)."""
        source = self.predicted if which == "pred" else self.truth
        return [dict(zip(self.class_names, case, strict=True)) for case in source]

    def to_frame(self) -> pd.DataFrame:
        d = self.spacing.shape[1]
        rows = []
        for n, case_id in enumerate(self.case_ids):
            rows.append((case_id, -1, "", "case", -1, *([np.nan] * d), *self.spacing[n]))
            for role, source in (("pred", self.predicted), ("true", self.truth)):
                for c, name in enumerate(self.class_names):
                    for k, point in enumerate(np.asarray(source[n][c]).reshape(-1, d)):
                        rows.append((case_id, c, name, role, k, *point, *self.spacing[n]))
        columns = ["case_id", "class_index", "class", "role", "instance"]
        columns += [f"coord_{a}" for a in range(d)] + [f"spacing_{a}" for a in range(d)]
        return pd.DataFrame(rows, columns=columns)


def write_instances(path: Path, instances: FoldInstances) -> None:
    """Write ``instances.csv`` (full float precision)."""
    instances.to_frame().to_csv(path, index=False, float_format="%.17g")


def read_instances(path: Path, class_names: Sequence[str]) -> FoldInstances:
    """Read an ``instances.csv`` back.

    Raises:
        ResultsError: if the file is missing or not in the expected layout.
    """
    try:
        frame = pd.read_csv(path, dtype={"case_id": str, "class": str})
    except (OSError, ValueError) as exc:
        raise ResultsError(
            f"Instances file '{path}' cannot be read ({exc}); delete its fold folder and "
            "rerun to regenerate it."
        ) from exc
    d = sum(1 for col in frame.columns if col.startswith("coord_"))
    if d == 0 or "role" not in frame.columns:
        raise ResultsError(
            f"Instances file '{path}' lacks the role and coord_* columns; it was not written "
            "by landmarkbench: delete its fold folder and rerun."
        )
    coords = [f"coord_{a}" for a in range(d)]
    cases = frame[frame["role"] == "case"]
    case_ids = tuple(cases["case_id"])
    spacing = cases[[f"spacing_{a}" for a in range(d)]].to_numpy(dtype=float)
    points = frame[frame["role"] != "case"]
    grouped = {
        key: group[coords].to_numpy(dtype=float)
        for key, group in points.groupby(["case_id", "role", "class_index"])
    }
    empty = np.zeros((0, d))

    def per_case(role: str) -> tuple[tuple[np.ndarray, ...], ...]:
        return tuple(
            tuple(grouped.get((case_id, role, c), empty) for c in range(len(class_names)))
            for case_id in case_ids
        )

    return FoldInstances(case_ids, tuple(class_names), per_case("pred"), per_case("true"), spacing)
