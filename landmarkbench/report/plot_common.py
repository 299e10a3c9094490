"""What every figure module shares: stored runs (read by ``results.store``), the pyplot
backend, atomic PNG writes, and drawing images, truth/prediction pairs and orthogonal slices
(array-index order: in 2D rows down, columns across).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_atomically
from landmarkbench.errors import ResultsError
from landmarkbench.results.store import StoredRun, read_runs

__all__ = ["StoredRun", "load_runs"]

TRUTH_COLOR = "tab:green"
PRED_COLOR = "tab:red"


def load_runs(results_dir: Path, dataset: str) -> list[StoredRun]:
    """The stored point-data runs of ``dataset`` that have at least one finished fold, read
    by ``results.store.read_runs`` (runs with a damaged file are left out; the ``plot``
    command prints why).

    Raises:
        ResultsError: if no run of ``dataset`` with point predictions is stored.
    """
    runs, _ = read_runs(Path(results_dir), dataset, complete_only=False)
    points = [run for run in runs if not run.multi_instance]
    if not points:
        raise ResultsError(
            f"No stored point predictions of dataset '{dataset}' under '{results_dir}' "
            "(multi-instance results have no per-landmark plots); run 'landmarkbench run "
            f"--dataset {dataset}' first or pass --results-dir."
        )
    return points


# The SDR axis ends this much beyond the largest SDR radius of the table.
SDR_AXIS_MARGIN = 1.25


def sdr_axis_top(radii_mm: Sequence[float], fallback: float = 10.0) -> float:
    """Where an SDR curve's radius axis ends: the largest SDR radius times
    ``SDR_AXIS_MARGIN`` (e.g. 5 mm for radii up to 4 mm), ``fallback`` without radii."""
    radii = [float(r) for r in radii_mm]
    return SDR_AXIS_MARGIN * max(radii) if radii else fallback


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (temporary file + rename), then close it."""
    plt = pyplot()
    try:
        write_atomically(
            path, lambda handle: fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
        )
    finally:
        plt.close(fig)
    return path


def load_dataset(record: dict[str, Any]):
    from landmarkbench.catalog import DATASETS

    data = record["dataset"]
    return DATASETS.get(data["name"])(**data["options"], ground_truth=data["ground_truth"])


def overlay_cases(runs: Sequence[StoredRun], n_cases: int) -> list[str]:
    """The first ``n_cases`` cases tested by every run (in stored order)."""
    common = None
    order: list[str] = []
    for run in runs:
        pooled = run.pooled()
        ids = list(pooled.case_ids) if pooled is not None else []
        if common is None:
            common, order = set(ids), ids
        else:
            common &= set(ids)
    return [c for c in order if common and c in common][:n_cases]


def case_points(run: StoredRun, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    for fold in run.folds.values():
        if case_id in fold.case_ids:
            i = fold.case_ids.index(case_id)
            return fold.predicted[i], fold.truth[i]
    raise KeyError(case_id)


def show_image(ax: Any, image: np.ndarray, spacing: Sequence[float] | None = None) -> None:
    aspect = float(spacing[0]) / float(spacing[1]) if spacing is not None else 1.0
    ax.imshow(image, cmap="gray", aspect=aspect, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def scatter_pairs(ax: Any, pred: np.ndarray, truth: np.ndarray, rows: int, cols: int) -> None:
    """Truth (green circles), prediction (red crosses) and a line joining each pair."""
    ok = np.isfinite(pred).all(axis=1) & np.isfinite(truth).all(axis=1)
    for p, t in zip(pred[ok], truth[ok], strict=True):
        ax.plot([t[cols], p[cols]], [t[rows], p[rows]], color="yellow", lw=0.6, alpha=0.8)
    good_t = np.isfinite(truth).all(axis=1)
    good_p = np.isfinite(pred).all(axis=1)
    ax.scatter(
        truth[good_t, cols],
        truth[good_t, rows],
        s=18,
        facecolors="none",
        edgecolors=TRUTH_COLOR,
        linewidths=1.2,
        label="truth",
    )
    ax.scatter(
        pred[good_p, cols],
        pred[good_p, rows],
        s=18,
        marker="x",
        color=PRED_COLOR,
        linewidths=1.2,
        label="prediction",
    )


PLANES = ((0, 1, 2), (1, 0, 2), (2, 0, 1))  # (sliced axis, shown rows, shown cols)


def slice_at(image: np.ndarray, axis: int, index: float) -> np.ndarray:
    index = int(np.clip(round(index), 0, image.shape[axis] - 1))
    return np.take(image, index, axis=axis)
