"""The sweep driver: plan every cell, prepare, dispatch to an executor, record, report.

Order of work, so that nothing runs before everything is checked:

1. ``plan_sweep``: every cell is planned with ``run.plan.plan_runs`` (settings, data,
   split; nothing written), cells sharing a dataset and protocol in one call; a cell whose
   run folder holds a complete result (a summary marked complete, every fold record present)
   is *finished* and skipped, and *unrecorded* when the tracking store lacks its FINISHED
   parent run.
2. ``prepare``: generated datasets write their case caches, every split file is persisted,
   and the tracking store and one experiment per dataset are created, once, here.
3. ``dispatch``: the executor runs the cells; each result is counted in the progress line.
   With a SQLite store and an executor outside this process the driver is the store's only
   writer: cells train without logging (``cell.run_cell``) and ``record_cell`` logs each
   returned cell's stored run here (``BenchmarkRun.record``: nothing trains; the folds the
   store lacks are logged and the parent closed, FAILED with the reasons of failed folds).
   With a tracking server (``http://``...) cells log to it directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from landmarkbench.config import canonical_json
from landmarkbench.errors import LandmarkBenchError, ResultsError
from landmarkbench.run.runner import BenchmarkRun
from landmarkbench.run.sweep.cell import CellResult, CellTask, forwarded_environment
from landmarkbench.run.sweep.grid import Grid, GridCell, Resources
from landmarkbench.run.sweep.progress import Progress, clock

TODO, FINISHED, UNRECORDED = "todo", "finished", "unrecorded"


@dataclass
class PlannedCell:
    """A grid cell with its planned run and its state (todo, finished or unrecorded)."""

    cell: GridCell
    run: BenchmarkRun
    state: str = TODO


@dataclass
class SweepOutcome:
    """What a sweep did: its planned cells, the results of the cells it ran, its wall time."""

    planned: list[PlannedCell]
    results: dict[str, CellResult] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def failed(self) -> list[CellResult]:
        return [r for r in self.results.values() if not r.finished]

    def summary_line(self) -> str:
        """One sentence: cells, how many ran, were found finished, failed (first reason)."""
        ran = sum(r.finished for r in self.results.values())
        found = sum(p.state != TODO for p in self.planned)
        text = (
            f"Sweep of {len(self.planned)} cell(s): {ran} ran now, {found} were finished "
            f"before, {len(self.failed)} failed, {clock(self.wall_s)} wall"
        )
        if self.failed:
            first = self.failed[0]
            text += f" (first failure: {first.label}: {first.reason})"
        return text + "."


def _group_key(cell: GridCell) -> str:
    """Cells whose specs differ only in method and seed are planned together."""
    data = cell.spec.to_dict()
    data.pop("methods"), data.pop("seeds")
    return canonical_json(data)


def plan_sweep(grid: Grid, results_state: bool = True) -> list[PlannedCell]:
    """Plan and validate every cell of ``grid`` (nothing is written).

    Args:
        grid: The expanded grid.
        results_state: Also find which cells are finished (reads the results folder and
            the tracking store).

    Raises:
        UsageError: (or another ``LandmarkBenchError``) naming the grid file and the cell.
    """
    from landmarkbench.run.plan import plan_runs

    groups: dict[str, list[GridCell]] = {}
    for cell in grid.cells:
        groups.setdefault(_group_key(cell), []).append(cell)
    planned: dict[str, PlannedCell] = {}
    for cells in groups.values():
        first = cells[0]
        methods = {c.method: c.spec.methods[0] for c in cells}
        seeds = tuple(dict.fromkeys(c.seed for c in cells))
        spec = first.spec.replace(methods=tuple(methods.values()), seeds=seeds)
        try:
            runs = plan_runs(spec, progress=False)
        except LandmarkBenchError as exc:
            raise type(exc)(f"In {grid.source}, cell {first.label}: {exc}") from None
        by_run = {(r.request.method, r.request.seed): r for r in runs}
        for cell in cells:
            planned[cell.key] = PlannedCell(cell, by_run[(cell.method, cell.seed)])
    ordered = [planned[cell.key] for cell in grid.cells]
    if results_state:
        _find_finished(ordered)
    return ordered


def _complete(run: BenchmarkRun) -> bool:
    """Whether the run folder holds the run's complete result (as ``run`` resumes it)."""
    from landmarkbench.results.store import read_summary
    from landmarkbench.results.summary import load_fold_record

    path = run.identity.summary_path(run.root)
    if not path.is_file():
        return False
    try:
        summary = read_summary(path)
        return bool(summary.get("complete")) and all(
            load_fold_record(run.identity.fold_dir(run.root, fold)) is not None
            for fold in summary["folds_expected"]
        )
    except ResultsError:
        return False  # a damaged result is redone by the cell (the runner reports it)


def _find_finished(planned: Sequence[PlannedCell]) -> None:
    from landmarkbench.results.tracking import find_runs

    done = [p for p in planned if _complete(p.run)]
    for p in done:
        p.state = UNRECORDED
    by_store: dict[tuple[str, str], list[PlannedCell]] = {}
    for p in done:
        by_store.setdefault((p.run.tracking_uri, p.run.request.dataset), []).append(p)
    for (uri, dataset), cells in by_store.items():
        keys = [p.run.identity.key for p in cells]
        logged = {r.run_key for r in find_runs(uri, dataset, keys) if r.status == "FINISHED"}
        for p in cells:
            if p.run.identity.key in logged:
                p.state = FINISHED


def prepare(planned: Sequence[PlannedCell], echo: Callable[[str], None] = print) -> None:
    """Write what cells share before any runs: generated case caches, split files, and the
    tracking store with one experiment per dataset."""
    from landmarkbench.datasets.synthetic.generated import GeneratedDataset
    from landmarkbench.protocols.split import persist_split
    from landmarkbench.results.layout import split_file
    from landmarkbench.results.tracking import Tracker

    pending = [p for p in planned if p.state != FINISHED]
    datasets: dict[str, Any] = {}
    splits: dict[Path, Any] = {}
    stores: set[tuple[str, str]] = set()
    for p in pending:
        run = p.run
        datasets.setdefault(canonical_json(p.cell.spec.to_dict()["dataset"]), run.dataset)
        splits.setdefault(split_file(run.root, run.request.dataset, run.split.identity), run.split)
        stores.add((run.tracking_uri, run.request.dataset))
    for data in datasets.values():
        if isinstance(data, GeneratedDataset):
            echo(f"Preparing the case cache of {data.name} ({len(data.case_ids())} cases).")
            data.load_many(data.case_ids())
    for path, split in splits.items():
        persist_split(split, path)
    for uri, dataset in sorted(stores):
        Tracker(uri, dataset)


def cell_task(p: PlannedCell, resources: Resources, defer_tracking: bool) -> CellTask:
    """The task an executor ships for a planned cell."""
    return CellTask(
        key=p.cell.key,
        label=p.cell.label,
        spec=p.cell.spec.to_dict(),
        num_cpus=resources.num_cpus,
        num_gpus=resources.num_gpus,
        defer_tracking=defer_tracking,
        environment=forwarded_environment(),
    )


def record_cell(p: PlannedCell, result: CellResult) -> CellResult:
    """Log a returned cell's stored run to the shared store from this process (the store's
    only writer) without training: FINISHED, or FAILED with the reasons of its failed folds."""
    try:
        p.run.record(failed=dict(result.failed_folds))
    except LandmarkBenchError as exc:
        return replace(result, status="failed", reason=f"not recorded: {exc}")
    return result


def run_sweep(
    planned: Sequence[PlannedCell],
    executor: Any,
    *,
    cpus: int | None = None,
    gpus: float | None = None,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Prepare, dispatch the cells that are not finished, record them, and count.

    Args:
        planned: From ``plan_sweep``.
        executor: An entered executor (``local``, ``ray`` or ``slurm``).
        cpus, gpus: Per-cell resources replacing the grid's (None: the grid's).
        echo: Where progress lines go.
    """
    from landmarkbench.results.tracking import sqlite_path

    started = time.monotonic()
    outcome = SweepOutcome(list(planned))
    todo = [p for p in planned if p.state == TODO]
    unrecorded = [p for p in planned if p.state == UNRECORDED]
    tasks = {}
    for p in todo:
        defer = not executor.in_process and sqlite_path(p.run.tracking_uri) is not None
        resources = p.cell.resources.replace(cpus, gpus)
        tasks[p.cell.key] = cell_task(p, resources, defer)
    executor.check_resources(list(tasks.values()))
    prepare([*todo, *unrecorded], echo)
    echo(
        f"Sweep: {len(planned)} cell(s): {len(planned) - len(todo) - len(unrecorded)} "
        f"finished before (skipped), {len(unrecorded)} finished but not in the tracking store "
        f"(recorded now, nothing trains), {len(todo)} to run on the {executor.name} executor."
    )
    for p in unrecorded:
        done = record_cell(p, CellResult(p.cell.key, p.cell.label, "finished"))
        if not done.finished:
            outcome.results[p.cell.key] = done
            echo(f"{p.cell.label}: FAILED: {done.reason}")
    by_key = {p.cell.key: p for p in todo}
    progress = Progress(len(tasks), executor.slots)
    for result in _results(executor, tasks.values()):
        p = by_key[result.key]
        if tasks[result.key].defer_tracking and (result.finished or result.failed_folds):
            result = record_cell(p, result)
        outcome.results[result.key] = result
        progress.add(result.finished, result.seconds)
        what = (
            f"finished in {result.seconds:.1f} s (trained {len(result.trained_folds)} fold(s), "
            f"reused {len(result.resumed_folds)})"
            if result.finished
            else f"FAILED: {result.reason}"
        )
        echo(f"[{progress.line()}] {result.label}: {what}")
    outcome.wall_s = time.monotonic() - started
    return outcome


def _results(executor: Any, tasks: Iterable[CellTask]) -> Iterable[CellResult]:
    tasks = list(tasks)
    if not tasks:
        return []
    return executor.run(tasks)
