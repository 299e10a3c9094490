"""``landmarkbench table``: print paper-style comparison tables from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.options import bootstrap_options, dataset_option, results_dir_option
from landmarkbench.report.formats import FORMATS


@click.command(
    "table",
    epilog="Examples:\n\n  landmarkbench table\n\n"
    "  landmarkbench table --dataset synthetic_ceph --format latex\n\n"
    "  landmarkbench table --dataset isbi2015 --format html --bootstrap 5000 --seed 1\n\n"
    "  landmarkbench table --per-landmark --format csv",
)
@dataset_option
@results_dir_option
@click.option("--format", "fmt", default="markdown", show_default=True, type=click.Choice(FORMATS))
@click.option(
    "--per-landmark",
    is_flag=True,
    help="One row per landmark with each method's MRE as a column (best per row in bold).",
)
@bootstrap_options()
@click.option(
    "--no-literature",
    is_flag=True,
    help="Leave out the published results declared in the dataset manifest.",
)
def table_command(
    dataset: str,
    results_dir: Path,
    fmt: str,
    per_landmark: bool,
    bootstrap: int,
    seed: int,
    no_literature: bool,
) -> None:
    """Compare methods on one dataset from stored results (no retraining).

    Statistics come from the stored per-fold prediction files; literature rows come from
    the dataset manifest, are labelled as such and are never bold or tested.
    """
    from landmarkbench.report.tables import collect_rows, literature_rows, render_table

    rows, notes = collect_rows(results_dir.resolve(), dataset)
    literature = [] if no_literature else literature_rows(dataset)
    text = render_table(
        rows,
        fmt,
        title=f"Dataset {dataset}",
        literature=literature,
        bootstrap=bootstrap,
        seed=seed,
        per_landmark=per_landmark,
    )
    click.echo(text, nl=False)
    for note in notes:
        click.echo(f"note: {note}", err=True)
