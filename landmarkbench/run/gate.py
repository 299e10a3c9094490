"""The accuracy regression gate: a multi-seed baseline, a multi-seed rerun, seed-spread rules.

Why several seeds. A seeded run is byte-identical on one machine but not across machines:
floating-point kernels differ between CPUs, training takes another path, and the same seed
gives another MRE (3.26 mm on one machine, 3.39 mm on another AMD EPYC machine, for the CI
spec). A single-seed baseline with tolerance 0 therefore fails on every machine but the one
that wrote it. A change of kernels acts like a change of training seed, so the gate treats
each seed's result as one draw from the spec's seed-to-seed distribution and measures that
spread.

Two figures per seed, because the spread of the CI spec is not normal: in about 2 of 7
seeds one landmark of one fold lands on a wrong local maximum (17-28 mm off), which lifts the
pooled MRE by about 1.5 mm (seeds 0-6: 3.26, 3.63, 3.43, 3.52, 3.34, 4.83, 4.86 mm). The
pooled MRE's seed spread is then as large as the regressions to catch, so the gate watches

* the median point error over every (image, landmark) of the seed: insensitive to those
  few outliers, it moves with any change that shifts most points (a worse decoder) and has
  a small seed spread (0.16 mm SD over seeds 0-6); and
* the pooled MRE (the project's headline number), with the tolerance its own spread gives,
  which catches gross breakage that leaves the median alone (many landmarks lost).

The baseline file (format ``landmarkbench-regression-baseline/2``, JSON) records the spec
(everything but the training seed), the code version, the machine, every test image's point
errors for each of the ``spread seeds`` it was written with (default 0-5, run one after the
other), and the gate block: gate seeds, per figure its per-seed values, mean, SD and
tolerance, and how the tolerances were derived.

Rule. The gate reruns the spec with each gate seed (default 0, 1, 2) and, per figure,

    rise = mean over the gate seeds - mean over the spread seeds

with ``tolerance = max(0.01 mm, t * s * sqrt(1/n + 1/m))``: ``s`` is the sample standard
deviation of the figure over the m spread seeds, ``n`` the number of gate seeds and ``t`` the
one-sided 99.5 % quantile of Student's t with m - 1 degrees of freedom. If the gate seeds are
draws from the baseline's distribution (no change, or only other floating-point kernels),
``rise / (s * sqrt(1/n + 1/m))`` follows that t distribution, so an unchanged spec fails a
figure with probability 0.5 % (normal seed values assumed; the gate as a whole at most 1 %);
the 0.01 mm floor covers deterministic specs, whose spread is 0. The gate fails (exit 1) when
a figure rises by more than its tolerance or a gate seed gives no finite error. Every figure
is recomputed from the stored point errors when the file is read; a file whose figures
disagree with them is refused, as is one with missing or non-finite point errors.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.catalog import METHODS
from landmarkbench.errors import LandmarkBenchError, ResultsError, UsageError
from landmarkbench.evaluation.statistics import ImageErrors
from landmarkbench.spec.experiment import (
    DatasetSpec,
    ExperimentSpec,
    MethodSpec,
    ProtocolSpec,
    TrackingSpec,
)

FORMAT = "landmarkbench-regression-baseline/2"
OLD_FORMATS = ("landmarkbench-regression-baseline/1",)
DEFAULT_SPREAD_SEEDS = (0, 1, 2, 3, 4, 5)
DEFAULT_GATE_SEEDS = (0, 1, 2)
FALSE_ALARM_RATE = 0.005
MIN_TOLERANCE_MM = 0.01
_CHECK_RTOL = 1e-9
# Figure key in the file -> (words in sentences, how a seed's errors give it).
FIGURES: dict[str, tuple[str, Callable[[ImageErrors], float]]] = {
    "median_point_error_mm": ("median point error", lambda errors: errors.median_error),
    "pooled_mre_mm": ("pooled MRE", lambda errors: errors.pooled_mre),
}
BASELINE_KEYS = frozenset(
    {"format", "spec", "code_version", "created_utc", "machine", "gate", "per_seed"}
)
GATE_KEYS = frozenset({"rule", "seeds", "figures", "tolerance_derivation"})
FIGURE_KEYS = frozenset({"per_seed", "mean_mm", "seed_sd_mm", "seed_range_mm", "tolerance_mm"})
DERIVATION_KEYS = frozenset(
    {"formula", "spread_seeds", "false_alarm_rate", "t_quantile", "minimum_mm", "measured"}
)
RULE_TEXT = (
    "regression when, for either figure, the mean over the gate seeds exceeds the mean over "
    "the spread seeds by more than that figure's tolerance_mm, or a gate seed gives no finite "
    "error"
)
FORMULA_TEXT = (
    "tolerance_mm = max(minimum_mm, t_quantile * seed_sd_mm * sqrt(1/len(gate seeds) + "
    "1/len(spread_seeds))); seed_sd_mm: sample SD (ddof 1) of the figure over the spread "
    "seeds; t_quantile: one-sided (1 - false_alarm_rate) quantile of Student's t with "
    "len(spread_seeds) - 1 degrees of freedom"
)


class RegressionDetected(LandmarkBenchError):
    """The current run's MRE is worse than the baseline's beyond the tolerance (exit 1)."""


# The spec block of a baseline file: everything but the training seed that fixes the numbers
# of a gated run (one method), with the defaults of a new baseline. Option and setting values
# may be text or typed; they are resolved once, by the experiment spec.
SPEC_DEFAULTS: dict[str, Any] = {
    "dataset": "synthetic_ceph",
    "dataset_options": {},
    "method": "local_soft_argmax",
    "overrides": {},
    "protocol": "kfold",
    "folds": 3,
    "split_seed": 0,
    "ground_truth": None,
    "val_fraction": 0.1,
    "device": "cpu",
}


def gate_spec(block: Mapping[str, Any] | None = None) -> ExperimentSpec:
    """The experiment a baseline's spec block stands for (``SPEC_DEFAULTS`` for missing keys)."""
    values = {**SPEC_DEFAULTS, **(block or {})}
    return ExperimentSpec(
        dataset=DatasetSpec(
            values["dataset"], dict(values["dataset_options"]), values["ground_truth"]
        ),
        protocol=ProtocolSpec(
            values["protocol"], values["folds"], values["split_seed"], values["val_fraction"]
        ),
        methods=(MethodSpec(values["method"], dict(values["overrides"])),),
        device=values["device"],
    )


def spec_block(spec: ExperimentSpec) -> dict[str, Any]:
    """A gated experiment as a baseline's spec block: settings that differ from the method's
    defaults, as text (the block's format since the first baseline)."""
    (method,) = spec.methods
    defaults = METHODS.get(method.name).defaults
    return {
        "dataset": spec.dataset.name,
        "dataset_options": {k: _as_text(v) for k, v in spec.dataset.options.items()},
        "method": method.name,
        "overrides": {k: _as_text(v) for k, v in method.settings.items() if defaults.get(k) != v},
        "protocol": spec.protocol.kind,
        "folds": spec.protocol.folds,
        "split_seed": spec.protocol.split_seed,
        "ground_truth": spec.dataset.ground_truth,
        "val_fraction": spec.protocol.val_fraction,
        "device": spec.device,
    }


def _as_text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def changed_spec(spec: ExperimentSpec, **changes: Any) -> ExperimentSpec:
    """``spec`` with command-line spec options applied (``spec.overrides.apply_options``
    names); another ``method`` keeps the settings of the gated method that it also has."""
    from landmarkbench.spec.overrides import apply_options

    method = changes.pop("method", None)
    if method is not None and method != spec.methods[0].name:
        (old,) = spec.methods
        old_defaults = METHODS.get(old.name).defaults
        new_defaults = METHODS.get(method).defaults
        carried = {
            k: v for k, v in old.settings.items() if k in new_defaults and old_defaults.get(k) != v
        }
        spec = spec.replace(methods=(MethodSpec(method, carried),))
    return apply_options(spec, **changes)


def t_quantile(spread_count: int) -> float:
    """One-sided ``1 - FALSE_ALARM_RATE`` quantile of Student's t with ``m - 1`` df."""
    from scipy.stats import t

    return float(t.ppf(1.0 - FALSE_ALARM_RATE, spread_count - 1))


def derive_tolerance(seed_sd: float, spread_count: int, gate_count: int) -> float:
    """The gate's tolerance in mm (module docstring) for ``m`` spread and ``n`` gate seeds."""
    scale = math.sqrt(1.0 / gate_count + 1.0 / spread_count)
    return max(MIN_TOLERANCE_MM, t_quantile(spread_count) * seed_sd * scale)


def figure_by_seed(runs: Mapping[int, ImageErrors], figure: str) -> dict[int, float]:
    """One figure (a key of ``FIGURES``) of each seed, seeds in ascending order."""
    of = FIGURES[figure][1]
    return {seed: of(runs[seed]) for seed in sorted(runs)}


def seed_range_text(seeds: Sequence[int]) -> str:
    """``0-5`` for consecutive seeds, else ``0, 2, 7``."""
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


@dataclass(frozen=True)
class Baseline:
    """A stored reference: spec, provenance, per-seed point errors, the gate's seeds."""

    spec: ExperimentSpec
    code_version: str
    created_utc: str
    machine: str
    runs: dict[int, ImageErrors]
    gate_seeds: tuple[int, ...]

    @property
    def spread_seeds(self) -> tuple[int, ...]:
        return tuple(sorted(self.runs))

    def values(self, figure: str) -> dict[int, float]:
        return figure_by_seed(self.runs, figure)

    def mean(self, figure: str) -> float:
        return float(np.mean(list(self.values(figure).values())))

    def seed_sd(self, figure: str) -> float:
        return float(np.std(list(self.values(figure).values()), ddof=1))

    def tolerance(self, figure: str, gate_count: int | None = None) -> float:
        """Derived tolerance for ``gate_count`` gate seeds (default: the stored gate seeds)."""
        count = len(self.gate_seeds) if gate_count is None else gate_count
        return derive_tolerance(self.seed_sd(figure), len(self.runs), count)

    def to_json(self) -> dict[str, Any]:
        """The file's content (point errors are kept so every figure can be rechecked)."""
        figures = {}
        for figure in FIGURES:
            values = self.values(figure)
            figures[figure] = {
                "per_seed": {str(seed): value for seed, value in values.items()},
                "mean_mm": self.mean(figure),
                "seed_sd_mm": self.seed_sd(figure),
                "seed_range_mm": [min(values.values()), max(values.values())],
                "tolerance_mm": self.tolerance(figure),
            }
        return {
            "format": FORMAT,
            "spec": spec_block(self.spec),
            "code_version": self.code_version,
            "created_utc": self.created_utc,
            "machine": self.machine,
            "gate": {
                "rule": RULE_TEXT,
                "seeds": list(self.gate_seeds),
                "figures": figures,
                "tolerance_derivation": {
                    "formula": FORMULA_TEXT,
                    "measured": (
                        f"the spec run once per spread seed, one run after the other, on "
                        f"{self.machine}, code {self.code_version}, {self.created_utc}"
                    ),
                    "spread_seeds": list(self.spread_seeds),
                    "false_alarm_rate": FALSE_ALARM_RATE,
                    "t_quantile": t_quantile(len(self.runs)),
                    "minimum_mm": MIN_TOLERANCE_MM,
                },
            },
            "per_seed": {
                str(seed): {
                    "point_errors_mm": {
                        case: [None if math.isnan(v) else float(v) for v in row]
                        for case, row in zip(errors.case_ids, errors.pe, strict=True)
                    }
                }
                for seed, errors in sorted(self.runs.items())
            },
        }


@dataclass(frozen=True)
class FigureVerdict:
    """One figure's comparison: baseline mean, the gate seeds' values, the tolerance."""

    figure: str
    baseline_mean: float
    current: dict[int, float]
    tolerance: float

    @property
    def rise(self) -> float:
        return float(np.mean(list(self.current.values()))) - self.baseline_mean

    @property
    def regressed(self) -> bool:
        return not math.isfinite(self.rise) or self.rise > self.tolerance

    def clause(self) -> str:
        words = FIGURES[self.figure][0]
        per_seed = ", ".join(f"{v:.2f}" for _, v in sorted(self.current.items()))
        where = "ABOVE" if self.regressed else "within"
        return (
            f"the {words} is {self.baseline_mean + self.rise:.2f} mm (per seed {per_seed}) "
            f"against {self.baseline_mean:.2f} mm, a change of {self.rise:+.2f} mm {where} "
            f"its tolerance {self.tolerance:.2f} mm"
        )


@dataclass(frozen=True)
class Verdict:
    """The comparison of the gate seeds' runs with a baseline, figure by figure."""

    gate_seeds: tuple[int, ...]
    spread_seeds: tuple[int, ...]
    figures: tuple[FigureVerdict, ...]
    tolerance_origin: str

    @property
    def regressed(self) -> bool:
        return any(f.regressed for f in self.figures)

    def sentence(self) -> str:
        """The verdict in one sentence: per figure both means, the rise and the tolerance."""
        bad = sorted(
            {s for f in self.figures for s, v in f.current.items() if not math.isfinite(v)}
        )
        if bad:
            return (
                f"Gate failed: seed(s) {', '.join(map(str, bad))} gave no finite point error "
                "(a diverged or broken run), so accuracy cannot be confirmed; fix the run."
            )
        clauses = "; ".join(f.clause() for f in self.figures)
        measured = (
            f"averaged over seeds {seed_range_text(self.gate_seeds)} against the baseline's "
            f"seeds {seed_range_text(self.spread_seeds)}, {clauses} ({self.tolerance_origin})"
        )
        if self.regressed:
            return (
                f"Gate failed: {measured}: accuracy regressed; fix it or, if intended, "
                "rewrite the baseline with --update."
            )
        if all(f.rise < -f.tolerance for f in self.figures):
            return (
                f"Gate passed: {measured}: accuracy improved beyond the tolerances; rewrite "
                "the baseline with --update to tighten it."
            )
        return f"Gate passed: {measured}: no regression."


def compare(
    baseline: Baseline, current: Mapping[int, ImageErrors], tolerance: float | None = None
) -> Verdict:
    """Apply the gate's rule (module docstring) to a baseline and the gate seeds' runs.

    Args:
        baseline: The stored reference.
        current: Gate seed -> that seed's point errors.
        tolerance: One tolerance in mm for every figure, chosen by the user; None derives
            each figure's from the baseline's seed spread for ``len(current)`` gate seeds.
    """
    n, m = len(current), len(baseline.runs)
    if tolerance is None:
        origin = (
            f"tolerances: {t_quantile(m):.2f} x the figure's seed-to-seed SD x "
            f"sqrt(1/{n} + 1/{m}), at least {MIN_TOLERANCE_MM} mm, 0.5 % false alarms each"
        )
    else:
        origin = "tolerance given with --tolerance"
    figures = tuple(
        FigureVerdict(
            figure,
            baseline.mean(figure),
            figure_by_seed(current, figure),
            baseline.tolerance(figure, n) if tolerance is None else tolerance,
        )
        for figure in FIGURES
    )
    return Verdict(tuple(sorted(current)), baseline.spread_seeds, figures, origin)


def image_errors(results_dir: Path, summary_path: Path) -> ImageErrors:
    """Point errors of a finished run's test images, read by ``stored_runs.read_run`` (the
    one reader of stored runs), with the gate's own rule: every point must be predicted.

    Raises:
        ResultsError: if a run file is damaged, or a known point has no finite prediction.
    """
    from landmarkbench.results.store import read_run

    run = read_run(results_dir, summary_path)
    for fold, records in run.folds.items():
        known = np.isfinite(records.truth).all(axis=-1)
        lost = known & ~np.isfinite(records.predicted).all(axis=-1)
        if lost.any():
            raise ResultsError(
                f"Predictions of fold {fold} in '{run.fold_dir(fold)}' have {int(lost.sum())} "
                "non-finite predicted point(s) where the truth is known (a diverged or broken "
                "model); the gate cannot score it: fix the run."
            )
    errors = run.image_errors(list(run.folds))
    if errors is None or len(set(errors.case_ids)) != len(errors.case_ids):
        raise ResultsError(
            f"Run '{run.run_dir}' does not hold each test image exactly once; the gate needs "
            "a point-landmark run whose folds partition the images: delete it and rerun."
        )
    return errors


def run_spec(
    spec: ExperimentSpec,
    seed: int,
    results_dir: Path,
    tracking_uri: str | None,
    echo: Callable[[str], None] = print,
) -> ImageErrors:
    """Run (or resume from ``results_dir``) the spec with one training seed.

    Raises:
        UsageError: for a bad spec, or a multi-instance dataset (no per-image MRE).
        LandmarkBenchError: if a fold failed.
    """
    from landmarkbench.run.plan import plan_runs

    tracking = TrackingSpec(uri=tracking_uri, results_dir=str(results_dir))
    (run,) = plan_runs(spec.replace(seeds=(seed,), tracking=tracking), progress=False)
    if run.dataset.multi_instance:
        raise UsageError(
            f"Dataset {spec.dataset.name!r} is multi-instance and has no per-image MRE; gate a "
            "one-point-per-landmark dataset such as synthetic_ceph."
        )
    run.echo = echo
    outcome = run.execute()
    if outcome.failed_folds:
        name, reason = next(iter(outcome.failed_folds.items()))
        raise LandmarkBenchError(
            f"{len(outcome.failed_folds)} fold(s) of the gated run (seed {seed}) failed "
            f"(first: {name}: {reason}); the gate needs every fold: fix the failure and rerun."
        )
    return image_errors(run.root, run.identity.summary_path(run.root))


def run_seeds(
    spec: ExperimentSpec,
    seeds: Sequence[int],
    results_dir: Path,
    tracking_uri: str | None,
    echo: Callable[[str], None] = print,
) -> dict[int, ImageErrors]:
    """Run the spec once per seed, one after the other (never in parallel)."""
    runs: dict[int, ImageErrors] = {}
    for seed in seeds:
        runs[seed] = run_spec(spec, seed, results_dir, tracking_uri, echo)
        echo(f"seed {seed}: pooled MRE {runs[seed].pooled_mre:.3f} mm")
    return runs


def machine_description() -> str:
    """CPU model, core count and platform of this machine (provenance of the spread)."""
    import os

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPU(s), {platform.system()} {platform.machine()}"


def new_baseline(
    spec: ExperimentSpec, runs: Mapping[int, ImageErrors], gate_seeds: Sequence[int]
) -> Baseline:
    """A baseline stamped with the current code version, machine and time.

    Raises:
        UsageError: with fewer than two spread seeds (no spread to measure) or a seed
            without a finite MRE.
    """
    from landmarkbench.provenance import code_version

    if len(runs) < 2:
        raise UsageError(
            f"A baseline needs at least 2 seeds to measure the seed-to-seed spread, got "
            f"{len(runs)}; use e.g. --seed 0 --seed 1 --seed 2 --seed 3 --seed 4 --seed 5."
        )
    bad = [s for s, v in figure_by_seed(runs, "pooled_mre_mm").items() if not math.isfinite(v)]
    if bad:
        raise LandmarkBenchError(
            f"Seed(s) {bad} of the baseline run gave no finite pooled MRE; a baseline cannot "
            "be written from a broken run: fix it and rerun with --update."
        )
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    return Baseline(
        spec, code_version(), created, machine_description(), dict(runs), tuple(gate_seeds)
    )


def save_baseline(path: Path, baseline: Baseline) -> None:
    """Write (or overwrite) a baseline file atomically."""
    write_json_atomically(path, baseline.to_json())


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(
            f"Baseline file '{path}' does not exist; create it with 'landmarkbench regress "
            f"--baseline {path} --update --method NAME [--set/--data-option ...]'."
        )
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"Baseline file '{path}' is not valid JSON ({exc}); restore it from git or "
            "regenerate it with --update."
        ) from None


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline file (every figure is recomputed from per-image values).

    Raises:
        UsageError: if the file is missing, not JSON, of the old single-seed format, or its
            values are missing, non-finite or disagree with each other.
    """
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") in OLD_FORMATS:
        raise UsageError(
            f"Baseline file '{path}' has the single-seed format {data['format']!r}, which "
            "cannot absorb the differences between machines; rewrite it (its spec is kept) "
            f"with 'landmarkbench regress --baseline {path} --update'."
        )
    return _parse_baseline(path, data)


def load_spec(path: Path) -> ExperimentSpec:
    """Only the spec of a baseline file, of this or the old single-seed format (--update).

    The rest of the file is not checked, so --update also repairs a file with bad values.
    """
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") in (FORMAT, *OLD_FORMATS):
        spec_data = data.get("spec")
        if isinstance(spec_data, dict):
            spec_data = {k: v for k, v in spec_data.items() if k != "seed"}
        return _parse_spec(path, spec_data)
    return _parse_baseline(path, data).spec


def _parse_spec(path: Path, spec_data: Any) -> ExperimentSpec:
    if not isinstance(spec_data, dict):
        _bad(path, "has a 'spec' that is not an object")
    _check_keys(path, "spec", spec_data, set(SPEC_DEFAULTS))
    for key in ("dataset_options", "overrides"):
        if not isinstance(spec_data[key], dict):
            _bad(path, f"has a spec whose {key!r} is not an object")
    try:
        return gate_spec(spec_data)
    except LandmarkBenchError as exc:
        raise UsageError(f"Baseline file '{path}' has a spec that is refused: {exc}") from None


def _parse_baseline(path: Path, data: Any) -> Baseline:
    if not isinstance(data, dict):
        _bad(path, f"holds a {type(data).__name__}, not an object")
    _check_keys(path, "top-level", data, BASELINE_KEYS)
    if data["format"] != FORMAT:
        _bad(path, f"has format {data['format']!r}, not {FORMAT!r}")
    spec = _parse_spec(path, data["spec"])
    per_seed = data["per_seed"]
    if not isinstance(per_seed, dict) or len(per_seed) < 2:
        _bad(path, "has no 'per_seed' object with at least 2 seeds")
    runs = {_seed(path, key): _seed_errors(path, key, value) for key, value in per_seed.items()}
    ids = {seed: set(errors.case_ids) for seed, errors in runs.items()}
    first = min(ids)
    for seed, case_ids in ids.items():
        if case_ids != ids[first]:
            differ = sorted(ids[first] ^ case_ids)[:3]
            _bad(path, f"has a missing image for seed {first} or {seed} (e.g. {differ})")
    gate = data["gate"]
    if not isinstance(gate, dict):
        _bad(path, "has a 'gate' that is not an object")
    _check_keys(path, "gate", gate, GATE_KEYS)
    seeds = gate["seeds"]
    if not isinstance(seeds, list) or not seeds or any(_not_int(s) or s < 0 for s in seeds):
        _bad(path, f"has gate seeds {seeds!r}, not a non-empty list of seeds >= 0")
    baseline = Baseline(
        spec,
        str(data["code_version"]),
        str(data["created_utc"]),
        str(data["machine"]),
        runs,
        tuple(seeds),
    )
    _check_figures(path, gate, baseline)
    return baseline


def _seed(path: Path, key: str) -> int:
    try:
        seed = int(key)
    except ValueError:
        seed = -1
    if seed < 0 or str(seed) != key:
        _bad(path, f"has a per_seed key {key!r} that is not a seed (a whole number >= 0)")
    return seed


def _seed_errors(path: Path, seed: str, value: Any) -> ImageErrors:
    """Point errors of one seed; null marks a landmark without truth, nothing else may."""
    if not isinstance(value, dict):
        _bad(path, f"has a per_seed entry for seed {seed} that is not an object")
    _check_keys(path, f"per_seed[{seed}]", value, frozenset({"point_errors_mm"}))
    points = value["point_errors_mm"]
    if not isinstance(points, dict) or not points:
        _bad(path, f"has no per-image point errors for seed {seed}")
    widths = {len(row) for row in points.values() if isinstance(row, list)}
    width = max(widths, default=0)
    rows = []
    for case, row in points.items():
        if not isinstance(row, list) or len(row) != width or width == 0:
            _bad(
                path,
                f"has point errors {row!r} for case {case!r} of seed {seed}, not a list of "
                f"{width} values (one per landmark)",
            )
        for index, number in enumerate(row):
            if number is None:
                continue
            if _not_number(number) or not math.isfinite(number) or number < 0:
                _bad(
                    path,
                    f"has a point error of {number!r} for case {case!r}, landmark {index}, of "
                    f"seed {seed}, not a finite number >= 0 (null only for a landmark "
                    "without truth)",
                )
        if all(number is None for number in row):
            _bad(
                path,
                f"has a missing point error for every landmark of case {case!r} of seed {seed}",
            )
        rows.append([math.nan if number is None else float(number) for number in row])
    return ImageErrors(tuple(points), np.array(rows, dtype=float))


def _check_figures(path: Path, gate: dict, baseline: Baseline) -> None:
    """Stored figures, spreads and tolerances must follow from the point errors."""
    derivation = gate["tolerance_derivation"]
    if not isinstance(derivation, dict):
        _bad(path, "has a 'tolerance_derivation' that is not an object")
    _check_keys(path, "tolerance_derivation", derivation, DERIVATION_KEYS)
    if derivation["spread_seeds"] != list(baseline.spread_seeds):
        _bad(path, "has spread_seeds that differ from the seeds of 'per_seed'")
    m = len(baseline.runs)
    _same(path, "false_alarm_rate", derivation["false_alarm_rate"], FALSE_ALARM_RATE)
    _same(path, "t_quantile", derivation["t_quantile"], t_quantile(m))
    _same(path, "minimum_mm", derivation["minimum_mm"], MIN_TOLERANCE_MM)
    figures = gate["figures"]
    if not isinstance(figures, dict):
        _bad(path, "has gate figures that are not an object")
    _check_keys(path, "gate figures", figures, frozenset(FIGURES))
    for figure in FIGURES:
        stored = figures[figure]
        if not isinstance(stored, dict):
            _bad(path, f"has a gate figure {figure!r} that is not an object")
        _check_keys(path, figure, stored, FIGURE_KEYS)
        values = {str(k): v for k, v in baseline.values(figure).items()}
        if not isinstance(stored["per_seed"], dict) or set(stored["per_seed"]) != set(values):
            _bad(path, f"has {figure} seeds that differ from 'per_seed'")
        for key, value in values.items():
            _same(path, f"{figure} of seed {key}", stored["per_seed"][key], value)
        _same(path, f"{figure} mean_mm", stored["mean_mm"], baseline.mean(figure))
        _same(path, f"{figure} seed_sd_mm", stored["seed_sd_mm"], baseline.seed_sd(figure))
        _same(path, f"{figure} tolerance_mm", stored["tolerance_mm"], baseline.tolerance(figure))


def _same(path: Path, name: str, stored: Any, computed: float) -> None:
    if _not_number(stored) or not math.isclose(stored, computed, rel_tol=_CHECK_RTOL):
        _bad(
            path,
            f"has {name} = {stored!r}, but its point errors give {computed!r} (edited by "
            "hand? to try another tolerance, pass --tolerance instead)",
        )


def _not_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float))


def _not_int(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _check_keys(path: Path, where: str, data: Mapping[str, Any], expected: Set[str]) -> None:
    unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
    if unknown or missing:
        _bad(path, f"has unknown {where} key(s) {unknown} and missing key(s) {missing}")


def _bad(path: Path, problem: str) -> None:
    raise UsageError(
        f"Baseline file '{path}' {problem}; it was not written as is by 'landmarkbench regress "
        "--update': restore it from git or regenerate it with --update."
    )
