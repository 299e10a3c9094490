"""`landmarkbench sweep --executor slurm` through submitit's local executor (marker slow:
each cell is a fresh process; CI runs the slow tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmarkbench.cli.main import main
from landmarkbench.results.tracking import find_runs

pytestmark = pytest.mark.slow
pytest.importorskip("submitit")

TINY_GRID = Path(__file__).resolve().parents[1] / "benchmarks" / "grids" / "tiny.yaml"


def _predictions(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("predictions.csv")}


def test_tiny_grid_through_submitit_equals_the_local_executor(workdir: Path, capsys) -> None:
    grid = str(TINY_GRID)
    slurm = ["--executor", "slurm", "--slurm-cluster", "local", "--parallelism", "2"]
    assert main(["sweep", grid, *slurm, "--results-dir", "slurm_results"]) == 0
    out = capsys.readouterr().out
    assert "8 to run on the slurm executor" in out and "8/8 done" in out
    parents = find_runs(str(workdir / "mlflow.db"))
    assert len(parents) == 8 and {r.status for r in parents} == {"FINISHED"}
    assert main(["sweep", grid, "--results-dir", "local_results", "--tracking-uri", "l.db"]) == 0
    on_slurm = _predictions(workdir / "slurm_results")
    assert len(on_slurm) == 8 * 2 and on_slurm == _predictions(workdir / "local_results")
    assert list((workdir / "slurm_results" / ".sweep" / "slurm").glob("*_result.pkl"))
