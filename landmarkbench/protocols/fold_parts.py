"""The parts of a fold's training cases: training, inner validation, conformal calibration.

The calibration part (only with conformal uncertainty) is cut first, so it is never trained
or selected on; the inner validation part (early stopping, never reported) is cut from the
rest. Both cuts are seeded shuffles of the sorted ids: the same fold and seed always give the
same parts. A dataset that declares its own validation part for its official split (MML's
``val/`` folder, ``declared_validation``) is selected on instead: nothing is cut from the
training part for validation then.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import UsageError

CALIBRATION_SEED_OFFSET = 7_919


def hold_out(
    ids: Sequence[str], fraction: float, seed: int, *, option: str, purpose: str
) -> tuple[list[str], list[str]]:
    """Split ``ids`` into (kept, held out) with a seeded shuffle; both sorted.

    Args:
        ids: Case ids of a training fold.
        fraction: Share held out, in (0, 0.5]; at least one case is held out.
        seed: Seed of the shuffle.
        option: The command-line option that sets ``fraction`` (for messages).
        purpose: What the held-out cases are for (for messages).

    Raises:
        UsageError: if the fraction is outside (0, 0.5] or leaves no case to keep.
    """
    if not 0.0 < fraction <= 0.5:
        raise UsageError(
            f"{option} {fraction} is outside (0, 0.5]; use e.g. 0.1 (10 % of each training "
            f"fold is held out {purpose})."
        )
    ordered = sorted(ids)
    n_held = max(1, round(fraction * len(ordered)))
    if len(ordered) - n_held < 1:
        raise UsageError(
            f"A training fold of {len(ordered)} case(s) cannot spare {n_held} {purpose}; "
            "use fewer folds or more cases."
        )
    shuffled = ordered[:]
    random.Random(seed).shuffle(shuffled)
    held = set(shuffled[:n_held])
    return [i for i in ordered if i not in held], sorted(held)


def declared_validation(dataset: LandmarkDataset, protocol: str) -> list[str] | None:
    """The validation ids the dataset declares for ``protocol`` (MML's ``val/`` folder under
    the official protocol, ``official_validation``), sorted; None when it declares none."""
    if protocol != "official":
        return None
    ids = dataset.official_validation()
    return sorted(ids) if ids else None


def fold_parts(
    train_ids: Sequence[str],
    seed: int,
    val_fraction: float,
    calibration_fraction: float | None = None,
    validation_ids: Sequence[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(train, inner validation, calibration) ids of a fold's training part.

    Args:
        train_ids: The fold's training ids.
        seed: The fold's seed.
        val_fraction: Share of the (remaining) training ids held out for early stopping.
        calibration_fraction: Share held out first for conformal calibration; None for no
            calibration part.
        validation_ids: The dataset's declared validation ids (``declared_validation``):
            the inner validation part as given, none cut from ``train_ids``.

    Raises:
        UsageError: if a fraction is out of range or leaves no case to train on.
    """
    pool, calibration = list(train_ids), []
    if calibration_fraction is not None:
        pool, calibration = hold_out(
            pool,
            calibration_fraction,
            seed + CALIBRATION_SEED_OFFSET,
            option="--calibration-fraction",
            purpose="for conformal calibration",
        )
    if validation_ids is not None:
        return sorted(pool), sorted(validation_ids), calibration
    train, val = hold_out(
        pool, val_fraction, seed, option="--val-fraction", purpose="for early stopping"
    )
    return train, val, calibration
