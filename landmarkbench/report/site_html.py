"""What every leaderboard page shares: the HTML page, its style, sortable tables (a small
inline script, no external library) and safe file names."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

from landmarkbench.report.formats import Cell, Table

__all__ = ["page", "slug", "table_html"]


def _shown(cell: Cell) -> str:
    """A cell's HTML: its links as anchors (a link without a target as code)."""
    if not cell.links:
        return html.escape(cell.text)
    return " ".join(
        f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'
        if href
        else f"<code>{html.escape(text)}</code>"
        for text, href in cell.links
    )


def _sort_key(cell: Cell) -> str:
    """The number a column sorts by (first raw value), or the text."""
    for _, value in cell.values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "" if math.isnan(value) else repr(float(value))
        break
    return cell.text


def table_html(table: Table, css: str = "", row_classes: Sequence[str] = ()) -> str:
    """A Table as sortable HTML (click a header); a cell's ``links`` become anchors;
    ``row_classes`` gives the rows a class each (e.g. ``literature``)."""
    header = table.header
    lines = [f'<table class="sortable {css}">']
    if table.caption:
        lines.append(f"<caption>{html.escape(table.caption)}</caption>")
    lines.append("<thead><tr>")
    for i, name in enumerate(header):
        kind = "num" if table.numeric_from <= i else "text"
        lines.append(f'<th data-kind="{kind}" title="click to sort">{html.escape(name)}</th>')
    lines.append("</tr></thead><tbody>")
    for r, row in enumerate(table.rows):
        cells = []
        for i, cell in enumerate(row):
            align = "" if i >= table.numeric_from else ' class="t"'
            shown = _shown(cell)
            shown = f"<strong>{shown}</strong>" if cell.bold else shown
            key = html.escape(_sort_key(cell))
            cells.append(f'<td{align} data-sort="{key}">{shown}</td>')
        css_class = row_classes[r] if r < len(row_classes) else ""
        css_class = f' class="{css_class}"' if css_class else ""
        lines.append(f"<tr{css_class}>" + "".join(cells) + "</tr>")
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
tr.literature td { color: #555; font-style: italic; }
tr.human td { color: #36506b; font-style: italic; }
td.rank { font-weight: 600; }
small.hash { color: #666; }
code { font-size: 11px; }
"""


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{_SORTER}</script>\n</body>\n</html>\n"
    )


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
