"""``landmarkbench ls``: list registered datasets, methods and protocols (fast, no torch)."""

from __future__ import annotations

import click

from landmarkbench.catalog import REGISTRIES


@click.command(
    "ls",
    epilog="Examples:\n\n  landmarkbench ls\n\n  landmarkbench ls methods",
)
@click.argument("what", required=False, type=click.Choice(sorted(REGISTRIES)))
def ls_command(what: str | None) -> None:
    """List registered names with one-line descriptions."""
    kinds = [what] if what else sorted(REGISTRIES)
    for kind in kinds:
        entries = REGISTRIES[kind].entries()
        if len(kinds) > 1:
            click.echo(f"{kind}:")
        width = max((len(e.name) for e in entries), default=0)
        for entry in entries:
            click.echo(f"  {entry.name.ljust(width)}  {entry.description}")
