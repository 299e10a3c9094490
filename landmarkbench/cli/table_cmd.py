"""``landmarkbench table``: print a comparison table from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.tables import FORMATS


@click.command(
    "table",
    epilog="Examples:\n\n  landmarkbench table\n\n"
    "  landmarkbench table --dataset synthetic_ceph --format latex",
)
@click.option("--dataset", default="synthetic_ceph", show_default=True, help="Dataset name.")
@click.option(
    "--results-dir",
    default="results",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where runs stored their results.",
)
@click.option("--format", "fmt", default="markdown", show_default=True, type=click.Choice(FORMATS))
def table_command(dataset: str, results_dir: Path, fmt: str) -> None:
    """Compare methods on one dataset from stored results (no retraining)."""
    from landmarkbench.tables import collect_rows, render_table

    rows, notes = collect_rows(results_dir.resolve(), dataset)
    click.echo(render_table(rows, fmt, title=f"Dataset {dataset}"), nl=False)
    for note in notes:
        click.echo(f"note: {note}", err=True)
