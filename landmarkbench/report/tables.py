"""Paper-style comparison tables built from stored results only (never by retraining).

Runs are read by ``results.store.read_runs`` and every number is recomputed from the fold
prediction files with each run's own conventions. One table per convention key
(``results.store.Conventions``: dataset version and options, ground truth, split, SDR operator
and radii, aggregation): rows of different keys are never bolded, tested or ranked against
each other, and each caption names its conventions. One row per (method, config, key); seeds
are pooled into one row only when they share the key, and their spread over seeds is shown
apart from the spread over folds. k-fold protocols show pooled out-of-fold numbers; the
official protocol shows one column group per test set (e.g. test1, test2). Point data get a
95 % bootstrap CI of the pooled MRE (resampling images) and a paired Wilcoxon signed-rank test
of per-image MRE against the best method. Published figures from the dataset manifest are
shown as labelled literature rows: never bold, never tested. Datasets with two annotators get
the human baseline (``report.inter_observer``): inter-observer rows computed on the section's
test cases with its conventions, labelled, never bold, tested or ranked.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.acquire.manifest import PublishedResult
from landmarkbench.errors import ResultsError
from landmarkbench.evaluation.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, ImageErrors
from landmarkbench.report.compact import compact_table
from landmarkbench.report.filters import RunSelection, run_tags
from landmarkbench.report.formats import (
    DAGGER,
    DASH,
    FORMATS,
    Cell,
    Table,
    bold_best,
    bold_row,
    ci_cell,
    render,
    spread_cell,
)
from landmarkbench.report.inter_observer import (
    INTER_OBSERVER_SOURCE,
    InterObserverRow,
    inter_observer_note,
    inter_observer_rows,
)
from landmarkbench.report.literature import (
    FIXED_COLUMNS,
    LITERATURE_NOTE,
    literature_cells,
    literature_rows,
    literature_table,
    merged,
)
from landmarkbench.report.regions_table import conformal_per_landmark_table, conformal_table
from landmarkbench.results.layout import RunIdentity
from landmarkbench.results.scoring import Column, evaluation_for, value_of
from landmarkbench.results.store import Conventions, StoredRun, image_errors_of, read_runs
from landmarkbench.results.summary import (
    FAILURE_RULE,
    describe_failures,
    regions_kind,
    run_failures,
)

FLAG = "⚠"


__all__ = [
    "FORMATS",
    "Row",
    "bootstrap_setting",
    "collect_rows",
    "human_baseline",
    "literature_rows",
    "render_table",
]

# Protocols whose folds are separate test sets, reported side by side rather than pooled.
PER_SPLIT_PROTOCOLS = ("official",)


def bootstrap_setting() -> tuple[int, int]:
    """(resamples, seed) of every bootstrap CI shown by ``table``, the leaderboard and ``run``:
    the one setting of ``statistics``, so one row shows the same interval everywhere."""
    return BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED


@dataclass
class Row:
    """One table row: a method and config under one convention key, over one or more seeds."""

    method: str
    config_hash: str
    protocol: str
    conventions: Conventions
    runs: list[StoredRun]

    @property
    def seeds(self) -> list[int]:
        return [run.identity.seed for run in self.runs]

    @property
    def summaries(self) -> list[dict[str, Any]]:
        """The runs' summaries (identity, record, regions statistics; not their metrics)."""
        return [run.summary for run in self.runs]

    @property
    def record(self) -> dict[str, Any]:
        return self.runs[0].record

    @property
    def operator(self) -> str:
        return str(self.conventions.get("sdr_operator", ""))

    @property
    def ground_truth(self) -> str:
        return self.conventions.ground_truth

    @property
    def multi_instance(self) -> bool:
        return self.runs[0].multi_instance

    @property
    def regions_kind(self) -> str | None:
        """ "conformal" or "hdr" for runs made with ``--uncertainty``, else None."""
        return regions_kind(self.record)

    @property
    def conformal(self) -> bool:
        """Whether the row ran with conformal regions (trained without the calibration part)."""
        return self.regions_kind == "conformal"

    @property
    def name(self) -> str:
        """The method, marked "(conformal)" or "(hdr)" for runs with prediction regions."""
        return self.runs[0].name

    @property
    def failures(self) -> dict[str, Any]:
        """The failure flags of every seed's folds (``summary.run_failures``); folds are
        named ``seed S fold`` when the row has several seeds."""
        several = len(self.runs) > 1
        records = {
            (f"seed {run.identity.seed} {fold}" if several else fold): record
            for run in self.runs
            for fold, record in run.fold_json.items()
        }
        return run_failures(records)

    @property
    def flagged(self) -> bool:
        """Whether the row failed the mean-shape floor or has a failed landmark: marked
        with ⚠, never bold, never the reference of the tests."""
        return bool(self.failures["flagged"])

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags its runs were made with (``run --tag``), each once."""
        return tuple(dict.fromkeys(t for run in self.runs for t in run_tags(run.record)))

    def label(self, section: Sequence[Row]) -> str:
        """The name, with the config hash when ``section`` has it more than once and its
        tags (``#smoke``), marked ⚠ when the row is flagged (``flagged``)."""
        same = sum(r.name == self.name for r in section)
        label = self.name if same == 1 else f"{self.name} [{self.config_hash}]"
        label += "".join(f" #{tag}" for tag in self.tags)
        return f"{FLAG} {label}" if self.flagged else label

    def train_minutes(self) -> float | None:
        """Minutes of training per trained model, mean over the row's folds and seeds: the
        training loop's time (epochs and their validation), an ensemble's members summed;
        None for methods without a training loop (e.g. the mean shape)."""
        values = [seconds / 60.0 for seconds in self.fit_totals("train_seconds", (int, float))]
        return float(np.mean(values)) if values else None

    def fit_totals(self, key: str, kinds: tuple[type, ...]) -> list[Any]:
        """Per fold (and seed) record, the fit summary's ``key`` summed over an ensemble's
        members; folds where a member lacks it (or it is not of ``kinds``) are left out."""
        totals = []
        for run in self.runs:
            for record in run.fold_json.values():
                fit = record.get("fit") or {}
                values = [member.get(key) for member in fit.get("members") or [fit]]
                if values and all(isinstance(v, kinds) for v in values):
                    totals.append(sum(values))
        return totals

    @property
    def split_protocol(self) -> str:
        """The protocol name (``kfold``, ``official``...) of the row's split."""
        return self.conventions.protocol

    @property
    def pooled(self) -> dict[str, Any]:
        """The first seed's metrics over every fold (for the column list)."""
        return self.runs[0].metrics(self.runs[0].summary["folds_expected"])

    def groups(self) -> list[tuple[str, list[str]]]:
        """Column groups as (name, fold names): per test set or pooled over the folds."""
        folds = list(self.runs[0].summary["folds_expected"])
        if self.split_protocol in PER_SPLIT_PROTOCOLS:
            return [(name, [name]) for name in folds]
        return [("pooled", folds)]

    def group_metrics(self, folds: Sequence[str]) -> list[dict[str, Any]]:
        """Per-seed metrics of a group, recomputed from the prediction files."""
        return [run.metrics(folds) for run in self.runs]

    def seed_values(self, folds: Sequence[str], column: Column) -> list[float]:
        """``column`` of the group for each seed (the spread over seeds)."""
        return [value_of(m, column) for m in self.group_metrics(folds)]

    def fold_values(self, folds: Sequence[str], column: Column) -> list[float]:
        """``column`` of each fold of the group, averaged over seeds (the spread over folds)."""
        return [
            float(np.mean([value_of(run.metrics([f]), column) for run in self.runs])) for f in folds
        ]

    def image_errors(self, folds: Sequence[str]) -> ImageErrors | None:
        """Per-image point errors of the group from the fold prediction files (seed mean)."""
        return image_errors_of(self.runs, folds)

    def missing(self, folds: Sequence[str]) -> tuple[int, int]:
        """(missing, total) (image, landmark) pairs of the group, first seed (points only)."""
        errors = self.runs[0].image_errors(folds)
        if errors is None:
            return 0, 0
        return int(np.isnan(errors.pe).sum()), int(errors.pe.size)


def collect_rows(
    results_dir: Path, dataset: str, selection: RunSelection | None = None
) -> tuple[list[Row], list[str]]:
    """Rows of complete runs for ``dataset`` (those ``selection`` keeps) and notes about
    runs left out.

    A damaged summary or prediction file leaves its run out with a note naming the file.

    Raises:
        ResultsError: if no complete, readable result is stored for the dataset.
        UsageError: for a ``selection`` value matching no stored run (``RunSelection``).
    """
    runs, notes = read_runs(results_dir, dataset)
    if selection is not None:
        runs = selection.apply(runs, f"of dataset {dataset!r} under '{results_dir}'")
    return rows_of(runs), notes


def rows_of(runs: Sequence[StoredRun]) -> list[Row]:
    """Runs grouped into rows: one per (method, config, convention key), seeds pooled."""
    groups: dict[tuple[str, str, Conventions], list[StoredRun]] = defaultdict(list)
    for run in runs:
        identity = run.identity
        groups[(identity.method, identity.config_hash, run.conventions)].append(run)
    return [
        Row(method, config, conventions.split_id, conventions, _by_seed(members))
        for (method, config, conventions), members in sorted(groups.items())
    ]


def _by_seed(runs: list[StoredRun]) -> list[StoredRun]:
    return sorted(runs, key=lambda run: run.identity.seed)


def _training_key(row: Row) -> tuple:
    """What determines a row's predictions apart from its regions: method, config, seeds."""
    config = (row.record.get("method") or {}).get("config", {})
    return row.method, json.dumps(config, sort_keys=True), tuple(row.seeds)


def comparison_rows(section: Sequence[Row]) -> list[Row]:
    """The rows of the point comparison: an hdr run repeats the predictions of its plain run
    (the same trained models), so it is shown only in the regions table when that plain run
    is in the section."""
    plain = {_training_key(row) for row in section if row.regions_kind is None}
    return [r for r in section if not (r.regions_kind == "hdr" and _training_key(r) in plain)]


def outcome_table(results_dir: Path, dataset: str, identities: Sequence[RunIdentity]) -> str:
    """The Markdown table of the runs just made (their rows, each under its own conventions),
    or a sentence when none of them is complete yet."""
    try:
        rows, _ = collect_rows(results_dir, dataset)
    except ResultsError:
        return "No complete run to tabulate yet (see the failed folds below)."
    wanted = {identity.key for identity in identities}
    shown = [row for row in rows if any(run.identity.key in wanted for run in row.runs)]
    return render_table(shown or rows, "markdown", compact=True)


def render_table(
    rows: Sequence[Row],
    fmt: str = "markdown",
    title: str = "",
    *,
    literature: Sequence[PublishedResult] = (),
    bootstrap: int | None = None,
    seed: int | None = None,
    per_landmark: bool = False,
    compact: bool = False,
    inter_observer: bool = True,
) -> str:
    """Render rows (and literature rows) as Markdown, LaTeX, CSV or HTML tables.

    Args:
        rows: Our rows, from ``collect_rows``.
        fmt: One of ``FORMATS``.
        title: Text opening every caption.
        literature: Published results to show beside ours, labelled as literature.
        bootstrap: Bootstrap resamples for the MRE interval (0 to skip it; None: the one
            setting of ``bootstrap_setting``).
        seed: Seed of the bootstrap (None: ``bootstrap_setting``'s).
        per_landmark: One row per landmark, methods as columns, instead.
        compact: The console form (``report.compact``): conventions once in the caption,
            short headers, caption and notes wrapped; the wide form otherwise.
        inter_observer: Show the human baseline of datasets with two annotators
            (``human_baseline``).

    Raises:
        ResultsError: for ``per_landmark`` on multi-instance results.
    """
    bootstrap, seed = _resolved(bootstrap, seed)
    tables: list[Table] = []
    used: set[int] = set()
    for section in sections(rows):
        human, human_notes = human_baseline(section) if inter_observer else ([], [])
        if per_landmark:
            tables.append(per_landmark_table(comparison_rows(section), title, human))
            regions = conformal_per_landmark_table(section, title)
            if regions is not None:
                tables.append(regions)
            continue
        matching = [p for p in literature if p.protocol == section[0].split_protocol]
        used |= {id(p) for p in matching}
        tables.append(
            section_table(
                comparison_rows(section), matching, title, bootstrap, seed, human, human_notes
            )
        )
        regions = conformal_table(section, title)
        if regions is not None:
            tables.append(regions)
    leftover = [p for p in literature if id(p) not in used]
    if leftover and not per_landmark:
        for protocol in dict.fromkeys(p.protocol for p in leftover):
            tables.append(literature_table([p for p in leftover if p.protocol == protocol], title))
    return render([compact_table(t) for t in tables] if compact else tables, fmt)


def human_baseline(section: Sequence[Row]) -> tuple[list[InterObserverRow], list[str]]:
    """The inter-observer rows of a section (``report.inter_observer``: the dataset's two
    annotators on the section's test cases, with its conventions) and their footnotes:
    where they come from, or why they are not shown. None for datasets without two
    annotators."""
    first = section[0]
    human, reason = inter_observer_rows(first.runs[0])
    notes = [inter_observer_note(human, first.protocol)] if human else []
    return human, notes + ([reason] if reason else [])


def sections(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows grouped by their full convention key, in order of first appearance: only rows of
    one section are ever bolded, tested or ranked against each other."""
    by_key: dict[Conventions, list[Row]] = defaultdict(list)
    for row in rows:
        by_key[row.conventions].append(row)
    return list(by_key.values())


def _resolved(bootstrap: int | None, seed: int | None) -> tuple[int, int]:
    default_resamples, default_seed = bootstrap_setting()
    return (
        default_resamples if bootstrap is None else bootstrap,
        default_seed if seed is None else seed,
    )


def section_table(
    section: Sequence[Row],
    literature: Sequence[PublishedResult],
    title: str,
    bootstrap: int | None = None,
    seed: int | None = None,
    human: Sequence[InterObserverRow] = (),
    human_notes: Sequence[str] = (),
) -> Table:
    """The table of one convention key: our rows (with statistics), then the human
    baseline's rows (``human``, from ``human_baseline``; ``human_notes`` its footnotes), then
    its literature rows. Neither of the last two is ever bold or tested.

    Raises:
        ValueError: if the rows do not share one convention key.
    """
    if len({row.conventions for row in section}) > 1:
        raise ValueError("section_table takes rows of one convention key; use sections().")
    bootstrap, seed = _resolved(bootstrap, seed)
    first = section[0]
    evaluation = evaluation_for(first.multi_instance)
    point = not first.multi_instance
    columns = evaluation.columns(first.pooled, first.operator)
    shown = columns[1:] if point else columns
    over_seeds = any(len(row.runs) > 1 for row in section)
    header, higher = list(FIXED_COLUMNS), []
    for name, _ in first.groups():
        prefix = "" if name == "pooled" else f"{name} "
        header.append(f"{prefix}{evaluation.primary.header} ({_over(name)})")
        higher.append(evaluation.primary.higher_is_better)
        if name == "pooled" and over_seeds:
            header.append(f"{prefix}{evaluation.primary.header} (seeds)")
            higher.append(evaluation.primary.higher_is_better)
        if point:
            header.append(f"{prefix}Pooled MRE mm ↓ [95% CI]")
            higher.append(False)
        header += [f"{prefix}{c.header}" for c in shown]
        higher += [c.higher_is_better for c in shown]
    body = [_fixed_cells(row, section) for row in section]
    for name, folds in first.groups():
        with_seeds = name == "pooled" and over_seeds
        cells = _group_cells(section, folds, evaluation.primary, shown, bootstrap, seed, with_seeds)
        for row_cells, extra in zip(body, cells, strict=True):
            row_cells += extra
    bold_best(body, higher, len(FIXED_COLUMNS), eligible=[not row.flagged for row in section])
    seed_column = over_seeds and first.groups()[0][0] == "pooled"
    timed = any(row.train_minutes() is not None for row in section)
    if timed:
        header.append(TRAIN_MINUTES_HEADER)
        for row, row_cells in zip(section, body, strict=True):
            minutes = row.train_minutes()
            row_cells.append(DASH if minutes is None else Cell(f"{minutes:.1f}", (("", minutes),)))
    body += [
        _human_cells(h, first, shown, over_seeds, bootstrap, seed) + ([DASH] if timed else [])
        for h in (human if point else ())
    ]
    body += [
        literature_cells(r, first.groups(), shown, point, seed_column) + ([DASH] if timed else [])
        for r in merged(literature)
    ]
    return Table(
        caption=_caption(title, first),
        header=header,
        rows=body,
        footnotes=_footnotes(point, bool(literature), bootstrap, seed, over_seeds)
        + _missing_notes(section)
        + failure_notes(section)
        + ([_CONFORMAL_NOTE] if any(row.conformal for row in section) else [])
        + ([_HDR_NOTE] if any(row.regions_kind == "hdr" for row in section) else [])
        + ([TRAIN_MINUTES_NOTE] if timed else [])
        + (list(human_notes) if point else []),
        numeric_from=len(FIXED_COLUMNS),
    )


TRAIN_MINUTES_HEADER = "Train min/model"
TRAIN_MINUTES_NOTE = (
    "Train min/model: minutes of the training loop (epochs with their validation) per trained "
    "model, mean over folds and seeds, on the machine that trained it; an ensemble's members "
    "summed; a model reused by methods that differ only in decoding is counted for each."
)


def _over(group: str) -> str:
    return "folds" if group == "pooled" else "seeds"


def _fixed_cells(row: Row, rows: Sequence[Row]) -> list[Cell]:
    texts = [row.label(rows), row.protocol, ",".join(map(str, row.seeds))]
    return [Cell.plain(t) for t in (*texts, "ours", row.ground_truth)]


def _group_cells(
    section: Sequence[Row],
    folds: Sequence[str],
    primary: Column,
    shown: Sequence[Column],
    bootstrap: int,
    seed: int,
    with_seeds: bool,
) -> list[list[Cell]]:
    """Every row's cells of one column group: spreads, MRE with CI and test, metrics."""
    from landmarkbench.evaluation.statistics import bootstrap_ci, compare_with_best, is_significant

    errors = {i: row.image_errors(folds) for i, row in enumerate(section)}
    known = {i: e for i, e in errors.items() if e is not None}
    # A flagged row is never the reference (the best) of the tests.
    _, tests = compare_with_best(
        {i: e.per_image_mre() for i, e in known.items()},
        {i: e.pooled_mre for i, e in known.items() if not section[i].flagged},
    )
    per_test_set = len(folds) == 1 and section[0].groups()[0][0] != "pooled"
    result = []
    for i, row in enumerate(section):
        if per_test_set:
            cells = [spread_cell(row.seed_values(folds, primary))]
        else:
            cells = [spread_cell(row.fold_values(folds, primary))]
        if with_seeds:
            values = row.seed_values(folds, primary)
            cells.append(spread_cell(values) if len(values) > 1 else _one_seed(values))
        if i in known:
            low, high = bootstrap_ci(known[i], bootstrap, seed)
            p_value = tests.get(i, (float("nan"), 0))[0]
            cells.append(ci_cell(known[i].pooled_mre, low, high, p_value, is_significant(p_value)))
        elif not row.multi_instance:
            cells.append(DASH)
        metrics = row.group_metrics(folds)
        for column in shown:
            value = float(np.mean([value_of(m, column) for m in metrics]))
            cells.append(Cell(f"{value:.2f}", (("", value),)))
        result.append(cells)
    return result


def _human_cells(
    human: InterObserverRow,
    first: Row,
    shown: Sequence[Column],
    over_seeds: bool,
    bootstrap: int,
    seed: int,
) -> list[Cell]:
    """An inter-observer row's cells, in the columns of ``first``'s groups: the spread over
    folds (a test set's single value), no seeds, the pooled MRE with its interval (never
    tested), the metrics; computed by the same metrics as ours."""
    from landmarkbench.evaluation.statistics import bootstrap_ci

    texts = (human.label, first.protocol, DASH.text, INTER_OBSERVER_SOURCE, human.reference)
    cells = [Cell.plain(t) for t in texts]
    primary = evaluation_for(False).primary
    for name, folds in first.groups():
        values = human.fold_values(folds, primary)
        if name == "pooled":
            cells.append(spread_cell(values))
            cells += [DASH] if over_seeds else []
        else:
            cells.append(Cell(f"{values[0]:.2f}", (("", values[0]),)))
        errors = human.image_errors(folds)
        low, high = bootstrap_ci(errors, bootstrap, seed)
        cells.append(ci_cell(errors.pooled_mre, low, high, float("nan"), False))
        metrics = human.metrics(folds)
        for column in shown:
            value = value_of(metrics, column)
            cells.append(Cell(f"{value:.2f}", (("", value),)))
    return cells


def _one_seed(values: Sequence[float]) -> Cell:
    """A single seed has no spread over seeds: its value, marked as such."""
    value = float(values[0]) if values else float("nan")
    return Cell(f"{value:.2f} (1 seed)", (("", value), (" std", float("nan"))))


def _caption(title: str, row: Row) -> str:
    parts = [title] if title else []
    parts.append(row.conventions.describe())
    return "; ".join(parts)


def _missing_notes(section: Sequence[Row]) -> list[str]:
    """How many landmarks each row lacks: they are neither hits nor misses of the SDR."""
    parts = []
    for row in section:
        folds = [f for _, group in row.groups() for f in group]
        missing, total = row.missing(folds)
        if missing:
            parts.append(
                f"{row.label(section)} {missing} of {total} ({100 * missing / total:.1f} %)"
            )
    if not parts:
        return []
    return [
        "Missing landmarks (no truth) are left out of every MRE and are neither hits nor "
        "misses of the SDR: " + "; ".join(parts) + "."
    ]


def failure_notes(section: Sequence[Row]) -> list[str]:
    """The rule of the ⚠ flag and, per flagged row, what failed (landmarks named)."""
    flagged = [row for row in section if row.flagged]
    if not flagged:
        return []
    lines = [
        f"{row.label(section)}: {describe_failures(row.failures).removeprefix(FLAG).strip()}"
        for row in flagged
    ]
    return [
        FAILURE_RULE + " Flagged rows are never bold nor the reference of the tests.",
        *lines,
    ]


_CONFORMAL_NOTE = (
    "(conformal): run with --uncertainty conformal, so trained on the training fold minus its "
    "calibration part (see the prediction-regions table)."
)
_HDR_NOTE = (
    "(hdr): run with --uncertainty hdr: trained like the plain run, with uncalibrated "
    "highest-density regions (see the prediction-regions table)."
)


def _footnotes(
    point: bool, literature: bool, bootstrap: int, seed: int, over_seeds: bool = False
) -> list[str]:
    notes = [
        "Bold: best of our methods in each column (literature rows are never bold). Rows "
        "share every convention of the caption; other conventions are in other tables.",
        "Every number is recomputed from the stored predictions (predictions.csv or "
        "instances.csv) with the caption's conventions.",
    ]
    if over_seeds:
        notes.append(
            "(folds): mean ± std over folds of the seed-averaged fold values; (seeds): mean ± "
            "std over seeds of each seed's pooled value."
        )
    if point:
        if bootstrap > 0:
            notes.append(
                f"[low, high]: 95 % bootstrap confidence interval of the pooled MRE "
                f"({bootstrap} resamples of images, seed {seed})."
            )
        notes.append(
            f"{DAGGER}: per-image MRE differs from the method with the lowest pooled MRE of "
            "the same column group (paired Wilcoxon signed-rank test on the common images, "
            "p < 0.05); only methods under the same conventions are compared."
        )
    else:
        notes.append(
            "Statistics (bootstrap CI, Wilcoxon test) are skipped for multi-instance data."
        )
    if literature:
        notes.append(LITERATURE_NOTE)
    return notes


def per_landmark_table(
    section: Sequence[Row], title: str, human: Sequence[InterObserverRow] = ()
) -> Table:
    """One row per landmark, one column per (method, column group): MRE in mm, best bold;
    then one column per inter-observer row (``human``), never bold.

    Raises:
        ResultsError: for multi-instance results (no per-landmark point errors).
    """
    if section[0].multi_instance:
        raise ResultsError(
            "Per-landmark tables need one point per landmark; multi-instance results have "
            "none: drop --per-landmark."
        )
    header, per_column, failed = ["Landmark"], [], []
    for row in section:
        for name, folds in row.groups():
            suffix = "" if name == "pooled" else f" {name}"
            header.append(f"{row.label(section)}{suffix} MRE mm ↓")
            per_column.append(row.image_errors(folds))
            failed.append(row.failures["landmarks"])
    n_ours = len(per_column)
    for other in human:
        for name, folds in section[0].groups():
            suffix = "" if name == "pooled" else f" {name}"
            header.append(f"{other.label}{suffix} MRE mm ↓")
            per_column.append(other.image_errors(folds))
    names = section[0].record["dataset"]["landmark_names"]
    values = np.array([e.per_landmark_mre() for e in per_column]).T
    pooled = np.array([[e.pooled_mre for e in per_column]])
    body = []
    labels = [*names, "all landmarks (pooled)"]
    for label, line in zip(labels, np.vstack([values, pooled]), strict=True):
        # Inter-observer columns (after ours) are never flagged and never bold.
        marked = [label in landmarks for landmarks in failed] + [False] * (len(line) - n_ours)
        cells = [
            Cell(f"{v:.2f}" + (f" {FLAG}" if m else ""), (("", float(v)),))
            for v, m in zip(line, marked, strict=True)
        ]
        ours = [not m and i < n_ours for i, m in enumerate(marked)]
        body.append([Cell.plain(str(label)), *bold_row(cells, eligible=ours)])
    caption = _caption(title, section[0]) + "; per-landmark MRE in mm (lower is better)"
    notes = ["Bold: lowest MRE of each landmark (row); a ⚠ landmark is never bold."]
    notes += failure_notes(section)
    if human:
        notes.append(inter_observer_note(human, section[0].protocol))
    return Table(caption, header, body, notes, numeric_from=1)
