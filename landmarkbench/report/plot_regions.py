"""Prediction regions (conformal or hdr) drawn on the images, from stored results.

Runs made with ``--uncertainty conformal`` (or ``hdr``) store each test case's region masks
on the network grid (``regions.npz``) with the map from the original grid to that grid. A
region's outline is drawn on the original image by placing every network pixel centre at its
original coordinates; truth (green) and prediction (red) are drawn as in the overlays. In 3D each
landmark gets the three orthogonal slices through its true position, with the region's slice
at the same position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.report.filters import RunSelection
from landmarkbench.report.plot_common import (
    PLANES,
    StoredRun,
    case_points,
    figure_title,
    load_dataset,
    load_runs,
    pyplot,
    safe_name,
    save_png,
    scatter_pairs,
    show_image,
    slice_at,
)
from landmarkbench.uncertainty.region_records import (
    MASKS_FILE,
    RegionMasks,
    read_region_masks,
    read_regions,
)


def _runs_with_regions(
    results_dir: Path, dataset: str, selection: RunSelection | None
) -> list[StoredRun]:
    return [
        run
        for run in load_runs(results_dir, dataset, selection)
        if any((run.fold_dir(fold) / MASKS_FILE).is_file() for fold in run.folds)
    ]


def _case_regions(run: StoredRun, case_id: str) -> tuple[RegionMasks, int, Any] | None:
    """The fold masks holding ``case_id``, its index there and the fold's region records."""
    for fold in run.folds:
        folder = run.fold_dir(fold)
        if not (folder / MASKS_FILE).is_file():
            continue
        masks = read_region_masks(folder)
        if case_id in masks.case_ids:
            return masks, masks.case_ids.index(case_id), read_regions(folder)
    return None


def _outline(ax: Any, mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, color: Any) -> None:
    """Outline of a 2D mask whose pixel centres sit at original ``rows`` x ``cols``."""
    if mask.any() and not mask.all():
        ax.contour(cols, rows, mask.astype(float), levels=[0.5], colors=[color], linewidths=0.9)


def _grid_axes(masks: RegionMasks, index: int, axes: Sequence[int], shape: Sequence[int]):
    """Original coordinates of the network pixel centres along ``axes`` of one case."""
    return [
        (np.arange(shape[a]) - masks.grid_offset[index][a]) / masks.grid_scale[index][a]
        for a in axes
    ]


def _title(run: StoredRun, regions: Any, index: int) -> str:
    covered = regions.pairs.covered[index]
    present = regions.pairs.present[index]
    size = regions.pairs.size[index][present]
    alpha = run.record["uncertainty"]["alpha"]
    return (
        f"{run.label}: {100 * (1 - alpha):g} % regions, {int(covered.sum())}/"
        f"{int(present.sum())} truths inside, mean size {np.mean(size):.1f} {regions.size_unit}"
    )


def conformal_region_plots(
    results_dir: Path,
    dataset: str,
    out_dir: Path,
    n_cases: int = 4,
    selection: RunSelection | None = None,
) -> list[Path]:
    """Prediction regions (conformal or hdr; outlines, one colour per landmark) with truth
    and prediction.

    One PNG per (case, run with regions): 2D, the whole image with a key naming each
    landmark's colour; 3D, one row per landmark (named in its colour) with the three
    orthogonal slices through the truth. Returns ``[]`` when no stored run
    has regions.
    """
    plt = pyplot()
    runs = _runs_with_regions(results_dir, dataset, selection)
    if not runs:
        return []
    data = load_dataset(runs[0].record)
    colors = plt.get_cmap("tab20")
    out = []
    for run in runs:
        for case_id in run.pooled().case_ids[:n_cases]:
            found = _case_regions(run, case_id)
            if found is None:
                continue
            masks, index, regions = found
            case = data.load(case_id)
            image = np.asarray(case.image, dtype=float)
            spacing = np.asarray(case.spacing, dtype=float)
            pred, truth = case_points(run, case_id)
            whole = regions.whole_image
            names = regions.landmark_names
            if image.ndim == 2:
                fig = _figure_2d(plt, image, spacing, masks, index, pred, truth, whole, colors)
                _landmark_key(fig, names, whole, colors)
            else:
                fig = _figure_3d(plt, image, spacing, masks, index, pred, truth, names, colors)
            note = f" (whole image: {int(whole.sum())} landmark(s))" if whole.any() else ""
            what = f"case {case_id}, {_title(run, regions, index)}{note}"
            fig.suptitle(figure_title(dataset, run, what))
            name = f"{safe_name(dataset)}_regions_{safe_name(case_id)}_{safe_name(run.label)}.png"
            out.append(save_png(fig, Path(out_dir) / name))
    return out


def _landmark_key(fig: Any, names: Sequence[str], whole: np.ndarray, colors: Any) -> None:
    """The key of the region outlines: one colour per landmark, named (whole-image
    regions, not drawn, marked so)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [],
            [],
            color=colors(k % 20),
            lw=2,
            label=f"{name}{' (whole image)' if whole[k] else ''}",
        )
        for k, name in enumerate(names)
    ]
    columns = 1 if len(names) <= 20 else 2
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.92, 0.5), ncols=columns,
               title="region of", fontsize=8, title_fontsize=9)  # fmt: skip


def _figure_2d(plt, image, spacing, masks, index, pred, truth, whole, colors):
    fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1]))
    show_image(ax, image, spacing)
    grid = masks.case(index)
    rows, cols = _grid_axes(masks, index, (0, 1), grid.shape[1:])
    for k in range(grid.shape[0]):
        if not whole[k]:
            _outline(ax, grid[k], rows, cols, colors(k % 20))
    scatter_pairs(ax, pred, truth, 0, 1)
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.legend(loc="upper right")
    return fig


def _figure_3d(plt, image, spacing, masks, index, pred, truth, names, colors):
    grid = masks.case(index)
    fig, axes = plt.subplots(len(names), 3, figsize=(9, 3 * len(names)), squeeze=False)
    for k, name in enumerate(names):
        centre = truth[k] if np.isfinite(truth[k]).all() else np.array(image.shape) / 2
        grid_centre = centre * masks.grid_scale[index] + masks.grid_offset[index]
        for j, (axis, rows, cols) in enumerate(PLANES):
            ax = axes[k, j]
            show_image(ax, slice_at(image, axis, centre[axis]), spacing[[rows, cols]])
            region = slice_at(grid[k], axis, grid_centre[axis])
            shown = [a for a in range(3) if a != axis]
            row_axis, col_axis = _grid_axes(masks, index, shown, grid.shape[1:])
            _outline(ax, region, row_axis, col_axis, colors(k % 20))
            scatter_pairs(ax, pred[k : k + 1], truth[k : k + 1], rows, cols)
            ax.set_title(f"axis {axis} = {centre[axis]:.0f}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"region of {name}", fontsize=9, color=colors(k % 20))
    return fig
