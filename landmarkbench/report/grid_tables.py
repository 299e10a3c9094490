"""The tables of a grid (``sweep`` and ``table --grid``): one comparison table per dataset
and convention key, as ``table`` prints them, limited to the grid's runs, and a grid
overview, datasets x methods, with the primary metric (MRE, or F1 for multi-instance data).

The overview shows, per (dataset, convention key) row and method column, the primary metric
of every column group of ``report.tables`` (pooled over the folds for k-fold, one value per
test set for official splits), averaged over the row's seeds; a flagged run is marked ⚠ and
never bold. Rows of different conventions share the overview's layout but are never ranked
against each other: the best is bolded within a row only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from landmarkbench.errors import ResultsError
from landmarkbench.report.formats import DASH, Cell, Table, render
from landmarkbench.report.tables import FLAG, Row, collect_rows, render_table, sections
from landmarkbench.results.layout import RunIdentity
from landmarkbench.results.scoring import evaluation_for, value_of


def grid_rows(
    results_dir, identities: Mapping[str, Sequence[RunIdentity]]
) -> tuple[dict[str, list[Row]], list[str]]:
    """Per dataset, the table rows of the grid's complete runs (each row keeps only the
    grid's seeds), and notes on what is left out."""
    rows: dict[str, list[Row]] = {}
    notes: list[str] = []
    for dataset, wanted_identities in identities.items():
        wanted = {identity.key for identity in wanted_identities}
        try:
            found, left_out = collect_rows(results_dir, dataset)
        except ResultsError as exc:
            notes.append(str(exc))
            continue
        kept = []
        for row in found:
            runs = [run for run in row.runs if run.identity.key in wanted]
            if runs:
                kept.append(replace(row, runs=runs))
        missing = len(wanted) - sum(len(row.runs) for row in kept)
        if missing:
            notes.append(f"{dataset}: {missing} cell(s) of the grid have no complete result yet")
        folders = {"/".join(identity.relative_parts()) for identity in wanted_identities}
        notes += [note for note in left_out if any(f in note for f in folders)]
        if kept:
            rows[dataset] = kept
    return rows, notes


def grid_tables(
    results_dir,
    identities: Mapping[str, Sequence[RunIdentity]],
    fmt: str = "markdown",
    bootstrap: int | None = None,
    seed: int | None = None,
) -> tuple[str, list[str]]:
    """The text of every dataset's tables and the overview, and notes on what is missing
    (``bootstrap`` and ``seed`` as ``report.tables.render_table`` takes them)."""
    rows, notes = grid_rows(results_dir, identities)
    parts = [
        render_table(found, fmt, title=f"Dataset {name}", bootstrap=bootstrap, seed=seed)
        for name, found in rows.items()
    ]
    if rows:
        parts.append(render([overview_table(rows)], fmt))
    return "\n".join(parts), notes


def overview_table(rows: Mapping[str, Sequence[Row]]) -> Table:
    """Datasets (one row per convention key) x methods, the primary metric in each cell."""
    methods = list(dict.fromkeys(row.name for found in rows.values() for row in found))
    body = []
    for dataset, found in rows.items():
        for section in sections(found):
            first = section[0]
            evaluation = evaluation_for(first.multi_instance)
            primary = evaluation.primary
            cells = [
                Cell.plain(dataset),
                Cell.plain(f"{first.protocol} ({first.ground_truth})"),
                Cell.plain(primary.header),
            ]
            values: dict[str, list[float]] = {}
            by_method = {row.name: row for row in section}
            for method in methods:
                row = by_method.get(method)
                if row is None:
                    cells.append(DASH)
                    continue
                groups = row.groups()
                numbers = [
                    float(np.mean([value_of(m, primary) for m in row.group_metrics(folds)]))
                    for _, folds in groups
                ]
                text = " / ".join(f"{v:.2f}" for v in numbers)
                names = [name for name, _ in groups]
                if len(groups) > 1:
                    text = " / ".join(f"{n} {v:.2f}" for n, v in zip(names, numbers, strict=True))
                mark = f"{FLAG} " if row.flagged else ""
                suffixes = [("" if len(groups) == 1 else f" {n}") for n in names]
                cells.append(Cell(mark + text, tuple(zip(suffixes, numbers, strict=True))))
                if not row.flagged:
                    values[method] = numbers
            if values:
                pick = max if primary.higher_is_better else min
                best = pick(values, key=lambda m: values[m][0])
                cells[3 + methods.index(best)].bold = True
            body.append(cells)
    return Table(
        caption="Grid overview: the primary metric per dataset and method (MRE mm pooled over "
        "the folds, or per test set for official splits; F1 % for multi-instance data), mean "
        "over the grid's seeds; best per row in bold, ⚠ flagged runs never bold",
        header=["Dataset", "Protocol (ground truth)", "Metric", *methods],
        rows=body,
        numeric_from=3,
    )
