"""Published results from the dataset manifests, as labelled literature rows of a table.

They are copied figures, never recomputed: never bold, never tested, shown with their
protocol, source and ground truth (``tables`` places them under our rows of the same
protocol, or in a table of their own).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from landmarkbench.acquire.manifest import PublishedResult, load_manifest
from landmarkbench.errors import UnknownNameError
from landmarkbench.report.formats import DASH, Cell, Table
from landmarkbench.results.scoring import Column

# The leading text columns of every comparison table (ours and literature alike).
FIXED_COLUMNS = ["Method", "Protocol", "Seeds", "Source", "Ground truth"]


def literature_rows(dataset: str) -> list[PublishedResult]:
    """Published results declared in the dataset's manifest (none without a manifest)."""
    try:
        return list(load_manifest(dataset).published_results)
    except UnknownNameError:
        return []


def merged(literature: Sequence[PublishedResult]) -> list[list[PublishedResult]]:
    """Published results grouped into rows: one per (method, source, ground truth)."""
    rows: dict[tuple, list[PublishedResult]] = defaultdict(list)
    for result in literature:
        rows[(result.method, result.source, result.ground_truth)].append(result)
    return list(rows.values())


def literature_cells(
    results: Sequence[PublishedResult],
    groups: Sequence[tuple[str, Sequence[str]]],
    shown: Sequence[Column],
    with_ci: bool,
    seed_column: bool = False,
) -> list[Cell]:
    """A literature row's cells; ``seed_column`` adds the empty spread-over-seeds cell our
    pooled groups have when a row has several seeds."""
    first = results[0]
    gt = first.ground_truth or "not recorded"
    texts = (first.method, first.protocol, "—", f"literature: {first.source}", gt)
    cells = [Cell.plain(t) for t in texts]
    for name, _ in groups:
        found = [r for r in results if r.split == name or len(groups) == 1]
        result = found[0] if found else None
        cells.append(_published_mre(result))
        cells += [DASH] if seed_column and name == "pooled" else []
        cells += [DASH] if with_ci else []
        cells += [_published_sdr(result, column) for column in shown]
    return cells


def _published_mre(result: PublishedResult | None) -> Cell:
    if result is None:
        return DASH
    if result.mre_std_mm is None:
        return Cell(f"{result.mre_mm:.2f}", (("", result.mre_mm),))
    text = f"{result.mre_mm:.2f} ± {result.mre_std_mm:.2f}"
    return Cell(text, (("", result.mre_mm), (" std", result.mre_std_mm)))


def _published_sdr(result: PublishedResult | None, column: Column) -> Cell:
    if result is None or column.key[0] != "sdr":
        return DASH
    value = {float(k): v for k, v in result.sdr.items()}.get(float(column.key[1]))
    return DASH if value is None else Cell(f"{value:.2f}", (("", float(value)),))


def literature_table(literature: Sequence[PublishedResult], title: str) -> Table:
    """Published results of a protocol none of our runs used (shown alone, not compared)."""
    splits = list(dict.fromkeys(r.split for r in literature))
    groups = [(s, [s]) for s in splits]
    radii = sorted({float(k) for r in literature for k in r.sdr})
    shown = [Column(f"SDR {r:g} mm % ↑", ("sdr", str(r)), True) for r in radii]
    header = list(FIXED_COLUMNS)
    for split in splits:
        header += [f"{split} MRE mm ↓"] + [f"{split} {c.header}" for c in shown]
    body = [literature_cells(r, groups, shown, False) for r in merged(literature)]
    protocol = literature[0].protocol
    caption = f"{title}: " if title else ""
    caption += f"published results, protocol {protocol} (none of our runs used it)"
    return Table(caption, header, body, [LITERATURE_NOTE], numeric_from=len(FIXED_COLUMNS))


LITERATURE_NOTE = (
    "Literature rows are published figures copied from the dataset manifest, not recomputed: "
    "never bold and never tested; check their protocol and ground truth before comparing."
)
