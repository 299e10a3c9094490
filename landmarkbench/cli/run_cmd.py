"""``landmarkbench run``: train and evaluate methods on a dataset under a protocol.

The command builds one ``ExperimentSpec``: the defaults (or ``--config FILE``) with the given
options applied on top. Its defaults are the spec's, so the help shows them from there.
"""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.devices import DEVICE_CHOICES
from landmarkbench.spec.experiment import (
    AGGREGATIONS,
    DEFAULT_DATASET,
    DEFAULT_FOLDS,
    DEFAULT_METHODS,
    DEFAULT_SEEDS,
    DEVICE_SETTINGS,
    EVALUATION_SETTINGS,
    PROTOCOL_SETTINGS,
    SDR_OPERATORS,
    TRACKING_SETTINGS,
    UNCERTAINTY_METHODS,
    UNCERTAINTY_SETTINGS,
)

EXAMPLES = """Examples:

  landmarkbench run                      # synthetic_ceph, mean_shape + subpixel, 5 folds

  landmarkbench run --dataset synthetic_ceph --method argmax --folds 5 --seed 0

  landmarkbench run --method subpixel --set max_epochs=80 --data-option n_cases=200

  landmarkbench run --method one_hot --uncertainty conformal --alpha 0.1

  landmarkbench run --method subpixel --set max_epochs=2 --tag smoke

  landmarkbench run --dump-config > e.yaml && landmarkbench run --config e.yaml

  landmarkbench run --config benchmarks/experiments/default.yaml --set max_epochs=5
"""


def _default(value) -> str:
    if isinstance(value, (tuple, list)):
        value = ",".join(map(str, value))
    return f"[default: {value}]"


@click.command("run", epilog=EXAMPLES)
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Experiment file (YAML); the other options override it.",
)
@click.option(
    "--dump-config",
    is_flag=True,
    help="Print the fully resolved experiment file of this command line and exit (runs nothing).",
)
@click.option("--dataset", default=None, help=f"Dataset name (see 'ls datasets'). "
              f"{_default(DEFAULT_DATASET)}")  # fmt: skip
@click.option(
    "--method",
    "methods",
    multiple=True,
    help=f"Method name(s), repeatable or comma separated {_default(DEFAULT_METHODS)}.",
)
@click.option(
    "--protocol",
    default=None,
    help="kfold, holdout, official or published_folds [default: official for datasets that "
    "declare a split (isbi2015, mml, endovis2015, adaptor_sutures), else kfold].",
)
@click.option(
    "--folds",
    default=None,
    type=int,
    help=f"K for --protocol kfold (holdout: tests 1/K) {_default(DEFAULT_FOLDS)}.",
)
@click.option(
    "--split-seed",
    default=None,
    type=int,
    help=f"Seed of the fold assignment {_default(PROTOCOL_SETTINGS['split_seed'])}.",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=int,
    help=f"Training seed(s), repeatable {_default(DEFAULT_SEEDS)}.",
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
@click.option(
    "--sdr-operator",
    default=None,
    type=click.Choice(SDR_OPERATORS),
    help=_default(EVALUATION_SETTINGS["sdr_operator"]),
)
@click.option(
    "--aggregation",
    default=None,
    type=click.Choice(AGGREGATIONS),
    help=_default(EVALUATION_SETTINGS["aggregation"]),
)
@click.option(
    "--val-fraction",
    default=None,
    type=float,
    help="Inner validation share of each training fold "
    f"{_default(PROTOCOL_SETTINGS['val_fraction'])}.",
)
@click.option(
    "--uncertainty",
    type=click.Choice(UNCERTAINTY_METHODS),
    default=None,
    help="Prediction regions for heatmap methods: conformal (M-R2CCP, calibrated on a part "
    "cut from each training fold) or hdr (each map's highest-density region, uncalibrated: "
    "the baseline).",
)
@click.option(
    "--alpha",
    default=None,
    type=float,
    help="Miscoverage of the regions (0.1 = 90 % regions) "
    f"{_default(UNCERTAINTY_SETTINGS['alpha'])}.",
)
@click.option(
    "--calibration-fraction",
    default=None,
    type=float,
    help="Share of each training fold held out to calibrate the regions "
    f"{_default(UNCERTAINTY_SETTINGS['calibration_fraction'])}.",
)
@click.option(
    "--device",
    default=None,
    type=click.Choice(DEVICE_CHOICES),
    help=_default(DEVICE_SETTINGS["device"]),
)
@click.option(
    "--recipe",
    default=None,
    help="The dataset's method settings (datasets with recipes: isbi2015, oai_pelvis, mml): "
    "cpu, paper or none [default: cpu on a CPU, paper on CUDA; see 'landmarkbench ls recipes'].",
)
@click.option(
    "--results-dir",
    default=None,
    type=click.Path(path_type=Path),
    help=f"Where runs store their results {_default(TRACKING_SETTINGS['results_dir'])}.",
)
@click.option(
    "--tracking-uri", default=None, help="MLflow store [default: sqlite database ./mlflow.db]."
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="Label the runs, e.g. --tag smoke (repeatable): recorded with the results, never part "
    "of their folder or config hash; the leaderboard leaves out smoke runs by default, and "
    "table/plot/leaderboard take --exclude-tag.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run_command(config_file: Path | None, dump_config: bool, no_progress: bool, **options) -> None:
    """Train and evaluate every fold, store predictions and metrics, log to MLflow.

    Finished folds are kept: rerunning the same command resumes where it stopped. Each run
    folder keeps its resolved experiment file (experiment.yaml) beside summary.json.
    """
    from landmarkbench.spec.experiment import ExperimentSpec
    from landmarkbench.spec.overrides import apply_options
    from landmarkbench.spec.yaml_io import dump_yaml, load_experiment

    base = load_experiment(config_file) if config_file is not None else ExperimentSpec()
    spec = apply_options(base, **options)
    if dump_config:
        click.echo(dump_yaml(spec), nl=False)
        return
    from landmarkbench.report.tables import outcome_table
    from landmarkbench.run.plan import execute_plan, plan_runs, refuse_failed_folds

    note = spec.recipe_note()
    if note:
        click.echo(note)
    runs = plan_runs(spec, progress=not no_progress)
    outcomes = execute_plan(runs, echo=click.echo)
    first = runs[0]
    click.echo("")
    click.echo(outcome_table(first.root, first.request.dataset, [o.identity for o in outcomes]))
    uri = outcomes[-1].summary["tracking_uri"]
    click.echo(f"Results (source of truth): {first.root / first.request.dataset}")
    click.echo(f"MLflow store: {uri}")
    click.echo(f"Browse: mlflow ui --backend-store-uri {uri}")
    refuse_failed_folds(outcomes)
