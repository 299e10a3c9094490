"""Learned target spreads of adaptive heatmap methods drawn as sigma ellipses on an image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.report.filters import RunSelection
from landmarkbench.report.plot_common import (
    PLANES,
    case_points,
    figure_title,
    load_dataset,
    load_runs,
    pyplot,
    safe_name,
    save_png,
    show_image,
    slice_at,
)


def _covariances(sigma: np.ndarray, angles: np.ndarray | None) -> np.ndarray:
    """(C, d, d) covariances ``R diag(sigma^2) R^T`` (conventions of heatmaps.covariance)."""
    import torch

    from landmarkbench.heatmaps.covariance import covariance_matrix

    angle_tensor = None if angles is None else torch.as_tensor(angles, dtype=torch.float64)
    cov = covariance_matrix(torch.as_tensor(sigma, dtype=torch.float64), angle_tensor)
    return cov.numpy()


def _ellipse(ax: Any, centre: np.ndarray, cov: np.ndarray, color: str, scale: float) -> None:
    """Draw the ``scale``-sigma ellipse of a 2 x 2 (row, col) covariance at (row, col)."""
    from matplotlib.patches import Ellipse

    xy_cov = cov[::-1, ::-1]  # (col, row) = (x, y) order for matplotlib
    values, vectors = np.linalg.eigh(xy_cov)
    values = np.clip(values, 0.0, None)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    ax.add_patch(
        Ellipse(
            (centre[1], centre[0]),
            width=2 * scale * np.sqrt(values[1]),
            height=2 * scale * np.sqrt(values[0]),
            angle=angle,
            fill=False,
            edgecolor=color,
            lw=1.0,
        )
    )


def sigma_ellipses(
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    case_index: int = 0,
    selection: RunSelection | None = None,
) -> list[Path]:
    """Learned target spreads of adaptive heatmap methods as 1- and 2-sigma ellipses.

    The covariances (network grid) are averaged over folds, mapped to the original grid by
    the per-axis scale original shape / network shape, and drawn at the true landmarks of one
    test case on its image (3D: the marginal ellipses on the three orthogonal slices through
    the mean landmark position). Runs without learned sigmas are skipped; returns ``[]`` if
    no run has them.
    """
    plt = pyplot()
    runs = load_runs(results_dir, dataset, selection)
    adaptive = []
    for run in runs:
        covs, shapes = [], []
        for record in run.fold_json.values():
            fit = record.get("fit") or {}
            learned = fit.get("learned_targets") or {}
            if learned.get("sigma") is None or not fit.get("network_shape"):
                continue
            angles = learned.get("angles")
            covs.append(
                _covariances(
                    np.asarray(learned["sigma"], float),
                    None if angles is None else np.asarray(angles, float),
                )
            )
            shapes.append(np.asarray(fit["network_shape"], float))
        if covs:
            adaptive.append((run, np.mean(covs, axis=0), np.mean(shapes, axis=0)))
    if not adaptive:
        return []
    data = load_dataset(runs[0].record)
    out = []
    for run, cov_net, net_shape in adaptive:
        pooled = run.pooled()
        case_id = pooled.case_ids[min(case_index, len(pooled.case_ids) - 1)]
        case = data.load(case_id)
        image = np.asarray(case.image, dtype=float)
        scale = np.diag(np.asarray(image.shape, float) / net_shape)
        cov = scale @ cov_net @ scale.T
        _, truth = case_points(run, case_id)
        spacing = np.asarray(case.spacing, dtype=float)
        if image.ndim == 2:
            fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1]))
            show_image(ax, image, spacing)
            panels = [(ax, (0, 1), truth)]
        else:
            fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
            centre = np.nanmean(truth, axis=0)
            panels = []
            for ax, (axis, rows, cols) in zip(axes, PLANES, strict=True):
                show_image(ax, slice_at(image, axis, centre[axis]), spacing[[rows, cols]])
                ax.set_title(f"slice axis {axis} = {centre[axis]:.0f}")
                panels.append((ax, (rows, cols), truth))
        colors = plt.get_cmap("tab20")
        for ax, (rows, cols), points in panels:
            for k, point in enumerate(points):
                if not np.isfinite(point).all():
                    continue
                sub = cov[k][np.ix_([rows, cols], [rows, cols])]
                centre2 = point[[rows, cols]]
                for s in (1.0, 2.0):
                    _ellipse(ax, centre2, sub, colors(k % 20), s)
                ax.plot(centre2[1], centre2[0], "+", color=colors(k % 20), ms=4)
        what = f"{run.label}, learned sigma (1σ, 2σ; mean over folds, original grid) on {case_id}"
        fig.suptitle(figure_title(dataset, run, what))
        path = Path(out_dir) / f"{safe_name(dataset)}_sigma_{safe_name(run.label)}.png"
        out.append(save_png(fig, path))
    return out
