"""``landmarkbench export``: a finished run's models as one file that predict applies."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.options import results_dir_option, stored_model_options, tracking_uri_option

EXAMPLES = """Examples:

  landmarkbench export --run RUN_FOLDER --fold 0 --out model.zip

  landmarkbench export --run RUN --folds all --out ensemble.zip --log-model
"""


@click.command("export", epilog=EXAMPLES)
@stored_model_options(run_required=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The file to write (.zip)."
)
@click.option(
    "--log-model", is_flag=True, help="Also log the file to the run's MLflow parent run(s)."
)
@results_dir_option
@tracking_uri_option
def export_command(
    run: str, fold: str | None, folds: str | None, out: Path, log_model: bool,
    results_dir: Path, tracking_uri: str | None,
) -> None:  # fmt: skip
    """Write a finished run's models with their preprocessing, decoder and record to OUT."""
    from landmarkbench.deploy.export import export_run, log_model_file, parent_runs
    from landmarkbench.deploy.stored_run import RunModels, StoredRun, locate_run
    from landmarkbench.errors import UsageError

    if fold is not None and folds is not None:
        raise UsageError(
            "Pass --fold K (one fold's model) or --folds all (the ensemble), not both."
        )
    root, run_dir = locate_run(run, results_dir, tracking_uri)
    model = RunModels(StoredRun(root, run_dir), fold or folds)
    parents = parent_runs(model.run, tracking_uri) if log_model else []
    export_run(model, out)
    size = out.stat().st_size
    click.echo(f"Wrote {out} ({size / 1024:.0f} KiB): {model.statement}.")
    if parents:
        log_model_file(out, parents, tracking_uri)
        click.echo(f"Logged {out.name} to MLflow run(s) {', '.join(parents)}.")
