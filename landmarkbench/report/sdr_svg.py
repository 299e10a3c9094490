"""SDR curves of a leaderboard page as inline SVG (success rate against radius), from
``metrics.sdr_curve`` on the stored predictions: missing landmarks neither hit nor miss
(their number shown), and each curve passes exactly through the table's SDR at the table's
radii. The axis spans 0 to the largest radius plus a margin (``plot_common.sdr_axis_top``),
where the differences between methods are.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from landmarkbench.evaluation.metrics import SdrCurve
from landmarkbench.report.plot_common import sdr_axis_top
from landmarkbench.report.tables import Row

__all__ = ["row_sdr_curve", "sdr_curves", "sdr_svg"]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


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


def sdr_curves(section: Sequence[Row], top: float | None = None) -> list[tuple[str, np.ndarray]]:
    """One SDR curve per row (point data), labelled with the number of missing landmarks,
    from 0 to ``top`` mm (default ``plot_common.sdr_axis_top`` of the table's radii)."""
    if top is None:
        top = sdr_axis_top(section[0].conventions.get("sdr_radii_mm", []) if section else [])
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


def sdr_svg(curves: Sequence[tuple[str, np.ndarray]], marks: Sequence[float] = ()) -> str:
    """Inline SVG line chart of SDR (%) against radius (mm), with axes, a legend and a dotted
    line at each radius of ``marks`` (the table's radii)."""
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
    for mark in marks:
        if 0 < float(mark) <= x_max:
            x = left + plot_w * float(mark) / x_max
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#bbb" '
                'stroke-dasharray="2 3"/>'
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
