"""``landmarkbench predict``: landmarks of new images from a finished run or an exported model."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.cli.options import (
    results_dir_option,
    stored_model_options,
    tracking_uri_option,
)
from landmarkbench.deploy.formats import FORMATS
from landmarkbench.devices import DEVICE_CHOICES

EXAMPLES = """Examples:

  landmarkbench predict --run RUN_FOLDER --fold 0 images/ --out out

  landmarkbench predict --run RUN --folds all --part fold_2 --out out

  landmarkbench predict --model model.zip scan.nii.gz --out out --format json
"""


@click.command("predict", epilog=EXAMPLES)
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@stored_model_options(run_required=False)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="An exported model file (landmarkbench export).",
)
@click.option(
    "--part",
    default=None,
    help="Predict the test cases of this fold or test set of the run's split instead of files.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Folder for the output files."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FORMATS),
    help="Output formats [default: every one that applies; cldetection: the CL-Detection 2024 "
    "CSV, cldetection2023: the CL-Detection 2023 JSON, both 2D with one point per landmark].",
)
@click.option(
    "--spacing",
    default=None,
    help="mm per pixel (one value, or one per x,y[,z]) [default: the image header, else "
    "the spacing of the training images].",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help=f"{', '.join(DEVICE_CHOICES)} [with --run].",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@results_dir_option
@tracking_uri_option
def predict_command(
    images: tuple[Path, ...], run: str | None, model: Path | None, fold: str | None,
    folds: str | None, part: str | None, out: Path, formats: tuple[str, ...],
    spacing: str | None, device: str, no_progress: bool, results_dir: Path,
    tracking_uri: str | None,
) -> None:  # fmt: skip
    """Landmarks of IMAGES (files or folders) on their original grids, in px and mm."""
    from landmarkbench.deploy.predict import load_predictor, predict_images
    from landmarkbench.errors import UsageError

    if fold is not None and folds is not None:
        raise UsageError(
            "Pass --fold K (one fold's model) or --folds all (the ensemble), not both."
        )
    if device != "cpu" and run is not None:
        from landmarkbench.devices import resolve_device

        device = resolve_device(device)
    predictor = load_predictor(
        run=run, model=model, fold=fold or folds, results_dir=results_dir,
        tracking_uri=tracking_uri, device=device,
    )  # fmt: skip
    written = predict_images(
        predictor, images=images, part=part, out=out, formats=formats, spacing=spacing,
        progress=not no_progress, echo=click.echo,
    )  # fmt: skip
    click.echo("Wrote " + ", ".join(str(p) for p in written))
