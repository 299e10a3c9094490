"""``landmarkbench plot``: regenerate figures (PNG) from stored results."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.filter_options import filter_options, selection_from
from landmarkbench.cli.options import dataset_option, results_dir_option, tracking_uri_option

PLOT_KINDS = ("sdr", "landmarks", "training", "overlay", "sigma", "regions", "all")


@click.command(
    "plot",
    epilog="Examples:\n\n  landmarkbench plot --dataset synthetic_ceph --out plots\n\n"
    "  landmarkbench plot --dataset synthetic_ceph --out plots --kind overlay --cases 2\n\n"
    "  landmarkbench plot --dataset synthetic_ct --out plots --log-to-mlflow\n\n"
    "  landmarkbench plot --out plots --kind training --method subpixel --seed 0",
)
@dataset_option
@results_dir_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder the PNG files are written to (created if missing).",
)
@click.option(
    "--kind",
    default="all",
    show_default=True,
    type=click.Choice(PLOT_KINDS),
    help="sdr: SDR vs radius curves (one figure per split and convention group); landmarks: "
    "per-landmark MRE heat map (runs x landmarks); training: loss and validation error per "
    "epoch, one line per fold, best epoch marked; overlay: predictions on images (3D: "
    "orthogonal slices); sigma: learned sigma ellipses of adaptive methods; regions: "
    "conformal regions of runs made with --uncertainty conformal, with a landmark key.",
)
@click.option(
    "--cases",
    "n_cases",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of test cases to overlay.",
)
@click.option(
    "--log-to-mlflow",
    is_flag=True,
    help="Also log the PNGs as artifacts (plots/) of each run's parent MLflow run.",
)
@tracking_uri_option
@filter_options()
def plot_command(
    dataset: str,
    results_dir: Path,
    out_dir: Path,
    kind: str,
    n_cases: int,
    log_to_mlflow: bool,
    tracking_uri: str | None,
    **filters,
) -> None:
    """Draw figures of one dataset's stored results (no retraining); --method, --split,
    --gt, --seed, --exclude and --exclude-tag choose the runs drawn."""
    from landmarkbench.report.plots import KINDS, all_plots
    from landmarkbench.report.plots import log_to_mlflow as log_plots
    from landmarkbench.results.store import read_runs

    # Runs with a damaged file are left out of every figure: say which and why, once.
    runs, notes = read_runs(results_dir.resolve(), dataset, complete_only=False)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    selection = selection_from(filters)
    selection.apply(runs, f"of dataset {dataset!r} under '{results_dir}'")  # refused first
    kinds = tuple(KINDS) if kind == "all" else (kind,)
    paths = all_plots(
        results_dir.resolve(), dataset, out_dir, kinds=kinds, n_cases=n_cases, selection=selection
    )
    for path in paths:
        click.echo(str(path))
    if kind in ("sigma", "all") and not any("_sigma_" in p.name for p in paths):
        click.echo("note: no run with learned sigmas (adaptive methods); no ellipses", err=True)
    if kind in ("training", "all") and not any("_training_" in p.name for p in paths):
        click.echo(
            "note: no run with a training loop (e.g. mean_shape); no training curves", err=True
        )
    if kind in ("regions", "all") and not any("_regions_" in p.name for p in paths):
        click.echo(
            "note: no run with conformal regions (--uncertainty conformal); no region plots",
            err=True,
        )
    if log_to_mlflow:
        from landmarkbench.results.tracking import resolve_tracking_uri

        uri = resolve_tracking_uri(tracking_uri)
        for note in log_plots(uri, results_dir.resolve(), dataset, out_dir, selection):
            click.echo(f"note: {note}", err=True)
