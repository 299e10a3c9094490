"""Rendering of built tables as Markdown, LaTeX (booktabs), CSV and HTML.

A ``Table`` holds display text and the raw numbers behind each cell: the text formats show the
text (bold where best), CSV writes the raw numbers unformatted, one column per number.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FORMATS = ("markdown", "latex", "csv", "html")
DAGGER = "†"


@dataclass
class Cell:
    """One table cell: its text, its raw values for CSV (suffix -> value) and emphasis;
    ``links`` ((text, href) pairs) replace the text in HTML pages (the leaderboard)."""

    text: str
    values: tuple[tuple[str, float | str], ...] = ()
    bold: bool = False
    links: tuple[tuple[str, str], ...] = ()

    @classmethod
    def plain(cls, text: str) -> Cell:
        """A text cell whose CSV value is the text itself."""
        return cls(text, (("", text),))


@dataclass
class Table:
    """One table: a caption, a header, rows of cells and footnote lines."""

    caption: str
    header: list[str]
    rows: list[list[Cell]]
    footnotes: list[str] = field(default_factory=list)
    numeric_from: int = 1


DASH = Cell("—", (("", float("nan")),))


def render(tables: Sequence[Table], fmt: str) -> str:
    """Render tables in one of ``FORMATS``.

    Raises:
        ValueError: for an unknown format.
    """
    renderers = {
        "markdown": _markdown,
        "latex": _latex,
        "html": _html,
    }
    if fmt == "csv":
        return _csv(tables)
    if fmt not in renderers:
        raise ValueError(f"Unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    return "\n".join(renderers[fmt](table) for table in tables)


def _markdown(table: Table) -> str:
    def text(cell: Cell) -> str:
        shown = cell.text.replace("|", "\\|")
        return f"**{shown}**" if cell.bold else shown

    lines = [f"{table.caption}", ""] if table.caption else []
    lines += [f"| {' | '.join(table.header)} |", "|" + "---|" * len(table.header)]
    lines += [f"| {' | '.join(text(c) for c in row)} |" for row in table.rows]
    if table.footnotes:
        lines += ["", *table.footnotes]
    return "\n".join(lines) + "\n"


_LATEX_SYMBOLS = (
    ("±", r"$\pm$"),
    ("↓", r"$\downarrow$"),
    ("↑", r"$\uparrow$"),
    ("†", r"\textsuperscript{\dag}"),
    ("≤", r"$\leq$"),
    ("ρ", r"$\rho$"),
    (r"\textasciicircum{}2", r"$^2$"),
    (r"\textasciicircum{}3", r"$^3$"),
    ("—", "--"),
    ("<=", r"$\leq$"),
    ("<", r"$<$"),
    (">", r"$>$"),
)


def latex_escape(text: str) -> str:
    """Text made safe for LaTeX: special characters escaped, symbols as math."""
    specials = {
        "\\": r"\textbackslash{}",
        "_": r"\_",
        "%": r"\%",
        "&": r"\&",
        "#": r"\#",
        "$": r"\$",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    escaped = "".join(specials.get(char, char) for char in text)
    for symbol, replacement in _LATEX_SYMBOLS:
        escaped = escaped.replace(symbol, replacement)
    return escaped.encode("ascii", "replace").decode("ascii")


def _latex(table: Table) -> str:
    def text(cell: Cell) -> str:
        shown = latex_escape(cell.text)
        return rf"\textbf{{{shown}}}" if cell.bold else shown

    spec = "l" * table.numeric_from + "r" * (len(table.header) - table.numeric_from)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_escape(table.caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(text(c) for c in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [rf"\par\footnotesize {latex_escape(note)}" for note in table.footnotes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _html(table: Table) -> str:
    def text(cell: Cell) -> str:
        shown = html.escape(cell.text)
        return f"<strong>{shown}</strong>" if cell.bold else shown

    lines = ["<table>", f"<caption>{html.escape(table.caption)}</caption>", "<thead>"]
    lines.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header) + "</tr>")
    lines += ["</thead>", "<tbody>"]
    lines += ["<tr>" + "".join(f"<td>{text(c)}</td>" for c in row) + "</tr>" for row in table.rows]
    lines += ["</tbody>", "</table>"]
    lines += [f"<p>{html.escape(note)}</p>" for note in table.footnotes]
    return "\n".join(lines) + "\n"


def _csv(tables: Sequence[Table]) -> str:
    """One CSV over every table: the union of their columns, raw numbers, '' when absent."""
    columns: list[str] = []
    records = []
    for table in tables:
        for row in table.rows:
            record = {}
            for name, cell in zip(table.header, row, strict=True):
                for suffix, value in cell.values:
                    record[f"{name}{suffix}"] = value
            records.append(record)
            columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_raw(record.get(name, "")) for name in columns])
    return buffer.getvalue()


def _raw(value: float | str) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def spread_cell(values: Sequence[float]) -> Cell:
    """``mean ± std`` of values (std with ddof 1; 0 for a single value)."""
    mean = float(np.mean(values)) if values else float("nan")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return Cell(f"{mean:.2f} ± {std:.2f}", (("", mean), (" std", std)))


def ci_cell(mre: float, low: float, high: float, p_value: float, marked: bool) -> Cell:
    """``mre [low, high]`` with a dagger when ``marked``; CSV keeps the p-value too."""
    text = f"{mre:.2f}" if np.isnan(low) else f"{mre:.2f} [{low:.2f}, {high:.2f}]"
    values = (("", mre), (" low", low), (" high", high), (" Wilcoxon p", p_value))
    return Cell(text + (DAGGER if marked else ""), values)


def bold_best(
    body: list[list[Cell]],
    higher: Sequence[bool],
    start: int,
    eligible: Sequence[bool] | None = None,
) -> None:
    """Bold the best of our rows in every numeric column (only when there is a choice);
    rows whose ``eligible`` is False (flagged failures) are never bold nor the best."""
    if len(body) < 2:
        return
    allowed = np.ones(len(body), bool) if eligible is None else np.asarray(eligible, bool)
    for offset, high in enumerate(higher):
        column = [row[start + offset] for row in body]
        values = np.array([c.values[0][1] if c.values else np.nan for c in column], dtype=float)
        values[~allowed] = np.nan
        if np.all(np.isnan(values)):
            continue
        target = np.nanmax(values) if high else np.nanmin(values)
        for cell, value in zip(column, values, strict=True):
            cell.bold = bool(np.isclose(value, target))


def bold_row(cells: list[Cell], eligible: Sequence[bool] | None = None) -> list[Cell]:
    """Bold the lowest value of a row of numeric cells (only when there is a choice);
    cells whose ``eligible`` is False (flagged landmarks) are never bold."""
    values = np.array([c.values[0][1] for c in cells], dtype=float)
    if eligible is not None:
        values[~np.asarray(eligible, bool)] = np.nan
    if len(cells) > 1 and not np.all(np.isnan(values)):
        for cell, value in zip(cells, values, strict=True):
            cell.bold = bool(np.isclose(value, np.nanmin(values)))
    return cells
