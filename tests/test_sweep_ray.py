"""`landmarkbench sweep --executor ray` on a local Ray instance (marker ray: opt in with
``-m ray``; CI installs the ray extra and runs them). The instance is started once for the
module with 4 logical CPUs (so that 4 one-CPU cells run at once) and shut down at its end;
nothing else on the host is touched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from landmarkbench.cli.main import main
from landmarkbench.results.tracking import find_runs
from landmarkbench.run.sweep.cell import CellTask
from landmarkbench.run.sweep.grid import expand_grid

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent
TINY_GRID = TESTS.parent / "benchmarks" / "grids" / "tiny.yaml"


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """A local Ray instance whose workers can import tests/sweep_plugin.py."""
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


def _predictions(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("predictions.csv"))}


def test_tiny_grid_on_ray_equals_the_local_executor_and_resumes_with_none(
    workdir: Path, capsys
) -> None:
    grid = str(TINY_GRID)
    assert main(["sweep", grid, "--executor", "ray", "--results-dir", "ray_results"]) == 0
    out = capsys.readouterr().out
    assert "8 to run on the ray executor" in out and "8/8 done" in out
    assert main(["sweep", grid, "--results-dir", "local_results", "--tracking-uri", "l.db"]) == 0
    capsys.readouterr()
    on_ray, local = _predictions(workdir / "ray_results"), _predictions(workdir / "local_results")
    assert len(on_ray) == 8 * 2 and on_ray == local  # byte-identical, one thread per cell
    parents = find_runs(str(workdir / "mlflow.db"))
    assert len(parents) == 8 and {r.status for r in parents} == {"FINISHED"}

    assert main(["sweep", grid, "--executor", "ray", "--results-dir", "ray_results"]) == 0
    out = capsys.readouterr().out
    assert "8 finished before (skipped)" in out and "0 to run on the ray executor" in out


def test_dead_worker_is_retried_and_a_diverging_cell_fails_alone(workdir: Path, capsys) -> None:
    data = yaml.safe_load(TINY_GRID.read_text())
    data["datasets"] = data["datasets"][:1]
    data["seeds"] = [0]
    data["methods"] = {
        "sweep_plugin:DiesOnce": {"marker": str(workdir / "died-once")},
        "subpixel": {**data["methods"]["subpixel"], "learning_rate": 1e30},
        "mean_shape": {},
    }
    path = workdir / "grid.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["sweep", str(path), "--executor", "ray"]) == 1
    captured = capsys.readouterr()
    assert (workdir / "died-once").is_file()  # the first attempt's process exited
    assert "sweep_plugin:DiesOnce/seed 0: finished" in captured.out
    assert "subpixel/seed 0: FAILED: 2 fold(s) failed" in captured.out
    assert "training loss became nan" in captured.out
    assert "Sweep of 3 cell(s): 2 ran now, 0 were finished before, 1 failed" in captured.out
    # One parent per cell, none RUNNING: the retried cell and mean_shape FINISHED, the
    # diverging cell FAILED (the driver logs it with its folds' reasons, nothing retrains).
    parents = find_runs(str(workdir / "mlflow.db"))
    assert sorted((r.run_key.split("/")[2].split("__")[0], r.status) for r in parents) == [
        ("mean_shape", "FINISHED"),
        ("subpixel", "FAILED"),
        ("sweep_plugin+DiesOnce", "FINISHED"),
    ]
    folds = [r for r in find_runs(str(workdir / "mlflow.db"), folds=True) if r.fold]
    assert len(folds) == 2 * 2 and {r.status for r in folds} == {"FINISHED"}


def test_a_cell_on_a_reused_worker_runs_with_its_own_thread_count(workdir: Path) -> None:
    from landmarkbench.run.sweep.ray_executor import RayExecutor

    grid = expand_grid(
        {
            "datasets": [{"name": "synthetic_ceph", "options": {"n_cases": 12}}],
            "protocols": [{"kind": "kfold", "folds": 2}],
            "methods": ["mean_shape"],
            "seeds": [0, 1],
            "tracking": {"results_dir": str(workdir / "results"), "uri": str(workdir / "m.db")},
        },
        "thread test",
    )
    results = []
    with RayExecutor() as executor:
        for cell, cpus in zip(grid.cells, (1, 2), strict=True):
            task = CellTask(cell.key, cell.label, cell.spec.to_dict(), num_cpus=cpus)
            results += list(executor.run([task]))
    assert [r.status for r in results] == ["finished", "finished"]
    assert results[0].pid == results[1].pid  # the second cell reused the first's worker
    assert [r.torch_threads for r in results] == [1, 2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_four_cells_log_concurrently_to_a_tracking_server(workdir: Path, capsys) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{workdir / 'server.db'}",
            "--artifacts-destination",
            str(workdir / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not start in 240 s"
                assert server.poll() is None, "mlflow server exited"
                time.sleep(1)
        data = yaml.safe_load(TINY_GRID.read_text())
        data["methods"] = ["mean_shape"]
        path = workdir / "grid.yaml"
        path.write_text(yaml.safe_dump(data))
        code = main(["sweep", str(path), "--executor", "ray", "--tracking-uri", uri])
        assert code == 0, capsys.readouterr()
        runs = find_runs(uri, folds=True)
        parents = [r for r in runs if r.fold is None]
        assert len(parents) == 4 and {r.status for r in parents} == {"FINISHED"}
        folds = [r for r in runs if r.fold is not None]
        assert len(folds) == 4 * 2 and {r.status for r in folds} == {"FINISHED"}
        by_parent = {p.run_id: 0 for p in parents}
        for fold in folds:
            by_parent[fold.tags["mlflow.parentRunId"]] += 1
        assert set(by_parent.values()) == {2}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
