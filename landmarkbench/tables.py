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
from landmarkbench.results_layout import summary_files

FORMATS = ("markdown", "csv", "latex")


@dataclass
class Row:
    """One table row: a method under one protocol, with its numbers."""

    method: str
    config_hash: str
    protocol: str
    seeds: list[int]
    fold_mre: list[float]
    pooled_mre: float
    pooled_sdr: dict[str, float]
    operator: str
    ground_truth: str


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
        first = summaries[0]
        pooled = _pool_seeds(summaries)
        rows.append(
            Row(
                method=method,
                config_hash=config_hash,
                protocol=split_id,
                seeds=sorted(s["identity"]["seed"] for s in summaries),
                fold_mre=[m["mre"] for s in summaries for m in s["per_fold"].values()],
                pooled_mre=pooled["mre"],
                pooled_sdr=pooled["sdr"],
                operator=first["record"]["metric"]["sdr_operator"],
                ground_truth=first["record"]["dataset"]["ground_truth"],
            )
        )
    return rows, notes


def _pool_seeds(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Average pooled numbers over seeds (each seed's pool has the same size)."""
    mre = float(np.mean([s["pooled"]["mre"] for s in summaries]))
    radii = list(summaries[0]["pooled"]["sdr"])
    sdr = {r: float(np.mean([s["pooled"]["sdr"][r] for s in summaries])) for r in radii}
    return {"mre": mre, "sdr": sdr}


def _columns(rows: Sequence[Row]) -> tuple[list[str], list[list[str]], list[list[float]]]:
    """Header, formatted cells and the raw values (for picking the best per column)."""
    radii = list(rows[0].pooled_sdr)
    operator = rows[0].operator
    header = ["Method", "Protocol", "Seeds", "MRE mm ↓ (folds)", "Pooled MRE mm ↓"]
    header += [f"SDR{operator}{r} mm % ↑" for r in radii]
    names = [r.method for r in rows]
    cells, values = [], []
    for row in rows:
        label = row.method if names.count(row.method) == 1 else f"{row.method} [{row.config_hash}]"
        mean = float(np.mean(row.fold_mre))
        std = float(np.std(row.fold_mre, ddof=1)) if len(row.fold_mre) > 1 else 0.0
        cells.append(
            [
                label,
                row.protocol,
                ",".join(map(str, row.seeds)),
                f"{mean:.2f} ± {std:.2f}",
                f"{row.pooled_mre:.2f}",
            ]
            + [f"{row.pooled_sdr.get(r, float('nan')):.2f}" for r in radii]
        )
        values.append([mean, row.pooled_mre] + [row.pooled_sdr.get(r, np.nan) for r in radii])
    return header, cells, values


def _best_rows(values: list[list[float]]) -> list[set[int]]:
    """For each numeric column, the rows holding the best value (lowest MRE, highest SDR)."""
    array = np.asarray(values, dtype=float)
    best = []
    for col in range(array.shape[1]):
        column = array[:, col]
        if np.all(np.isnan(column)):
            best.append(set())
            continue
        target = np.nanmin(column) if col < 2 else np.nanmax(column)
        best.append({int(i) for i in np.flatnonzero(np.isclose(column, target))})
    return best


def render_table(rows: Sequence[Row], fmt: str = "markdown", title: str = "") -> str:
    """Render rows as a Markdown, CSV or LaTeX table."""
    header, cells, values = _columns(rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(cells)
        return buffer.getvalue()
    best = _best_rows(values)
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
