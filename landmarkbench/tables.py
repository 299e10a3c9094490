"""Comparison tables built from stored run summaries only (never by retraining).

One row per (method, config, split); several seeds of the same row are pooled: the spread
is over every (seed, fold) pair. Arrows say which direction is better; the best value of
each column is bold.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import ResultsError
from landmarkbench.evaluation import evaluation_for, value_of
from landmarkbench.results_layout import summary_files
from landmarkbench.run_summary import evaluation_of

FORMATS = ("markdown", "csv", "latex")


@dataclass
class Row:
    """One table row: a method under one protocol, with its numbers."""

    method: str
    config_hash: str
    protocol: str
    seeds: list[int]
    fold_values: list[float]
    pooled: dict[str, Any]
    operator: str
    ground_truth: str
    multi_instance: bool


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
    rows = []
    for (method, config_hash, split_id), summaries in sorted(groups.items()):
        record = summaries[0]["record"]
        evaluation = evaluation_of(record)
        rows.append(
            Row(
                method=method,
                config_hash=config_hash,
                protocol=split_id,
                seeds=sorted(s["identity"]["seed"] for s in summaries),
                fold_values=[
                    value_of(m, evaluation.primary)
                    for s in summaries
                    for m in s["per_fold"].values()
                ],
                pooled=_mean_over_seeds([s["pooled"] for s in summaries], evaluation, record),
                operator=record["metric"]["sdr_operator"],
                ground_truth=record["dataset"]["ground_truth"],
                multi_instance=bool(record["dataset"].get("multi_instance", False)),
            )
        )
    return rows, notes


def _mean_over_seeds(pooled: Sequence[dict[str, Any]], evaluation, record) -> dict[str, Any]:
    """The pooled numbers of several seeds, averaged column by column."""
    if len(pooled) == 1:
        return pooled[0]
    columns = evaluation.columns(pooled[0], record["metric"]["sdr_operator"])
    averaged: dict[str, Any] = {}
    for column in columns:
        target = averaged
        for part in column.key[:-1]:
            target = target.setdefault(part, {})
        target[column.key[-1]] = float(np.mean([value_of(p, column) for p in pooled]))
    return averaged


def _columns(
    rows: Sequence[Row],
) -> tuple[list[str], list[list[str]], list[list[float]], list[bool]]:
    """Header, formatted cells, raw values and direction of every numeric column."""
    evaluation = evaluation_for(rows[0].multi_instance)
    columns = evaluation.columns(rows[0].pooled, rows[0].operator)
    header = ["Method", "Protocol", "Seeds", f"{evaluation.primary.header} (folds)"]
    header += [c.header for c in columns]
    higher = [evaluation.primary.higher_is_better] + [c.higher_is_better for c in columns]
    names = [r.method for r in rows]
    cells, values = [], []
    for row in rows:
        label = row.method if names.count(row.method) == 1 else f"{row.method} [{row.config_hash}]"
        mean = float(np.mean(row.fold_values))
        std = float(np.std(row.fold_values, ddof=1)) if len(row.fold_values) > 1 else 0.0
        numbers = [value_of(row.pooled, c) for c in columns]
        cells.append(
            [label, row.protocol, ",".join(map(str, row.seeds)), f"{mean:.2f} ± {std:.2f}"]
            + [f"{v:.2f}" for v in numbers]
        )
        values.append([mean, *numbers])
    return header, cells, values, higher


def _best_rows(values: list[list[float]], higher: list[bool]) -> list[set[int]]:
    """For each numeric column, the rows holding the best value."""
    array = np.asarray(values, dtype=float)
    best = []
    for col in range(array.shape[1]):
        column = array[:, col]
        if np.all(np.isnan(column)):
            best.append(set())
            continue
        target = np.nanmax(column) if higher[col] else np.nanmin(column)
        best.append({int(i) for i in np.flatnonzero(np.isclose(column, target))})
    return best


def render_table(rows: Sequence[Row], fmt: str = "markdown", title: str = "") -> str:
    """Render rows as a Markdown, CSV or LaTeX table."""
    header, cells, values, higher = _columns(rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(cells)
        return buffer.getvalue()
    best = _best_rows(values, higher)
    numeric_start = 3
    bold = (lambda s: f"**{s}**") if fmt == "markdown" else (lambda s: f"\\textbf{{{s}}}")
    for i, row in enumerate(cells):
        for col, winners in enumerate(best):
            if i in winners and len(rows) > 1:
                row[numeric_start + col] = bold(row[numeric_start + col])
    if fmt == "markdown":
        lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
        lines += [f"| {' | '.join(r)} |" for r in cells]
        return (f"{title}\n\n" if title else "") + "\n".join(lines) + "\n"
    return _latex(header, cells, title)


def _latex(header: list[str], cells: list[list[str]], title: str) -> str:
    def escape(text: str) -> str:
        text = text.replace("\\textbf{", "\x00").replace("}", "\x01")
        for char, repl in (("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
            text = text.replace(char, repl)
        text = text.replace("±", r"$\pm$").replace("↓", r"$\downarrow$").replace("↑", r"$\uparrow$")
        text = text.replace("<=", r"$\leq$").replace("<", r"$<$")
        return text.replace("\x00", "\\textbf{").replace("\x01", "}")

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{escape(title)}}}" if title else "",
        r"\begin{tabular}{" + "l" * 3 + "r" * (len(header) - 3) + "}",
        r"\hline",
        " & ".join(escape(h) for h in header) + r" \\",
        r"\hline",
    ]
    lines += [" & ".join(escape(c) for c in row) + r" \\" for row in cells]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(line for line in lines if line) + "\n"
