"""Fold records (fold.json) and the run summary (summary.json) built from the fold files.

Metrics in the summary are always recomputed from each fold's ``predictions.csv`` with the
conventions of the current request, so changing the SDR operator never needs retraining.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.fold_records import FoldPredictions, read_predictions
from landmarkbench.metrics import summarize
from landmarkbench.protocols.split import Fold, Split
from landmarkbench.results_layout import FOLD_FILE, PREDICTIONS_FILE, SUMMARY_FILE, RunIdentity


def _metric_settings(record: Mapping[str, Any]) -> dict[str, Any]:
    metric = record["metric"]
    return {
        "radii_mm": metric["sdr_radii_mm"],
        "operator": metric["sdr_operator"],
        "aggregation": metric["aggregation"],
    }


def write_fold_record(
    folder: Path,
    *,
    fold: Fold,
    train_ids: Sequence[str],
    val_ids: Sequence[str],
    fit_summary: Mapping[str, Any],
    history: Mapping[str, list[float]],
    seconds: float,
    predictions: FoldPredictions,
    record: Mapping[str, Any],
) -> None:
    """Write ``fold.json`` beside the fold's predictions (inside its staging folder)."""
    write_json_atomically(
        folder / FOLD_FILE,
        {
            "fold": {"index": fold.index, "name": fold.name},
            "train_ids": list(train_ids),
            "validation_ids": list(val_ids),
            "test_ids": list(fold.test),
            "fit": dict(fit_summary),
            "history": dict(history),
            "seconds": round(seconds, 3),
            "metrics": summarize(predictions.point_error, **_metric_settings(record)),
            "record": dict(record),
        },
    )


def load_fold_record(folder: Path) -> dict[str, Any] | None:
    """The fold's ``fold.json`` if the fold is complete, else None."""
    path = folder / FOLD_FILE
    if not path.is_file() or not (folder / PREDICTIONS_FILE).is_file():
        return None
    return json.loads(path.read_text())


def _spread(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {
        "mean": float(np.mean(array)),
        "std": float(np.std(array, ddof=1)) if len(array) > 1 else 0.0,
    }


def build_summary(
    identity: RunIdentity,
    root: Path,
    split: Split,
    record: Mapping[str, Any],
    failed: Mapping[str, str],
) -> dict[str, Any]:
    """Recompute per-fold and pooled out-of-fold metrics and write ``summary.json``."""
    settings = _metric_settings(record)
    per_fold: dict[str, Any] = {}
    pooled_pe = []
    for fold in split.folds:
        folder = identity.fold_dir(root, fold.name)
        if load_fold_record(folder) is None:
            continue
        pe = read_predictions(folder / PREDICTIONS_FILE).point_error
        pooled_pe.append(pe)
        per_fold[fold.name] = summarize(pe, **settings)
    complete = len(per_fold) == len(split.folds)
    pooled = summarize(np.concatenate(pooled_pe), **settings) if pooled_pe else {}
    radii_keys = list(pooled.get("sdr", {}))
    over_folds = {}
    if per_fold:
        over_folds = {
            "mre": _spread([m["mre"] for m in per_fold.values()]),
            "sdr": {r: _spread([m["sdr"][r] for m in per_fold.values()]) for r in radii_keys},
        }
    summary = {
        "identity": {
            "dataset": identity.dataset,
            "split_id": identity.split_id,
            "method": identity.method,
            "config_hash": identity.config_hash,
            "seed": identity.seed,
        },
        "record": dict(record),
        "complete": complete and not failed,
        "folds_expected": [f.name for f in split.folds],
        "failed_folds": dict(failed),
        "per_fold": per_fold,
        "over_folds": over_folds,
        "pooled": pooled,
    }
    write_json_atomically(identity.run_dir(root) / SUMMARY_FILE, summary)
    return summary
