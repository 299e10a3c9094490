"""``landmarkbench table``: print paper-style comparison tables from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.filter_options import filter_options, selection_from
from landmarkbench.cli.options import bootstrap_options, dataset_option, results_dir_option
from landmarkbench.report.formats import FORMATS


@click.command(
    "table",
    epilog="Examples:\n\n  landmarkbench table\n\n"
    "  landmarkbench table --dataset synthetic_ceph --format latex\n\n"
    "  landmarkbench table --method mean_shape,subpixel --gt mean --exclude-tag smoke\n\n"
    "  landmarkbench table --wide\n\n"
    "  landmarkbench table --dataset isbi2015 --format html --bootstrap 5000 --bootstrap-seed 1\n\n"
    "  landmarkbench table --per-landmark --format csv\n\n"
    "  landmarkbench table --grid benchmarks/grids/tiny.yaml --format latex",
)
@dataset_option
@results_dir_option
@click.option("--format", "fmt", default="markdown", show_default=True, type=click.Choice(FORMATS))
@click.option(
    "--wide",
    is_flag=True,
    help="Markdown with every column (protocol, source, ground truth on each row, units in "
    "the headers), as CSV, LaTeX and HTML have; by default Markdown is the compact console "
    "form (conventions once in the caption).",
)
@click.option(
    "--per-landmark",
    is_flag=True,
    help="One row per landmark with each method's MRE as a column (best per row in bold).",
)
@bootstrap_options()
@click.option(
    "--grid",
    "grid_file",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A sweep's grid file: one table per dataset and convention key of its cells, and "
    "the grid overview (datasets x methods); --dataset is then not used.",
)
@click.option(
    "--no-literature",
    is_flag=True,
    help="Leave out the published results declared in the dataset manifest.",
)
@filter_options()
def table_command(
    dataset: str,
    results_dir: Path,
    fmt: str,
    wide: bool,
    per_landmark: bool,
    bootstrap: int,
    seed: int,
    no_literature: bool,
    grid_file: Path | None,
    **filters,
) -> None:
    """Compare methods on one dataset from stored results (no retraining).

    Statistics come from the stored per-fold prediction files; literature rows come from
    the dataset manifest, are labelled as such and are never bold or tested. --method,
    --split, --gt, --seed, --exclude and --exclude-tag choose the runs shown.
    """
    selection = selection_from(filters)
    if grid_file is not None:
        from landmarkbench.errors import UsageError

        if not selection.empty:
            raise UsageError(
                f"--grid tabulates a sweep's cells and takes no filter ({selection.describe()}); "
                "drop the filters, or drop --grid and pass --dataset."
            )
        from landmarkbench.cli.sweep_cmd import print_grid_tables

        print_grid_tables(_planned_grid(grid_file, results_dir), fmt, bootstrap, seed)
        return
    from landmarkbench.report.tables import collect_rows, literature_rows, render_table

    rows, notes = collect_rows(results_dir.resolve(), dataset, selection)
    literature = [] if no_literature else literature_rows(dataset)
    text = render_table(
        rows,
        fmt,
        title=f"Dataset {dataset}",
        literature=literature,
        bootstrap=bootstrap,
        seed=seed,
        per_landmark=per_landmark,
        compact=fmt == "markdown" and not wide,
    )
    click.echo(text, nl=False)
    for note in notes:
        click.echo(f"note: {note}", err=True)


def _planned_grid(grid_file: Path, results_dir: Path) -> list:
    """The grid's cells, planned against ``results_dir`` (their run folders)."""
    from landmarkbench.cli.sweep_cmd import load_grid_with_options
    from landmarkbench.run.sweep.driver import plan_sweep

    return plan_sweep(load_grid_with_options(grid_file, results_dir, None), results_state=False)
