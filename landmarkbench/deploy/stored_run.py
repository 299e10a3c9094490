"""A finished run's stored models, found from its folder, its run key or its MLflow run id.

A run folder (``results.layout``) holds one ``fold.json`` per finished fold naming the key
of the fold's trained model (``<family>/<hash>``, the folder ``results.layout.model_dir``) and
the network grid it was trained on; the models themselves (one ``member_<k>/final.pt`` per
ensemble member, as the heatmap engine stores them) are shared by every run whose training
is identical. ``RunModels`` rebuilds the heatmap engine from them, so predictions are made
by the very code the run predicted with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import METHODS
from landmarkbench.datasets.base import Case
from landmarkbench.deploy.predictor import Predictor, ensemble_statement
from landmarkbench.errors import ResultsError, UsageError
from landmarkbench.results.layout import (
    PREDICTIONS_FILE,
    SUMMARY_PREFIX,
    RunIdentity,
    model_dir,
    split_file,
)
from landmarkbench.results.predictions import read_predictions
from landmarkbench.results.summary import load_fold_record

FOLDS_ALL = "all"


def locate_run(run: str, results_dir: Path, tracking_uri: str | None) -> tuple[Path, Path]:
    """(results root, run folder) of ``run``: a run folder, a run key under ``results_dir``
    (``<dataset>/<split>/<method>__<hash>/seed_<s>``, a ``/conventions_<key>`` tail is
    allowed) or the id of the run's MLflow parent run in ``tracking_uri``.

    Raises:
        UsageError: when ``run`` names none of these.
    """
    folder = Path(run).expanduser()
    if folder.is_dir() and len(folder.resolve().parts) > 4:
        run_dir = folder.resolve()
        root = run_dir.parents[3]
        RunIdentity.parse(run_dir, root)  # refuses a folder that is not a run folder
        return root, run_dir
    root = Path(results_dir).resolve()
    key = run
    if "/" not in run:
        from landmarkbench.results.tracking import find_runs

        found = [r for r in find_runs(tracking_uri or "mlflow.db") if r.run_id == run]
        if not found:
            raise UsageError(
                f"--run {run!r} is neither a run folder, nor a run key, nor an MLflow run id "
                f"in the tracking store '{tracking_uri or 'mlflow.db'}'; pass the run folder "
                "(e.g. results/synthetic_ceph/kfold-.../subpixel__.../seed_0)."
            )
        key = found[0].run_key
    parts = [p for p in key.split("/") if p and not p.startswith("conventions_")]
    run_dir = root.joinpath(*parts)
    if len(parts) != 4 or not run_dir.is_dir():
        raise UsageError(
            f"Run {key!r} has no folder under the results folder '{root}'; pass --results-dir "
            "with the folder the run wrote, or the run folder itself."
        )
    RunIdentity.parse(run_dir, root)
    return root, run_dir


@dataclass(frozen=True)
class StoredFold:
    """One finished fold of a run: its name, its record and its model folder."""

    name: str
    folder: Path
    record: dict[str, Any]
    model_dir: Path | None


class StoredRun:
    """A run folder with its finished folds and their stored models.

    Raises:
        ResultsError: for a folder with no finished fold.
    """

    def __init__(self, root: Path, run_dir: Path) -> None:
        self.root = root
        self.run_dir = run_dir
        self.identity = RunIdentity.parse(run_dir, root)
        self.folds: list[StoredFold] = []
        for folder in sorted(run_dir.glob("fold_*")):
            record = load_fold_record(folder)
            if record is None:
                continue
            key = record.get("model_key")
            stored = model_dir(root, self.identity.dataset, *key.split("/")) if key else None
            self.folds.append(StoredFold(record["fold"]["name"], folder, record, stored))
        if not self.folds:
            raise ResultsError(
                f"Run folder '{run_dir}' has no finished fold; finish the run first (rerun "
                "its 'landmarkbench run' command, which resumes)."
            )
        self.record = self.folds[0].record["record"]
        self.method = self.identity.method
        self.config = dict(self.record["method"]["config"])
        self.dataset = dict(self.record["dataset"])

    def select(self, fold: str | None) -> list[StoredFold]:
        """The folds named by ``--fold`` (a fold name, ``K`` for ``fold_K``) or ``all``
        (None): every finished fold, folds sharing one model counted once.

        Raises:
            UsageError: for a fold the run does not have.
        """
        if fold is None or fold == FOLDS_ALL:
            chosen, seen = [], set()
            for stored in self.folds:
                if stored.model_dir not in seen:
                    chosen.append(stored)
                    seen.add(stored.model_dir)
            return chosen
        for stored in self.folds:
            if fold in (stored.name, f"fold_{stored.name}", stored.name.removeprefix("fold_")):
                return [stored]
        names = ", ".join(f.name for f in self.folds)
        raise UsageError(
            f"Run '{self.run_dir}' has no finished fold {fold!r}; pass --fold with one of "
            f"{names}, or --folds all."
        )

    def member_dirs(self, folds: Sequence[StoredFold]) -> list[Path]:
        """Every stored model of ``folds`` (each fold's ensemble members in order).

        Raises:
            ResultsError: for a method that stores no model or a model folder that is gone.
        """
        from landmarkbench.training.loop import FINAL_FILE

        members = int(self.config.get("ensemble_size", 1))
        dirs = []
        for stored in folds:
            if stored.model_dir is None:
                raise ResultsError(
                    f"Run '{self.run_dir}' of method {self.method!r} stores no trained model "
                    "(the method trains none); predict and export need a run of a heatmap "
                    "method (e.g. subpixel, one_hot)."
                )
            for k in range(members):
                folder = stored.model_dir / f"member_{k}"
                if not (folder / FINAL_FILE).is_file():
                    raise ResultsError(
                        f"Run '{self.run_dir}' has no stored model for fold {stored.name} "
                        f"('{folder / FINAL_FILE}' is missing; was the results folder copied "
                        "without its _models folder?); copy it back or rerun the run after "
                        "deleting that fold's folder."
                    )
                dirs.append(folder)
        return dirs

    def network_grid(self, folds: Sequence[StoredFold]) -> tuple[int, ...]:
        """The network grid the folds' models were trained on (one for all of them)."""
        grids = {tuple(f.record["fit"]["network_shape"]) for f in folds}
        if len(grids) != 1:
            raise ResultsError(
                f"The folds of run '{self.run_dir}' were trained on different network grids "
                f"{sorted(grids)}; pass --fold to use one fold."
            )
        return next(iter(grids))

    def dataset_spacing_mm(self) -> tuple[float, ...] | None:
        """The spacing of every case the run predicted (mm per array axis), when they all
        share one; None when it varies (read from the stored prediction files)."""
        spacings = np.concatenate(
            [read_predictions(f.folder / PREDICTIONS_FILE).spacing for f in self.folds]
        )
        unique = np.unique(spacings, axis=0)
        return tuple(float(s) for s in unique[0]) if len(unique) == 1 else None

    def summaries(self) -> dict[str, Any]:
        """The run's metrics per convention key: pooled and per fold, from its summaries."""
        from landmarkbench.results.store import read_summary

        out = {}
        for path in sorted(self.run_dir.glob(f"{SUMMARY_PREFIX}*.json")):
            summary = read_summary(path)
            key = path.stem.removeprefix(SUMMARY_PREFIX)
            out[key] = {k: summary.get(k) for k in ("pooled", "per_fold", "complete")}
        return out

    def split_path(self) -> Path:
        return split_file(self.root, self.identity.dataset, self.identity.split_id)

    def experiment_path(self) -> Path:
        from landmarkbench.results.tracking import EXPERIMENT_FILE

        return self.run_dir / EXPERIMENT_FILE


class RunModels(Predictor):
    """The stored models of some folds of a run, predicting through the heatmap engine."""

    def __init__(self, run: StoredRun, fold: str | None, device: str = "cpu") -> None:
        from landmarkbench.methods.heatmap_method import HeatmapMethod
        from landmarkbench.training.heatmap_regression import HeatmapRegression

        self.run = run
        self.folds = run.select(fold)
        method_cls = METHODS.get(run.method)
        if not issubclass(method_cls, HeatmapMethod):
            raise ResultsError(
                f"Run '{run.run_dir}' of method {run.method!r} stores no trained network; "
                "predict and export need a run of a heatmap method (e.g. subpixel, one_hot)."
            )
        self.landmark_names = tuple(run.dataset["landmark_names"])
        self.ndim = int(run.dataset["ndim"])
        self.multi_instance = bool(method_cls.multi_instance)
        method = method_cls(run.config, num_landmarks=len(self.landmark_names), ndim=self.ndim)
        self.settings = method.config
        self.decoder = method_cls.decoder
        self.batch_size = int(self.settings.batch_size)
        self.grid = run.network_grid(self.folds)
        self.engine = HeatmapRegression(
            self.settings, len(self.landmark_names), self.ndim, self.decoder
        )
        self.engine.load_stored(run.member_dirs(self.folds), self.grid, device)
        members = int(self.settings.get("ensemble_size", 1))
        self.statement = ensemble_statement([f.name for f in self.folds], members)
        self.dataset_spacing_mm = run.dataset_spacing_mm()

    def predict(self, cases: Sequence[Case]) -> list[Any]:
        return list(self.engine.predict(cases))
