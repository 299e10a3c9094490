"""The compact console form of a comparison table (``run`` and ``table`` by default).

The wide table (``table --wide``, CSV, LaTeX, HTML) repeats the protocol, the source and the
ground truth on every row and carries units and arrows in every header, which made the
default run's table about 220 characters wide. The compact form states the shared
conventions once (the caption already names them), keeps the method (with its recipe and
marks), the seeds (unless every row of ours has the same ones: then they are named once in
the notes), the metrics and the CI, shortens the headers (``SDR 2`` for
``SDR<=2.0 mm % ↑``) with one units line, and wraps the caption and the notes to
``WIDTH`` columns. The numbers, bold and marks are the wide table's cells, unchanged.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

from landmarkbench.report.formats import Cell, Table
from landmarkbench.report.literature import FIXED_COLUMNS

__all__ = ["WIDTH", "compact_table"]

WIDTH = 118
# Columns of the wide table whose value is the same on every row of ours (named by the
# caption): the split id, "ours" and the ground truth.
_DROPPED = ("Protocol", "Source", "Ground truth")
_SDR = re.compile(r"SDR(<=|<)([0-9.]+) mm % ↑")
_UNIT = re.compile(r" (mm|px|%)(?: %)? ?([↓↑])")
_LITERATURE = "literature: "
_NO_SEEDS = ("", "—", "-")  # the Seeds cell of rows that were not trained (literature, human)


def _header(text: str, units: dict[tuple[str, str], list[str]], sdr: set[str]) -> str:
    """A short header, recording what it dropped in ``units`` / ``sdr`` for the legend."""
    found = _SDR.search(text)
    if found:
        sdr.add(found[1])
        return _SDR.sub(lambda m: f"SDR {float(m[2]):g}", text)
    unit = _UNIT.search(text)
    if unit:
        short = _UNIT.sub("", text)
        name = re.sub(r" \((folds|seeds)\)| \[95% CI\]", "", short).split(" ")[-1]
        name = "Pooled MRE" if "Pooled MRE" in short else name
        units.setdefault((unit[1], unit[2]), [])
        if name not in units[(unit[1], unit[2])]:
            units[(unit[1], unit[2])].append(name)
        return short
    return text


def _legend(units: dict[tuple[str, str], list[str]], sdr: set[str]) -> str:
    parts = [
        f"{', '.join(names)} in {unit} ({'lower' if arrow == '↓' else 'higher'} is better)"
        for (unit, arrow), names in units.items()
    ]
    for operator in sorted(sdr):
        parts.append(f"SDR r: % of landmarks with point error {operator} r mm (higher is better)")
    return "Units: " + "; ".join(parts) + "." if parts else ""


def compact_table(table: Table) -> Table:
    """``table`` (a wide comparison table of ``tables.section_table``) in compact form."""
    drop = [i for i, name in enumerate(table.header) if name in _DROPPED]
    if table.header[: len(FIXED_COLUMNS)] != FIXED_COLUMNS:
        drop = []  # not a comparison table: only wrapped
    source = table.header.index("Source") if "Source" in table.header else None
    seeds_note = _shared_seeds(table) if drop else None
    if seeds_note:
        drop.append(table.header.index("Seeds"))
    units: dict[tuple[str, str], list[str]] = {}
    sdr: set[str] = set()
    header = [_header(h, units, sdr) for i, h in enumerate(table.header) if i not in drop]
    rows, literature = [], []
    for row in table.rows:
        cells = list(row)
        if drop and source is not None and cells[source].text.startswith(_LITERATURE):
            name = cells[0].text
            literature.append(
                f"{name}: {cells[source].text.removeprefix(_LITERATURE)}, ground truth "
                f"{cells[table.header.index('Ground truth')].text}"
            )
            cells[0] = Cell(f"{name} (lit.)", cells[0].values, cells[0].bold)
        rows.append([c for i, c in enumerate(cells) if i not in drop])
    notes = [_legend(units, sdr)] if drop else []
    if seeds_note:
        notes.append(seeds_note)
    if literature:
        notes.append("(lit.): published figures (" + "; ".join(literature) + ").")
    notes += table.footnotes
    return replace(
        table,
        caption=_wrapped(table.caption),
        header=header,
        rows=rows,
        footnotes=[_wrapped(n) for n in notes if n],
        numeric_from=table.numeric_from - sum(1 for i in drop if i < table.numeric_from),
    )


def _shared_seeds(table: Table) -> str | None:
    """The note naming the seeds when every trained row has the same ones (else None)."""
    column = table.header.index("Seeds")
    seeds = {row[column].text for row in table.rows} - set(_NO_SEEDS)
    if len(seeds) != 1:
        return None
    (shared,) = seeds
    return f"Seeds: {shared} (every row of ours)."


def _wrapped(text: str) -> str:
    return "\n".join(
        textwrap.fill(line, WIDTH, break_long_words=False, break_on_hyphens=False)
        for line in text.splitlines()
    )
