"""``landmarkbench fixture``: write a miniature dataset tree in a dataset's official layout."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import click

EXAMPLES = """Examples:

  landmarkbench fixture isbi2015 --out /tmp/isbi2015-mini --option image_shape=240,194

  landmarkbench fixture isbi2015 --out /tmp/isbi --option annotations_dir=../isbi-annotations

  landmarkbench fixture oai_pelvis --out /tmp/oai-mini --option fmt=dcm --option table_format=csv
"""


def fixture_options(write_fixture: Any, dataset: str, pairs: tuple[str, ...]) -> dict[str, Any]:
    """Typed keyword arguments for ``write_fixture`` from ``key=value`` texts.

    Each keyword takes the type of its default (a None default takes text).

    Raises:
        ConfigError: for an unknown key (with close matches) or a badly typed value.
    """
    from landmarkbench.config import parse_overrides, resolve_config

    texts = parse_overrides(pairs)
    params = list(inspect.signature(write_fixture).parameters.items())[1:]  # after root
    defaults = {
        name: ("" if p.default is None else p.default)
        for name, p in params
        if p.default is not inspect.Parameter.empty
    }
    resolved = resolve_config(defaults, texts, owner=f"fixture of dataset {dataset!r}")
    return {key: resolved[key] for key in texts}


def _runs_kfold(cls: Any, root: Path) -> bool:
    """Whether ``run`` on the tree at ``root`` (default options) cross-validates, i.e. the
    dataset declares no split (``runner.default_protocol``)."""
    from landmarkbench.run.runner import default_protocol

    try:
        return default_protocol(cls(data_dir=str(root))) == "kfold"
    except Exception:  # only a hint for the printed command: never fail the fixture
        return True


@click.command("fixture", epilog=EXAMPLES)
@click.argument("dataset")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the miniature tree into (created).",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Fixture option, e.g. image_shape=240,194 or case_ids=001,151,301.",
)
def fixture_command(dataset: str, out_dir: Path, options: tuple[str, ...]) -> None:
    """Write a small fake copy of a dataset, in its exact on-disk layout, for trying things."""
    from landmarkbench.catalog import DATASETS
    from landmarkbench.errors import UsageError

    cls = DATASETS.get(dataset)
    write_fixture = getattr(cls, "write_fixture", None)
    if not callable(write_fixture):
        raise UsageError(
            f"Dataset {dataset!r} has no fixture writer (write_fixture); fixtures exist for "
            "datasets read from disk, e.g. 'landmarkbench fixture isbi2015 --out DIR'."
        )
    written = Path(write_fixture(out_dir, **fixture_options(write_fixture, dataset, options)))
    click.echo(f"Wrote a miniature {dataset} tree to '{written}'. Try next:")
    click.echo(f"  landmarkbench validate {dataset} --data-dir {written}")
    # The cheapest method that handles the data: the mean shape, or peaks for multi-instance.
    method = "peak_heatmap --set max_epochs=2" if cls.multi_instance else "mean_shape"
    # Datasets with a declared split run it by default; the others need few folds here.
    kfold = _runs_kfold(cls, written)
    click.echo(
        f"  landmarkbench run --dataset {dataset} --data-dir {written} --method {method}"
        + (" --folds 2" if kfold else "")
    )
    click.echo("(validate also lists the files a miniature leaves out of the full release.)")
