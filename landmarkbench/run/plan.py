"""Turn an experiment spec into validated benchmark runs, execute them, report.

Every name, option and setting is checked before the first fold trains, so a typo in the
last method never costs the training time of the first: the spec validates itself when built
(``spec.experiment``), then each method's settings are checked against the dataset's grid,
and the data itself (``LandmarkDataset.check_inputs``: the rules ``validate`` applies to
annotations and image shapes). Only then are the runs built (which writes the split files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import LandmarkBenchError
from landmarkbench.results.summary import describe_failures
from landmarkbench.run.runner import BenchmarkRun, RunOutcome, RunRequest
from landmarkbench.spec.experiment import (  # noqa: F401  (public here since before the spec)
    ExperimentSpec,
    dataset_option_defaults,
    dataset_option_settings,
    refuse_ground_truth_option,
)


def plan_runs(spec: ExperimentSpec, *, progress: bool = True) -> list[BenchmarkRun]:
    """Build and validate one ``BenchmarkRun`` per (method, seed) of ``spec``.

    Raises:
        UsageError: (or a subclass) for a method that does not fit the data, or bad data.
    """
    data = DATASETS.get(spec.dataset.name)(
        ground_truth=spec.dataset.ground_truth, **spec.dataset.options
    )
    data.check_inputs()  # first: the method checks below read the data (e.g. its grid)
    for method in spec.methods:
        _check_method(method.name, method.settings, data)
    return [
        BenchmarkRun(RunRequest(spec, method.name, seed, progress))
        for method in spec.methods
        for seed in spec.seeds
    ]


def _check_method(method: str, config: Mapping[str, Any], data: LandmarkDataset) -> None:
    """A method's resolved settings, where it can run on ``data``, against the data (e.g.
    its network grid)."""
    method_cls = METHODS.get(method)
    owner = f"method {method!r}"
    if data.multi_instance == method_cls.multi_instance and data.ndim in method_cls.supported_ndim:
        method_cls.check_planned(config, data, owner)


def execute_plan(
    runs: Sequence[BenchmarkRun], echo: Callable[[str], None] = print
) -> list[RunOutcome]:
    """Execute runs in order, reporting progress through ``echo`` (no tables: reports are the
    caller's); every outcome is returned, failed folds included (see ``refuse_failed_folds``)."""
    outcomes = []
    for run in runs:
        run.echo = echo
        outcome = run.execute()
        state = f"trained {len(outcome.trained_folds)} fold(s), "
        if outcome.reused_models:
            state += (
                f"predicted {len(outcome.reused_models)} fold(s) with models trained before "
                "(reused, not trained), "
            )
        state += f"reused {len(outcome.resumed_folds)} finished fold(s)"
        echo(f"[{run.request.method} seed {run.request.seed}] {state} -> {outcome.run_dir}")
        flagged = describe_failures(outcome.summary.get("failures"))
        if flagged:
            echo(f"[{run.request.method} seed {run.request.seed}] {flagged}")
        outcomes.append(outcome)
    return outcomes


def refuse_failed_folds(outcomes: Sequence[RunOutcome]) -> None:
    """Raise when any fold of ``outcomes`` failed.

    Raises:
        LandmarkBenchError: (exit 1) naming the first failed fold; the others are stored.
    """
    failed = {f"{o.identity.method}/{k}": v for o in outcomes for k, v in o.failed_folds.items()}
    if failed:
        first_key = next(iter(failed))
        raise LandmarkBenchError(
            f"{len(failed)} fold(s) failed (first: {first_key}: {failed[first_key]}); the other "
            "folds are stored and a rerun retries only the failed ones."
        )
