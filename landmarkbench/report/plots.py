"""Figures from stored results: SDR curves, per-landmark PE box plots and prediction
overlays here; learned sigma ellipses (``plot_sigma``) and conformal regions
(``plot_regions``); ``KINDS`` names them all for ``landmarkbench plot``.

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
from typing import Any

import numpy as np

from landmarkbench.evaluation.metrics import SdrCurve
from landmarkbench.report.plot_common import (
    PLANES,
    StoredRun,
    case_points,
    load_dataset,
    load_runs,
    overlay_cases,
    pyplot,
    safe_name,
    save_png,
    scatter_pairs,
    show_image,
    slice_at,
)
from landmarkbench.report.plot_regions import conformal_region_plots
from landmarkbench.report.plot_sigma import sigma_ellipses


def run_sdr_curve(run: StoredRun, radii_mm: Sequence[float]) -> SdrCurve:
    """A run's SDR curve over its finished folds (``StoredRun.sdr_curve``)."""
    return run.sdr_curve(radii_mm)


def sdr_curves(
    results_dir: Path, dataset: str, out_dir: Path, max_radius_mm: float | None = None
) -> list[Path]:
    """SDR (% of landmarks within r mm, pooled over folds) against r, one curve per run.

    Counted by ``metrics.sdr_curve`` as the tables count: missing landmarks are neither
    hits nor misses, and each legend entry says how many are missing. One figure per
    convention key (``<dataset>_sdr_curves.png``, with the key appended when there are
    several), since curves under other operators or ground truths are not comparable.
    """
    plt = pyplot()
    runs = load_runs(results_dir, dataset)
    by_key: dict[Any, list[StoredRun]] = {}
    for run in runs:
        by_key.setdefault(run.conventions, []).append(run)
    out = []
    for conventions, group in by_key.items():
        radii = [float(r) for r in conventions.get("sdr_radii_mm", [])]
        operator = conventions.get("sdr_operator", "<=")
        top = max_radius_mm or max([2.5 * max(radii)] if radii else [10.0])
        grid = np.union1d(np.linspace(0.0, top, 400), [r for r in radii if r <= top])
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for run in group:
            curve = run_sdr_curve(run, grid)
            note = curve.missing_note()
            label = f"{run.label} ({note})" if note else run.label
            ax.plot(curve.radii_mm, curve.percent, label=label, lw=1.6)
        for r in radii:
            ax.axvline(r, color="gray", ls=":", lw=0.8)
        ax.set_xlim(0, top)
        ax.set_ylim(0, 101)
        ax.set_xlabel("radius r (mm)")
        ax.set_ylabel(f"SDR: % of present landmarks with PE {operator} r")
        ax.set_title(
            f"{dataset}: successful detection rate vs radius\n"
            f"ground truth {conventions.ground_truth}, split {conventions.split_id}, "
            f"{conventions.get('aggregation', 'pooled')}",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        suffix = "" if len(by_key) == 1 else f"_{conventions.key}"
        out.append(save_png(fig, Path(out_dir) / f"{safe_name(dataset)}_sdr_curves{suffix}.png"))
    return out


def landmark_boxplots(results_dir: Path, dataset: str, out_dir: Path) -> list[Path]:
    """Per-landmark point-error box plots, methods side by side (pooled over folds)."""
    import pandas as pd
    import seaborn as sns

    plt = pyplot()
    runs = load_runs(results_dir, dataset)
    frames = []
    for run in runs:
        frame = run.pooled().to_frame()[["landmark", "pe_mm"]]
        frame["method"] = run.label
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True).dropna(subset=["pe_mm"])
    landmarks = list(runs[0].pooled().landmark_names)
    width = max(7.0, 0.25 * len(landmarks) * max(len(runs), 2) + 2)
    fig, ax = plt.subplots(figsize=(min(width, 40.0), 5))
    sns.boxplot(
        data=data,
        x="landmark",
        y="pe_mm",
        hue="method",
        order=landmarks,
        ax=ax,
        fliersize=1.5,
        linewidth=0.7,
    )
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("landmark")
    ax.set_ylabel("point error (mm, symlog)")
    ax.set_title(f"{dataset}: per-landmark point error")
    ax.tick_params(axis="x", rotation=60, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(len(runs), 3))
    return [save_png(fig, Path(out_dir) / f"{safe_name(dataset)}_landmark_boxplots.png")]


def prediction_overlays(
    results_dir: Path, dataset: str, out_dir: Path, n_cases: int = 4
) -> list[Path]:
    """Truth (green) and predictions (red) on the images.

    2D: one PNG per case, one panel per method. 3D: one PNG per case and method, one row per
    landmark with the three orthogonal slices through its true position.
    """
    plt = pyplot()
    runs = load_runs(results_dir, dataset)
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
                ax.set_title(f"{run.label}\nMRE {np.nanmean(pe):.2f} mm", fontsize=9)
            axes.flat[0].legend(fontsize=7, loc="upper right")
            fig.suptitle(f"{dataset} {case_id}: truth (green) vs prediction (red)")
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
    fig.suptitle(f"{dataset} {case_id} {run.label}: truth (green) vs prediction (red)")
    path = (
        Path(out_dir)
        / f"{safe_name(dataset)}_overlay_{safe_name(case_id)}_{safe_name(run.label)}.png"
    )
    return save_png(fig, path)


KINDS = {
    "sdr": sdr_curves,
    "boxplot": landmark_boxplots,
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
) -> list[Path]:
    """Every requested kind of plot; returns the written paths."""
    out: list[Path] = []
    for kind in kinds:
        if kind in PER_CASE_KINDS:
            out += KINDS[kind](results_dir, dataset, out_dir, n_cases=n_cases)
        else:
            out += KINDS[kind](results_dir, dataset, out_dir)
    return out


def log_to_mlflow(tracking_uri: str, results_dir: Path, dataset: str, out_dir: Path) -> list[str]:
    """Log ``out_dir`` as artifacts (under ``plots/``) of every stored run's parent MLflow run,
    found through ``tracking.find_runs`` (the one query of the store).

    Returns notes about runs without a parent run in the store.
    """
    from landmarkbench.results.tracking import find_runs, log_artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    runs = load_runs(results_dir, dataset)
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
