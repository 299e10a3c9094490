"""Paper-style comparison tables built from stored results only (never by retraining).

One row per (method, config, split); seeds of the same row are pooled. One table per split
(methods are compared only on the same images). k-fold protocols show pooled out-of-fold
numbers; the official protocol shows one column group per test set (e.g. test1, test2).
Point data get a 95 % bootstrap CI of the pooled MRE (resampling images) and a paired
Wilcoxon signed-rank test of per-image MRE against the best method. Published figures from
the dataset manifest are shown as labelled literature rows: never bold, never tested.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import ResultsError
from landmarkbench.evaluation import Column, evaluation_for, value_of
from landmarkbench.manifest import PublishedResult
from landmarkbench.results_layout import RunIdentity, summary_files
from landmarkbench.run_summary import evaluation_of, regions_kind, run_name
from landmarkbench.table_formats import (
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
from landmarkbench.table_literature import (
    FIXED_COLUMNS,
    LITERATURE_NOTE,
    literature_cells,
    literature_rows,
    literature_table,
    merged,
)
from landmarkbench.table_stats import ImageErrors, average_over_seeds
from landmarkbench.table_uncertainty import conformal_per_landmark_table, conformal_table

__all__ = ["FORMATS", "Row", "collect_rows", "literature_rows", "render_table"]

# Protocols whose folds are separate test sets, reported side by side rather than pooled.
PER_SPLIT_PROTOCOLS = ("official",)


@dataclass
class Row:
    """One table row: a method under one protocol, with its numbers and where they live."""

    method: str
    config_hash: str
    protocol: str
    seeds: list[int]
    fold_values: list[float]
    pooled: dict[str, Any]
    operator: str
    ground_truth: str
    multi_instance: bool
    summaries: list[dict[str, Any]] = field(default_factory=list)
    results_dir: Path | None = None

    @property
    def regions_kind(self) -> str | None:
        """ "conformal" or "hdr" for runs made with ``--uncertainty``, else None."""
        return regions_kind(self.summaries[0]["record"]) if self.summaries else None

    @property
    def conformal(self) -> bool:
        """Whether the row ran with conformal regions (trained without the calibration part)."""
        return self.regions_kind == "conformal"

    @property
    def name(self) -> str:
        """The method, marked "(conformal)" or "(hdr)" for runs with prediction regions."""
        return run_name(self.method, self.summaries[0]["record"] if self.summaries else {})

    def label(self, section: Sequence[Row]) -> str:
        """The name, with the config hash when ``section`` has it more than once."""
        same = sum(r.name == self.name for r in section)
        return self.name if same == 1 else f"{self.name} [{self.config_hash}]"

    @property
    def split_protocol(self) -> str:
        """The protocol name (``kfold``, ``official``...) of the row's split."""
        if not self.summaries:
            return self.protocol.split("-")[0]
        return self.summaries[0]["record"]["protocol"]["name"]

    def groups(self) -> list[tuple[str, list[str]]]:
        """Column groups as (name, fold names): per test set or pooled over the folds."""
        folds = list(self.summaries[0]["folds_expected"]) if self.summaries else []
        if self.split_protocol in PER_SPLIT_PROTOCOLS:
            return [(name, [name]) for name in folds]
        return [("pooled", folds)]

    def group_metrics(self, folds: Sequence[str]) -> list[dict[str, Any]]:
        """Per-seed metrics of a group: pooled summary, or the one fold's summary."""
        if len(self.groups()) == 1:
            return [s["pooled"] for s in self.summaries] or [self.pooled]
        return [s["per_fold"][folds[0]] for s in self.summaries if folds[0] in s["per_fold"]]

    def group_spread(self, folds: Sequence[str], column: Column) -> list[float]:
        """Values of ``column`` over (seed, fold) of the group (over seeds for one fold)."""
        if not self.summaries:
            return list(self.fold_values)
        return [
            value_of(s["per_fold"][f], column)
            for s in self.summaries
            for f in folds
            if f in s["per_fold"]
        ]

    def image_errors(self, folds: Sequence[str]) -> ImageErrors | None:
        """Per-image point errors of the group from the fold prediction files (seed mean)."""
        if self.multi_instance or not self.summaries or self.results_dir is None:
            return None
        evaluation = evaluation_for(False)
        per_seed = []
        for summary in self.summaries:
            identity = RunIdentity(**summary["identity"])
            names = summary["record"]["dataset"]["landmark_names"]
            parts = [
                evaluation.read(identity.fold_dir(self.results_dir, f), names)
                for f in folds
                if f in summary["per_fold"]
            ]
            if parts:
                case_ids = tuple(c for p in parts for c in p.case_ids)
                per_seed.append(
                    ImageErrors(case_ids, np.concatenate([p.point_error for p in parts]))
                )
        return average_over_seeds(per_seed) if per_seed else None


def collect_rows(results_dir: Path, dataset: str) -> tuple[list[Row], list[str]]:
    """Rows of complete runs for ``dataset`` and notes about runs left out.

    Raises:
        ResultsError: if no complete result is stored for the dataset.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    notes = []
    for path in summary_files(results_dir, dataset):
        summary = json.loads(path.read_text())
        ident = summary["identity"]
        if not summary.get("complete"):
            notes.append(f"left out incomplete run {path.parent} (rerun it to finish)")
            continue
        groups[(ident["method"], ident["config_hash"], ident["split_id"])].append(summary)
    if not groups:
        raise ResultsError(
            f"No complete results for dataset {dataset!r} under '{results_dir}'; run "
            f"'landmarkbench run --dataset {dataset}' first or pass --results-dir."
        )
    return [_row(key, s, results_dir) for key, s in sorted(groups.items())], notes


def _row(key: tuple[str, str, str], summaries: list[dict[str, Any]], root: Path) -> Row:
    method, config_hash, split_id = key
    summaries = sorted(summaries, key=lambda s: s["identity"]["seed"])
    record = summaries[0]["record"]
    evaluation = evaluation_of(record)
    return Row(
        method=method,
        config_hash=config_hash,
        protocol=split_id,
        seeds=[s["identity"]["seed"] for s in summaries],
        fold_values=[
            value_of(m, evaluation.primary) for s in summaries for m in s["per_fold"].values()
        ],
        pooled=_mean_metrics([s["pooled"] for s in summaries], evaluation, record),
        operator=record["metric"]["sdr_operator"],
        ground_truth=record["dataset"]["ground_truth"],
        multi_instance=bool(record["dataset"].get("multi_instance", False)),
        summaries=summaries,
        results_dir=root,
    )


def _mean_metrics(metrics: Sequence[dict[str, Any]], evaluation, record) -> dict[str, Any]:
    """Several seeds' metrics, averaged column by column."""
    if len(metrics) == 1:
        return metrics[0]
    averaged: dict[str, Any] = {}
    for column in evaluation.columns(metrics[0], record["metric"]["sdr_operator"]):
        target = averaged
        for part in column.key[:-1]:
            target = target.setdefault(part, {})
        target[column.key[-1]] = float(np.mean([value_of(m, column) for m in metrics]))
    return averaged


def _training_key(row: Row) -> tuple:
    """What determines a row's predictions apart from its regions: method, config, seeds."""
    record = row.summaries[0]["record"] if row.summaries else {}
    config = (record.get("method") or {}).get("config", {})
    return row.method, json.dumps(config, sort_keys=True), tuple(row.seeds)


def comparison_rows(section: Sequence[Row]) -> list[Row]:
    """The rows of the point comparison: an hdr run repeats the predictions of its plain run
    (the same trained models), so it is shown only in the regions table when that plain run
    is in the section."""
    plain = {_training_key(row) for row in section if row.regions_kind is None}
    return [r for r in section if not (r.regions_kind == "hdr" and _training_key(r) in plain)]


def render_table(
    rows: Sequence[Row],
    fmt: str = "markdown",
    title: str = "",
    *,
    literature: Sequence[PublishedResult] = (),
    bootstrap: int = 2000,
    seed: int = 0,
    per_landmark: bool = False,
) -> str:
    """Render rows (and literature rows) as Markdown, LaTeX, CSV or HTML tables.

    Args:
        rows: Our rows, from ``collect_rows``.
        fmt: One of ``FORMATS``.
        title: Text opening every caption.
        literature: Published results to show beside ours, labelled as literature.
        bootstrap: Bootstrap resamples for the MRE interval (0 to skip it).
        seed: Seed of the bootstrap.
        per_landmark: One row per landmark, methods as columns, instead.

    Raises:
        ResultsError: for ``per_landmark`` on multi-instance results.
    """
    by_split: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_split[row.protocol].append(row)
    tables: list[Table] = []
    used: set[int] = set()
    for section in by_split.values():
        if per_landmark:
            tables.append(per_landmark_table(comparison_rows(section), title))
            regions = conformal_per_landmark_table(section, title)
            if regions is not None:
                tables.append(regions)
            continue
        matching = [p for p in literature if p.protocol == section[0].split_protocol]
        used |= {id(p) for p in matching}
        tables.append(section_table(comparison_rows(section), matching, title, bootstrap, seed))
        regions = conformal_table(section, title)
        if regions is not None:
            tables.append(regions)
    leftover = [p for p in literature if id(p) not in used]
    if leftover and not per_landmark:
        for protocol in dict.fromkeys(p.protocol for p in leftover):
            tables.append(literature_table([p for p in leftover if p.protocol == protocol], title))
    return render(tables, fmt)


def section_table(
    section: Sequence[Row],
    literature: Sequence[PublishedResult],
    title: str,
    bootstrap: int,
    seed: int,
) -> Table:
    """The table of one split: our rows (with statistics) then its literature rows."""
    first = section[0]
    evaluation = evaluation_for(first.multi_instance)
    point = not first.multi_instance
    columns = evaluation.columns(first.pooled, first.operator)
    shown = columns[1:] if point else columns
    header, higher = list(FIXED_COLUMNS), []
    for name, _ in first.groups():
        prefix = "" if name == "pooled" else f"{name} "
        header.append(f"{prefix}{evaluation.primary.header} ({_over(name)})")
        higher.append(evaluation.primary.higher_is_better)
        if point:
            header.append(f"{prefix}Pooled MRE mm ↓ [95% CI]")
            higher.append(False)
        header += [f"{prefix}{c.header}" for c in shown]
        higher += [c.higher_is_better for c in shown]
    body = [_fixed_cells(row, section) for row in section]
    for _name, folds in first.groups():
        cells = _group_cells(section, folds, evaluation.primary, shown, bootstrap, seed)
        for row_cells, extra in zip(body, cells, strict=True):
            row_cells += extra
    bold_best(body, higher, len(FIXED_COLUMNS))
    body += [literature_cells(r, first.groups(), shown, point) for r in merged(literature)]
    return Table(
        caption=_caption(title, first),
        header=header,
        rows=body,
        footnotes=_footnotes(point, bool(literature), bootstrap, seed)
        + ([_CONFORMAL_NOTE] if any(row.conformal for row in section) else [])
        + ([_HDR_NOTE] if any(row.regions_kind == "hdr" for row in section) else []),
        numeric_from=len(FIXED_COLUMNS),
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
) -> list[list[Cell]]:
    """Every row's cells of one column group: spread, MRE with CI and test, metrics."""
    from landmarkbench.table_stats import bootstrap_ci, compare_with_best, is_significant

    errors = {i: row.image_errors(folds) for i, row in enumerate(section)}
    known = {i: e for i, e in errors.items() if e is not None}
    _, tests = compare_with_best(
        {i: e.per_image_mre() for i, e in known.items()},
        {i: e.pooled_mre for i, e in known.items()},
    )
    result = []
    for i, row in enumerate(section):
        cells = [spread_cell(row.group_spread(folds, primary))]
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


def _caption(title: str, row: Row) -> str:
    parts = [title] if title else []
    parts.append(
        f"protocol {row.split_protocol} (split {row.protocol}), ground truth {row.ground_truth}, "
        f"SDR operator {row.operator}"
    )
    return "; ".join(parts)


_CONFORMAL_NOTE = (
    "(conformal): run with --uncertainty conformal, so trained on the training fold minus its "
    "calibration part (see the prediction-regions table)."
)
_HDR_NOTE = (
    "(hdr): run with --uncertainty hdr: trained like the plain run, with uncalibrated "
    "highest-density regions (see the prediction-regions table)."
)


def _footnotes(point: bool, literature: bool, bootstrap: int, seed: int) -> list[str]:
    notes = ["Bold: best of our methods in each column (literature rows are never bold)."]
    if point:
        if bootstrap > 0:
            notes.append(
                f"[low, high]: 95 % bootstrap confidence interval of the pooled MRE "
                f"({bootstrap} resamples of images, seed {seed})."
            )
        notes.append(
            f"{DAGGER}: per-image MRE differs from the method with the lowest pooled MRE of "
            "the same column group (paired Wilcoxon signed-rank test on the common images, "
            "p < 0.05); only methods on the same split are compared."
        )
    else:
        notes.append(
            "Statistics (bootstrap CI, Wilcoxon test) are skipped for multi-instance data."
        )
    if literature:
        notes.append(LITERATURE_NOTE)
    return notes


def per_landmark_table(section: Sequence[Row], title: str) -> Table:
    """One row per landmark, one column per (method, column group): MRE in mm, best bold.

    Raises:
        ResultsError: for multi-instance results (no per-landmark point errors).
    """
    if section[0].multi_instance:
        raise ResultsError(
            "Per-landmark tables need one point per landmark; multi-instance results have "
            "none: drop --per-landmark."
        )
    header, per_column = ["Landmark"], []
    for row in section:
        for name, folds in row.groups():
            suffix = "" if name == "pooled" else f" {name}"
            header.append(f"{row.label(section)}{suffix} MRE mm ↓")
            per_column.append(row.image_errors(folds))
    names = section[0].summaries[0]["record"]["dataset"]["landmark_names"]
    values = np.array([e.per_landmark_mre() for e in per_column]).T
    pooled = np.array([[e.pooled_mre for e in per_column]])
    body = []
    labels = [*names, "all landmarks (pooled)"]
    for label, line in zip(labels, np.vstack([values, pooled]), strict=True):
        cells = [Cell(f"{v:.2f}", (("", float(v)),)) for v in line]
        body.append([Cell.plain(str(label)), *bold_row(cells)])
    caption = _caption(title, section[0]) + "; per-landmark MRE in mm (lower is better)"
    notes = ["Bold: lowest MRE of each landmark (row)."]
    return Table(caption, header, body, notes, numeric_from=1)
