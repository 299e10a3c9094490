"""The default executor: every cell in the driver's process, one after another (as ``run``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from landmarkbench.run.sweep.cell import CellResult, CellTask, run_cell
from landmarkbench.run.sweep.executor import Executor


class LocalExecutor(Executor):
    """Runs cells in this process in order; they write the tracking store themselves (one
    process, one writer)."""

    name = "local"
    in_process = True
    slots = 1

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellResult]:
        for task in tasks:
            yield run_cell(task)
