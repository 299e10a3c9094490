"""Training curves from the fold records: training loss and inner-validation error per
epoch, one line per fold (and ensemble member), the selected (best) epoch marked on each.

Every fold's ``fold.json`` keeps its ``history`` (``train_loss``, ``val_error`` per epoch;
an ensemble's members one after the other) and its fit summary (``best_epoch``,
``epochs_run``, per member for ensembles). A best epoch at the last or second-to-last epoch
hints that training stopped before the validation error stopped improving: the title counts
such folds. One PNG per run with a training loop; runs without one (mean_shape) have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.report.filters import RunSelection
from landmarkbench.report.plot_common import figure_title, load_runs, pyplot, safe_name, save_png

_SERIES = (("train_loss", "training loss", True), ("val_error", "inner-validation error", False))


def fold_curves(record: Mapping[str, Any]) -> list[tuple[str, dict[str, list[float]], int]]:
    """A fold's curves as (member label, series name -> values, best epoch): one entry per
    ensemble member (``member k``), or one entry ("") for a single model."""
    history = record.get("history") or {}
    fit = record.get("fit") or {}
    members = fit.get("members") or [fit]
    lengths = [m.get("epochs_run") for m in members]
    series = {name: list(history.get(name) or []) for name, _, _ in _SERIES}
    if not any(series.values()):
        return []
    curves = []
    start = 0
    several = len(members) > 1 and all(isinstance(n, int) for n in lengths)
    for k, member in enumerate(members):
        if several:
            # Resumed epochs are logged again: take each member's last epochs_run values.
            stop = start + int(lengths[k])
            part = {n: v[start:stop] for n, v in series.items()}
            start = stop
        else:
            part = series
        best = member.get("best_epoch")
        curves.append(
            (f"member {k}" if several else "", part, best if isinstance(best, int) else -1)
        )
        if not several:
            break
    return curves


def training_curves(
    results_dir: Path, dataset: str, out_dir: Path, selection: RunSelection | None = None
) -> list[Path]:
    """One figure per run with stored training curves (``<dataset>_training_<run>.png``)."""
    plt = pyplot()
    out = []
    for run in load_runs(results_dir, dataset, selection):
        folds = {fold: fold_curves(record) for fold, record in sorted(run.fold_json.items())}
        folds = {fold: curves for fold, curves in folds.items() if curves}
        if not folds:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
        colours = plt.get_cmap("tab10")
        late, counted = 0, 0
        for i, (fold, curves) in enumerate(folds.items()):
            for member, series, best in curves:
                label = f"{fold} {member}".strip()
                epochs_run = len(series.get("val_error") or series.get("train_loss") or [])
                if best >= 0:
                    counted += 1
                    late += best >= epochs_run - 2
                for ax, (name, _, log_scale) in zip(axes, _SERIES, strict=True):
                    values = np.asarray(series.get(name) or [], dtype=float)
                    if not values.size:
                        continue
                    epochs = np.arange(1, values.size + 1)
                    ax.plot(epochs, values, color=colours(i % 10), lw=1.4, label=label)
                    if 0 <= best < values.size:
                        ax.plot(best + 1, values[best], "o", color=colours(i % 10), ms=6)
                    if log_scale and np.all(values > 0):
                        ax.set_yscale("log")
        for ax, (_, title, _) in zip(axes, _SERIES, strict=True):
            ax.set_xlabel("epoch")
            ax.set_title(title)
            ax.grid(alpha=0.3)
        axes[1].set_ylabel("mean error on the inner validation cases")
        axes[0].set_ylabel("mean training loss (log scale)")
        axes[1].legend(loc="upper right", title="● selected (best) epoch")
        what = (
            f"training curves of {run.label} (seed {run.identity.seed}); best epoch the last "
            f"or second-to-last in {late} of {counted} fold(s)"
        )
        fig.suptitle(figure_title(dataset, run, what))
        name = f"{safe_name(dataset)}_training_{safe_name(run.label)}_seed{run.identity.seed}.png"
        out.append(save_png(fig, Path(out_dir) / name))
    return out
