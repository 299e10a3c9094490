"""``landmarkbench table``: print paper-style comparison tables from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.table_formats import FORMATS


@click.command(
    "table",
    epilog="Examples:\n\n  landmarkbench table\n\n"
    "  landmarkbench table --dataset synthetic_ceph --format latex\n\n"
    "  landmarkbench table --dataset isbi2015 --format html --bootstrap 5000 --seed 1\n\n"
    "  landmarkbench table --per-landmark --format csv",
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
@click.option(
    "--per-landmark",
    is_flag=True,
    help="One row per landmark with each method's MRE as a column (best per row in bold).",
)
@click.option(
    "--bootstrap",
    default=2000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Bootstrap resamples of images for the 95 % CI of the pooled MRE (0: no CI).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
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
    from landmarkbench.tables import collect_rows, literature_rows, render_table

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
