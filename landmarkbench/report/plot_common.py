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
from landmarkbench.report.filters import RunSelection
from landmarkbench.results.store import Conventions, StoredRun, read_runs

__all__ = ["StoredRun", "by_conventions", "figure_title", "load_runs", "split_label"]

# Font sizes of every figure, in points (at the 110 dpi of save_png, 1 pt = 1.53 px): titles
# 11 pt (17 px), axis labels and text 10 pt (15 px), ticks and legends 9 pt (14 px), values
# written in heat-map cells 8 pt (12 px). Figures are at most FIGURE_MAX_WIDTH_PX wide.
FONT_SIZES = {
    "font.size": 10,
    "axes.titlesize": 11,
    "figure.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
}
CELL_FONT_SIZE = 8
DPI = 110
FIGURE_MAX_WIDTH_PX = 1600
MAX_WIDTH_IN = 14.0  # 1540 px at DPI, leaving room for tight bounding boxes


def split_label(run: StoredRun) -> str:
    """A run's split in words: protocol, folds (or test sets), cases and ground truth, e.g.
    ``kfold, 5 folds, 100 cases, gt mean`` or ``official, test1 150 + test2 100 cases``."""
    conventions = run.conventions
    tested = {f: len(r.get("test_ids", [])) for f, r in sorted(run.fold_json.items())}
    folds = list(run.summary["folds_expected"])
    if conventions.protocol == "official":
        shape = " + ".join(f"{f} {tested.get(f, '?')}" for f in folds) + " cases"
    else:
        shape = f"{len(folds)} fold{'s' if len(folds) != 1 else ''}, {sum(tested.values())} cases"
    return f"{conventions.protocol}, {shape}, gt {conventions.ground_truth}"


def figure_title(dataset: str, run: StoredRun, what: str) -> str:
    """A figure's title: what it shows, the dataset, the split (in words and its id) and
    the evaluation conventions of ``run`` (every run of the figure shares them)."""
    conventions = run.conventions
    operator = conventions.get("sdr_operator")
    scoring = (
        f"SDR {operator}, {conventions.get('aggregation', 'pooled')}"
        if operator is not None
        else f"matching {conventions.get('match_radius')} {conventions.get('match_unit', 'px')}"
    )
    return (
        f"{dataset}: {what}\n{split_label(run)} ({conventions.split_id}), {scoring}, "
        f"conventions {conventions.key}"
    )


def by_conventions(runs: Sequence[StoredRun]) -> dict[Conventions, list[StoredRun]]:
    """Runs grouped by their conventions (split, ground truth, SDR...), first seen first:
    runs of one group are comparable and share a figure or panel."""
    groups: dict[Conventions, list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(run.conventions, []).append(run)
    return groups


TRUTH_COLOR = "tab:green"
PRED_COLOR = "tab:red"


def load_runs(
    results_dir: Path, dataset: str, selection: RunSelection | None = None
) -> list[StoredRun]:
    """The stored point-data runs of ``dataset`` that have at least one finished fold and
    that ``selection`` keeps, read by ``results.store.read_runs`` (runs with a damaged file
    are left out; the ``plot`` command prints why).

    Raises:
        ResultsError: if no run of ``dataset`` with point predictions is stored.
        UsageError: for a ``selection`` value matching no stored run.
    """
    runs, _ = read_runs(Path(results_dir), dataset, complete_only=False)
    if selection is not None:
        runs = selection.apply(runs, f"of dataset {dataset!r} under '{results_dir}'")
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

    plt.rcParams.update(FONT_SIZES)
    return plt


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (temporary file + rename), then close it."""
    plt = pyplot()
    try:
        write_atomically(
            path, lambda handle: fig.savefig(handle, format="png", dpi=DPI, bbox_inches="tight")
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
