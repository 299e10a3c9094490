"""The Slurm executor: cells as submitit job arrays (one array per resource shape).

Each job runs ``cell.run_cell`` with the cell's CPUs (``cpus_per_task``) and GPUs
(``gpus_per_node``). A job that dies without returning (killed, out of memory, node
failure, timeout) is resubmitted up to ``max_retries`` times; an exception inside a cell is
its result, never resubmitted. At most ``parallelism`` jobs are in flight
(``slurm_array_parallelism`` for Slurm; for submitit's local cluster, which starts every
job at once, the number of cores over the cell's CPUs). Job files go to ``folder``.
submitit is imported only here.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from landmarkbench.errors import UsageError
from landmarkbench.run.sweep.cell import CellResult, CellTask, run_cell
from landmarkbench.run.sweep.executor import Executor, import_extra

CLUSTERS = ("slurm", "local")


class SlurmExecutor(Executor):
    """Submits cells with submitit and yields their results as jobs end."""

    name = "slurm"
    in_process = False

    def __init__(
        self,
        folder: Path,
        *,
        cluster: str = "slurm",
        partition: str | None = None,
        timeout_min: int = 24 * 60,
        parallelism: int | None = None,
        max_retries: int = 3,
        poll_s: float = 1.0,
    ) -> None:
        if cluster not in CLUSTERS:
            raise UsageError(
                f"--slurm-cluster {cluster!r} is unknown; use 'slurm' (sbatch) or 'local' "
                "(submitit's local executor, for trying a grid on one machine)."
            )
        self.submitit = import_extra("submitit", "slurm", "slurm")
        self.folder = Path(folder)
        self.cluster = cluster
        self.partition = partition
        self.timeout_min = timeout_min
        self.parallelism = parallelism
        self.max_retries = max_retries
        self.poll_s = poll_s

    @property
    def slots(self) -> int:
        """Cells in flight at once (0: as many as Slurm grants)."""
        if self.parallelism:
            return self.parallelism
        return (os.cpu_count() or 1) if self.cluster == "local" else 0

    def _executor(self, task: CellTask, parallelism: int) -> Any:
        executor = self.submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        parameters: dict[str, Any] = {
            "timeout_min": self.timeout_min,
            "gpus_per_node": int(task.num_gpus),
            "name": "landmarkbench-sweep",
        }
        if self.cluster == "slurm":
            parameters.update(
                cpus_per_task=task.num_cpus,
                slurm_array_parallelism=parallelism,
                **({"slurm_partition": self.partition} if self.partition else {}),
            )
        executor.update_parameters(**parameters)
        return executor

    def _limit(self, task: CellTask) -> int:
        if self.parallelism:
            return self.parallelism
        if self.cluster == "local":
            return max(1, (os.cpu_count() or 1) // task.num_cpus)
        return 1_000_000  # Slurm queues the whole array itself

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellResult]:
        queue = deque(tasks)
        attempts = {task.key: 0 for task in tasks}
        running: list[tuple[Any, CellTask]] = []
        while queue or running:
            limit = self._limit(queue[0]) if queue else 0
            if queue and len(running) < limit:
                shape = (queue[0].num_cpus, queue[0].num_gpus)
                batch = [t for t in queue if (t.num_cpus, t.num_gpus) == shape]
                batch = batch[: limit - len(running)]
                for task in batch:
                    queue.remove(task)
                    attempts[task.key] += 1
                jobs = self._executor(batch[0], limit).map_array(run_cell, batch)
                running += list(zip(jobs, batch, strict=True))
            ended = [(job, task) for job, task in running if job.done()]
            if not ended:
                time.sleep(self.poll_s)
                continue
            for job, task in ended:
                running.remove((job, task))
                try:
                    yield job.result()
                except Exception as exc:  # the job died: retried, unlike a cell's failure
                    if attempts[task.key] <= self.max_retries:
                        queue.append(task)
                        continue
                    yield CellResult(
                        task.key,
                        task.label,
                        "failed",
                        f"its Slurm job {job.job_id} died {attempts[task.key]} time(s), retries "
                        f"exhausted ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})",
                    )
