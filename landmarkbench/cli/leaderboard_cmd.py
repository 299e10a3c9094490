"""``landmarkbench leaderboard``: write a static HTML leaderboard site from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.options import bootstrap_options, results_dir_option


@click.command(
    "leaderboard",
    epilog="Examples:\n\n  landmarkbench leaderboard --out site\n\n"
    "  landmarkbench leaderboard --out site --dataset synthetic_ceph --tracking-uri mlflow.db\n\n"
    "  landmarkbench leaderboard --out /tmp/site --results-dir results --bootstrap 0",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site into (index.html and one page per dataset and split).",
)
@results_dir_option
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    help="Dataset to include (repeatable; default: every dataset with stored results).",
)
@click.option(
    "--tracking-uri",
    default="mlflow.db",
    show_default=True,
    help="MLflow store to read the run ids from (a missing store shows the ids as '—').",
)
@bootstrap_options()
def leaderboard_command(
    out_dir: Path,
    results_dir: Path,
    datasets: tuple[str, ...],
    tracking_uri: str,
    bootstrap: int,
    seed: int,
) -> None:
    """Write a static HTML leaderboard (open index.html in a browser; no server needed).

    One page per dataset and protocol: a sortable comparison table, the per-landmark
    breakdown, SDR curves and the MLflow run ids behind each row. Nothing is retrained.
    """
    from landmarkbench.errors import ResultsError
    from landmarkbench.report.leaderboard import build_site

    pages, notes = build_site(
        results_dir.resolve(),
        out_dir,
        datasets=datasets,
        tracking_uri=tracking_uri,
        bootstrap=bootstrap,
        seed=seed,
    )
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if not pages:
        raise ResultsError(
            f"No complete results under '{results_dir}'; run 'landmarkbench run' first or "
            "pass --results-dir."
        )
    for page in pages:
        click.echo(str(out_dir / page.path))
    click.echo(str(out_dir / "index.html"))
