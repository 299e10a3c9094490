"""``landmarkbench ls``: list registered datasets, methods and protocols, and the datasets'
recipes (fast, no torch).

Plugins (entry points of installed distributions) are listed with their distribution; a
plugin that cannot be loaded gets a ``note:`` line with its error and the rest is listed.
"""

from __future__ import annotations

import click

from landmarkbench.catalog import REGISTRIES


@click.command(
    "ls",
    epilog="Examples:\n\n  landmarkbench ls\n\n  landmarkbench ls methods\n\n"
    "  landmarkbench ls recipes",
)
@click.argument("what", required=False, type=click.Choice([*sorted(REGISTRIES), "recipes"]))
def ls_command(what: str | None) -> None:
    """List registered names with one-line descriptions."""
    kinds = [what] if what else [*sorted(REGISTRIES), "recipes"]
    for kind in kinds:
        if kind == "recipes":
            _list_recipes(several=len(kinds) > 1)
            continue
        entries = REGISTRIES[kind].entries()
        if len(kinds) > 1:
            click.echo(f"{kind}:")
        width = max((len(e.name) for e in entries), default=0)
        for entry in entries:
            traits = _traits(entry.obj) if kind in ("datasets", "methods") else ""
            origin = f" ({entry.origin})" if entry.origin else ""
            click.echo(f"  {entry.name.ljust(width)}  {entry.description}{traits}{origin}")
        for message in REGISTRIES[kind].problems().values():
            click.echo(f"note: {message}", err=True)


def _traits(obj: object) -> str:
    """What a dataset or method is for, from its class attributes: dimensions, kind of data
    and, for methods, whether conformal regions are available."""
    dims = getattr(obj, "supported_ndim", None) or (getattr(obj, "ndim", None),)
    parts = ["/".join(f"{d}D" for d in dims if d)]
    if getattr(obj, "multi_instance", False):
        parts.append("multi-instance")
    if getattr(obj, "supports_conformal", False):
        parts.append("conformal")
    shown = [p for p in parts if p]
    return f" [{', '.join(shown)}]" if shown else ""


def _list_recipes(several: bool) -> None:
    """Each shipped recipe file (dataset, name) with the first line of its header comment."""
    from landmarkbench.catalog import DATASETS
    from landmarkbench.spec.recipes import available_recipes, recipe_path

    if several:
        click.echo("recipes:")
    for dataset in DATASETS.names():
        for name in available_recipes(dataset):
            path = recipe_path(dataset, name)
            first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
            click.echo(f"  {dataset}/{name}  {first}")
