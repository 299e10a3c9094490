"""The accuracy regression gate: a stored baseline run, a rerun, and a bootstrap verdict.

A baseline file (JSON) records the exact benchmark spec, the code version that produced it,
the pooled MRE, every test image's MRE (so intervals can be recomputed) and the bootstrap
95 % CI of the pooled MRE. The gate reruns the spec and compares by this rule:

* same test images (the usual case: the spec fixes the data and the split): a paired
  bootstrap over images of ``pooled MRE(current) - pooled MRE(baseline)``; regression when
  the lower end of its 95 % CI is above the tolerance (the rise is real and too large);
* different images: regression when the lower end of the current run's 95 % CI exceeds the
  upper end of the baseline's plus the tolerance (the intervals do not overlap).

Pooled MRE weights each image by its number of annotated landmarks, exactly as the runner's
pooled aggregation does; resampling is over images (the independent unit), seeded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.errors import LandmarkBenchError, UsageError

FORMAT = "landmarkbench-regression-baseline/1"
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
BASELINE_KEYS = frozenset(
    {
        "format",
        "spec",
        "code_version",
        "created_utc",
        "pooled_mre_mm",
        "mre_ci95_mm",
        "bootstrap",
        "per_image_mre_mm",
        "per_image_landmarks",
    }
)


class RegressionDetected(LandmarkBenchError):
    """The current run's MRE is worse than the baseline's beyond the tolerance (exit 1)."""


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything that fixes the numbers of a gated run (option values kept as text)."""

    dataset: str = "synthetic_ceph"
    dataset_options: dict[str, str] = field(default_factory=dict)
    method: str = "local_soft_argmax"
    overrides: dict[str, str] = field(default_factory=dict)
    protocol: str = "kfold"
    folds: int = 3
    split_seed: int = 0
    seed: int = 0
    ground_truth: str | None = None
    val_fraction: float = 0.1
    device: str = "cpu"

    def changed(self, **changes: Any) -> BenchmarkSpec:
        """A copy with ``changes`` applied (None values ignored, option dicts merged)."""
        values = asdict(self)
        for key, value in changes.items():
            if value is None:
                continue
            if key in ("dataset_options", "overrides"):
                value = {**values[key], **value}
            values[key] = value
        return BenchmarkSpec(**values)

    def describe(self) -> str:
        """A one-line summary, e.g. ``local_soft_argmax on synthetic_ceph (...)``."""
        data = ", ".join(f"{k}={v}" for k, v in sorted(self.dataset_options.items()))
        sets = ", ".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))
        return (
            f"{self.method} [{sets}] on {self.dataset} [{data}], {self.protocol} "
            f"{self.folds} folds, split seed {self.split_seed}, seed {self.seed}, {self.device}"
        )


@dataclass(frozen=True)
class ImageErrors:
    """Per-image MRE (mm) and landmark counts of one run, keyed by case id."""

    mre_mm: dict[str, float]
    landmarks: dict[str, int]

    def arrays(self, case_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(MRE, count) arrays in the order of ``case_ids``."""
        mre = np.array([self.mre_mm[c] for c in case_ids], dtype=float)
        count = np.array([self.landmarks[c] for c in case_ids], dtype=float)
        return mre, count

    @property
    def pooled_mre(self) -> float:
        """Mean over every landmark of every image (images weighted by landmark count)."""
        mre, count = self.arrays(sorted(self.mre_mm))
        return float(np.sum(mre * count) / np.sum(count))


@dataclass(frozen=True)
class Baseline:
    """A stored reference run: spec, provenance, per-image errors and the pooled interval."""

    spec: BenchmarkSpec
    code_version: str
    created_utc: str
    errors: ImageErrors

    def to_json(self) -> dict[str, Any]:
        """The file's content (per-image values are kept so intervals can be recomputed)."""
        return {
            "format": FORMAT,
            "spec": asdict(self.spec),
            "code_version": self.code_version,
            "created_utc": self.created_utc,
            "pooled_mre_mm": self.errors.pooled_mre,
            "mre_ci95_mm": list(pooled_mre_ci(self.errors)),
            "bootstrap": _bootstrap_record(),
            "per_image_mre_mm": self.errors.mre_mm,
            "per_image_landmarks": self.errors.landmarks,
        }


@dataclass(frozen=True)
class Verdict:
    """The comparison of a current run with a baseline."""

    baseline_mre: float
    baseline_ci: tuple[float, float]
    current_mre: float
    current_ci: tuple[float, float]
    tolerance: float
    paired: bool
    difference_ci: tuple[float, float] | None
    regressed: bool

    def sentence(self) -> str:
        """One line with both MREs, both intervals, the rule and what to do."""
        rule = self._rule()
        if self.regressed:
            return (
                f"Pooled MRE rose from {_mm(self.baseline_mre, self.baseline_ci)} to "
                f"{_mm(self.current_mre, self.current_ci)} ({rule}): accuracy regressed; fix "
                "it or, if intended, rerun with --update."
            )
        if self._improved():
            outcome = "improved beyond the tolerance; rerun with --update to tighten the baseline"
        else:
            outcome = "no regression"
        return (
            f"Pooled MRE {_mm(self.current_mre, self.current_ci)} against the baseline "
            f"{_mm(self.baseline_mre, self.baseline_ci)} ({rule}): {outcome}."
        )

    def _rule(self) -> str:
        where = "above" if self.regressed else "not above"
        if self.paired:
            low, high = self.difference_ci or (math.nan, math.nan)
            return (
                f"paired bootstrap {CI_LEVEL * 100:.0f} % CI of the difference "
                f"[{low:.2f}, {high:.2f}] mm, {where} the tolerance {self.tolerance:.2f} mm"
            )
        return (
            f"different test images, so unpaired: current CI lower end {where} the baseline "
            f"CI upper end plus the tolerance {self.tolerance:.2f} mm"
        )

    def _improved(self) -> bool:
        if self.paired and self.difference_ci is not None:
            return self.difference_ci[1] < -self.tolerance
        return self.current_ci[1] < self.baseline_ci[0] - self.tolerance


def _mm(value: float, ci: tuple[float, float]) -> str:
    return f"{value:.2f} mm [{ci[0]:.2f}, {ci[1]:.2f}]"


def _bootstrap_record() -> dict[str, Any]:
    return {
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "level": CI_LEVEL,
        "unit": "image",
        "interval": "percentile",
    }


def bootstrap_ci(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap CI of the weighted mean, resampling items (seeded).

    Args:
        values: One value per image (an MRE or a difference of MREs).
        weights: One weight per image (its landmark count).

    Returns:
        The (low, high) ends of the ``CI_LEVEL`` interval.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))
    w = weights[picks]
    stats = np.sum(values[picks] * w, axis=1) / np.sum(w, axis=1)
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return float(low), float(high)


def pooled_mre_ci(errors: ImageErrors) -> tuple[float, float]:
    """Bootstrap CI of a run's pooled MRE."""
    return bootstrap_ci(*errors.arrays(sorted(errors.mre_mm)))


def compare(baseline: ImageErrors, current: ImageErrors, tolerance: float) -> Verdict:
    """Apply the gate's rule (module docstring) to a baseline and a current run."""
    base_ci, cur_ci = pooled_mre_ci(baseline), pooled_mre_ci(current)
    paired = set(baseline.mre_mm) == set(current.mre_mm)
    difference_ci = None
    if paired:
        ids = sorted(baseline.mre_mm)
        base, weights = baseline.arrays(ids)
        cur, _ = current.arrays(ids)
        difference_ci = bootstrap_ci(cur - base, weights)
        regressed = difference_ci[0] > tolerance
    else:
        regressed = cur_ci[0] > base_ci[1] + tolerance
    return Verdict(
        baseline_mre=baseline.pooled_mre,
        baseline_ci=base_ci,
        current_mre=current.pooled_mre,
        current_ci=cur_ci,
        tolerance=tolerance,
        paired=paired,
        difference_ci=difference_ci,
        regressed=regressed,
    )


def image_errors(run_dir: Path) -> ImageErrors:
    """Per-image MRE from a finished run's ``fold_*/predictions.csv`` (NaN truth excluded).

    Raises:
        ResultsError: if a predictions file is missing or unreadable.
    """
    from landmarkbench.fold_records import read_predictions

    mre: dict[str, float] = {}
    counts: dict[str, int] = {}
    for fold_dir in sorted(run_dir.glob("fold_*")):
        predictions = read_predictions(fold_dir / "predictions.csv")
        pe = predictions.point_error
        for case_id, row in zip(predictions.case_ids, pe, strict=True):
            valid = row[np.isfinite(row)]
            if valid.size:
                mre[case_id] = float(np.mean(valid))
                counts[case_id] = int(valid.size)
    return ImageErrors(mre, counts)


def run_spec(
    spec: BenchmarkSpec,
    results_dir: Path,
    tracking_uri: str | None,
    echo: Callable[[str], None] = print,
) -> ImageErrors:
    """Run (or resume from ``results_dir``) the spec's benchmark; return per-image errors.

    Raises:
        UsageError: for a bad spec, or a multi-instance dataset (no per-image MRE).
        LandmarkBenchError: if a fold failed.
    """
    from landmarkbench.run_plan import plan_requests

    (run,) = plan_requests(
        dataset=spec.dataset,
        methods=[spec.method],
        seeds=[spec.seed],
        data_options=[f"{k}={v}" for k, v in spec.dataset_options.items()],
        data_dir=None,
        overrides=[f"{k}={v}" for k, v in spec.overrides.items()],
        sdr_radii=None,
        no_progress=True,
        protocol=spec.protocol,
        folds=spec.folds,
        split_seed=spec.split_seed,
        ground_truth=spec.ground_truth,
        val_fraction=spec.val_fraction,
        device=spec.device,
        results_dir=results_dir,
        tracking_uri=tracking_uri,
    )
    if run.dataset.multi_instance:
        raise UsageError(
            f"Dataset {spec.dataset!r} is multi-instance and has no per-image MRE; gate a "
            "one-point-per-landmark dataset such as synthetic_ceph."
        )
    run.echo = echo
    outcome = run.execute()
    if outcome.failed_folds:
        name, reason = next(iter(outcome.failed_folds.items()))
        raise LandmarkBenchError(
            f"{len(outcome.failed_folds)} fold(s) of the gated run failed (first: {name}: "
            f"{reason}); the gate needs every fold: fix the failure and rerun."
        )
    return image_errors(outcome.run_dir)


def new_baseline(spec: BenchmarkSpec, errors: ImageErrors) -> Baseline:
    """A baseline stamped with the current code version and time."""
    from landmarkbench.provenance import code_version

    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    return Baseline(spec, code_version(), created, errors)


def save_baseline(path: Path, baseline: Baseline) -> None:
    """Write (or overwrite) a baseline file atomically."""
    write_json_atomically(path, baseline.to_json())


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline file.

    Raises:
        UsageError: if the file is missing, not JSON, or not a baseline of this format.
    """
    if not path.is_file():
        raise UsageError(
            f"Baseline file '{path}' does not exist; create it with 'landmarkbench regress "
            f"--baseline {path} --update --method NAME [--set/--data-option ...]'."
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"Baseline file '{path}' is not valid JSON ({exc}); restore it from git or "
            "regenerate it with --update."
        ) from None
    return _parse_baseline(path, data)


def _parse_baseline(path: Path, data: Any) -> Baseline:
    if not isinstance(data, dict):
        _bad(path, f"holds a {type(data).__name__}, not an object")
    _check_keys(path, "top-level", data, BASELINE_KEYS)
    if data["format"] != FORMAT:
        _bad(path, f"has format {data['format']!r}, not {FORMAT!r}")
    spec_data = data["spec"]
    if not isinstance(spec_data, dict):
        _bad(path, "has a 'spec' that is not an object")
    _check_keys(path, "spec", spec_data, {f.name for f in fields(BenchmarkSpec)})
    try:
        spec = BenchmarkSpec(**spec_data)
        errors = ImageErrors(
            {str(k): float(v) for k, v in data["per_image_mre_mm"].items()},
            {str(k): int(v) for k, v in data["per_image_landmarks"].items()},
        )
    except (AttributeError, TypeError, ValueError) as exc:
        _bad(path, f"has a malformed spec or per-image values ({exc})")
    if not errors.mre_mm or set(errors.mre_mm) != set(errors.landmarks):
        _bad(path, "has no per-image MRE values, or their case ids differ from the counts'")
    return Baseline(spec, str(data["code_version"]), str(data["created_utc"]), errors)


def _check_keys(path: Path, where: str, data: Mapping[str, Any], expected: Set[str]) -> None:
    unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
    if unknown or missing:
        _bad(path, f"has unknown {where} key(s) {unknown} and missing key(s) {missing}")


def _bad(path: Path, problem: str) -> None:
    raise UsageError(
        f"Baseline file '{path}' {problem}; it was not written by 'landmarkbench regress "
        "--update': restore it from git or regenerate it with --update."
    )
