"""``landmarkbench sweep GRID.yaml``: run a grid of cells on the local, Ray or Slurm executor."""

from __future__ import annotations

from pathlib import Path

import click

from landmarkbench.report.formats import FORMATS

EXECUTORS = ("local", "ray", "slurm")

EXAMPLES = """Examples:

  landmarkbench sweep benchmarks/grids/tiny.yaml

  landmarkbench sweep benchmarks/grids/mission.yaml --dry-run

  landmarkbench sweep GRID.yaml --executor ray --cpus 8 --cpus-per-cell 2

  landmarkbench sweep GRID.yaml --executor ray --address ray://head:10001 \\
      --tracking-uri http://tracking-host:5000

  landmarkbench sweep GRID.yaml --executor slurm --slurm-partition gpu --gpus-per-cell 1
"""


@click.command("sweep", epilog=EXAMPLES)
@click.argument("grid_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local: this process, one cell after another; ray: one Ray task per cell; slurm: "
    "submitit job arrays.",
)
@click.option("--dry-run", is_flag=True, help="List the cells and their resources; run nothing.")
@click.option(
    "--results-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Where cells store their results [default: the grid's tracking.results_dir, else "
    "results]; executors outside this process need it on shared storage.",
)
@click.option(
    "--tracking-uri",
    default=None,
    help="MLflow store: a SQLite file (the driver is its only writer) or a tracking server "
    "http://host:port (cells log to it) [default: the grid's, else ./mlflow.db].",
)
@click.option(
    "--cpus-per-cell",
    type=click.IntRange(min=1),
    default=None,
    help="CPUs (torch threads) of every cell [default: the grid's resources, else 1].",
)
@click.option(
    "--gpus-per-cell",
    type=click.FloatRange(min=0),
    default=None,
    help="GPUs of every cell [default: the grid's resources, else 0].",
)
@click.option(
    "--address",
    default=None,
    help="Ray: the cluster to connect to [default: $RAY_ADDRESS, else a local instance].",
)
@click.option(
    "--cpus",
    type=click.IntRange(min=1),
    default=None,
    help="Ray: CPUs of the local instance [default: all cores].",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Ray, Slurm: how often a cell whose worker or job dies is run again (a cell that "
    "fails by itself, e.g. diverges, is never retried).",
)
@click.option(
    "--slurm-cluster",
    type=click.Choice(("slurm", "local")),
    default="slurm",
    show_default=True,
    help="Slurm: sbatch, or submitit's local executor (to try a grid on one machine).",
)
@click.option("--slurm-partition", default=None, help="Slurm: the partition.")
@click.option(
    "--slurm-timeout-min",
    type=click.IntRange(min=1),
    default=24 * 60,
    show_default=True,
    help="Slurm: the time limit of each job, minutes.",
)
@click.option(
    "--slurm-folder",
    type=click.Path(path_type=Path),
    default=None,
    help="Slurm: where job files and logs go [default: RESULTS_DIR/.sweep/slurm].",
)
@click.option(
    "--parallelism",
    type=click.IntRange(min=1),
    default=None,
    help="Slurm: jobs in flight at once [default: Slurm's choice; the local cluster: cores "
    "over CPUs per cell].",
)
@click.option(
    "--format",
    "fmt",
    default="markdown",
    show_default=True,
    type=click.Choice(FORMATS),
    help="Format of the tables printed at the end.",
)
def sweep_command(grid_file: Path, executor: str, dry_run: bool, **options) -> None:
    """Run every cell of a grid (datasets x protocols x methods x seeds), then print one
    table per dataset and convention key and a grid overview.

    Every cell is validated before any runs; finished cells are skipped, so rerunning the
    same command resumes. Exit code 1 when a cell failed (the others are stored).
    """
    from landmarkbench.errors import LandmarkBenchError
    from landmarkbench.run.sweep.driver import plan_sweep, run_sweep

    grid = load_grid_with_options(grid_file, options["results_dir"], options["tracking_uri"])
    if dry_run:
        click.echo(describe_grid(grid, options["cpus_per_cell"], options["gpus_per_cell"]))
        return
    planned = plan_sweep(grid)
    with make_executor(executor, planned, options) as chosen:
        outcome = run_sweep(
            planned,
            chosen,
            cpus=options["cpus_per_cell"],
            gpus=options["gpus_per_cell"],
            echo=click.echo,
        )
    print_grid_tables(planned, options["fmt"])
    first = planned[0].run
    click.echo(f"Results (source of truth): {first.root}")
    click.echo(f"MLflow store: {first.tracking_uri}")
    click.echo(outcome.summary_line())
    if outcome.failed:
        raise LandmarkBenchError(
            f"{len(outcome.failed)} of {len(planned)} cell(s) failed (first: "
            f"{outcome.failed[0].label}: {outcome.failed[0].reason}); the others are stored "
            "and a rerun runs only the cells that are not finished."
        )


def load_grid_with_options(grid_file: Path, results_dir: Path | None, tracking_uri: str | None):
    """The grid with its tracking section made absolute (cells may run elsewhere):
    ``results_dir`` and ``tracking_uri`` replace the file's values when given."""
    from landmarkbench.results.tracking import resolve_tracking_uri
    from landmarkbench.run.sweep.grid import load_grid

    raw = load_grid(grid_file)  # validates the file first, with its own values
    tracking = raw.cells[0].spec.tracking
    folder = Path(results_dir if results_dir is not None else tracking.results_dir).resolve()
    uri = resolve_tracking_uri(tracking_uri or tracking.uri, create=False)
    return load_grid(grid_file, shared={"tracking": {"uri": uri, "results_dir": str(folder)}})


def describe_grid(grid, cpus: int | None, gpus: float | None) -> str:
    """The dry run's listing: every cell with its key and resources, and the totals."""
    lines = [f"{grid.source}: {len(grid.cells)} cell(s) on {len(grid.datasets)} dataset(s)"]
    totals = {"cpus": 0, "gpus": 0.0}
    for cell in grid.cells:
        resources = cell.resources.replace(cpus, gpus)
        totals["cpus"] += resources.num_cpus
        totals["gpus"] += resources.num_gpus
        lines.append(f"  {cell.label}  [{cell.key}]  {resources.describe()}")
    lines.append(
        f"{len(grid.cells)} cell(s) asking for {totals['cpus']} CPU and {totals['gpus']:g} GPU "
        "in all; every cell's spec is validated, the data is checked when the sweep runs."
    )
    return "\n".join(lines)


def make_executor(name: str, planned, options: dict):
    """The chosen executor, configured from the command line (imports Ray or submitit)."""
    if name == "ray":
        from landmarkbench.run.sweep.ray_executor import RayExecutor

        return RayExecutor(options["address"], options["cpus"], options["max_retries"])
    if name == "slurm":
        from landmarkbench.run.sweep.slurm_executor import SlurmExecutor

        folder = options["slurm_folder"] or planned[0].run.root / ".sweep" / "slurm"
        return SlurmExecutor(
            Path(folder).resolve(),
            cluster=options["slurm_cluster"],
            partition=options["slurm_partition"],
            timeout_min=options["slurm_timeout_min"],
            parallelism=options["parallelism"],
            max_retries=options["max_retries"],
        )
    from landmarkbench.run.sweep.local_executor import LocalExecutor

    return LocalExecutor()


def print_grid_tables(
    planned, fmt: str, bootstrap: int | None = None, seed: int | None = None
) -> None:
    """Every dataset's tables and the grid overview, from the stored results."""
    from landmarkbench.report.grid_tables import grid_tables

    identities: dict[str, list] = {}
    for p in planned:
        identities.setdefault(p.run.request.dataset, []).append(p.run.identity)
    text, notes = grid_tables(planned[0].run.root, identities, fmt, bootstrap, seed)
    click.echo("")
    click.echo(text, nl=False)
    for note in notes:
        click.echo(f"note: {note}", err=True)
