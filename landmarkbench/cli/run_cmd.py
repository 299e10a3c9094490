"""``landmarkbench run``: train and evaluate methods on a dataset under a protocol."""

from __future__ import annotations

import click

from landmarkbench.cli.options import results_dir_option, tracking_uri_option

EXAMPLES = """Examples:

  landmarkbench run                      # synthetic_ceph, mean_shape + subpixel, 5 folds

  landmarkbench run --dataset synthetic_ceph --method argmax --folds 5 --seed 0

  landmarkbench run --method subpixel --set max_epochs=80 --data-option n_cases=200

  landmarkbench run --method one_hot --uncertainty conformal --alpha 0.1
"""

DEFAULT_METHODS = ("mean_shape", "subpixel")


def _split_list(values: tuple[str, ...]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


@click.command("run", epilog=EXAMPLES)
@click.option(
    "--dataset",
    default="synthetic_ceph",
    show_default=True,
    help="Dataset name (see 'ls datasets').",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    help="Method name(s), repeatable or comma separated [default: mean_shape,subpixel].",
)
@click.option(
    "--protocol",
    default=None,
    help="kfold, official or published_folds [default: official for datasets that declare a "
    "split (isbi2015, mml, endovis2015, adaptor_sutures), else kfold].",
)
@click.option("--folds", default=None, type=int, help="K for --protocol kfold [default: 5].")
@click.option(
    "--split-seed", default=0, show_default=True, type=int, help="Seed of the fold assignment."
)
@click.option(
    "--seed", "seeds", multiple=True, type=int, help="Training seed(s), repeatable [default: 0]."
)
@click.option(
    "--data-dir", default=None, help="Dataset folder (real datasets) or cache folder (synthetic)."
)
@click.option("--gt", "ground_truth", default=None, help="Ground-truth source (dataset specific).")
@click.option(
    "--data-option",
    "data_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset option, e.g. n_cases=200.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Method setting, e.g. max_epochs=80.",
)
@click.option(
    "--sdr-radii", default=None, help="Comma-separated SDR radii in mm [default: the dataset's]."
)
@click.option("--sdr-operator", default="<=", show_default=True, type=click.Choice(["<=", "<"]))
@click.option(
    "--aggregation", default="pooled", show_default=True, type=click.Choice(["pooled", "per_image"])
)
@click.option(
    "--val-fraction",
    default=0.1,
    show_default=True,
    type=float,
    help="Inner validation share of each training fold.",
)
@click.option(
    "--uncertainty",
    type=click.Choice(["conformal", "hdr"]),
    default=None,
    help="Prediction regions for heatmap methods: conformal (M-R2CCP, calibrated on a part "
    "cut from each training fold) or hdr (each map's highest-density region, uncalibrated: "
    "the baseline).",
)
@click.option(
    "--alpha",
    default=0.1,
    show_default=True,
    type=float,
    help="Miscoverage of the regions (0.1 = 90 % regions).",
)
@click.option(
    "--calibration-fraction",
    default=0.2,
    show_default=True,
    type=float,
    help="Share of each training fold held out to calibrate the regions.",
)
@click.option(
    "--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"])
)
@results_dir_option
@tracking_uri_option
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run_command(**options) -> None:
    """Train and evaluate every fold, store predictions and metrics, log to MLflow.

    Finished folds are kept: rerunning the same command resumes where it stopped.
    """
    from landmarkbench.run.plan import execute_plan, plan_requests

    options["methods"] = _split_list(options["methods"]) or list(DEFAULT_METHODS)
    options["seeds"] = list(options["seeds"]) or [0]
    runs = plan_requests(**options)
    execute_plan(runs, echo=click.echo)
