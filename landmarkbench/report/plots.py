"""Figures from stored results: SDR curves and prediction overlays here; per-landmark error
heat maps (``plot_landmarks``), training curves (``plot_training``), learned sigma ellipses
(``plot_sigma``) and conformal regions (``plot_regions``); ``KINDS`` names them all for
``landmarkbench plot``. Every figure is at most 1600 px wide, with the font sizes of
``plot_common.FONT_SIZES``, and names its dataset, split and conventions in its title.

Everything is read from the results folder (``summary.json``, ``fold_*/predictions.csv``,
``fold_*/fold.json``) and, for overlays, from the dataset itself; nothing is retrained.
Each function writes PNG files atomically (temporary file + rename) into ``out_dir`` and
returns their paths. Coordinates are in array-index order on the original grid: in 2D the
image is shown with rows down and columns across.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from landmarkbench.evaluation.metrics import SdrCurve
from landmarkbench.report.filters import RunSelection
from landmarkbench.report.plot_common import (
    PLANES,
    StoredRun,
    by_conventions,
    case_points,
    figure_title,
    load_dataset,
    load_runs,
    overlay_cases,
    pyplot,
    safe_name,
    save_png,
    scatter_pairs,
    sdr_axis_top,
    show_image,
    slice_at,
    split_label,
)
from landmarkbench.report.plot_landmarks import landmark_heatmaps
from landmarkbench.report.plot_regions import conformal_region_plots
from landmarkbench.report.plot_sigma import sigma_ellipses
from landmarkbench.report.plot_training import training_curves


def run_sdr_curve(run: StoredRun, radii_mm: Sequence[float]) -> SdrCurve:
    """A run's SDR curve over its finished folds (``StoredRun.sdr_curve``)."""
    return run.sdr_curve(radii_mm)


def sdr_curves(
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    max_radius_mm: float | None = None,
    selection: RunSelection | None = None,
) -> list[Path]:
    """SDR (% of landmarks within r mm, pooled over folds) against r, one curve per run
    labelled by method and recipe, one panel (figure) per split and convention group.

    Counted by ``metrics.sdr_curve`` as the tables count: missing landmarks are neither
    hits nor misses, and each legend entry says how many are missing. The radius axis spans
    0 to the largest SDR radius plus a margin (``plot_common.sdr_axis_top``) unless
    ``max_radius_mm`` is given. Files: ``<dataset>_sdr_curves.png``, with the convention key
    appended when there are several groups (curves under other operators or ground truths
    are not comparable).
    """
    plt = pyplot()
    groups = by_conventions(load_runs(results_dir, dataset, selection))
    out = []
    for conventions, group in groups.items():
        radii = [float(r) for r in conventions.get("sdr_radii_mm", [])]
        operator = conventions.get("sdr_operator", "<=")
        top = max_radius_mm or sdr_axis_top(radii)
        grid = np.union1d(np.linspace(0.0, top, 400), [r for r in radii if r <= top])
        fig, ax = plt.subplots(figsize=(8, 5))
        for run in group:
            curve = run_sdr_curve(run, grid)
            note = curve.missing_note()
            label = f"{run.label} ({note})" if note else run.label
            ax.plot(curve.radii_mm, curve.percent, label=label, lw=1.8)
        for r in radii:
            ax.axvline(r, color="gray", ls=":", lw=0.8)
        ax.set_xlim(0, top)
        ax.set_ylim(0, 101)
        ax.set_xlabel("radius r (mm); dotted: the table's radii")
        ax.set_ylabel(f"SDR: % of landmarks with PE {operator} r")
        ax.set_title(figure_title(dataset, group[0], "successful detection rate vs radius"))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        suffix = "" if len(groups) == 1 else f"_{conventions.key}"
        out.append(save_png(fig, Path(out_dir) / f"{safe_name(dataset)}_sdr_curves{suffix}.png"))
    return out


def prediction_overlays(
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    n_cases: int = 4,
    selection: RunSelection | None = None,
) -> list[Path]:
    """Truth (green) and predictions (red) on the images.

    2D: one PNG per case, one panel per method. 3D: one PNG per case and method, one row per
    landmark with the three orthogonal slices through its true position.
    """
    plt = pyplot()
    runs = load_runs(results_dir, dataset, selection)
    data = load_dataset(runs[0].record)
    out: list[Path] = []
    for case_id in overlay_cases(runs, n_cases):
        case = data.load(case_id)
        image = np.asarray(case.image, dtype=float)
        spacing = np.asarray(case.spacing, dtype=float)
        if image.ndim == 2:
            cols = min(len(runs), 3)
            nrows = -(-len(runs) // cols)
            fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 4.2 * nrows), squeeze=False)
            for ax in axes.flat[len(runs) :]:
                ax.axis("off")
            for ax, run in zip(axes.flat, runs, strict=False):
                pred, truth = case_points(run, case_id)
                show_image(ax, image, spacing)
                scatter_pairs(ax, pred, truth, 0, 1)
                pe = run.pooled().point_error[run.pooled().case_ids.index(case_id)]
                ax.set_title(
                    f"{run.label}\n{split_label(run)}, MRE {np.nanmean(pe):.2f} mm", fontsize=9
                )
            axes.flat[0].legend(loc="upper right")
            fig.suptitle(
                figure_title(dataset, runs[0], f"case {case_id}, truth (green) vs prediction (red)")
            )
            out.append(
                save_png(
                    fig, Path(out_dir) / f"{safe_name(dataset)}_overlay_{safe_name(case_id)}.png"
                )
            )
        else:
            for run in runs:
                out.append(_overlay_3d(plt, run, dataset, case_id, image, spacing, out_dir))
    return out


def _overlay_3d(plt, run, dataset, case_id, image, spacing, out_dir) -> Path:
    pred, truth = case_points(run, case_id)
    names = run.pooled().landmark_names
    fig, axes = plt.subplots(len(names), 3, figsize=(9, 3 * len(names)), squeeze=False)
    for k, name in enumerate(names):
        centre = truth[k] if np.isfinite(truth[k]).all() else np.array(image.shape) / 2
        for j, (axis, rows, cols) in enumerate(PLANES):
            ax = axes[k, j]
            show_image(ax, slice_at(image, axis, centre[axis]), spacing[[rows, cols]])
            scatter_pairs(ax, pred[k : k + 1], truth[k : k + 1], rows, cols)
            off = pred[k, axis] - centre[axis]
            ax.set_title(f"axis {axis} = {centre[axis]:.0f} (pred {off:+.1f} px)", fontsize=7)
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.suptitle(
        figure_title(
            dataset, run, f"{run.label}, case {case_id}: truth (green) vs prediction (red)"
        )
    )
    path = (
        Path(out_dir)
        / f"{safe_name(dataset)}_overlay_{safe_name(case_id)}_{safe_name(run.label)}.png"
    )
    return save_png(fig, path)


KINDS = {
    "sdr": sdr_curves,
    "landmarks": landmark_heatmaps,
    "training": training_curves,
    "overlay": prediction_overlays,
    "sigma": sigma_ellipses,
    "regions": conformal_region_plots,
}
PER_CASE_KINDS = ("overlay", "regions")


def all_plots(
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    kinds: Sequence[str] = tuple(KINDS),
    n_cases: int = 4,
    selection: RunSelection | None = None,
) -> list[Path]:
    """Every requested kind of plot of the runs ``selection`` keeps; returns the paths."""
    out: list[Path] = []
    for kind in kinds:
        if kind in PER_CASE_KINDS:
            out += KINDS[kind](results_dir, dataset, out_dir, n_cases=n_cases, selection=selection)
        else:
            out += KINDS[kind](results_dir, dataset, out_dir, selection=selection)
    return out


def log_to_mlflow(
    tracking_uri: str,
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    selection: RunSelection | None = None,
) -> list[str]:
    """Log ``out_dir`` as artifacts (under ``plots/``) of every stored run's parent MLflow run,
    found through ``tracking.find_runs`` (the one query of the store).

    Returns notes about runs without a parent run in the store.
    """
    from landmarkbench.results.tracking import find_runs, log_artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    runs = load_runs(results_dir, dataset, selection)
    keys = [run.identity.key for run in runs]
    parents: dict[str, str] = {}
    for tracked in find_runs(tracking_uri, dataset, keys):
        parents.setdefault(tracked.run_key, tracked.run_id)
    if not parents:
        return [f"no MLflow parent run of {dataset} at {tracking_uri}; nothing logged"]
    notes = []
    for key in dict.fromkeys(keys):
        if key not in parents:
            notes.append(f"no MLflow parent run for {key}; its plots were not logged")
            continue
        log_artifacts(tracking_uri, parents[key], Path(out_dir), artifact_path="plots")
    return notes
