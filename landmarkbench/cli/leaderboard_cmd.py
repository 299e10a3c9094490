"""``landmarkbench leaderboard``: write a static HTML leaderboard site from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.filter_options import filter_options, selection_from
from landmarkbench.cli.options import bootstrap_options, results_dir_option
from landmarkbench.report.filters import LEADERBOARD_EXCLUDED_TAGS


@click.command(
    "leaderboard",
    epilog="Examples:\n\n  landmarkbench leaderboard --out site\n\n"
    "  landmarkbench leaderboard --out site --dataset synthetic_ceph --tracking-uri mlflow.db\n\n"
    "  landmarkbench leaderboard --out /tmp/site --results-dir results --bootstrap 0\n\n"
    "  landmarkbench leaderboard --out site --mlflow-url http://127.0.0.1:5000\n\n"
    "  landmarkbench leaderboard --out site --gt mean --exclude-tag none",
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
@click.option(
    "--mlflow-url",
    default=None,
    help="Address of the MLflow UI serving that store (e.g. http://127.0.0.1:5000 after "
    "'mlflow ui'): run ids become links to their pages [default: the tracking URI when it "
    "is an http(s) server, else no links].",
)
@bootstrap_options()
@filter_options(exclude_tag_default=LEADERBOARD_EXCLUDED_TAGS)
def leaderboard_command(
    out_dir: Path,
    results_dir: Path,
    datasets: tuple[str, ...],
    tracking_uri: str,
    mlflow_url: str | None,
    bootstrap: int,
    seed: int,
    **filters,
) -> None:
    """Write a static HTML leaderboard (open index.html in a browser; no server needed).

    The index shows the best method of each dataset and convention group; one page per
    group ranks its rows (ties by CI overlap) beside the literature, with the per-landmark
    breakdown, SDR curves, the MLflow runs and experiment file behind each row. Runs tagged
    smoke are left out unless --exclude-tag says otherwise. Nothing is retrained.
    """
    from landmarkbench.errors import UsageError

    if mlflow_url is not None and not mlflow_url.startswith(("http://", "https://")):
        raise UsageError(
            f"--mlflow-url {mlflow_url!r} is not an http(s) address; give the MLflow UI's "
            "address, e.g. --mlflow-url http://127.0.0.1:5000."
        )
    selection = selection_from(filters)
    from landmarkbench.errors import ResultsError
    from landmarkbench.report.leaderboard import build_site

    pages, notes = build_site(
        results_dir.resolve(),
        out_dir,
        datasets=datasets,
        tracking_uri=tracking_uri,
        bootstrap=bootstrap,
        seed=seed,
        selection=selection,
        mlflow_url=mlflow_url,
    )
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if not pages:
        chosen = f" kept by {selection.describe()}" if not selection.empty else ""
        raise ResultsError(
            f"No complete results{chosen} under '{results_dir}'; run 'landmarkbench run' "
            "first, pass --results-dir, or change the filters (--exclude-tag none shows "
            "tagged runs)."
        )
    for page in pages:
        click.echo(str(out_dir / page.path))
    click.echo(str(out_dir / "index.html"))
