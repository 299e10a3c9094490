"""What the driver asks of an executor, with the defaults the simple ones keep.

An executor is a context manager (entered around the dispatch: Ray is started and stopped
there) with a ``name``, ``in_process`` (whether cells run in the driver's process, and so
write the driver's tracking store themselves), ``slots`` (cells running at once, 0 when the
scheduler decides), ``check_resources(tasks)`` (refuse, before anything runs, a cell no
worker can hold) and ``run(tasks)``, which yields each cell's result as it ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from landmarkbench.errors import UsageError
from landmarkbench.run.sweep.cell import CellResult, CellTask


def import_extra(module: str, extra: str, executor: str) -> Any:
    """Import an optional dependency of an executor, or say in one sentence how to install it.

    Raises:
        UsageError: when ``module`` is not installed.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"The {executor} executor needs {module}, which is not installed; install it with "
            f"pip install 'landmarkbench[{extra}]' (or use --executor local)."
        ) from None


class Executor:
    """Base of the executors: entering and leaving do nothing, every cell fits."""

    name = "executor"
    in_process = False
    slots = 1

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def check_resources(self, tasks: Sequence[CellTask]) -> None:
        """Refuse cells no worker can hold (nothing to refuse by default)."""
        return None

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellResult]:
        raise NotImplementedError
