"""Fold records (fold.json) and the run summaries built from the fold files.

Metrics in a summary are always recomputed from each fold's prediction records
(``predictions.csv`` or ``instances.csv``) with the conventions of the current request, so
changing the SDR operator never needs retraining. Each set of conventions has its own
summary (``summary_<convention key>.json``): ``summary["conventions"]`` lists every convention
that changes a number (dataset version, options and ground truth, protocol and split, SDR
operator and radii, aggregation, matching) and ``summary["convention_key"]`` is its hash;
results are comparable only within one key. ``fold.json`` keeps the metrics under the
conventions of the run that trained the fold; readers use the summaries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.config import short_hash
from landmarkbench.errors import ResultsError
from landmarkbench.protocols.split import Fold, Split
from landmarkbench.results.layout import FOLD_FILE, SUMMARY_FILE, RunIdentity
from landmarkbench.results.scoring import evaluation_for, value_of

# Descriptions, not conventions: text that never changes a number.
_DESCRIPTIVE_METRIC_KEYS = ("pe", "matching")


def conventions_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """Every convention that changes a stored number, from a run's protocol record.

    Rows with different conventions must never be ranked or tested against each other.
    """
    dataset = record["dataset"]
    protocol = record["protocol"]
    metric = {k: v for k, v in record["metric"].items() if k not in _DESCRIPTIVE_METRIC_KEYS}
    return {
        "dataset": dataset["name"],
        "dataset_version": dataset.get("version"),
        "dataset_options": dataset.get("options", {}),
        "ground_truth": dataset.get("ground_truth"),
        "protocol": protocol["name"],
        "split_id": protocol["split_id"],
        **metric,
    }


def convention_key(record: Mapping[str, Any]) -> str:
    """The hash of ``conventions_of(record)``: equal keys, comparable numbers."""
    return short_hash(conventions_of(record))


def evaluation_of(record: Mapping[str, Any]):
    """The evaluation matching a run's protocol record (points or multi-instance)."""
    return evaluation_for(bool(record["dataset"].get("multi_instance", False)))


def regions_kind(record: Mapping[str, Any]) -> str | None:
    """ "conformal" or "hdr" for a run made with ``--uncertainty``, else None."""
    return (record.get("uncertainty") or {}).get("method")


def run_name(method: str, record: Mapping[str, Any]) -> str:
    """How tables and plots name a run: the method with its recipe (``subpixel (cpu)``),
    marked "conformal" or "hdr" when it ran with prediction regions (a conformal run also
    trained on fewer cases)."""
    marks = [record.get("method", {}).get("recipe"), regions_kind(record)]
    shown = ", ".join(m for m in marks if m)
    return f"{method} ({shown})" if shown else method


# A landmark's map counts as flat when its maximum probability is under this many times the
# uniform probability (1 / grid cells), median over the inner validation cases.
FLAT_PEAK_RATIO = 2.0

FAILURE_RULE = (
    "⚠ flagged: on the inner validation cases the method was selected on (cut from each "
    "training fold), its MRE is not below the mean shape's (the training mean layout, the "
    "floor), or a landmark fails: its MRE is not below the mean shape's for that landmark, or "
    f"its probability map is flat (max probability under {FLAT_PEAK_RATIO:g} x uniform, median "
    "over the cases)."
)


def failure_flags(inner: Mapping[str, Any]) -> dict[str, Any]:
    """The flags of one fold from its inner-validation numbers (``fold.json``).

    Rule (``FAILURE_RULE``): the method is flagged ``not_below_floor`` when its pooled MRE on
    the inner validation cases is not below the mean shape's on the same cases; a landmark is
    flagged ``not_below_floor`` when its own MRE there is not below the mean shape's for that
    landmark, and ``flat_map`` when the median over the cases of its map's maximum probability
    times the number of grid cells is under ``FLAT_PEAK_RATIO`` (methods with maps only). The
    ``mean_shape`` method itself (``is_floor``) is never flagged.

    Returns:
        ``{"method": [reasons], "landmarks": {name: [reasons]}}``, empty when nothing fails.
    """
    flags: dict[str, Any] = {"method": [], "landmarks": {}}
    if inner.get("is_floor"):
        return flags
    mre, floor = inner.get("mre"), inner.get("mean_shape_mre")
    if mre is not None and floor is not None and not mre < floor:
        flags["method"].append("not_below_floor")
    peaks = inner.get("per_landmark_peak_ratio") or [None] * len(inner.get("landmarks", []))
    rows = zip(
        inner.get("landmarks", []),
        inner.get("per_landmark_mre", []),
        inner.get("per_landmark_mean_shape_mre", []),
        peaks,
        strict=True,
    )
    for name, value, floor_value, peak in rows:
        reasons = []
        if value is not None and floor_value is not None and not value < floor_value:
            reasons.append("not_below_floor")
        if peak is not None and peak < FLAT_PEAK_RATIO:
            reasons.append("flat_map")
        if reasons:
            flags["landmarks"][name] = reasons
    return flags


def run_failures(fold_records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The flags of a run from its folds' records: which folds fail the floor, which
    landmarks fail in which folds; ``checked`` False when no fold holds the measurement
    (folds stored before it existed)."""
    method_folds, landmarks, checked = [], {}, False
    floors: dict[str, Any] = {}
    for fold, record in fold_records.items():
        inner = record.get("inner_validation") or {}
        flags = inner.get("flags")
        if flags is None:
            continue
        checked = True
        floors[fold] = {"mre": inner.get("mre"), "mean_shape_mre": inner.get("mean_shape_mre")}
        if flags["method"]:
            method_folds.append(fold)
        for name, reasons in flags["landmarks"].items():
            entry = landmarks.setdefault(name, {"folds": [], "reasons": []})
            entry["folds"].append(fold)
            entry["reasons"] = sorted({*entry["reasons"], *reasons})
    return {
        "checked": checked,
        "flagged": bool(method_folds or landmarks),
        "not_below_floor_folds": method_folds,
        "landmarks": landmarks,
        "inner_validation": floors,
    }


def describe_failures(failures: Mapping[str, Any] | None) -> str | None:
    """One line naming what a run's flags say, or None when nothing is flagged."""
    if not failures or not failures.get("flagged"):
        return None
    parts = []
    if failures["not_below_floor_folds"]:
        values = [
            f"{fold}: {v['mre']:.2f} vs {v['mean_shape_mre']:.2f} mm"
            for fold, v in failures["inner_validation"].items()
            if fold in failures["not_below_floor_folds"]
            and v.get("mre") is not None
            and v.get("mean_shape_mre") is not None
        ]
        parts.append("inner-validation MRE not below the mean shape's (" + "; ".join(values) + ")")
    reasons = {"not_below_floor": "not below the mean shape", "flat_map": "flat map"}
    named = [
        f"{name} ({', '.join(reasons.get(r, r) for r in entry['reasons'])})"
        for name, entry in failures["landmarks"].items()
    ]
    if named:
        parts.append("failed landmarks: " + ", ".join(named))
    return "⚠ " + "; ".join(parts)


def write_fold_record(
    folder: Path,
    *,
    fold: Fold,
    train_ids: Sequence[str],
    val_ids: Sequence[str],
    fit_summary: Mapping[str, Any],
    history: Mapping[str, list[float]],
    seconds: float,
    metrics: Mapping[str, Any],
    record: Mapping[str, Any],
    calibration_ids: Sequence[str] = (),
    uncertainty: Mapping[str, Any] | None = None,
    training_seed: int | None = None,
    model_key: str | None = None,
    inner_validation: Mapping[str, Any] | None = None,
) -> None:
    """Write ``fold.json`` beside the fold's predictions (inside its staging folder)."""
    write_json_atomically(
        folder / FOLD_FILE,
        {
            "fold": {"index": fold.index, "name": fold.name},
            "training_seed": training_seed,
            "model_key": model_key,
            "train_ids": list(train_ids),
            "validation_ids": list(val_ids),
            "calibration_ids": list(calibration_ids),
            "test_ids": list(fold.test),
            "uncertainty": dict(uncertainty) if uncertainty else None,
            "fit": dict(fit_summary),
            "inner_validation": dict(inner_validation) if inner_validation else None,
            "history": dict(history),
            "seconds": round(seconds, 3),
            "metrics": dict(metrics),
            "record": dict(record),
        },
    )


def load_fold_record(folder: Path) -> dict[str, Any] | None:
    """The fold's ``fold.json`` if the fold is complete, else None."""
    path = folder / FOLD_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        records_file = evaluation_of(record["record"]).records_file
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ResultsError(
            f"Fold record '{path}' cannot be read ({type(exc).__name__}: {exc}); delete the "
            f"folder '{folder}' and rerun to regenerate that fold."
        ) from None
    if not (folder / records_file).is_file():
        return None
    return record


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
    """Recompute per-fold and pooled out-of-fold metrics and write the summary of
    ``identity`` (its conventions' file); an earlier-layout ``summary.json`` of the same
    conventions is superseded and removed."""
    evaluation = evaluation_of(record)
    settings = record["metric"]
    names = record["dataset"]["landmark_names"]
    per_fold: dict[str, Any] = {}
    fold_jsons: dict[str, Any] = {}
    all_records = []
    folders = []
    for fold in split.folds:
        folder = identity.fold_dir(root, fold.name)
        fold_json = load_fold_record(folder)
        if fold_json is None:
            continue
        fold_jsons[fold.name] = fold_json
        fold_records = evaluation.read(folder, names)
        all_records.append(fold_records)
        folders.append(folder)
        per_fold[fold.name] = evaluation.summarize([fold_records], settings)
    pooled = evaluation.summarize(all_records, settings) if all_records else {}
    conformal = record.get("uncertainty") or {}
    uncertainty = None
    if conformal.get("regions", True) and conformal and all_records:
        uncertainty = _uncertainty_summary(record, folders, all_records)
    columns = [evaluation.primary, *evaluation.columns(pooled, settings.get("sdr_operator", ""))]
    over_folds = {
        column.header: _spread([value_of(m, column) for m in per_fold.values()])
        for column in columns
        if per_fold
    }
    key = convention_key(record)
    if identity.conventions != key:
        raise ValueError(f"identity conventions {identity.conventions} != record key {key}")
    summary = {
        "identity": {
            "dataset": identity.dataset,
            "split_id": identity.split_id,
            "method": identity.method,
            "config_hash": identity.config_hash,
            "seed": identity.seed,
            "conventions": key,
        },
        "conventions": conventions_of(record),
        "convention_key": key,
        "record": dict(record),
        "complete": len(per_fold) == len(split.folds) and not failed,
        "folds_expected": [f.name for f in split.folds],
        "failed_folds": dict(failed),
        "per_fold": per_fold,
        "over_folds": over_folds,
        "pooled": pooled,
        "uncertainty": uncertainty,
        "failures": run_failures(fold_jsons),
    }
    write_json_atomically(identity.summary_path(root), summary)
    _remove_superseded_legacy_summary(identity.run_dir(root) / SUMMARY_FILE, key)
    return summary


def _remove_superseded_legacy_summary(path: Path, key: str) -> None:
    """Delete an earlier-layout ``summary.json`` whose conventions equal ``key`` (the keyed
    summary just written replaces it); one of other conventions is kept and still read."""
    if not path.is_file():
        return
    try:
        legacy_key = convention_key(json.loads(path.read_text())["record"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # unreadable: left for the readers to report with its name
    if legacy_key == key:
        path.unlink(missing_ok=True)


def _uncertainty_summary(
    record: Mapping[str, Any], folders: Sequence[Path], records: Sequence[Any]
) -> dict[str, Any]:
    """Conformal-region statistics pooled over the folds and per fold (per test set for
    official protocols), recomputed from each fold's regions.csv."""
    from landmarkbench.uncertainty.region_records import read_regions, summarize_fold_regions

    errors = [dict(zip(r.case_ids, r.point_error, strict=True)) for r in records]
    regions = [read_regions(folder) for folder in folders]
    options = {"alpha": record["uncertainty"]["alpha"], "ndim": int(record["dataset"]["ndim"])}
    per_fold = {
        folder.name.removeprefix("fold_"): summarize_fold_regions([r], [e], **options)
        for folder, r, e in zip(folders, regions, errors, strict=True)
    }
    keys = ("coverage_percent", "expected_coverage_percent", "mean_size", "median_size")
    return {
        **record["uncertainty"],
        **summarize_fold_regions(regions, errors, **options),
        "per_fold": {name: {k: stats[k] for k in keys} for name, stats in per_fold.items()},
    }
