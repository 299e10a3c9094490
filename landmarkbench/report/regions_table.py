"""The prediction-regions table: coverage and region size of runs with ``--uncertainty``
(conformal regions, or the uncalibrated highest-density baseline ``hdr``).

One row per (method, config, split) that was run with regions; several seeds are
averaged. Nothing is bold: a smaller region is better only at the target coverage, which the
reader judges from the coverage column beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from landmarkbench.report.formats import DASH, Cell, Table


class Row(Protocol):
    """What this table reads of a row of ``tables`` (``tables.Row`` has it); stated here so
    that this module does not import ``tables``, which imports it."""

    protocol: str

    @property
    def summaries(self) -> list[dict[str, Any]]: ...

    @property
    def seeds(self) -> list[int]: ...

    @property
    def regions_kind(self) -> str | None: ...

    def label(self, section: Sequence[Any]) -> str: ...


HEADER = [
    "Method",
    "Protocol",
    "Seeds",
    "Target coverage",
    "Expected % k/(n+1)",
    "Coverage % (test)",
    "Coverage % per fold",
    "Mean size",
    "Median size",
    "Spearman ρ (PE, size)",
    "Pairs",
    "Whole-image landmarks",
]


def _stats(row: Row) -> list[dict[str, Any]]:
    return [s["uncertainty"] for s in row.summaries if s.get("uncertainty")]


def _mean_cell(values: Sequence[float | None], digits: int, unit: str = "") -> Cell:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return DASH
    mean = float(np.mean(finite))
    return Cell(f"{mean:.{digits}f}{unit}", (("", mean),))


def _per_fold_cell(stats: Sequence[dict[str, Any]]) -> Cell:
    """Coverage of each fold (test set), averaged over seeds: where exchangeability fails
    (e.g. a shifted test set) one fold falls short while the pooled figure may not."""
    by_fold: dict[str, list[float]] = {}
    for seed_stats in stats:
        for name, fold in (seed_stats.get("per_fold") or {}).items():
            if fold["coverage_percent"] is not None:
                by_fold.setdefault(name, []).append(fold["coverage_percent"])
    if not by_fold:
        return DASH
    means = {name: float(np.mean(values)) for name, values in by_fold.items()}
    text = ", ".join(f"{name} {value:.1f}" for name, value in means.items())
    return Cell(text, tuple((f"_{name}", value) for name, value in means.items()))


def _row_cells(row: Row, section: Sequence[Row]) -> list[Cell]:
    stats = _stats(row)
    unit = f" {stats[0]['size_unit']}"
    whole = sorted({name for s in stats for name in s["whole_image_landmarks"]})
    return [
        Cell.plain(row.label(section)),
        Cell.plain(row.protocol),
        Cell.plain(",".join(map(str, row.seeds))),
        Cell(f"{stats[0]['target_coverage_percent']:g} %", (("", stats[0]["alpha"]),)),
        _mean_cell([s.get("expected_coverage_percent") for s in stats], 1),
        _mean_cell([s["coverage_percent"] for s in stats], 1),
        _per_fold_cell(stats),
        _mean_cell([s["mean_size"] for s in stats], 1, unit),
        _mean_cell([s["median_size"] for s in stats], 1, unit),
        _mean_cell([s["spearman_rho_error_size"] for s in stats], 2),
        Cell.plain(str(sum(s["n_pairs"] for s in stats))),
        Cell.plain(", ".join(whole) if whole else "none"),
    ]


def _kinds_caption(rows: Sequence[Row]) -> str:
    kinds = {row.regions_kind for row in rows}
    parts = []
    if "conformal" in kinds:
        parts.append("Conformal regions (M-R2CCP, split conformal per landmark)")
    if "hdr" in kinds:
        parts.append("uncalibrated highest-density regions (hdr, baseline)")
    return "; ".join(parts) if parts else "Prediction regions"


def conformal_table(section: Sequence[Row], title: str) -> Table | None:
    """The prediction-regions table of one split, or None when no row has regions."""
    rows = [row for row in section if _stats(row)]
    if not rows:
        return None
    kinds = {row.regions_kind for row in rows}
    notes = [
        "Coverage = share of test truths inside their region, pooled over folds (per fold "
        "beside it). Size = area (mm^2) or volume (mm^3) of the region; ρ = Spearman "
        "correlation between point error and region size."
    ]
    if "conformal" in kinds:
        notes.append(
            "(conformal): calibrated per fold on cases held out of the training fold (never "
            "trained, selected or tested on). Expected = k/(n+1), the exact expected coverage "
            "of split conformal with n calibration cases and k = ceil((n+1)(1-alpha)): above "
            "the target when n is small. The guarantee holds for test cases exchangeable with "
            "the calibration cases: a shifted test set (e.g. another scanner or population) "
            "can fall short, which the per-fold column shows. Whole-image landmarks had too "
            "few calibration cases for the level ((n + 1)(1 - alpha) > n)."
        )
    if "hdr" in kinds:
        notes.append(
            "(hdr): each map's smallest region holding 1 - alpha of its probability, without "
            "calibration: it covers the target only if the network's maps are calibrated."
        )
    return Table(
        caption=" — ".join(filter(None, [title, _kinds_caption(rows)])),
        header=HEADER,
        rows=[_row_cells(row, section) for row in rows],
        footnotes=notes,
        numeric_from=3,
    )


def conformal_per_landmark_table(section: Sequence[Row], title: str) -> Table | None:
    """Coverage and median region size per landmark for the rows with regions (seeds
    averaged); None when no row has regions."""
    rows = [row for row in section if _stats(row)]
    if not rows:
        return None
    names = rows[0].summaries[0]["record"]["dataset"]["landmark_names"]  # dataset order
    header = ["Landmark"]
    for row in rows:
        unit = _stats(row)[0]["size_unit"]
        header += [f"{row.label(section)} coverage %", f"{row.label(section)} median {unit}"]
    body = []
    for name in names:
        cells = [Cell.plain(name)]
        for row in rows:
            per = [s["per_landmark"].get(name, {}) for s in _stats(row)]
            cells.append(_mean_cell([p.get("coverage_percent") for p in per], 1))
            cells.append(_mean_cell([p.get("median_size") for p in per], 1))
        body.append(cells)
    return Table(
        caption=" — ".join(filter(None, [title, "Prediction regions per landmark"])),
        header=header,
        rows=body,
        footnotes=[
            "Coverage: share of the landmark's test truths inside its region, pooled over "
            "folds; median size of its regions (area in 2D, volume in 3D)."
        ],
        numeric_from=1,
    )
