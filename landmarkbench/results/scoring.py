"""How a fold's predictions become stored records and metrics, for the two kinds of data.

- ``PointEvaluation``: one point per landmark (NaN when missing): point error in mm, MRE,
  SDR (``metrics.summarize``); records in ``predictions.csv``.
- ``InstanceEvaluation``: a variable number of points per class (multi-instance): one-to-one
  matching within a radius, TP/FP/FN, precision, recall, F1 and the error of matched pairs
  (``matching.match_batch``); records in ``instances.csv``.

Each also checks what a method's ``predict()`` returned (``check_predictions``). The runner,
the summaries and the tables ask ``evaluation_for(...)`` and never branch on the kind of data
themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.datasets.base import Case
from landmarkbench.errors import LandmarkBenchError


@dataclass(frozen=True)
class Column:
    """A numeric table column: header, where its value is in a pooled summary, direction."""

    header: str
    key: tuple[str, ...]
    higher_is_better: bool


def _lookup(metrics: Mapping[str, Any], key: Sequence[str]) -> float:
    value: Any = metrics
    for part in key:
        value = value.get(part, np.nan) if isinstance(value, Mapping) else np.nan
    return float(value)


class PointEvaluation:
    """One point per landmark: PE in mm on the original grid, MRE and SDR."""

    records_file = "predictions.csv"
    primary = Column("MRE mm ↓", ("mre",), higher_is_better=False)

    def check_predictions(
        self, predicted: Any, n_cases: int, n_landmarks: int, ndim: int, owner: str
    ) -> None:
        """``predicted`` must be finite (N, C, d) points.

        Raises:
            LandmarkBenchError: naming ``owner``, for another shape or a NaN/inf coordinate
                (a NaN prediction would be excluded like a missing truth and hide a failure).
        """
        expected = (n_cases, n_landmarks, ndim)
        if np.shape(predicted) != expected:
            raise LandmarkBenchError(
                f"{owner} returned predictions of shape {np.shape(predicted)}; expected "
                f"{expected}: fix the method's predict()."
            )
        if not np.isfinite(np.asarray(predicted, dtype=float)).all():
            raise LandmarkBenchError(
                f"{owner} returned NaN or infinite coordinates; a method must predict every "
                "landmark: fix the method's predict()."
            )

    def fold_records(self, cases: Sequence[Case], predicted: Any, names: Sequence[str]):
        from landmarkbench.results.predictions import FoldPredictions

        return FoldPredictions(
            case_ids=tuple(c.case_id for c in cases),
            landmark_names=tuple(names),
            predicted=np.asarray(predicted, dtype=float),
            truth=np.stack([c.landmarks for c in cases]).astype(float),
            spacing=np.stack([c.spacing for c in cases]).astype(float),
        )

    def write(self, folder: Path, records) -> None:
        from landmarkbench.results.predictions import write_predictions

        write_predictions(folder / self.records_file, records)

    def read(self, folder: Path, names: Sequence[str]):
        from landmarkbench.results.predictions import read_predictions

        return read_predictions(folder / self.records_file)

    def summarize(self, records: Sequence[Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        """Metrics over the union of ``records`` (one fold, or all folds pooled)."""
        from landmarkbench.evaluation.metrics import summarize

        pe = np.concatenate([r.point_error for r in records])
        return summarize(
            pe,
            radii_mm=settings["sdr_radii_mm"],
            operator=settings["sdr_operator"],
            aggregation=settings["aggregation"],
        )

    def columns(self, pooled: Mapping[str, Any], operator: str) -> list[Column]:
        radii = list(pooled.get("sdr", {}))
        return [Column("Pooled MRE mm ↓", ("mre",), False)] + [
            Column(f"SDR{operator}{r} mm % ↑", ("sdr", r), True) for r in radii
        ]

    def flat_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """MLflow metric names for a summary (overall numbers only)."""
        flat = {k: metrics[k] for k in ("mre", "median", "std") if k in metrics}
        for radius, value in metrics.get("sdr", {}).items():
            flat[f"sdr_{radius}mm"] = value
        flat["n_points"] = metrics.get("n_points", 0)
        return flat


class InstanceEvaluation:
    """A variable number of points per class: matching, precision, recall, F1, matched PE."""

    records_file = "instances.csv"
    primary = Column("F1 % ↑", ("f1_percent",), higher_is_better=True)

    def check_predictions(
        self, predicted: Any, n_cases: int, n_landmarks: int, ndim: int, owner: str
    ) -> None:
        """``predicted`` must hold, per case, one (k, d) point array per class.

        Raises:
            LandmarkBenchError: naming ``owner``, for another number of cases or classes.
        """
        if len(predicted) != n_cases or any(len(case) != n_landmarks for case in predicted):
            raise LandmarkBenchError(
                f"{owner} returned predictions for {len(predicted)} cases; expected "
                f"{n_cases} cases x {n_landmarks} classes of (k, d) points: fix the method's "
                "predict()."
            )

    def fold_records(self, cases: Sequence[Case], predicted: Any, names: Sequence[str]):
        from landmarkbench.results.instances import FoldInstances

        d = cases[0].ndim if cases else 2
        as_points = tuple(
            tuple(np.asarray(points, dtype=float).reshape(-1, d) for points in case_prediction)
            for case_prediction in predicted
        )
        return FoldInstances(
            case_ids=tuple(c.case_id for c in cases),
            class_names=tuple(names),
            predicted=as_points,
            truth=tuple(tuple(c.instances or ()) for c in cases),
            spacing=np.stack([c.spacing for c in cases]).astype(float),
        )

    def write(self, folder: Path, records) -> None:
        from landmarkbench.results.instances import write_instances

        write_instances(folder / self.records_file, records)

    def read(self, folder: Path, names: Sequence[str]):
        from landmarkbench.results.instances import read_instances

        return read_instances(folder / self.records_file, names)

    def summarize(self, records: Sequence[Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        """Matching counts and scores over the union of ``records``."""
        from landmarkbench.evaluation.matching import match_batch

        pred = [p for r in records for p in r.as_dicts("pred")]
        true = [t for r in records for t in r.as_dicts("true")]
        spacing = np.concatenate([r.spacing for r in records])
        unit_spacing = settings.get("match_unit", "px") == "mm"
        result = match_batch(
            pred, true, settings["match_radius"], spacing if unit_spacing else None
        )
        for key in ("precision", "recall", "f1"):
            result[f"{key}_percent"] = 100.0 * result[key]
        return result

    def columns(self, pooled: Mapping[str, Any], operator: str) -> list[Column]:
        unit = pooled.get("unit", "px")
        return [
            Column("Pooled F1 % ↑", ("f1_percent",), True),
            Column("Precision % ↑", ("precision_percent",), True),
            Column("Recall % ↑", ("recall_percent",), True),
            Column(f"Matched PE {unit} ↓", ("mean_pe",), False),
        ]

    def flat_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        keys = ("tp", "fp", "fn", "precision", "recall", "f1", "mean_pe", "median_pe")
        return {k: metrics[k] for k in keys if k in metrics}


def evaluation_for(multi_instance: bool) -> PointEvaluation | InstanceEvaluation:
    """The evaluation of single-point (False) or multi-instance (True) data."""
    return InstanceEvaluation() if multi_instance else PointEvaluation()


def value_of(metrics: Mapping[str, Any], column: Column) -> float:
    """The number a column shows for a summary (NaN when absent)."""
    return _lookup(metrics, column.key)
