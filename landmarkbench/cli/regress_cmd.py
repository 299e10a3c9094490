"""``landmarkbench regress``: rerun a baseline's benchmark and fail if the MRE rose."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

EXAMPLES = """Examples:

\b
  landmarkbench regress --baseline results/baselines/ci_tiny.json
  landmarkbench regress --baseline results/baselines/ci_tiny.json --tolerance 0.1
  landmarkbench regress --baseline results/baselines/ci_tiny.json --update
  landmarkbench regress --baseline results/baselines/ci_tiny.json --method argmax
  landmarkbench regress --baseline mine.json --update --method subpixel \\
      --data-option n_cases=24 --set max_epochs=8 --folds 3
"""

RULE = """Rule: when both runs test the same images, a paired bootstrap (images resampled,
seeded) gives a 95 % CI of MRE(current) - MRE(baseline); the gate fails (exit 1) when its
lower end is above the tolerance. Otherwise it fails when the lower end of the current
run's 95 % CI exceeds the upper end of the baseline's plus the tolerance."""


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
    default=0.0,
    show_default=True,
    type=float,
    help="MRE rise in mm that is still accepted.",
)
@click.option("--update", is_flag=True, help="Write (or overwrite) the baseline from this run.")
@click.option(
    "--results-dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the run goes; finished folds there are reused [default: a temporary folder].",
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
@click.option("--seed", default=None, type=int, help="Spec: training seed.")
def regress_command(
    baseline_path: Path,
    tolerance: float,
    update: bool,
    results_dir: Path | None,
    tracking_uri: str | None,
    **spec_options,
) -> None:
    """Rerun a baseline's small, seeded benchmark and exit 1 if its MRE rose.

    Spec options change the baseline's spec (to try a change against it) or, with --update
    and no baseline file yet, define a new one. Finished folds in --results-dir are reused,
    so pointing it at existing results compares them without retraining.
    """
    from landmarkbench.errors import UsageError

    if tolerance < 0 or tolerance != tolerance:
        raise UsageError(f"--tolerance {tolerance} must be a number >= 0 mm; use e.g. 0.1.")
    baseline, spec = _baseline_and_spec(baseline_path, update, spec_options)
    with _results_folder(results_dir) as folder:
        uri = tracking_uri or str(folder / "mlflow.db")
        click.echo(f"Running {spec.describe()} in {folder}")
        from landmarkbench.regression_gate import run_spec

        errors = run_spec(spec, folder, uri, echo=click.echo)
    if update:
        _write_baseline(baseline_path, spec, errors)
        return
    _judge(baseline, spec, errors, tolerance)


def _baseline_and_spec(path: Path, update: bool, spec_options: dict):
    """The stored baseline (None when --update creates one) and the spec to run."""
    from landmarkbench.config import parse_overrides
    from landmarkbench.errors import UsageError
    from landmarkbench.regression_gate import BenchmarkSpec, load_baseline

    changes = {
        **{k: v for k, v in spec_options.items() if k not in ("overrides", "data_options")},
        "overrides": parse_overrides(spec_options["overrides"]),
        "dataset_options": parse_overrides(spec_options["data_options"]),
    }
    if update and not path.exists():
        if spec_options["method"] is None:
            raise UsageError(
                f"Baseline file '{path}' does not exist yet; name the spec to create it, e.g. "
                "--method local_soft_argmax --data-option n_cases=24 --set max_epochs=8."
            )
        return None, BenchmarkSpec().changed(**changes)
    baseline = load_baseline(path)
    return baseline, baseline.spec.changed(**changes)


@contextlib.contextmanager
def _results_folder(results_dir: Path | None) -> Iterator[Path]:
    if results_dir is not None:
        yield results_dir.resolve()
        return
    with tempfile.TemporaryDirectory(
        prefix="landmarkbench-regress-", ignore_cleanup_errors=True
    ) as tmp:
        yield Path(tmp)


def _write_baseline(path: Path, spec, errors) -> None:
    from landmarkbench.regression_gate import new_baseline, pooled_mre_ci, save_baseline

    baseline = new_baseline(spec, errors)
    save_baseline(path, baseline)
    low, high = pooled_mre_ci(errors)
    click.echo(
        f"Baseline written to {path}: pooled MRE {errors.pooled_mre:.2f} mm "
        f"[{low:.2f}, {high:.2f}] over {len(errors.mre_mm)} images (code {baseline.code_version})."
    )


def _judge(baseline, spec, errors, tolerance: float) -> None:
    from landmarkbench.regression_gate import RegressionDetected, compare

    if spec != baseline.spec:
        click.echo(f"note: the spec differs from the baseline's ({baseline.spec.describe()}).")
    click.echo(f"Baseline: code {baseline.code_version}, written {baseline.created_utc}.")
    verdict = compare(baseline.errors, errors, tolerance)
    if verdict.regressed:
        raise RegressionDetected(verdict.sentence())
    click.echo(verdict.sentence())
