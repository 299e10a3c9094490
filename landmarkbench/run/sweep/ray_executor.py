"""The Ray executor: one Ray task per cell, with the CPUs and GPUs the cell asks for.

``address`` (or ``RAY_ADDRESS``) connects to a running cluster; otherwise a local instance
is started (``num_cpus``: all cores by default) and shut down when the sweep ends. A Ray
instance this process already started (``ray.is_initialized()``) is used as it is and left
running. A task whose worker dies (killed, out of memory, node lost) is retried by Ray up
to ``max_retries`` times; an exception inside a cell is its result (``cell.run_cell``),
so a deterministic failure is never retried. Ray is imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from landmarkbench.errors import UsageError
from landmarkbench.run.sweep.cell import CellResult, CellTask, run_cell
from landmarkbench.run.sweep.executor import Executor, import_extra


class RayExecutor(Executor):
    """Dispatches cells as Ray tasks and yields their results as they finish."""

    name = "ray"
    in_process = False

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self._started = False
        self.ray = import_extra("ray", "ray", "ray")

    def __enter__(self) -> RayExecutor:
        ray = self.ray
        if ray.is_initialized():
            return self
        if self.address:
            if self.num_cpus is not None:
                raise UsageError(
                    f"--cpus {self.num_cpus} sizes a local Ray instance, but the sweep connects "
                    f"to the cluster at {self.address}; drop --cpus (the cluster has its own)."
                )
            ray.init(address=self.address, log_to_driver=False)
        else:
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    @property
    def slots(self) -> int:
        """CPUs of the cluster (alive nodes)."""
        return int(self.ray.cluster_resources().get("CPU", 1))

    def check_resources(self, tasks: Sequence[CellTask]) -> None:
        """Refuse cells that no node of the cluster can hold (Ray would wait forever).

        Raises:
            UsageError: naming the cell, what it asks and the largest node.
        """
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        for task in tasks:
            if not any(
                n.get("CPU", 0) >= task.num_cpus and n.get("GPU", 0) >= task.num_gpus for n in nodes
            ):
                largest = max(((n.get("CPU", 0), n.get("GPU", 0)) for n in nodes), default=(0, 0))
                raise UsageError(
                    f"Cell {task.label} asks for {task.num_cpus} CPU and {task.num_gpus:g} GPU "
                    f"but the largest Ray node has {largest[0]:g} CPU and {largest[1]:g} GPU; "
                    "lower the grid's resources (or --cpus-per-cell/--gpus-per-cell) or add "
                    "a larger node."
                )

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellResult]:
        ray = self.ray
        remote = ray.remote(run_cell)
        pending = {
            remote.options(
                num_cpus=task.num_cpus,
                num_gpus=task.num_gpus,
                max_retries=self.max_retries,
                retry_exceptions=False,
                name=f"landmarkbench cell {task.label}",
            ).remote(task): task
            for task in tasks
        }
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as exc:
                    yield CellResult(
                        task.key,
                        task.label,
                        "failed",
                        f"its Ray worker failed {self.max_retries + 1} time(s), retries "
                        f"exhausted ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                    )
