"""Prediction regions for one fold of a run: conformal regions (calibrate on held-out cases,
apply to the test) or the uncalibrated ``hdr`` baseline (``uncertainty_fold_record``).

Data flow of conformal regions (the runner calls ``uncertainty_fold_record`` after the
method's fit)::

    calibration cases (cut from the training fold, never trained or selected on)
        --> method.probability_batches --> scores -p(y) on the network grid --> thresholds
    test cases --> method.probability_batches --> regions {p >= -q}
        --> coverage and size (mm^2 / mm^3, network pixel = original spacing / scale)
        --> FoldRegions (regions.csv) + RegionMasks (regions.npz)

Truths are mapped to the network grid with the same ``ResizePad`` the method used, so the
score is read where the network saw the landmark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.errors import LandmarkBenchError
from landmarkbench.methods.base import Method
from landmarkbench.results.predictions import FoldPredictions
from landmarkbench.uncertainty.conformal import (
    ConformalCalibration,
    calibrate_scores,
    conformity_scores,
)
from landmarkbench.uncertainty.hdr import HighestDensityRule
from landmarkbench.uncertainty.probability_maps import FixedThresholds, RegionRule, regions
from landmarkbench.uncertainty.region_records import (
    FoldRegions,
    RegionMasks,
    summarize_fold_regions,
    write_regions,
)
from landmarkbench.uncertainty.region_stats import RegionPairs, region_pairs, size_unit


@dataclass(frozen=True)
class ConformalFold:
    """The outcome of one fold: its calibration, per-pair records and region masks."""

    calibration: ConformalCalibration
    regions: FoldRegions
    masks: RegionMasks


def _batches(
    method: Method, cases: Sequence[Case]
) -> Iterator[tuple[torch.Tensor, torch.Tensor, list, list]]:
    """Probability maps, the cases' truths on the grid and their grid spacings, per batch."""
    start = 0
    for probabilities, mappings in method.probability_batches(cases):
        batch = cases[start : start + len(mappings)]
        start += len(mappings)
        pairs = list(zip(mappings, batch, strict=True))
        truth = torch.as_tensor(np.stack([m.points_to_target(c.landmarks) for m, c in pairs]))
        spacing = [np.asarray(c.spacing, float) / np.asarray(m.effective_scale) for m, c in pairs]
        yield probabilities, truth, spacing, mappings
    if start != len(cases):
        raise LandmarkBenchError(
            f"{type(method).__name__}.probability_batches covered {start} of {len(cases)} "
            "cases; a method must yield maps for every case, in order: fix the method."
        )


def calibrate_method(method: Method, cases: Sequence[Case], alpha: float) -> ConformalCalibration:
    """Per-landmark thresholds from a fitted method's maps on calibration ``cases``."""
    scores = [conformity_scores(p, truth) for p, truth, _, _ in _batches(method, cases)]
    return calibrate_scores(torch.cat(scores), alpha)


def region_fold(
    method: Method,
    rule: RegionRule,
    test_cases: Sequence[Case],
    landmark_names: Sequence[str],
    whole_image: np.ndarray,
    expected_coverage: np.ndarray,
) -> tuple[FoldRegions, RegionMasks]:
    """Regions of ``rule`` on ``test_cases``: per-pair records and bit-packed masks.

    Args:
        method: A fitted method with ``supports_conformal``.
        rule: Where each region is cut (a conformal calibration or ``HighestDensityRule``).
        test_cases: The fold's test cases.
        landmark_names: Names in landmark order (stored with the records).
        whole_image: (C,) landmarks whose region is the whole image (stated in the records).
        expected_coverage: (C,) the rule's expected coverage (NaN where it has none).
    """
    parts, masks, scales, offsets = [], [], [], []
    case_shape: tuple[int, ...] = ()
    for probabilities, truth, spacing, mappings in _batches(method, test_cases):
        case_shape = tuple(probabilities.shape[1:])
        fixed = FixedThresholds.of(rule, probabilities)  # once per batch, not per use
        parts.append(region_pairs(fixed, probabilities, truth, np.stack(spacing)))
        masks.append(RegionMasks.pack(regions(fixed, probabilities).numpy()))
        for mapping in mappings:
            offset = np.asarray(mapping.points_to_target(np.zeros(mapping.ndim)), dtype=float)
            scales.append(np.asarray(mapping.points_to_target(np.ones(mapping.ndim))) - offset)
            offsets.append(offset)
    case_ids = tuple(c.case_id for c in test_cases)
    records = FoldRegions(
        case_ids=case_ids,
        landmark_names=tuple(landmark_names),
        pairs=RegionPairs.concatenate(parts),
        whole_image=np.asarray(whole_image, dtype=bool),
        size_unit=size_unit(test_cases[0].ndim),
        expected_coverage=np.asarray(expected_coverage, dtype=float),
    )
    packed = RegionMasks(
        case_ids, np.concatenate(masks), case_shape, np.stack(scales), np.stack(offsets)
    )
    return records, packed


def conformal_fold(
    method: Method,
    calibration_cases: Sequence[Case],
    test_cases: Sequence[Case],
    landmark_names: Sequence[str],
    alpha: float,
) -> ConformalFold:
    """Calibrate on ``calibration_cases`` and evaluate regions on ``test_cases``.

    Args:
        method: A fitted method with ``supports_conformal``.
        calibration_cases: Cases disjoint from the method's training, validation and test.
        test_cases: The fold's test cases.
        landmark_names: Names in landmark order (stored with the records).
        alpha: Miscoverage level, e.g. 0.1 for 90 % regions.

    Returns:
        The fold's calibration, records and masks.
    """
    calibration = calibrate_method(method, calibration_cases, alpha)
    records, masks = region_fold(
        method,
        calibration,
        test_cases,
        landmark_names,
        whole_image=np.asarray(calibration.whole_image, dtype=bool),
        expected_coverage=np.asarray(calibration.expected_coverage()),
    )
    return ConformalFold(calibration=calibration, regions=records, masks=masks)


def uncertainty_fold_record(
    kind: str,
    method: Method,
    calibration_cases: Sequence[Case],
    test_cases: Sequence[Case],
    predictions: FoldPredictions,
    folder: Path,
    *,
    alpha: float,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One fold of a run: cut the regions, write their records into ``folder``.

    Args:
        kind: "conformal" (calibrated on ``calibration_cases``) or "hdr" (uncalibrated
            highest-density regions; no calibration cases).
        method: The fitted method.
        calibration_cases: The fold's calibration cases (conformal only).
        test_cases: The fold's test cases.
        predictions: The fold's stored predictions (for the error-size correlation).
        folder: The fold's staging folder.
        alpha: Miscoverage level.
        echo: Where to say that some landmarks got whole-image regions.

    Returns:
        The ``uncertainty`` entry of the fold's ``fold.json``: how the regions were cut
        (the calibration, for conformal regions) and the fold's statistics.
    """
    names = predictions.landmark_names
    if kind == "hdr":
        none = np.zeros(len(names), dtype=bool)
        records, masks = region_fold(
            method, HighestDensityRule(alpha), test_cases, names, none, none + np.nan
        )
        entry: dict[str, Any] = {"rule": {"kind": "hdr", "alpha": alpha}}
    else:
        outcome = conformal_fold(method, calibration_cases, test_cases, names, alpha)
        records, masks = outcome.regions, outcome.masks
        entry = {
            "calibration": {**outcome.calibration.to_json_dict(), "landmark_names": list(names)}
        }
        _say_whole_image(outcome.calibration, names, alpha, echo)
    write_regions(folder, records, masks)
    errors = dict(zip(predictions.case_ids, predictions.point_error, strict=True))
    entry["metrics"] = summarize_fold_regions(
        [records], [errors], alpha=alpha, ndim=test_cases[0].ndim
    )
    return entry


def _say_whole_image(
    calibration: ConformalCalibration,
    names: Sequence[str],
    alpha: float,
    echo: Callable[[str], None],
) -> None:
    few = [f"{names[i]} (n={calibration.n[i]})" for i in calibration.whole_image_landmarks]
    if few:
        echo(
            f"too few annotated calibration cases for {100 * (1 - alpha):g} % regions of "
            f"{', '.join(few)}: their region is the whole image (raise "
            "--calibration-fraction or --alpha)."
        )
