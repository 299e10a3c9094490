"""``landmarkbench fetch``: download, check and extract a dataset listed in a manifest."""

from __future__ import annotations

from pathlib import Path

import click

EXAMPLES = """Examples:

  landmarkbench fetch isbi2015 --data-dir ~/data/isbi2015

  landmarkbench fetch isbi2015 --data-dir ~/data/isbi2015 --url-base https://mirror.example.org
"""


@click.command("fetch", epilog=EXAMPLES)
@click.argument("dataset")
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to download and extract into (created if needed).",
)
@click.option(
    "--url-base",
    default=None,
    metavar="URL",
    help="Mirror: replaces the scheme and host of the manifest's URLs.",
)
@click.option(
    "--manifest-dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of manifests [default: the bundled datasets_manifest/].",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def fetch_command(
    dataset: str, data_dir: Path, url_base: str | None, manifest_dir: Path | None, no_progress: bool
) -> None:
    """Download a dataset's files, check their size and sha256, extract archives (resumable)."""
    from landmarkbench.acquire.fetch import fetch_dataset
    from landmarkbench.acquire.manifest import load_manifest

    manifest = load_manifest(dataset, manifest_dir)
    fetch_dataset(
        manifest,
        data_dir,
        url_base=url_base,
        progress=False if no_progress else None,
        echo=click.echo,
    )
    click.echo(
        f"Done: {dataset} is in '{data_dir}'; check it with "
        f"'landmarkbench validate {dataset} --data-dir {data_dir}'."
    )
