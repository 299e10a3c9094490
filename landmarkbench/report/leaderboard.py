"""A static HTML leaderboard built from stored results only (no server, no network).

``build_site`` writes an ``index.html`` listing every dataset, split and convention key found
under the results folder, and one page per (dataset, convention key) with:

- the comparison table of ``tables.section_table`` (same rows, statistics and bold best),
  sortable by clicking a header (a small inline script, no external library);
- the per-landmark MRE breakdown of ``tables.per_landmark_table`` (point data only);
- the prediction-regions tables (``report.regions_table``: overall and per landmark) when rows
  were run with regions;
- SDR curves (success rate against radius) as inline SVG, from ``metrics.sdr_curve`` on the
  stored per-fold predictions (missing landmarks neither hit nor miss, their number shown),
  passing exactly through the table's SDR at the table's radii;
- the MLflow parent run ids behind each row, looked up by the ``landmarkbench.run_key`` tag
  in the tracking store (shown as "—" when the store or the run is absent).
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.errors import ResultsError
from landmarkbench.evaluation.metrics import SdrCurve
from landmarkbench.report.formats import Cell, Table
from landmarkbench.report.regions_table import conformal_per_landmark_table, conformal_table
from landmarkbench.report.tables import (
    Row,
    collect_rows,
    comparison_rows,
    literature_rows,
    per_landmark_table,
    section_table,
    sections,
)
from landmarkbench.results.layout import summary_files

__all__ = ["SitePage", "build_site", "lookup_run_ids", "row_sdr_curve"]

DASH = "—"
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class SitePage:
    """One written dataset page: its dataset, split, conventions and file (relative to the
    site root)."""

    dataset: str
    split_id: str
    protocol: str
    n_rows: int
    path: str
    conventions: str = ""


def datasets_under(results_dir: Path) -> list[str]:
    """Names of datasets with at least one stored run summary, sorted."""
    if not results_dir.is_dir():
        return []
    return sorted(p.name for p in results_dir.iterdir() if summary_files(results_dir, p.name))


def lookup_run_ids(tracking_uri: str | None, keys: Sequence[str]) -> dict[str, str]:
    """MLflow parent run ids by run key (``RunIdentity.key``); missing keys are left out.

    Asked through ``tracking.find_runs``, the one query of the store: a SQLite store that
    does not exist means no runs (nothing is created). Any failure to read the store is
    reported as no runs rather than an error, since the site is still useful without the ids.
    """
    if not keys or not tracking_uri:
        return {}
    try:
        from landmarkbench.results.tracking import find_runs

        runs = find_runs(tracking_uri, run_keys=list(keys))
    except Exception:  # the store is optional decoration of the site
        return {}
    found: dict[str, str] = {}
    for run in runs:
        found.setdefault(run.run_key, run.run_id)
    return found


def row_sdr_curve(row: Row, top: float, points: int = 101) -> SdrCurve | None:
    """A row's SDR curve: the mean over its seeds of each seed's curve (as the table averages
    each seed's SDR), at ``points`` radii from 0 to ``top`` plus the table's radii, so the
    curve meets the table's SDR there."""
    folds = [f for _, group in row.groups() for f in group]
    table_radii = [float(r) for r in row.conventions.get("sdr_radii_mm", [])]
    radii = np.union1d(np.linspace(0.0, top, points), table_radii)
    curves = [run.sdr_curve(radii, folds) for run in row.runs]
    if not curves or any(c is None for c in curves):
        return None
    first = curves[0]
    if len(curves) == 1:
        return first
    percent = np.mean([c.percent for c in curves], axis=0)
    return SdrCurve(first.radii_mm, percent, first.operator, first.n_valid, first.n_missing)


def _curves(section: Sequence[Row]) -> list[tuple[str, np.ndarray]]:
    """One SDR curve per row (point data), labelled with the number of missing landmarks."""
    finite = []
    for row in section:
        folds = [f for _, group in row.groups() for f in group]
        found = row.image_errors(folds)
        if found is not None and np.isfinite(found.pe).any():
            finite.append(float(np.nanpercentile(found.pe, 95)))
    top = max(4.0, math.ceil(min(max(finite, default=0.0), 50.0)))
    curves = []
    for row in section:
        curve = row_sdr_curve(row, top)
        if curve is None or not curve.n_valid:
            continue
        label = row.label(section)
        if curve.n_missing:
            label += f" ({curve.missing_note()})"
        curves.append((label, np.column_stack([curve.radii_mm, curve.percent])))
    return curves


def _svg(curves: Sequence[tuple[str, np.ndarray]]) -> str:
    """Inline SVG line chart of SDR (%) against radius (mm), with axes and a legend."""
    if not curves:
        return "<p>No SDR data.</p>"
    # The legend column is as wide as the longest label (about 6.5 px per 11 px character).
    right = 44 + int(6.5 * max(len(label) for label, _ in curves))
    plot_w, left, top, bottom = 470, 50, 15, 40
    width, height = left + plot_w + right, max(360, top + 16 * len(curves) + 20)
    plot_h = height - top - bottom
    x_max = max(float(c[:, 0].max()) for _, c in curves) or 1.0

    def xy(r: float, s: float) -> str:
        return f"{left + plot_w * r / x_max:.1f},{top + plot_h * (1 - s / 100):.1f}"

    parts = [
        f'<svg class="sdr" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="SDR curves">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>',
    ]
    for tick in range(0, 101, 20):
        y = top + plot_h * (1 - tick / 100)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>'
        )
    for i in range(6):
        r = x_max * i / 5
        x = left + plot_w * i / 5
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 15}" text-anchor="middle" '
            f'font-size="11">{r:g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 5}" text-anchor="middle" '
        'font-size="12">radius (mm)</text>'
        f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">SDR (%)</text>'
    )
    for i, (label, curve) in enumerate(curves):
        colour = _PALETTE[i % len(_PALETTE)]
        points = " ".join(xy(float(r), float(s)) for r, s in curve)
        marker = "" if len(curve) > 10 else ' stroke-dasharray="4 2"'
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{marker} points="{points}">'
            f"<title>{html.escape(label)}</title></polyline>"
        )
        y = top + 10 + 16 * i
        parts.append(
            f'<line x1="{left + plot_w + 10}" x2="{left + plot_w + 30}" y1="{y}" y2="{y}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{left + plot_w + 34}" y="{y + 4}" '
            f'font-size="11">{html.escape(label)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _sort_key(cell: Cell) -> str:
    """The number a column sorts by (first raw value), or the text."""
    for _, value in cell.values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "" if math.isnan(value) else repr(float(value))
        break
    return cell.text


def _table_html(
    table: Table, extra: Sequence[tuple[str, Sequence[str]]] = (), css: str = ""
) -> str:
    """A Table as sortable HTML; ``extra`` adds (header, text per row) columns at the end.

    Extra columns cover only the first ``len(texts)`` rows (literature rows get "—").
    """
    header = [*table.header, *(h for h, _ in extra)]
    lines = [f'<table class="sortable {css}">']
    if table.caption:
        lines.append(f"<caption>{html.escape(table.caption)}</caption>")
    lines.append("<thead><tr>")
    for i, name in enumerate(header):
        kind = "num" if table.numeric_from <= i < len(table.header) else "text"
        lines.append(f'<th data-kind="{kind}" title="click to sort">{html.escape(name)}</th>')
    lines.append("</tr></thead><tbody>")
    for r, row in enumerate(table.rows):
        cells = []
        for i, cell in enumerate(row):
            align = "" if i >= table.numeric_from else ' class="t"'
            shown = html.escape(cell.text)
            shown = f"<strong>{shown}</strong>" if cell.bold else shown
            key = html.escape(_sort_key(cell))
            cells.append(f'<td{align} data-sort="{key}">{shown}</td>')
        for _, texts in extra:
            text = texts[r] if r < len(texts) else DASH
            cells.append(
                f'<td data-sort="{html.escape(text)}"><code>{html.escape(text)}</code></td>'
            )
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    lines += [f'<p class="note">{html.escape(note)}</p>' for note in table.footnotes]
    return "\n".join(lines)


_SORTER = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('data-order') !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-order'); });
      th.setAttribute('data-order', asc ? 'asc' : 'desc');
      var numeric = th.getAttribute('data-kind') === 'num';
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
        if (numeric) {
          var fx = x === '' ? NaN : parseFloat(x), fy = y === '' ? NaN : parseFloat(y);
          if (isNaN(fx) && isNaN(fy)) { return 0; }
          if (isNaN(fx)) { return 1; }
          if (isNaN(fy)) { return -1; }
          return asc ? fx - fy : fy - fx;
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; cursor: pointer; user-select: none; }
th[data-order="asc"]::after { content: " ▲"; }
th[data-order="desc"]::after { content: " ▼"; }
td.t, td:first-child, th:first-child { text-align: left; }
p.note { font-size: 12px; color: #555; margin: 0.2em 0; }
code { font-size: 11px; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{_SORTER}</script>\n</body>\n</html>\n"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _dataset_page(
    dataset: str,
    section: Sequence[Row],
    run_ids: Mapping[str, str],
    bootstrap: int | None,
    seed: int | None,
) -> str:
    first = section[0]
    matching = [p for p in literature_rows(dataset) if p.protocol == first.split_protocol]
    shown = comparison_rows(section)  # hdr runs repeat their plain runs' predictions
    table = section_table(shown, matching, f"Dataset {dataset}", bootstrap, seed)
    ids = []
    for row in shown:
        found = [run_ids.get(run.identity.key, DASH) for run in row.runs]
        ids.append(" ".join(found) or DASH)
    parts = [
        '<p><a href="index.html">← all datasets</a></p>',
        f"<h1>{html.escape(dataset)} — {html.escape(first.split_protocol)} "
        f"({html.escape(first.protocol)})</h1>",
        f'<p class="conventions">Conventions shared by every row: '
        f"{html.escape(first.conventions.describe())}.</p>",
        "<h2>Comparison</h2>",
        _table_html(table, [("MLflow run ids", ids)], css="leaderboard"),
    ]
    if not first.multi_instance:
        try:
            breakdown = per_landmark_table(shown, f"Dataset {dataset}")
        except (ResultsError, ValueError, AttributeError) as error:
            parts += ["<h2>Per-landmark MRE</h2>", f"<p>{html.escape(str(error))}</p>"]
        else:
            parts += ["<h2>Per-landmark MRE</h2>", _table_html(breakdown, css="per-landmark")]
    regions = conformal_table(section, f"Dataset {dataset}")
    if regions is not None:
        parts += ["<h2>Prediction regions</h2>", _table_html(regions, css="regions")]
        per_landmark = conformal_per_landmark_table(section, f"Dataset {dataset}")
        if per_landmark is not None:
            parts.append(_table_html(per_landmark, css="regions-per-landmark"))
    parts += [
        "<h2>SDR curves</h2>",
        '<p class="note">Share of landmarks within each radius, pooled over the folds '
        "(seed mean of each error), counted as in the table: missing landmarks are neither "
        "hits nor misses, and their number is given beside the method.</p>",
        _svg(_curves(shown)),
    ]
    return _page(f"{dataset} {first.protocol} leaderboard", "\n".join(parts))


def _index_page(pages: Sequence[SitePage], notes: Sequence[str]) -> str:
    by_dataset: dict[str, list[SitePage]] = defaultdict(list)
    for page in pages:
        by_dataset[page.dataset].append(page)
    parts = ["<h1>landmarkbench leaderboard</h1>"]
    if not pages:
        parts.append("<p>No complete results found.</p>")
    parts.append('<table class="sortable index"><thead><tr>')
    parts += [
        f'<th data-kind="{k}">{h}</th>'
        for h, k in (
            ("Dataset", "text"),
            ("Protocol", "text"),
            ("Split", "text"),
            ("Conventions", "text"),
            ("Rows", "num"),
        )
    ]
    parts.append("</tr></thead><tbody>")
    for dataset, group in sorted(by_dataset.items()):
        for page in group:
            parts.append(
                f'<tr><td data-sort="{html.escape(dataset)}">{html.escape(dataset)}</td>'
                f'<td data-sort="{html.escape(page.protocol)}">{html.escape(page.protocol)}</td>'
                f'<td data-sort="{html.escape(page.split_id)}"><a href="{html.escape(page.path)}">'
                f"{html.escape(page.split_id)}</a></td>"
                f'<td data-sort="{html.escape(page.conventions)}">'
                f"{html.escape(page.conventions)}</td>"
                f'<td data-sort="{page.n_rows}">{page.n_rows}</td></tr>'
            )
    parts.append("</tbody></table>")
    parts += [f'<p class="note">note: {html.escape(n)}</p>' for n in notes]
    return _page("landmarkbench leaderboard", "\n".join(parts))


def build_site(
    results_dir: Path,
    out_dir: Path,
    *,
    datasets: Sequence[str] = (),
    tracking_uri: str | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
) -> tuple[list[SitePage], list[str]]:
    """Write the static site into ``out_dir``: ``index.html`` and one page per dataset and
    convention key (rows of different conventions never share a page).

    Args:
        results_dir: The results root (``<dataset>/<split>/<method>__<hash>/seed_<s>``).
        out_dir: Where to write the site (created).
        datasets: Datasets to include (default: every dataset with stored summaries).
        tracking_uri: MLflow store to take the run ids from (absent: ids shown as "—").
        bootstrap: Bootstrap resamples for the CI of the pooled MRE (0: none; None: the one
            setting of ``tables.bootstrap_setting``, as ``table`` uses).
        seed: Seed of the bootstrap (None: the same setting's).

    Returns:
        The pages written and notes about runs, files or datasets left out.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(datasets) or datasets_under(results_dir)
    pages: list[SitePage] = []
    notes: list[str] = []
    found: list[tuple[str, list[Row]]] = []
    for dataset in names:
        try:
            rows, left_out = collect_rows(results_dir, dataset)
        except ResultsError as error:
            notes.append(str(error))
            continue
        notes += left_out
        found += [(dataset, section) for section in sections(rows)]
    keys = [run.identity.key for _, section in found for row in section for run in row.runs]
    run_ids = lookup_run_ids(tracking_uri, keys)
    for dataset, section in found:
        first = section[0]
        name = f"{_slug(dataset)}__{_slug(first.protocol)}__{first.conventions.key}.html"
        text = _dataset_page(dataset, section, run_ids, bootstrap, seed)
        (out_dir / name).write_text(text, encoding="utf-8")
        pages.append(
            SitePage(
                dataset,
                first.protocol,
                first.split_protocol,
                len(section),
                name,
                _conventions_text(first),
            )
        )
    (out_dir / "index.html").write_text(_index_page(pages, notes), encoding="utf-8")
    return pages, notes


def _conventions_text(row: Row) -> str:
    """The conventions a dataset page's rows share, beyond dataset and split."""
    conventions = row.conventions
    parts = [f"ground truth {conventions.ground_truth}"]
    operator = conventions.get("sdr_operator")
    if operator is not None:
        parts.append(f"SDR {operator}")
        parts.append(str(conventions.get("aggregation", "pooled")))
    version = conventions.get("dataset_version")
    if version is not None:
        parts.append(f"v{version}")
    return ", ".join(parts)
