"""``--method``, ``--split``, ``--gt``, ``--seed``, ``--exclude`` and ``--exclude-tag``:
the run filters of ``table``, ``plot`` and ``leaderboard`` (``report.filters.RunSelection``),
one definition and one help text each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def filter_options(exclude_tag_default: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """The filter options; ``exclude_tag_default`` is what ``--exclude-tag`` leaves out when
    not given (the leaderboard: smoke runs)."""
    default = ",".join(exclude_tag_default)
    options = [
        click.option(
            "--method",
            "filter_methods",
            multiple=True,
            help="Only these methods (repeatable or comma separated; a method name, or a "
            "shown name such as 'subpixel (cpu)').",
        ),
        click.option(
            "--split",
            "filter_splits",
            multiple=True,
            help="Only these splits: a protocol (kfold, official) or a split id "
            "(kfold-cac3b65d62, or its first 6+ characters).",
        ),
        click.option(
            "--gt",
            "filter_gts",
            multiple=True,
            help="Only these ground truths (e.g. mean, annotator1).",
        ),
        click.option(
            "--seed",
            "filter_seeds",
            multiple=True,
            type=click.IntRange(min=0),
            help="Only these training seeds (repeatable).",
        ),
        click.option(
            "--exclude",
            "filter_exclude",
            multiple=True,
            help="Leave out runs whose method, shown name, config hash or tag is this "
            "(repeatable or comma separated).",
        ),
        click.option(
            "--exclude-tag",
            "filter_exclude_tags",
            multiple=True,
            default=exclude_tag_default,
            show_default=bool(default),
            help="Leave out runs made with 'run --tag TAG' (repeatable; 'none' leaves out "
            "nothing).",
        ),
    ]

    def decorate(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def selection_from(options: dict[str, Any]):
    """The ``RunSelection`` of the filter options (popped from a command's keywords)."""
    from landmarkbench.report.filters import RunSelection

    return RunSelection.from_options(
        methods=options.pop("filter_methods", ()),
        splits=options.pop("filter_splits", ()),
        ground_truths=options.pop("filter_gts", ()),
        seeds=options.pop("filter_seeds", ()),
        exclude=options.pop("filter_exclude", ()),
        exclude_tags=options.pop("filter_exclude_tags", ()),
    )
