"""Entry point: the click group, error handling and exit codes.

Exit codes: 0 success, 1 a failed run (or any LandmarkBenchError), 2 a usage error. Errors
print one sentence; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from landmarkbench import __version__
from landmarkbench.cli.export_cmd import export_command
from landmarkbench.cli.fetch_cmd import fetch_command
from landmarkbench.cli.fixture_cmd import fixture_command
from landmarkbench.cli.leaderboard_cmd import leaderboard_command
from landmarkbench.cli.ls_cmd import ls_command
from landmarkbench.cli.plot_cmd import plot_command
from landmarkbench.cli.predict_cmd import predict_command
from landmarkbench.cli.regress_cmd import regress_command
from landmarkbench.cli.run_cmd import run_command
from landmarkbench.cli.sweep_cmd import sweep_command
from landmarkbench.cli.table_cmd import table_command
from landmarkbench.cli.validate_cmd import validate_command
from landmarkbench.errors import LandmarkBenchError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n  landmarkbench run\n\n  landmarkbench ls methods\n\n"
    "  landmarkbench table --dataset synthetic_ceph --format latex",
)
@click.version_option(__version__, prog_name="landmarkbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """Benchmark anatomical landmark localization methods on 2D and 3D datasets."""


cli.add_command(ls_command)
cli.add_command(run_command)
cli.add_command(sweep_command)
cli.add_command(table_command)
cli.add_command(validate_command)
cli.add_command(fetch_command)
cli.add_command(fixture_command)
cli.add_command(regress_command)
cli.add_command(leaderboard_command)
cli.add_command(plot_command)
cli.add_command(predict_command)
cli.add_command(export_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (tests call this)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="landmarkbench", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort when it does not handle exits itself.
        click.echo("Interrupted; finished folds are kept and a rerun resumes.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except LandmarkBenchError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback and report it)",
            err=True,
        )
        return 1
    return 0


def entry_point() -> None:
    """Console-script entry: exit with ``main``'s code."""
    sys.exit(main())
