"""MLflow logging: one parent run per (dataset, protocol, method, config, seed), one nested
run per fold, in a SQLite store by default.

Runs are found again by tags, so a resumed benchmark adds the folds that are missing and
never duplicates a finished one. MLflow is imported only here and only when a run starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from landmarkbench.errors import UsageError

RUN_KEY_TAG = "landmarkbench.run_key"
FOLD_TAG = "landmarkbench.fold"
EXPERIMENT_PREFIX = "landmarkbench"


def resolve_tracking_uri(value: str | None) -> str:
    """Turn a path or URI into an MLflow tracking URI with an absolute SQLite path.

    ``None`` means ``./mlflow.db``; a plain path becomes ``sqlite:////abs/path``; any
    ``scheme://`` URI is passed through.
    """
    if value and "://" in value:
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            relative = value.removeprefix("sqlite:///")
            return f"sqlite:///{Path(relative).resolve()}"
        return value
    path = Path(value or "mlflow.db").expanduser().resolve()
    if path.is_dir():
        raise UsageError(
            f"--tracking-uri '{path}' is a folder; give a database file such as "
            f"'{path / 'mlflow.db'}' or a URI such as sqlite:////abs/path/mlflow.db."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = str(value)[:6000]


def flatten_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Nested mapping -> flat ``a.b.c`` keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    _flatten("", params, out)
    return out


class Tracker:
    """Logs benchmark runs to MLflow through ``MlflowClient`` (no global active run)."""

    def __init__(self, tracking_uri: str, dataset: str) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow.tracking import MlflowClient

        # After the import: mlflow configures its own logger level when imported.
        for noisy in ("mlflow", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        name = f"{EXPERIMENT_PREFIX}/{dataset}"
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            artifacts = self._artifact_root(tracking_uri, dataset)
            self.experiment_id = self.client.create_experiment(name, artifact_location=artifacts)
        else:
            self.experiment_id = experiment.experiment_id

    @staticmethod
    def _artifact_root(tracking_uri: str, dataset: str) -> str | None:
        if tracking_uri.startswith("sqlite:///"):
            db = Path(tracking_uri.removeprefix("sqlite:///"))
            return (db.parent / "mlartifacts" / dataset).resolve().as_uri()
        return None

    def _search(self, filter_string: str) -> list[Any]:
        return self.client.search_runs([self.experiment_id], filter_string=filter_string)

    def parent_run(self, run_key: str, run_name: str, params: Mapping[str, Any]) -> str:
        """The id of the parent run for ``run_key``, created (with params) if missing."""
        found = self._search(f"tags.`{RUN_KEY_TAG}` = '{run_key}'")
        parents = [r for r in found if FOLD_TAG not in r.data.tags]
        if parents:
            return parents[0].info.run_id
        run = self.client.create_run(
            self.experiment_id, run_name=run_name, tags={RUN_KEY_TAG: run_key}
        )
        self._log_params(run.info.run_id, params)
        return run.info.run_id

    def finished_folds(self, run_key: str) -> set[str]:
        """Names of folds of ``run_key`` that already have a FINISHED nested run."""
        found = self._search(
            f"tags.`{RUN_KEY_TAG}` = '{run_key}' and attributes.status = 'FINISHED'"
        )
        return {r.data.tags[FOLD_TAG] for r in found if FOLD_TAG in r.data.tags}

    def discard_unfinished_folds(self, run_key: str) -> None:
        """Delete nested runs a killed process left RUNNING, so each fold ends with one run."""
        found = self._search(
            f"tags.`{RUN_KEY_TAG}` = '{run_key}' and attributes.status != 'FINISHED'"
        )
        for run in found:
            if FOLD_TAG in run.data.tags:
                self.client.delete_run(run.info.run_id)

    def log_fold(
        self,
        parent_id: str,
        run_key: str,
        fold_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        history: Mapping[str, list[float]] | None = None,
        artifacts: Path | None = None,
    ) -> str:
        """Create one finished nested run holding a fold's params, metrics, training curves
        (``history``: metric name -> value per epoch) and files."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=fold_name,
            tags={RUN_KEY_TAG: run_key, FOLD_TAG: fold_name, "mlflow.parentRunId": parent_id},
        )
        run_id = run.info.run_id
        self._log_params(run_id, params)
        self._log_metrics(run_id, metrics)
        for name, values in (history or {}).items():
            self._log_metrics(run_id, {}, series=(name, values))
        if artifacts is not None:
            self.client.log_artifacts(run_id, str(artifacts))
        self.client.set_terminated(run_id, "FINISHED")
        return run_id

    def finish_parent(self, parent_id: str, metrics: Mapping[str, float], status: str) -> None:
        """Log the pooled metrics on the parent run and close it with ``status``."""
        self._log_metrics(parent_id, metrics)
        self.client.set_terminated(parent_id, status)

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten_params(params)
        items = [Param(k, v) for k, v in sorted(flat.items())]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def _log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        series: tuple[str, list[float]] | None = None,
    ) -> None:
        """Log scalar ``metrics`` at step 0, or one ``series`` (name, value per step)."""
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = [Metric(k, float(v), stamp, 0) for k, v in sorted(metrics.items()) if v == v]
        if series is not None:
            name, values = series
            items += [
                Metric(name, float(v), stamp, step) for step, v in enumerate(values) if v == v
            ]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start : start + 500])


def learned_target_metrics(fit: dict[str, Any], names: Sequence[str]) -> dict[str, float]:
    """Learned sigmas (per landmark and axis) and angles of adaptive targets, for MLflow."""
    learned = fit.get("learned_targets") or {}
    metrics: dict[str, float] = {}
    for name, sigmas in zip(names, learned.get("sigma") or [], strict=False):
        for axis, value in enumerate(sigmas):
            metrics[f"learned_sigma_px.{name}.{axis}"] = float(value)
    for name, angles in zip(names, learned.get("angles") or [], strict=False):
        for axis, value in enumerate(angles if isinstance(angles, list) else [angles]):
            metrics[f"learned_angle_rad.{name}.{axis}"] = float(value)
    return metrics


def conformal_metrics(stats: dict[str, Any] | None) -> dict[str, float]:
    """Conformal coverage, region size and error-size correlation, for MLflow."""
    if not stats:
        return {}
    keys = ("coverage_percent", "mean_size", "median_size", "spearman_rho_error_size")
    return {f"conformal_{k}": float(stats[k]) for k in keys if stats.get(k) is not None}
