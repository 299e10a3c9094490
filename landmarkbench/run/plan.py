"""Turn command-line options into validated benchmark runs, execute them, report.

Every name, option and override is checked before the first fold trains, so a typo in the
last method never costs the training time of the first: each method's settings against its
declared rules and the dataset's grid, the dataset options against theirs, and the data
itself (``LandmarkDataset.check_inputs``: the rules ``validate`` applies to annotations and
image shapes). Only then are the runs built (which writes the split files).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.config import DeclaredSettings, parse_overrides, resolve_config
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import ConfigError, LandmarkBenchError, ResultsError, UsageError
from landmarkbench.protocols.fold_parts import fold_parts
from landmarkbench.registry import did_you_mean
from landmarkbench.run.runner import BenchmarkRun, RunOutcome, RunRequest


def dataset_option_defaults(dataset_cls: type) -> dict[str, Any]:
    """Keyword options of a dataset class with their defaults (which fix their types).

    An option whose default is None takes text (a path, for instance).
    """
    params = inspect.signature(dataset_cls.__init__).parameters
    return {
        name: ("" if p.default is None else p.default)
        for name, p in params.items()
        if name not in ("self", "ground_truth") and p.default is not inspect.Parameter.empty
    }


def dataset_option_settings(dataset_cls: type) -> DeclaredSettings:
    """The dataset's options with their defaults and the rules it declares
    (``option_rules``, a mapping of option name to ``config.Rule``)."""
    defaults = dataset_option_defaults(dataset_cls)
    rules = {
        key: rule
        for key, rule in getattr(dataset_cls, "option_rules", {}).items()
        if key in defaults
    }
    return DeclaredSettings(defaults, rules)


def refuse_ground_truth_option(texts: Mapping[str, str], command: str) -> None:
    """Ground truth has one spelling on every command, ``--gt``; refuse the other one."""
    if "ground_truth" in texts:
        value = texts["ground_truth"] or "NAME"
        raise UsageError(
            f"Ground truth is chosen with --gt on every command, not with --data-option; "
            f"write 'landmarkbench {command} ... --gt {value}' instead of "
            f"--data-option ground_truth={value}."
        )


def _dataset_options(dataset: str, pairs: Sequence[str], data_dir: str | None) -> dict[str, Any]:
    texts = parse_overrides(pairs)
    refuse_ground_truth_option(texts, "run")
    defaults = dataset_option_settings(DATASETS.get(dataset))
    if data_dir is not None:
        # Real datasets read from data_dir; synthetic ones keep their generated cases there.
        key = "data_dir" if "data_dir" in defaults else "cache_dir"
        if key not in defaults:
            raise UsageError(f"Dataset {dataset!r} takes no folder; drop --data-dir.")
        texts[key] = data_dir
    resolved = resolve_config(defaults, texts, owner=f"dataset {dataset!r}", flag="--data-option")
    return {key: resolved[key] for key in texts}


def _method_overrides(methods: Sequence[str], pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """Split ``--set`` overrides by method: each key goes to the methods that know it."""
    texts = parse_overrides(pairs)
    known = {m: set(METHODS.get(m).defaults) for m in methods}
    for key in texts:
        if not any(key in keys for keys in known.values()):
            every = sorted(set().union(*known.values()))
            raise ConfigError(did_you_mean(f"setting for {', '.join(methods)}", key, every))
    return {m: {k: v for k, v in texts.items() if k in known[m]} for m in methods}


def _radii(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        radii = tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise UsageError(
            f"--sdr-radii {text!r} is not a comma-separated list of numbers; write e.g. 2,2.5,3,4."
        ) from None
    if not radii or any(r <= 0 for r in radii):
        raise UsageError(f"--sdr-radii {text!r} must list positive radii in mm, e.g. 2,2.5,3,4.")
    return radii


def plan_requests(
    *,
    dataset: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    data_options: Sequence[str],
    data_dir: str | None,
    overrides: Sequence[str],
    sdr_radii: str | None,
    no_progress: bool,
    **common: Any,
) -> list[BenchmarkRun]:
    """Build and validate one ``BenchmarkRun`` per (method, seed).

    Raises:
        UsageError: (or a subclass) for any bad name, option or override.
    """
    DATASETS.get(dataset)
    for method in methods:
        METHODS.get(method)
    if common.get("uncertainty") and not any(METHODS.get(m).supports_conformal for m in methods):
        able = sorted(n for n in METHODS.names() if METHODS.get(n).supports_conformal)
        raise UsageError(
            f"None of {', '.join(methods)} gives probability maps, so there are no prediction "
            f"regions to compute; drop --uncertainty or add one of: {', '.join(able)}."
        )
    for option, value in [("--seed", s) for s in seeds] + [
        ("--split-seed", common.get("split_seed", 0))
    ]:
        if value < 0:
            raise UsageError(
                f"{option} {value} is negative; seeds are integers >= 0, e.g. {option} 0."
            )
    folds = common.get("folds")
    if folds is not None and folds < 2:
        raise UsageError(
            f"--folds {folds} is not a cross-validation: k-fold needs at least 2 folds so that "
            "every case is tested by a model that never saw it; use --folds 2 or more, or drop "
            "--folds for the default of 5."
        )
    # The fractions' rule is the one each fold applies (protocols.fold_parts): checked here
    # on a stand-in list of ids so that a bad value is refused before anything is written.
    conformal = common.get("uncertainty") == "conformal"
    fold_parts(
        [str(k) for k in range(100)],
        0,
        common.get("val_fraction", 0.1),
        common.get("calibration_fraction", 0.2) if conformal else None,
    )
    options = _dataset_options(dataset, data_options, data_dir)
    per_method = _method_overrides(methods, overrides)
    data = DATASETS.get(dataset)(ground_truth=common.get("ground_truth"), **options)
    for method in methods:
        _check_method(method, per_method[method], data)
    data.check_inputs()
    runs = []
    for method in methods:
        for seed in seeds:
            request = RunRequest(
                dataset=dataset,
                method=method,
                seed=seed,
                dataset_options=options,
                overrides=per_method[method],
                sdr_radii_mm=_radii(sdr_radii),
                progress=not no_progress,
                **common,
            )
            runs.append(BenchmarkRun(request))
    return runs


def _check_method(method: str, overrides: Mapping[str, str], data: LandmarkDataset) -> None:
    """A method's settings against its rules and, where it can run on ``data``, against the
    data (e.g. its network grid); the runner repeats the first part when it builds the run."""
    method_cls = METHODS.get(method)
    owner = f"method {method!r}"
    config = resolve_config(method_cls.defaults, overrides, owner=owner)
    if data.multi_instance == method_cls.multi_instance and data.ndim in method_cls.supported_ndim:
        method_cls.check_planned(config, data, owner)


def execute_plan(
    runs: Sequence[BenchmarkRun], echo: Callable[[str], None] = print
) -> list[RunOutcome]:
    """Execute runs in order, then print the dataset's table and where things are.

    Raises:
        LandmarkBenchError: (exit 1) if any fold failed; the others are still stored.
    """
    from landmarkbench.report.tables import collect_rows, render_table

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
        outcomes.append(outcome)
    first = runs[0]
    echo("")
    try:
        rows, _ = collect_rows(first.root, first.request.dataset)
    except ResultsError:
        echo("No complete run to tabulate yet (see the failed folds below).")
    else:
        # Only this command's runs, under their own conventions (each caption names them).
        wanted = {o.identity.key for o in outcomes}
        shown = [r for r in rows if any(run.identity.key in wanted for run in r.runs)]
        echo(render_table(shown or rows, "markdown"))
    uri = outcomes[-1].summary["tracking_uri"]
    echo(f"Results (source of truth): {first.root / first.request.dataset}")
    echo(f"MLflow store: {uri}")
    echo(f"Browse: mlflow ui --backend-store-uri {uri}")
    failed = {f"{o.identity.method}/{k}": v for o in outcomes for k, v in o.failed_folds.items()}
    if failed:
        first_key = next(iter(failed))
        raise LandmarkBenchError(
            f"{len(failed)} fold(s) failed (first: {first_key}: {failed[first_key]}); the other "
            "folds are stored and a rerun retries only the failed ones."
        )
    return outcomes
