"""The one reader of stored runs: ``summary.json``, ``fold.json`` and the fold prediction files.

Tables, the leaderboard and the plots read results through :func:`read_runs` only. Every
number they show is recomputed from the fold prediction files (``predictions.csv`` or
``instances.csv``) with the run's own conventions; ``summary.json`` is read for the run's
identity, protocol record and completeness, never for its metrics. A damaged file is reported
as one sentence naming it and the fix; a damaged run is left out with a note, so one bad file
never stops a table of the other runs.

A result's conventions (:class:`Conventions`: dataset version and options, ground truth,
split, SDR operator and radii, aggregation) are made in one place, :func:`conventions_of`;
rows of different conventions are never compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmarkbench.config import short_hash
from landmarkbench.errors import ResultsError
from landmarkbench.evaluation.statistics import ImageErrors, average_over_seeds
from landmarkbench.results.layout import FOLD_FILE, RunIdentity, summary_files
from landmarkbench.results.scoring import evaluation_for
from landmarkbench.results.summary import conventions_of as conventions_record
from landmarkbench.results.summary import load_fold_record, run_failures, run_name

__all__ = [
    "Conventions",
    "StoredRun",
    "conventions_of",
    "image_errors_of",
    "read_run",
    "read_runs",
    "read_summary",
]

_SUMMARY_KEYS = ("identity", "record", "folds_expected", "complete")


@dataclass(frozen=True, order=True)
class Conventions:
    """Every convention that changes a stored number; results are compared only within one.

    ``items`` holds them as sorted (name, JSON value) pairs: dataset, dataset_version,
    dataset_options, ground_truth, protocol, split_id, then the evaluation settings (SDR
    operator, radii and aggregation for points; matching radius and unit for multi-instance
    data). Equal items, comparable numbers.
    """

    items: tuple[tuple[str, str], ...]

    def get(self, name: str, default: Any = None) -> Any:
        """One convention, decoded (``default`` when absent or null)."""
        found = dict(self.items).get(name)
        value = None if found is None else json.loads(found)
        return default if value is None else value

    @property
    def key(self) -> str:
        """The convention key (``results.summary.convention_key``, the summary file's name)."""
        return short_hash({name: json.loads(value) for name, value in self.items})

    @property
    def protocol(self) -> str:
        return str(self.get("protocol", ""))

    @property
    def split_id(self) -> str:
        return str(self.get("split_id", ""))

    @property
    def ground_truth(self) -> str:
        return str(self.get("ground_truth", ""))

    def describe(self) -> str:
        """A caption naming every convention, e.g. for a table of rows sharing them."""
        options = self.get("dataset_options", {})
        shown = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        version = self.get("dataset_version")
        parts = [
            f"dataset {self.get('dataset')}"
            + (f" v{version}" if version is not None else "")
            + (f" ({shown})" if shown else ""),
            f"ground truth {self.ground_truth}",
            f"protocol {self.protocol} (split {self.split_id})",
        ]
        operator = self.get("sdr_operator")
        if operator is not None:
            radii = ", ".join(f"{float(r):g}" for r in self.get("sdr_radii_mm", []))
            parts.append(f"SDR operator {operator}, radii {radii} mm")
            parts.append(f"aggregation {self.get('aggregation', 'pooled')}")
        if self.get("match_radius") is not None:
            unit = self.get("match_unit", "px")
            parts.append(f"matching radius {self.get('match_radius'):g} {unit}")
        named = {"dataset", "dataset_version", "dataset_options", "ground_truth", "protocol"}
        named |= {"split_id", "sdr_operator", "sdr_radii_mm", "aggregation", "match_radius"}
        named |= {"match_unit"}
        parts += [f"{k} {json.loads(v)}" for k, v in self.items if k not in named]
        return ", ".join(parts)


def conventions_of(summary: Mapping[str, Any]) -> Conventions:
    """The conventions of a stored run: the summary's ``conventions`` field when it has one,
    else ``results.summary.conventions_of`` its protocol record (summaries written before
    results were keyed by their conventions). ``Conventions.key`` is then the summary's key.
    """
    stored = summary.get("conventions")
    fields = dict(stored) if isinstance(stored, Mapping) else conventions_record(summary["record"])
    return Conventions(tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in fields.items())))


def read_summary(path: Path) -> dict[str, Any]:
    """A run's ``summary.json``, checked for the fields the reports read.

    Raises:
        ResultsError: naming the file and the fix when it cannot be read or lacks a field.
    """
    fix = (
        "rerun the 'landmarkbench run' command that made it (finished folds are reused and "
        f"the summary is rewritten), or move '{path.parent}' out of the results folder"
    )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"Run summary '{path}' cannot be read ({exc}); {fix}.") from None
    missing = [k for k in _SUMMARY_KEYS if not isinstance(summary, dict) or k not in summary]
    if not missing:
        try:
            conventions_of(summary)
            RunIdentity(**summary["identity"])
        except (KeyError, TypeError, AttributeError) as exc:
            missing = [f"record/identity field {exc}"]
    if missing:
        raise ResultsError(
            f"Run summary '{path}' lacks {', '.join(map(str, missing))}; it is damaged or "
            f"was not written by landmarkbench: {fix}."
        )
    return summary


def _read_fold_json(folder: Path) -> dict[str, Any] | None:
    try:
        return load_fold_record(folder)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(
            f"Fold record '{folder / FOLD_FILE}' cannot be read ({exc}); delete the fold "
            f"folder '{folder}' and rerun the run command (only that fold is recomputed)."
        ) from None


def _check_rows(path: Path, key: Sequence[str], expected_ids: Sequence[str], width: int) -> None:
    """Refuse duplicated or missing rows of a prediction file, naming it.

    Checks only the key columns; the values are parsed by the file's own reader.
    """
    fix = f"delete the fold folder '{path.parent}' and rerun the run command to regenerate it"
    try:
        frame = pd.read_csv(path, usecols=list(key), dtype={"case_id": str})
    except (OSError, ValueError) as exc:
        raise ResultsError(f"Predictions file '{path}' cannot be read ({exc}); {fix}.") from None
    duplicated = frame[frame.duplicated(list(key), keep="first")]
    if len(duplicated):
        first = ", ".join(f"{k} {duplicated.iloc[0][k]}" for k in key)
        raise ResultsError(
            f"Predictions file '{path}' has {len(duplicated)} duplicated row(s) (first: "
            f"{first}); each must appear once: {fix}."
        )
    counts = frame.groupby("case_id").size()
    short = counts[counts != width]
    if len(short):
        raise ResultsError(
            f"Predictions file '{path}' has {int(short.iloc[0])} row(s) for case "
            f"{short.index[0]} instead of {width}; rows are missing: {fix}."
        )
    absent = sorted(set(expected_ids) - set(counts.index))
    extra = sorted(set(counts.index) - set(expected_ids))
    if absent or extra:
        what = f"lacks test case(s) {absent[:5]}" if absent else f"has extra case(s) {extra[:5]}"
        raise ResultsError(f"Predictions file '{path}' {what} of its fold.json test cases; {fix}.")


@dataclass
class StoredRun:
    """One stored run (one seed): its summary, its finished folds' records and a label."""

    root: Path
    summary_path: Path
    summary: dict[str, Any]
    folds: dict[str, Any] = field(default_factory=dict)
    fold_json: dict[str, dict[str, Any]] = field(default_factory=dict)
    label: str = ""
    _metrics: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def run_dir(self) -> Path:
        return self.summary_path.parent

    def fold_dir(self, fold: str) -> Path:
        """The folder of one of the run's folds."""
        return self.identity.fold_dir(self.root, fold)

    @property
    def identity(self) -> RunIdentity:
        return RunIdentity(**self.summary["identity"])

    @property
    def record(self) -> dict[str, Any]:
        return self.summary["record"]

    @property
    def conventions(self) -> Conventions:
        return conventions_of(self.summary)

    @property
    def multi_instance(self) -> bool:
        return bool(self.record["dataset"].get("multi_instance", False))

    @property
    def name(self) -> str:
        """The method, marked "(conformal)" or "(hdr)" for runs with prediction regions."""
        return run_name(self.identity.method, self.record)

    @property
    def failures(self) -> dict[str, Any]:
        """The run's failure flags (``summary.run_failures``), from its folds' records."""
        return run_failures(self.fold_json)

    def metrics(self, folds: Sequence[str]) -> dict[str, Any]:
        """Metrics of the union of ``folds`` recomputed from the prediction files with the
        run's own conventions (the summary's stored numbers are not used)."""
        key = tuple(f for f in folds if f in self.folds)
        if key not in self._metrics:
            evaluation = evaluation_for(self.multi_instance)
            records = [self.folds[f] for f in key]
            self._metrics[key] = (
                evaluation.summarize(records, self.record["metric"]) if records else {}
            )
        return self._metrics[key]

    def image_errors(self, folds: Sequence[str]) -> ImageErrors | None:
        """Per-image point errors of ``folds`` (None for multi-instance data)."""
        parts = [self.folds[f] for f in folds if f in self.folds]
        if self.multi_instance or not parts:
            return None
        return ImageErrors(
            tuple(c for p in parts for c in p.case_ids),
            np.concatenate([p.point_error for p in parts]),
        )

    def sdr_curve(self, radii_mm: Sequence[float], folds: Sequence[str] | None = None):
        """The run's SDR curve over ``folds`` (default: every finished fold), counted with the
        run's own operator and aggregation by ``metrics.sdr_curve``: at the table's radii it
        equals the table's SDR of this run. None for multi-instance data."""
        from landmarkbench.evaluation.metrics import sdr_curve

        errors = self.image_errors(list(self.folds) if folds is None else folds)
        if errors is None:
            return None
        conventions = self.conventions
        return sdr_curve(
            errors.pe,
            radii_mm,
            conventions.get("sdr_operator", "<="),
            conventions.get("aggregation", "pooled"),
        )

    def pooled(self):
        """Every finished fold's test cases in one ``FoldPredictions`` (points only)."""
        from landmarkbench.results.predictions import FoldPredictions

        parts = list(self.folds.values())
        if not parts or self.multi_instance:
            return None
        return FoldPredictions(
            case_ids=tuple(c for p in parts for c in p.case_ids),
            landmark_names=parts[0].landmark_names,
            predicted=np.concatenate([p.predicted for p in parts]),
            truth=np.concatenate([p.truth for p in parts]),
            spacing=np.concatenate([p.spacing for p in parts]),
        )


def image_errors_of(runs: Sequence[StoredRun], folds: Sequence[str]) -> ImageErrors | None:
    """The per-image errors of several seeds of one row, averaged per (image, landmark)."""
    found = [e for e in (run.image_errors(folds) for run in runs) if e is not None]
    return average_over_seeds(found) if found else None


def _load_folds(run: StoredRun) -> None:
    """Read and check every finished fold of ``run`` (fold.json and its prediction file)."""
    evaluation = evaluation_for(run.multi_instance)
    names = list(run.record["dataset"].get("landmark_names", []))
    for fold in run.summary["folds_expected"]:
        folder = run.identity.fold_dir(run.root, fold)
        if not folder.is_dir():
            continue
        fold_json = _read_fold_json(folder)
        if fold_json is None:
            continue
        path = folder / evaluation.records_file
        test_ids = [str(c) for c in fold_json.get("test_ids", [])]
        if not run.multi_instance:
            _check_rows(path, ("case_id", "landmark_index"), test_ids, len(names))
        try:
            records = evaluation.read(folder, names)
        except ResultsError:
            raise
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ResultsError(
                f"Predictions file '{path}' cannot be parsed ({exc}); delete the fold folder "
                f"'{folder}' and rerun the run command to regenerate it."
            ) from None
        if run.multi_instance and sorted(records.case_ids) != sorted(test_ids):
            raise ResultsError(
                f"Instances file '{path}' does not hold exactly the test cases of its "
                f"fold.json; delete the fold folder '{folder}' and rerun the run command."
            )
        run.folds[fold] = records
        run.fold_json[fold] = fold_json


def _incomplete_note(path: Path, summary: Mapping[str, Any]) -> str:
    failed = summary.get("failed_folds") or {}
    if failed:
        fold, message = next(iter(failed.items()))
        return (
            f"left out {path.parent}: fold {fold} failed ({message}); a rerun with the same "
            "settings fails the same way: change the setting it names, e.g. a lower "
            "learning rate with --set learning_rate=... (a new run beside this one)"
        )
    return f"left out incomplete run {path.parent} (rerun the same command to finish it)"


def read_run(
    results_dir: Path, summary_path: Path, summary: dict[str, Any] | None = None
) -> StoredRun:
    """One stored run: its summary (read from ``summary_path`` unless given) and every
    finished fold's records, checked.

    Raises:
        ResultsError: naming the file, if the summary or a fold's files are damaged.
    """
    if summary is None:
        summary = read_summary(summary_path)
    run = StoredRun(Path(results_dir), Path(summary_path), summary)
    _load_folds(run)
    return run


def read_runs(
    results_dir: Path, dataset: str, *, complete_only: bool = True
) -> tuple[list[StoredRun], list[str]]:
    """Every readable stored run of ``dataset`` and one note per run left out.

    Args:
        results_dir: The results root.
        dataset: The dataset name.
        complete_only: Leave out runs whose summary is not complete (tables); otherwise
            keep any run with a finished fold (plots).

    Returns:
        (runs, notes): runs with their folds read and checked, labelled uniquely; notes name
        each file or run left out and why.

    Raises:
        ResultsError: if no usable run of ``dataset`` is stored (the first note says why).
    """
    results_dir = Path(results_dir)
    runs: list[StoredRun] = []
    notes: list[str] = []
    for path in summary_files(results_dir, dataset):
        try:
            summary = read_summary(path)
        except ResultsError as error:
            notes.append(f"skipped: {error}")
            continue
        if complete_only and not summary.get("complete"):
            notes.append(_incomplete_note(path, summary))
            continue
        try:
            run = read_run(results_dir, path, summary)
        except ResultsError as error:
            notes.append(f"skipped run {path.parent}: {error}")
            continue
        if run.folds:
            runs.append(run)
    if not runs:
        shown = "; ".join(notes[:3]) + (f"; and {len(notes) - 3} more" if len(notes) > 3 else "")
        reason = f" ({shown})" if notes else ""
        raise ResultsError(
            f"No {'complete ' if complete_only else ''}results for dataset {dataset!r} under "
            f"'{results_dir}'{reason}; run 'landmarkbench run --dataset {dataset}' first or "
            "pass --results-dir."
        )
    _label(runs)
    return runs, notes


def _label(runs: Sequence[StoredRun]) -> None:
    """Label each run by its name, adding config, seed and conventions only when needed."""
    names = [run.name for run in runs]
    for run, name in zip(runs, names, strict=True):
        run.label = name
        if names.count(name) > 1:
            identity = run.identity
            run.label = f"{name} ({identity.config_hash[:6]}, seed {identity.seed})"
    labels = [run.label for run in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            conventions = run.conventions
            operator = conventions.get("sdr_operator", "")
            aggregation = conventions.get("aggregation", "")
            run.label += f" [gt {conventions.ground_truth}, {operator}, {aggregation}]"
