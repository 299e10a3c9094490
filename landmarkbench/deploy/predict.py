"""``landmarkbench predict``: a trained model (a stored run's or an exported file's) applied
to images, written as CSV / JSON / the CL-Detection layouts. Every input is checked before the
first image is predicted, and the files are written only when every image is predicted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from landmarkbench.atomic_io import check_writable_folder
from landmarkbench.deploy.inputs import (
    InputImage,
    case_format,
    check_images,
    image_files,
    load_case,
    parse_spacing,
)
from landmarkbench.deploy.outputs import (
    ImagePrediction,
    formats_for,
    write_outputs,
)
from landmarkbench.deploy.predictor import Predictor
from landmarkbench.errors import UsageError


def load_predictor(
    *, run: str | None, model: Path | None, fold: str | None, results_dir: Path,
    tracking_uri: str | None, device: str = "cpu",
) -> Predictor:  # fmt: skip
    """The model of ``--run`` (with ``--fold`` / ``--folds all``) or of ``--model``.

    Raises:
        UsageError: unless exactly one of them is given, or for ``--fold`` with a file.
    """
    if (run is None) == (model is None):
        raise UsageError("Pass either --run (a finished run) or --model (an exported file).")
    if model is not None:
        if fold is not None:
            raise UsageError(
                "--fold/--folds apply to --run; an exported file holds the folds it was "
                "exported with (choose them with 'landmarkbench export --fold')."
            )
        from landmarkbench.deploy.exported_model import ExportedModel

        return ExportedModel.load(model)
    from landmarkbench.deploy.stored_run import RunModels, StoredRun, locate_run

    root, run_dir = locate_run(run, results_dir, tracking_uri)
    return RunModels(StoredRun(root, run_dir), fold, device)


def part_images(predictor: Predictor, part: str) -> list[InputImage]:
    """The test cases of fold or test set ``part`` of the predictor's run, as the run
    loaded them.

    Raises:
        UsageError: for a model file, or a part the run's split does not have.
    """
    from landmarkbench.deploy.stored_run import RunModels

    if not isinstance(predictor, RunModels):
        raise UsageError(
            "--part reads the cases of a run's dataset; use it with --run, or pass the image "
            "files to an exported model."
        )
    from landmarkbench.catalog import DATASETS
    from landmarkbench.protocols.split import Split
    from landmarkbench.spec.yaml_io import load_experiment

    run = predictor.run
    split = Split.from_json_dict(json.loads(run.split_path().read_text()))
    folds = {f.name: f for f in split.folds}
    fold = folds.get(part) or folds.get(f"fold_{part}")
    if fold is None:
        raise UsageError(
            f"The split of run '{run.run_dir}' has no part {part!r}; pass --part with one of "
            f"{', '.join(folds)} (its test cases are predicted)."
        )
    spec = load_experiment(run.experiment_path()).dataset
    dataset = DATASETS.get(spec.name)(ground_truth=spec.ground_truth, **spec.options)
    cases = dataset.load_many(fold.test)
    return [InputImage(c.case_id, case_format(c), None, c) for c in cases]


def predict_images(
    predictor: Predictor, *, images: Sequence[Path], part: str | None, out: Path,
    formats: Sequence[str], spacing: str | None, progress: bool,
    echo: Callable[[str], None] = print,
) -> list[Path]:  # fmt: skip
    """Predict every image and write the outputs; returns the files written.

    Raises:
        UsageError, DataError: for a bad input (one sentence), before anything is written.
    """
    if bool(images) == (part is not None):
        raise UsageError("Pass image files or folders, or --part with --run (not both).")
    chosen = formats_for(formats, predictor.ndim, predictor.multi_instance)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; pass a folder (it is created if missing).")
    check_writable_folder(
        out, "The output folder", "make it writable or pass --out with a writable folder."
    )
    inputs = part_images(predictor, part) if part is not None else image_files(images)
    given = parse_spacing(spacing, predictor.ndim)
    fallback = predictor.dataset_spacing_mm
    check_images(inputs, predictor.ndim, given, fallback)
    echo(f"Predicting {len(inputs)} image(s) with {predictor.statement}.")
    from tqdm.auto import tqdm

    batch = max(int(getattr(predictor, "batch_size", 1)), 1)
    predictions: list[ImagePrediction] = []
    with tqdm(total=len(inputs), desc="predict", unit="image", disable=not progress) as bar:
        for start in range(0, len(inputs), batch):
            chunk = inputs[start : start + batch]
            cases = [load_case(i, given, fallback) for i in chunk]
            for image, case, points in zip(chunk, cases, predictor.predict(cases), strict=True):
                predictions.append(
                    ImagePrediction(
                        image.name,
                        image.format,
                        tuple(case.shape),
                        tuple(float(s) for s in case.spacing),
                        points,
                    )
                )
            bar.update(len(chunk))
    return write_outputs(
        out, chosen, predictions, predictor.landmark_names, predictor.statement,
        predictor.multi_instance,
    )  # fmt: skip
