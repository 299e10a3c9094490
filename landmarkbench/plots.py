"""Figures from stored results: SDR curves, per-landmark PE box plots, prediction overlays,
learned sigma ellipses of adaptive heatmap methods and conformal regions (``plot_regions``).

Everything is read from the results folder (``summary.json``, ``fold_*/predictions.csv``,
``fold_*/fold.json``) and, for overlays, from the dataset itself; nothing is retrained.
Each function writes PNG files atomically (temporary file + rename) into ``out_dir`` and
returns their paths. Coordinates are in array-index order on the original grid: in 2D the
image is shown with rows down and columns across.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_atomically
from landmarkbench.errors import ResultsError
from landmarkbench.fold_records import FoldPredictions, read_predictions
from landmarkbench.results_layout import FOLD_FILE, PREDICTIONS_FILE, summary_files

TRUTH_COLOR = "tab:green"
PRED_COLOR = "tab:red"


@dataclass
class StoredRun:
    """One stored run of a dataset with its predictions, fold records and summary."""

    label: str
    run_dir: Path
    summary: dict[str, Any]
    folds: dict[str, FoldPredictions]

    @property
    def record(self) -> dict[str, Any]:
        return self.summary["record"]

    def fold_records(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in self.folds:
            path = self.run_dir / name / FOLD_FILE
            if path.is_file():
                out[name] = json.loads(path.read_text())
        return out

    def pooled(self) -> FoldPredictions | None:
        """Every fold's test cases in one set (each case is tested in at most one fold)."""
        parts = list(self.folds.values())
        if not parts:
            return None
        return FoldPredictions(
            case_ids=tuple(c for p in parts for c in p.case_ids),
            landmark_names=parts[0].landmark_names,
            predicted=np.concatenate([p.predicted for p in parts]),
            truth=np.concatenate([p.truth for p in parts]),
            spacing=np.concatenate([p.spacing for p in parts]),
        )


def load_runs(results_dir: Path, dataset: str) -> list[StoredRun]:
    """The stored runs of ``dataset`` that have at least one finished fold.

    Raises:
        ResultsError: if no run of ``dataset`` is stored under ``results_dir``.
    """
    results_dir = Path(results_dir)
    found = []
    for path in summary_files(results_dir, dataset):
        summary = json.loads(path.read_text())
        folds = {
            fold.parent.name: read_predictions(fold)
            for fold in sorted(path.parent.glob(f"fold_*/{PREDICTIONS_FILE}"))
        }
        if folds:
            found.append((path.parent, summary, folds))
    if not found:
        raise ResultsError(
            f"No stored results of dataset '{dataset}' under '{results_dir}'; run "
            f"'landmarkbench run --dataset {dataset}' first or pass --results-dir."
        )
    names = [s["identity"]["method"] for _, s, _ in found]
    runs = []
    for (run_dir, summary, folds), name in zip(found, names, strict=True):
        identity = summary["identity"]
        label = name
        if names.count(name) > 1:
            label = f"{name} ({identity['config_hash'][:6]}, seed {identity['seed']})"
        runs.append(StoredRun(label, run_dir, summary, folds))
    return runs


# ----------------------------------------------------------------------------- helpers


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def _save(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (temporary file + rename), then close it."""
    plt = _pyplot()
    try:
        write_atomically(
            path, lambda handle: fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
        )
    finally:
        plt.close(fig)
    return path


def _load_dataset(record: dict[str, Any]):
    from landmarkbench.catalog import DATASETS

    data = record["dataset"]
    return DATASETS.get(data["name"])(**data["options"], ground_truth=data["ground_truth"])


def _overlay_cases(runs: Sequence[StoredRun], n_cases: int) -> list[str]:
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


def _case_points(run: StoredRun, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    for fold in run.folds.values():
        if case_id in fold.case_ids:
            i = fold.case_ids.index(case_id)
            return fold.predicted[i], fold.truth[i]
    raise KeyError(case_id)


def _show(ax: Any, image: np.ndarray, spacing: Sequence[float] | None = None) -> None:
    aspect = float(spacing[0]) / float(spacing[1]) if spacing is not None else 1.0
    ax.imshow(image, cmap="gray", aspect=aspect, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _scatter_pairs(ax: Any, pred: np.ndarray, truth: np.ndarray, rows: int, cols: int) -> None:
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


# ----------------------------------------------------------------------------- plots


def sdr_curves(
    results_dir: Path, dataset: str, out_dir: Path, max_radius_mm: float | None = None
) -> list[Path]:
    """SDR (% of landmarks within r mm, pooled over folds) against r, one curve per method."""
    plt = _pyplot()
    runs = load_runs(results_dir, dataset)
    metric = runs[0].record.get("metric", {})
    radii = [float(r) for r in metric.get("sdr_radii_mm", [])]
    operator = metric.get("sdr_operator", "<=")
    top = max_radius_mm or max([2.5 * max(radii)] if radii else [10.0])
    grid = np.linspace(0.0, top, 400)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        pe = run.pooled().point_error.reshape(-1)
        pe = pe[np.isfinite(pe)]  # missing landmarks count as not detected
        total = max(run.pooled().point_error.size, 1)
        within = pe[None, :] <= grid[:, None] if operator == "<=" else pe[None, :] < grid[:, None]
        ax.plot(grid, 100.0 * within.sum(axis=1) / total, label=run.label, lw=1.6)
    for r in radii:
        ax.axvline(r, color="gray", ls=":", lw=0.8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, 101)
    ax.set_xlabel("radius r (mm)")
    ax.set_ylabel(f"SDR: % of landmarks with PE {operator} r")
    ax.set_title(f"{dataset}: successful detection rate vs radius")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return [_save(fig, Path(out_dir) / f"{_safe(dataset)}_sdr_curves.png")]


def landmark_boxplots(results_dir: Path, dataset: str, out_dir: Path) -> list[Path]:
    """Per-landmark point-error box plots, methods side by side (pooled over folds)."""
    import pandas as pd
    import seaborn as sns

    plt = _pyplot()
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
    return [_save(fig, Path(out_dir) / f"{_safe(dataset)}_landmark_boxplots.png")]


def prediction_overlays(
    results_dir: Path, dataset: str, out_dir: Path, n_cases: int = 4
) -> list[Path]:
    """Truth (green) and predictions (red) on the images.

    2D: one PNG per case, one panel per method. 3D: one PNG per case and method, one row per
    landmark with the three orthogonal slices through its true position.
    """
    plt = _pyplot()
    runs = load_runs(results_dir, dataset)
    data = _load_dataset(runs[0].record)
    out: list[Path] = []
    for case_id in _overlay_cases(runs, n_cases):
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
                pred, truth = _case_points(run, case_id)
                _show(ax, image, spacing)
                _scatter_pairs(ax, pred, truth, 0, 1)
                pe = run.pooled().point_error[run.pooled().case_ids.index(case_id)]
                ax.set_title(f"{run.label}\nMRE {np.nanmean(pe):.2f} mm", fontsize=9)
            axes.flat[0].legend(fontsize=7, loc="upper right")
            fig.suptitle(f"{dataset} {case_id}: truth (green) vs prediction (red)")
            out.append(_save(fig, Path(out_dir) / f"{_safe(dataset)}_overlay_{_safe(case_id)}.png"))
        else:
            for run in runs:
                out.append(_overlay_3d(plt, run, dataset, case_id, image, spacing, out_dir))
    return out


_PLANES = ((0, 1, 2), (1, 0, 2), (2, 0, 1))  # (sliced axis, shown rows, shown cols)


def _slice(image: np.ndarray, axis: int, index: float) -> np.ndarray:
    index = int(np.clip(round(index), 0, image.shape[axis] - 1))
    return np.take(image, index, axis=axis)


def _overlay_3d(plt, run, dataset, case_id, image, spacing, out_dir) -> Path:
    pred, truth = _case_points(run, case_id)
    names = run.pooled().landmark_names
    fig, axes = plt.subplots(len(names), 3, figsize=(9, 3 * len(names)), squeeze=False)
    for k, name in enumerate(names):
        centre = truth[k] if np.isfinite(truth[k]).all() else np.array(image.shape) / 2
        for j, (axis, rows, cols) in enumerate(_PLANES):
            ax = axes[k, j]
            _show(ax, _slice(image, axis, centre[axis]), spacing[[rows, cols]])
            _scatter_pairs(ax, pred[k : k + 1], truth[k : k + 1], rows, cols)
            off = pred[k, axis] - centre[axis]
            ax.set_title(f"axis {axis} = {centre[axis]:.0f} (pred {off:+.1f} px)", fontsize=7)
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.suptitle(f"{dataset} {case_id} {run.label}: truth (green) vs prediction (red)")
    path = Path(out_dir) / f"{_safe(dataset)}_overlay_{_safe(case_id)}_{_safe(run.label)}.png"
    return _save(fig, path)


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
    results_dir: Path, dataset: str, out_dir: Path, case_index: int = 0
) -> list[Path]:
    """Learned target spreads of adaptive heatmap methods as 1- and 2-sigma ellipses.

    The covariances (network grid) are averaged over folds, mapped to the original grid by
    the per-axis scale original shape / network shape, and drawn at the true landmarks of one
    test case on its image (3D: the marginal ellipses on the three orthogonal slices through
    the mean landmark position). Runs without learned sigmas are skipped; returns ``[]`` if
    no run has them.
    """
    plt = _pyplot()
    runs = load_runs(results_dir, dataset)
    adaptive = []
    for run in runs:
        covs, shapes = [], []
        for record in run.fold_records().values():
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
    data = _load_dataset(runs[0].record)
    out = []
    for run, cov_net, net_shape in adaptive:
        pooled = run.pooled()
        case_id = pooled.case_ids[min(case_index, len(pooled.case_ids) - 1)]
        case = data.load(case_id)
        image = np.asarray(case.image, dtype=float)
        scale = np.diag(np.asarray(image.shape, float) / net_shape)
        cov = scale @ cov_net @ scale.T
        _, truth = _case_points(run, case_id)
        spacing = np.asarray(case.spacing, dtype=float)
        if image.ndim == 2:
            fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1]))
            _show(ax, image, spacing)
            panels = [(ax, (0, 1), truth)]
        else:
            fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
            centre = np.nanmean(truth, axis=0)
            panels = []
            for ax, (axis, rows, cols) in zip(axes, _PLANES, strict=True):
                _show(ax, _slice(image, axis, centre[axis]), spacing[[rows, cols]])
                ax.set_title(f"slice axis {axis} = {centre[axis]:.0f}", fontsize=8)
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
        fig.suptitle(
            f"{dataset} {run.label}: learned sigma (1σ, 2σ; mean over folds, original grid) "
            f"on {case_id}",
            fontsize=9,
        )
        path = Path(out_dir) / f"{_safe(dataset)}_sigma_{_safe(run.label)}.png"
        out.append(_save(fig, path))
    return out


def conformal_regions(
    results_dir: Path, dataset: str, out_dir: Path, n_cases: int = 4
) -> list[Path]:
    """Conformal regions on the images (``plot_regions``); ``[]`` without stored regions."""
    from landmarkbench.plot_regions import conformal_region_plots

    return conformal_region_plots(results_dir, dataset, out_dir, n_cases=n_cases)


KINDS = {
    "sdr": sdr_curves,
    "boxplot": landmark_boxplots,
    "overlay": prediction_overlays,
    "sigma": sigma_ellipses,
    "regions": conformal_regions,
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
    """Log ``out_dir`` as artifacts (under ``plots/``) of every stored run's parent MLflow run.

    Returns notes about runs without a parent run in the store.
    """
    from landmarkbench.tracking import EXPERIMENT_PREFIX, FOLD_TAG, RUN_KEY_TAG

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(f"{EXPERIMENT_PREFIX}/{dataset}")
    if experiment is None:
        return [f"no MLflow experiment for {dataset} at {tracking_uri}; nothing logged"]
    notes = []
    for run in load_runs(results_dir, dataset):
        identity = run.summary["identity"]
        key = "/".join(
            (
                identity["dataset"],
                identity["split_id"],
                f"{identity['method']}__{identity['config_hash']}",
                f"seed_{identity['seed']}",
            )
        )
        found = client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'"
        )
        parents = [r for r in found if FOLD_TAG not in r.data.tags]
        if not parents:
            notes.append(f"no MLflow parent run for {key}; its plots were not logged")
            continue
        client.log_artifacts(parents[0].info.run_id, str(out_dir), artifact_path="plots")
    return notes
