"""``landmarkbench regress``: rerun a baseline's benchmark under several seeds; fail if MRE rose."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click

EXAMPLES = """Examples:

\b
  landmarkbench regress --baseline results/baselines/ci_tiny.json
  landmarkbench regress --baseline results/baselines/ci_tiny.json --seed 6 --seed 7 --seed 8
  landmarkbench regress --baseline results/baselines/ci_tiny.json --method argmax
  landmarkbench regress --baseline results/baselines/ci_tiny.json --update
  landmarkbench regress --baseline mine.json --update --method subpixel \\
      --data-option n_cases=24 --set max_epochs=8 --folds 3
"""

RULE = """Rule: the spec runs once per gate seed (default: the baseline's gate seeds, 0, 1, 2),
one after the other. Per figure (the median point error, and the pooled MRE), the gate fails
(exit 1) when the mean over the gate seeds exceeds the mean over the baseline's seeds by more
than that figure's tolerance, which the baseline derives from its measured seed-to-seed
spread (t quantile x SD x sqrt(1/n + 1/m), 0.5 % false alarms per figure; see the file's
"gate" block); a seed without a finite error fails too. --update runs every --seed
(default 0-5) and stores each seed's point errors with the spread."""


@click.command("regress", epilog=f"{EXAMPLES}\n{RULE}")
@click.option(
    "--baseline",
    "baseline_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Baseline file (JSON), e.g. results/baselines/ci_tiny.json.",
)
@click.option(
    "--tolerance",
    default=None,
    type=float,
    help="MRE rise in mm that is still accepted [default: derived from the baseline's spread].",
)
@click.option(
    "--update",
    is_flag=True,
    help="Run every --seed (default 0-5) and write (or overwrite) the baseline from them.",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=int,
    help="Training seed, repeatable [default: the baseline's gate seeds; with --update 0-5].",
)
@click.option(
    "--gate-seed",
    "gate_seeds",
    multiple=True,
    type=int,
    help="With --update: the seeds the gate reruns, repeatable [default: 0, 1, 2].",
)
@click.option(
    "--results-dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the runs go; finished folds there are reused [default: a temporary folder].",
)
@click.option(
    "--tracking-uri", default=None, help="MLflow store [default: mlflow.db in --results-dir]."
)
@click.option("--dataset", default=None, help="Spec: dataset (new baselines or a trial change).")
@click.option("--method", default=None, help="Spec: method.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Spec: setting.")
@click.option(
    "--data-option", "data_options", multiple=True, metavar="KEY=VALUE", help="Spec: option."
)
@click.option("--folds", default=None, type=int, help="Spec: K of the k-fold protocol.")
@click.option("--split-seed", default=None, type=int, help="Spec: seed of the fold assignment.")
def regress_command(
    baseline_path: Path,
    tolerance: float | None,
    update: bool,
    seeds: tuple[int, ...],
    gate_seeds: tuple[int, ...],
    results_dir: Path | None,
    tracking_uri: str | None,
    **spec_options,
) -> None:
    """Rerun a baseline's small benchmark under several seeds and exit 1 if its MRE rose.

    Spec options change the baseline's spec (to try a change against it) or, with --update,
    define a new one (an existing file's spec, of either format, is the starting point).
    Finished folds in --results-dir are reused, so pointing it at existing results compares
    them without retraining.
    """
    from landmarkbench.errors import UsageError
    from landmarkbench.run.gate import DEFAULT_GATE_SEEDS, DEFAULT_SPREAD_SEEDS

    if tolerance is not None and not (tolerance >= 0 and tolerance != float("inf")):
        raise UsageError(f"--tolerance {tolerance} must be a number >= 0 mm; use e.g. 0.1.")
    _check_seeds("--seed", seeds)
    _check_seeds("--gate-seed", gate_seeds)
    if gate_seeds and not update:
        raise UsageError(
            "--gate-seed only applies with --update (it is stored in the baseline); to rerun "
            "other seeds now, use --seed, e.g. --seed 6 --seed 7 --seed 8."
        )
    baseline, spec = _baseline_and_spec(baseline_path, update, spec_options)
    if not seeds:
        seeds = DEFAULT_SPREAD_SEEDS if update else baseline.gate_seeds
    started = time.monotonic()
    with _results_folder(results_dir) as folder:
        uri = tracking_uri or str(folder / "mlflow.db")
        click.echo(f"Running {spec.describe()}, seeds {_seed_list(seeds)}, in {folder}")
        from landmarkbench.run.gate import run_seeds

        runs = run_seeds(spec, seeds, folder, uri, echo=click.echo)
    wall = time.monotonic() - started
    click.echo(f"{len(seeds)} run(s), one after the other, took {wall:.0f} s.")
    if update:
        _write_baseline(baseline_path, spec, runs, gate_seeds or DEFAULT_GATE_SEEDS)
        return
    _judge(baseline, spec, runs, tolerance)


def _check_seeds(option: str, seeds: tuple[int, ...]) -> None:
    from landmarkbench.errors import UsageError

    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(
            f"{option} values {list(seeds)} must be distinct whole numbers >= 0; use e.g. "
            f"{option} 0 {option} 1 {option} 2."
        )


def _seed_list(seeds) -> str:
    from landmarkbench.run.gate import seed_range_text

    return seed_range_text(list(seeds))


def _baseline_and_spec(path: Path, update: bool, spec_options: dict):
    """The stored baseline (None with --update) and the spec to run."""
    from landmarkbench.errors import UsageError
    from landmarkbench.run.gate import changed_spec, gate_spec, load_baseline, load_spec

    if update:
        if path.exists():
            return None, changed_spec(load_spec(path), **spec_options)
        if spec_options["method"] is None:
            raise UsageError(
                f"Baseline file '{path}' does not exist yet; name the spec to create it, e.g. "
                "--method local_soft_argmax --data-option n_cases=24 --set max_epochs=8."
            )
        return None, changed_spec(gate_spec(), **spec_options)
    baseline = load_baseline(path)
    return baseline, changed_spec(baseline.spec, **spec_options)


@contextlib.contextmanager
def _results_folder(results_dir: Path | None) -> Iterator[Path]:
    if results_dir is not None:
        yield results_dir.resolve()
        return
    with tempfile.TemporaryDirectory(
        prefix="landmarkbench-regress-", ignore_cleanup_errors=True
    ) as tmp:
        yield Path(tmp)


def _write_baseline(path: Path, spec, runs, gate_seeds) -> None:
    from landmarkbench.run.gate import (
        FIGURES,
        new_baseline,
        save_baseline,
        seed_range_text,
    )

    baseline = new_baseline(spec, runs, gate_seeds)
    save_baseline(path, baseline)
    images = len(next(iter(runs.values())).case_ids)
    figures = "; ".join(
        f"{words} {baseline.mean(key):.3f} mm (seed SD {baseline.seed_sd(key):.3f}, "
        f"tolerance {baseline.tolerance(key):.3f})"
        for key, (words, _) in FIGURES.items()
    )
    click.echo(
        f"Baseline written to {path} from seeds {seed_range_text(baseline.spread_seeds)} "
        f"({images} images, code {baseline.code_version}): {figures}; the gate reruns seeds "
        f"{seed_range_text(baseline.gate_seeds)}."
    )


def _judge(baseline, spec, runs, tolerance: float | None) -> None:
    from landmarkbench.run.gate import RegressionDetected, compare

    if spec != baseline.spec:
        click.echo(f"note: the spec differs from the baseline's ({baseline.spec.describe()}).")
    click.echo(
        f"Baseline: code {baseline.code_version}, written {baseline.created_utc} on "
        f"{baseline.machine}."
    )
    base_ids = set(next(iter(baseline.runs.values())).case_ids)
    if any(set(errors.case_ids) != base_ids for errors in runs.values()):
        click.echo("note: the runs test other images than the baseline's; means are compared.")
    verdict = compare(baseline, runs, tolerance)
    if verdict.regressed:
        raise RegressionDetected(verdict.sentence())
    click.echo(verdict.sentence())
