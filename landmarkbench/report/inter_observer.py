"""The human baseline of a comparison table: the dataset's two annotators scored like a method.

A dataset annotated by two observers declares them (``LandmarkDataset.annotator_pair``, e.g.
ISBI 2015's senior and junior) and returns each one's landmarks (``annotation``). For one
convention key of a table, the inter-observer rows are computed on exactly the test cases of
the section's stored folds (``fold.json``'s test ids, as its prediction files hold them), with
the spacing the methods were scored with and the section's SDR operator, radii and aggregation
(``results.scoring``, i.e. ``evaluation.metrics``):

- the second annotator scored against the first (against the ground truth when it is one of
  them, e.g. ``junior vs senior`` under ``--gt senior``);
- when the ground truth is neither annotator (their mean, a synthetic truth), each annotator
  scored against that ground truth, read from the stored predictions: the very points the
  methods were scored against.

Nothing is trained. The rows are shown, labelled, below the methods: never bold, never
tested, never ranked (``report.tables``, ``report.leaderboard``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from landmarkbench.errors import LandmarkBenchError, ResultsError
from landmarkbench.evaluation.statistics import ImageErrors
from landmarkbench.results.predictions import FoldPredictions
from landmarkbench.results.scoring import Column, evaluation_for, value_of
from landmarkbench.results.store import StoredRun

__all__ = ["INTER_OBSERVER_SOURCE", "InterObserverRow", "dataset_of_run", "inter_observer_rows"]

# The Source cell of the rows (the wide table's "ours" / "literature: ..." column).
INTER_OBSERVER_SOURCE = "human: the dataset's annotators"
LABEL_PREFIX = "inter-observer: "


@dataclass(frozen=True)
class InterObserverRow:
    """Annotator ``predicted`` scored against ``reference`` on a section's test cases.

    Attributes:
        predicted: The annotator whose landmarks play the prediction.
        reference: The annotator (or the section's ground truth) they are scored against.
        annotators: The dataset's pair, as it declares it.
        folds: Per fold (the section's fold names): the predicted annotator's points as
            ``predicted``, the reference's as ``truth``, the stored spacing.
        settings: The section's metric settings (operator, radii, aggregation).
    """

    predicted: str
    reference: str
    annotators: tuple[str, str]
    folds: Mapping[str, FoldPredictions]
    settings: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{LABEL_PREFIX}{self.predicted} vs {self.reference}"

    @property
    def n_cases(self) -> int:
        return sum(len(p.case_ids) for p in self.folds.values())

    def metrics(self, folds: Sequence[str]) -> dict[str, Any]:
        """MRE, SDR... of the union of ``folds``, as ``StoredRun.metrics`` counts a run's."""
        records = [self.folds[f] for f in folds if f in self.folds]
        return evaluation_for(False).summarize(records, self.settings) if records else {}

    def fold_values(self, folds: Sequence[str], column: Column) -> list[float]:
        """``column`` of each fold (the spread over folds)."""
        return [value_of(self.metrics([f]), column) for f in folds]

    def image_errors(self, folds: Sequence[str]) -> ImageErrors:
        """Per-image point errors of ``folds`` (for the bootstrap interval)."""
        parts = [self.folds[f] for f in folds if f in self.folds]
        return ImageErrors(
            tuple(c for p in parts for c in p.case_ids),
            np.concatenate([p.point_error for p in parts]),
        )


def dataset_of_run(run: StoredRun):
    """The dataset a stored run used, built as the run built it: from the dataset options
    of its resolved experiment file (which keeps ``data_dir`` and cache folders; relative
    ones are read from the current folder), else (no readable file) from its protocol
    record; checked against the record (version and options).

    Raises:
        LandmarkBenchError: if it cannot be built, or is not the one the run used.
    """
    from landmarkbench.catalog import DATASETS

    data = run.record["dataset"]
    options = _experiment_options(run)
    if options is None:
        options = dict(data.get("options", {}))
    dataset = DATASETS.get(data["name"])(ground_truth=data.get("ground_truth"), **options)
    built = dataset.describe()
    for key in ("version", "options"):
        if _stored(built.get(key)) != _stored(data.get(key)):
            raise ResultsError(
                f"the dataset its files describe has {key} {built.get(key)!r}, the run used "
                f"{data.get(key)!r}"
            )
    return dataset


def _experiment_options(run: StoredRun) -> dict[str, Any] | None:
    """The dataset options of the run's experiment file; None without a readable one."""
    from landmarkbench.results.tracking import EXPERIMENT_FILE
    from landmarkbench.spec.yaml_io import load_experiment

    path = run.run_dir / EXPERIMENT_FILE
    if not path.is_file():
        return None
    try:
        return dict(load_experiment(path).dataset.options)
    except LandmarkBenchError:
        return None


def _stored(value: Any) -> str:
    """A value as the summary stores it (JSON: tuples as lists), for comparison."""
    return json.dumps(value, sort_keys=True, default=str)


def comparisons(pair: tuple[str, str], ground_truth: str) -> list[tuple[str, str]]:
    """(predicted, reference) of the rows: the pair against each other (the other one
    against the ground truth when it is one of them), then each against a ground truth
    that is neither."""
    first, second = pair
    if ground_truth == first:
        return [(second, first)]
    if ground_truth == second:
        return [(first, second)]
    return [(second, first), (first, ground_truth), (second, ground_truth)]


def inter_observer_rows(run: StoredRun) -> tuple[list[InterObserverRow], str | None]:
    """The inter-observer rows of ``run``'s section (its split's folds and conventions).

    Returns:
        (rows, note): no rows and no note for a dataset without two declared annotators
        (or multi-instance data); no rows and a sentence saying why when the annotations
        cannot be read (data moved, an annotator missing).
    """
    if run.multi_instance:
        return [], None
    from landmarkbench.catalog import DATASETS

    name = run.record["dataset"]["name"]
    try:
        pair = DATASETS.get(name).annotator_pair
    except LandmarkBenchError:
        return [], None
    if not pair:
        return [], None
    try:
        dataset = dataset_of_run(run)
        return _rows(run, dataset, tuple(pair)), None
    except (LandmarkBenchError, OSError, ValueError, KeyError, TypeError) as error:
        reason = str(error).rstrip(".")
        return [], (
            "Inter-observer rows not shown: the annotators' landmarks of the test cases "
            f"could not be read where the run read its data ({reason})."
        )


def _rows(run: StoredRun, dataset: Any, pair: tuple[str, str]) -> list[InterObserverRow]:
    ground_truth = run.conventions.ground_truth
    cache: dict[tuple[str, str], np.ndarray] = {}

    def points(stored: FoldPredictions, annotator: str) -> np.ndarray:
        if annotator == ground_truth:
            return stored.truth  # exactly what the methods were scored against
        for case_id in stored.case_ids:
            if (case_id, annotator) not in cache:
                cache[(case_id, annotator)] = dataset.annotation(case_id, annotator)
        return np.stack([cache[(c, annotator)] for c in stored.case_ids]).astype(float)

    folds = [f for f in run.summary["folds_expected"] if f in run.folds]
    rows = []
    for predicted, reference in comparisons(pair, ground_truth):
        records = {}
        for fold in folds:
            stored = run.folds[fold]
            records[fold] = FoldPredictions(
                case_ids=stored.case_ids,
                landmark_names=stored.landmark_names,
                predicted=points(stored, predicted),
                truth=points(stored, reference),
                spacing=stored.spacing,
            )
        rows.append(InterObserverRow(predicted, reference, pair, records, run.record["metric"]))
    return rows


def inter_observer_note(rows: Sequence[InterObserverRow], split_id: str) -> str:
    """The footnote stating where the rows come from and how they are counted."""
    first = rows[0]
    against_truth = [r for r in rows if r.reference not in r.annotators]
    truth = ""
    if against_truth:
        named = " and ".join(f"'{r.label.removeprefix(LABEL_PREFIX)}'" for r in against_truth)
        truth = (
            f"; {named} score each annotator against the ground truth the methods are scored "
            f"against ({against_truth[0].reference})"
        )
        if len(against_truth) == 2 and _same_errors(*against_truth):
            truth += " and are equal: it is the annotators' mean, half their distance from each"
    return (
        f"Inter-observer rows (the human baseline): computed from the dataset's two "
        f"annotators ({', '.join(first.annotators)}) on the same {first.n_cases} test cases as "
        f"the methods (split {split_id}), with the caption's conventions (point error in mm "
        f"with the dataset's spacing, SDR operator and radii, aggregation); 'A vs B' scores "
        f"annotator A's landmarks against B's{truth}. Never bold, never tested, never ranked."
    )


def _same_errors(a: InterObserverRow, b: InterObserverRow) -> bool:
    folds = list(a.folds)
    return bool(
        np.allclose(
            a.image_errors(folds).pe, b.image_errors(folds).pe, rtol=1e-9, atol=1e-9, equal_nan=True
        )
    )
