"""Ranks of a leaderboard page: rows of one convention key ordered by the primary metric.

The primary metric is the evaluation's (``results.scoring``): the MRE pooled over every
fold and test set (seed mean of each image's error) for point data, F1 for multi-instance
data. Rows are ordered best first. Ties are stated by confidence-interval overlap: a row
whose 95 % bootstrap interval (``statistics.bootstrap_ci``, the table's setting) overlaps the
interval of the first row of the current tie group shares that row's rank, marked ``=``.
Without intervals (multi-instance data, ``--bootstrap 0``) only equal values tie. A flagged
row (⚠, ``tables.Row.flagged``) is never ranked: it is listed after the ranked rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from landmarkbench.report.tables import Row, bootstrap_setting
from landmarkbench.results.scoring import evaluation_for

__all__ = ["RANK_NOTE", "Ranked", "rank_rows"]

RANK_NOTE = (
    "Rank: by the primary metric ({metric}) pooled over every fold and test set, best "
    "first; '=' marks a row tied with the first row of its group (their 95 % bootstrap "
    "intervals of the pooled MRE overlap; equal values when there is no interval); ⚠ rows "
    "are not ranked; literature rows (lit.) are placed by their published value but never ranked."
)


@dataclass(frozen=True)
class Ranked:
    """A row with its place: ``rank`` None for a flagged row; ``tied`` when it shares the
    rank of the row above; ``value`` the primary metric and its interval (nan without)."""

    row: Row
    rank: int | None
    tied: bool
    value: float
    low: float
    high: float

    @property
    def text(self) -> str:
        if self.rank is None:
            return "⚠"
        return f"={self.rank}" if self.tied else str(self.rank)


def primary_value(row: Row, bootstrap: int, seed: int) -> tuple[float, float, float]:
    """(value, low, high) of the row's primary metric over all its folds."""
    folds = [f for _, group in row.groups() for f in group]
    errors = row.image_errors(folds)
    if errors is not None:
        from landmarkbench.evaluation.statistics import bootstrap_ci

        low, high = bootstrap_ci(errors, bootstrap, seed) if bootstrap > 0 else (math.nan,) * 2
        return float(errors.pooled_mre), float(low), float(high)
    primary = evaluation_for(row.multi_instance).primary
    value = float(np.mean(row.seed_values(folds, primary)))
    return value, math.nan, math.nan


def higher_is_better(row: Row) -> bool:
    """Whether the row's primary metric is better when higher (F1) or lower (MRE)."""
    return evaluation_for(row.multi_instance).primary.higher_is_better


def _overlap(a: Ranked, low: float, high: float, value: float) -> bool:
    if any(math.isnan(v) for v in (a.low, a.high, low, high)):
        return value == a.value
    return low <= a.high and a.low <= high


def rank_rows(
    section: Sequence[Row], bootstrap: int | None = None, seed: int | None = None
) -> list[Ranked]:
    """The rows of one convention key, ranked (see the module docstring)."""
    default_resamples, default_seed = bootstrap_setting()
    bootstrap = default_resamples if bootstrap is None else bootstrap
    seed = default_seed if seed is None else seed
    if not section:
        return []
    sign = -1.0 if higher_is_better(section[0]) else 1.0
    measured = [(row, *primary_value(row, bootstrap, seed)) for row in section]
    ok = sorted(
        (m for m in measured if not m[0].flagged),
        key=lambda m: (sign * m[1] if not math.isnan(m[1]) else math.inf, m[0].name),
    )
    ranked: list[Ranked] = []
    leader: Ranked | None = None
    for position, (row, value, low, high) in enumerate(ok, start=1):
        if leader is not None and _overlap(leader, low, high, value):
            ranked.append(Ranked(row, leader.rank, True, value, low, high))
            continue
        leader = Ranked(row, position, False, value, low, high)
        ranked.append(leader)
    flagged = [Ranked(r, None, False, v, lo, hi) for r, v, lo, hi in measured if r.flagged]
    return ranked + flagged
