"""Per-landmark errors as a heat map: runs (rows) x landmarks (columns), one figure per
split and convention group, each cell the landmark's MRE in mm pooled over the folds (the
per-landmark table's number), written in the cell; a log colour scale keeps a collapsed
landmark from washing out the rest. Readable at 1600 px for 19 landmarks and a dozen runs
(the box plot it replaces was 3099 px wide).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landmarkbench.report.filters import RunSelection
from landmarkbench.report.plot_common import (
    CELL_FONT_SIZE,
    MAX_WIDTH_IN,
    by_conventions,
    figure_title,
    load_runs,
    pyplot,
    safe_name,
    save_png,
)

# Values are written in the cells up to this many landmarks (beyond, the colours speak).
_ANNOTATED_UP_TO = 40


def landmark_heatmaps(
    results_dir: Path, dataset: str, out_dir: Path, selection: RunSelection | None = None
) -> list[Path]:
    """Per-landmark MRE heat maps (``<dataset>_landmarks[_<conventions key>].png``)."""
    from matplotlib.colors import LogNorm

    plt = pyplot()
    groups = by_conventions(load_runs(results_dir, dataset, selection))
    out = []
    for conventions, runs in groups.items():
        names = list(runs[0].pooled().landmark_names)
        values = np.array(
            [np.nanmean(run.pooled().point_error, axis=0) for run in runs], dtype=float
        )
        width = min(MAX_WIDTH_IN, 3.0 + 0.45 * len(names))
        height = 2.2 + 0.38 * len(runs)
        fig, ax = plt.subplots(figsize=(width, height))
        finite = values[np.isfinite(values) & (values > 0)]
        norm = (
            LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.01))
            if finite.size
            else None
        )
        image = ax.imshow(values, aspect="auto", cmap="viridis", norm=norm)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(runs)), [run.label for run in runs])
        if len(names) <= _ANNOTATED_UP_TO and norm is not None:
            middle = np.sqrt(norm.vmin * norm.vmax)
            for (i, j), value in np.ndenumerate(values):
                if np.isfinite(value):
                    ax.text(
                        j, i, f"{value:.1f}", ha="center", va="center", fontsize=CELL_FONT_SIZE,
                        color="white" if value < middle else "black",
                    )  # fmt: skip
        bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label("MRE (mm, log scale)")
        ax.set_title(figure_title(dataset, runs[0], "per-landmark MRE (mm), pooled over folds"))
        suffix = "" if len(groups) == 1 else f"_{conventions.key}"
        out.append(save_png(fig, Path(out_dir) / f"{safe_name(dataset)}_landmarks{suffix}.png"))
    return out
