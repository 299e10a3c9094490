"""One cell's execution, wherever it runs: ``run_cell(task) -> CellResult``.

The same function runs in the driver's process (the local executor), in a Ray task and in a
Slurm job; it takes and returns plain data, so every executor can ship it. The cell:

- sets torch's thread count to its CPUs first (a reused Ray worker keeps the thread count of
  its first task otherwise, and Ray's ``OMP_NUM_THREADS`` only takes effect at import), and
  puts the previous count back when it ends (the local executor runs in the driver);
- plans its one run with ``run.plan.plan_runs`` and executes it with ``execute_plan``, so
  resuming, checkpoints, atomic writes and the run folder are the runner's;
- returns its outcome; an exception becomes a failed result with its reason (a
  deterministic failure, never retried), while a dead worker raises nothing here and is
  retried by the executor.

With ``defer_tracking`` (a SQLite store: the driver is its only writer) the cell trains
without logging (``BenchmarkRun.execute(track=False)``: folds, summary and experiment file
are written, MLflow is not touched), and the driver logs the stored run in the shared store
when the cell returns (``driver.record_cell``), failed folds included.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from landmarkbench.errors import LandmarkBenchError

# Environment variables a cell takes from the driver (where generated datasets are cached).
FORWARDED_ENVIRONMENT = ("LANDMARKBENCH_CACHE",)


@dataclass(frozen=True)
class CellTask:
    """What an executor ships: the cell's spec as plain data and how to run it."""

    key: str
    label: str
    spec: dict[str, Any]
    num_cpus: int = 1
    num_gpus: float = 0
    defer_tracking: bool = False
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class CellResult:
    """What a cell returns: its outcome (``finished`` or ``failed`` with the reason), the
    folds it trained or reused, its busy seconds, and where it ran."""

    key: str
    label: str
    status: str
    reason: str = ""
    run_key: str = ""
    run_dir: str = ""
    trained_folds: list[str] = field(default_factory=list)
    resumed_folds: list[str] = field(default_factory=list)
    failed_folds: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    torch_threads: int = 0
    pid: int = 0
    host: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status == "finished"


def forwarded_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The driver's values of ``FORWARDED_ENVIRONMENT`` that are set."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in FORWARDED_ENVIRONMENT if environ.get(k)}


def run_cell(task: CellTask) -> CellResult:
    """Run (or resume) one cell and return its result; never raises for a cell's own
    failure (that is the result), only for a dying process."""
    import torch

    os.environ.update(task.environment)
    previous = torch.get_num_threads()
    torch.set_num_threads(task.num_cpus)
    started = time.perf_counter()
    result = CellResult(task.key, task.label, "failed", pid=os.getpid(), host=socket.gethostname())
    try:
        _execute(task, result)
    except LandmarkBenchError as exc:
        result.status, result.reason = "failed", str(exc)
    except Exception as exc:
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        result.torch_threads = torch.get_num_threads()
        result.seconds = time.perf_counter() - started
        torch.set_num_threads(previous)
    return result


def _execute(task: CellTask, result: CellResult) -> None:
    from landmarkbench.run.plan import execute_plan, plan_runs
    from landmarkbench.spec.yaml_io import spec_from_dict

    spec = spec_from_dict(task.spec, source=f"cell {task.label}")
    (run,) = plan_runs(spec, progress=False)
    if task.defer_tracking:
        run.echo = result.log.append
        outcome = run.execute(track=False)
    else:
        (outcome,) = execute_plan([run], echo=result.log.append)
    result.run_key = outcome.identity.key
    result.run_dir = str(outcome.run_dir)
    result.trained_folds = [*outcome.trained_folds, *outcome.reused_models]
    result.resumed_folds = list(outcome.resumed_folds)
    result.failed_folds = dict(outcome.failed_folds)
    if outcome.failed_folds:
        fold, reason = next(iter(outcome.failed_folds.items()))
        result.status = "failed"
        result.reason = f"{len(outcome.failed_folds)} fold(s) failed (first: {fold}: {reason})"
    else:
        result.status = "finished"
