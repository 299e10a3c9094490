"""Command-line options shared by several commands: one definition, one help text each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

results_dir_option = click.option(
    "--results-dir",
    default="results",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where runs store their results.",
)

dataset_option = click.option(
    "--dataset", default="synthetic_ceph", show_default=True, help="Dataset name (see 'ls')."
)

tracking_uri_option = click.option(
    "--tracking-uri", default=None, help="MLflow store [default: sqlite database ./mlflow.db]."
)


def bootstrap_options() -> Callable[[Any], Any]:
    """``--bootstrap N`` (resamples of images for the MRE interval) and ``--bootstrap-seed``,
    defaulting to the one bootstrap setting of ``statistics`` (the same for ``table`` and
    ``leaderboard``, whose ``--seed`` selects training seeds)."""
    from landmarkbench.evaluation.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

    def decorate(command: Any) -> Any:
        command = click.option(
            "--bootstrap-seed",
            "seed",
            default=BOOTSTRAP_SEED,
            show_default=True,
            help="Seed of the bootstrap resampling.",
        )(command)
        return click.option(
            "--bootstrap",
            default=BOOTSTRAP_RESAMPLES,
            show_default=True,
            type=click.IntRange(min=0),
            help="Bootstrap resamples of images for the 95 % CI of the pooled MRE (0: no CI).",
        )(command)

    return decorate


def stored_model_options(run_required: bool) -> Callable[[Any], Any]:
    """``--run`` (a finished run) with ``--fold K`` / ``--folds all``: which of its stored
    models ``predict`` and ``export`` use."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--folds",
            "folds",
            type=click.Choice(["all"]),
            default=None,
            help="Every fold's model as a cross-validation ensemble, their logits averaged "
            "(the default).",
        )(command)
        command = click.option(
            "--fold", default=None, help="One fold's model (name or index) [with --run]."
        )(command)
        return click.option(
            "--run",
            "run",
            required=run_required,
            default=None,
            help="A finished run: its folder, run key or MLflow run id.",
        )(command)

    return decorate
