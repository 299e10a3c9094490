"""Parallel efficiency of the Ray executor, and the driver's overhead per cell.

Efficiency = sum of the cells' busy seconds / (the sweep's wall seconds x workers), on a
local Ray instance of ``--workers`` CPUs running ``--cells`` cells of one CPU (one torch
thread) each; the sweep's wall time counts everything the driver does (planning excluded:
preparing caches, split files and the store, dispatch, recording each cell in the SQLite
store). Each cell trains a small U-Net (``--epochs``) long enough to take 20 s or more on a
quiet core. The driver's overhead per cell is measured on the local executor with trivial
(mean-shape) cells: (wall - sum of busy) / cells. The load average is printed before and
after, beside the figures: on a machine shared with other jobs the efficiency is lower
than the executor's own.

    python benchmarks/sweep/ray_efficiency.py [--workers 2 --cells 4 --epochs 130]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _grid(methods: dict, seeds: list[int], results: Path, datasets: int = 1) -> dict:
    return {
        "datasets": [
            {"name": "synthetic_ceph", "options": {"n_cases": 40, "image_shape": [96, 80]}},
            {"name": "synthetic_teeth", "options": {"n_cases": 40, "image_shape": [80, 96]}},
        ][:datasets],
        "protocols": [{"kind": "kfold", "folds": 2}],
        "methods": methods,
        "seeds": seeds,
        "device": "cpu",
        "tracking": {"results_dir": str(results), "uri": str(results / "mlflow.db")},
    }


def _sweep(data: dict, executor) -> tuple[float, list[float]]:
    from landmarkbench.run.sweep.driver import plan_sweep, run_sweep
    from landmarkbench.run.sweep.grid import expand_grid

    planned = plan_sweep(expand_grid(data, "benchmark grid"))
    with executor:
        outcome = run_sweep(planned, executor, echo=lambda line: None)
    assert not outcome.failed, outcome.summary_line()
    return outcome.wall_s, [r.seconds for r in outcome.results.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=130)
    args = parser.parse_args()
    from landmarkbench.run.sweep.local_executor import LocalExecutor
    from landmarkbench.run.sweep.ray_executor import RayExecutor

    folder = Path(tempfile.mkdtemp(prefix="lb-sweep-bench-"))
    os.environ["LANDMARKBENCH_CACHE"] = str(folder / "cache")
    print(f"load average before: {os.getloadavg()}  (cores: {os.cpu_count()})")
    net = {"channels": [8, 16, 32], "batch_size": 4, "augment": False, "patience": 100}
    methods = {"subpixel": {**net, "max_epochs": args.epochs}}
    seeds = list(range(args.cells))
    started = time.monotonic()
    wall, busy = _sweep(_grid(methods, seeds, folder / "ray"), RayExecutor(num_cpus=args.workers))
    efficiency = sum(busy) / (wall * args.workers)
    print(
        f"ray executor: {args.cells} cells on {args.workers} workers, busy per cell "
        f"{', '.join(f'{b:.1f}' for b in busy)} s, sweep wall {wall:.1f} s "
        f"(with Ray start-up: {time.monotonic() - started:.1f} s), "
        f"parallel efficiency {efficiency:.3f}"
    )
    print(f"load average after the Ray sweep: {os.getloadavg()}")
    trivial = _grid({"mean_shape": {}}, list(range(8)), folder / "local", datasets=2)
    wall, busy = _sweep(trivial, LocalExecutor())
    print(
        f"driver overhead: {(wall - sum(busy)) / len(busy):.2f} s per cell "
        f"({len(busy)} mean-shape cells, local executor, wall {wall:.1f} s, busy {sum(busy):.1f} s)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
