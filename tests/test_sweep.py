"""`landmarkbench sweep` on the local executor: grid files, cells, resume, failures, tables.

The Ray tests are in test_sweep_ray.py (marker ray), the submitit one in
test_sweep_slurm.py (marker slow).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from landmarkbench.cli.main import main
from landmarkbench.errors import UsageError
from landmarkbench.results.tracking import find_runs
from landmarkbench.run.sweep.grid import expand_grid, load_grid

ROOT = Path(__file__).resolve().parents[1]
TINY = {"n_cases": 12, "image_shape": [64, 48]}
FAST_GRID = {
    "datasets": [
        {"name": "synthetic_ceph", "options": TINY},
        {"name": "synthetic_teeth", "options": {"n_cases": 12, "image_shape": [48, 64]}},
    ],
    "protocols": [{"kind": "kfold", "folds": 2}],
    "methods": ["mean_shape"],
    "seeds": [0, 1],
    "device": "cpu",
}

# One cell that finishes (mean_shape) and one whose training diverges on every fold.
DIVERGING_GRID = {
    **FAST_GRID,
    "datasets": FAST_GRID["datasets"][:1],
    "seeds": [0],
    "methods": {
        "mean_shape": {},
        "subpixel": {
            "max_epochs": 1,
            "channels": [4, 8],
            "batch_size": 4,
            "augment": False,
            "learning_rate": 1e30,
        },
    },
}


def write_grid(folder: Path, data: dict, name: str = "grid.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_grid_expands_the_cross_product_with_exclude_and_include() -> None:
    data = {
        "datasets": [
            {"name": "synthetic_ceph", "options": TINY, "ground_truth": ["mean", "annotator1"]},
            {"name": "synthetic_endo"},
        ],
        "methods": {"mean_shape": {}, "subpixel": {"max_epochs": 3}, "peak_heatmap": {}},
        "seeds": [0, 1],
        "resources": {"num_cpus": 2},
        "exclude": [{"dataset": "synthetic_endo"}, {"method": "peak_heatmap"}],
        "include": [{"dataset": "synthetic_endo", "method": "peak_heatmap", "seed": 0}],
    }
    grid = expand_grid(data, "test grid")
    labels = [cell.label for cell in grid.cells]
    # 2 ground truths x 2 methods x 2 seeds on ceph, plus one included endo cell.
    assert len(labels) == 9
    assert "synthetic_endo/default/peak_heatmap/seed 0" in labels
    assert "synthetic_ceph gt annotator1/default/subpixel/seed 1" in labels
    cell = next(c for c in grid.cells if c.method == "subpixel")
    assert cell.spec.method("subpixel").settings["max_epochs"] == 3
    assert cell.spec.seeds == (cell.seed,) and len(cell.spec.methods) == 1
    assert cell.resources.num_cpus == 2
    # The key is the spec's hash without where results go.
    moved = expand_grid(data, "test grid", {"tracking": {"results_dir": "/elsewhere"}})
    assert [c.key for c in moved.cells] == [c.key for c in grid.cells]
    assert len({c.key for c in grid.cells}) == 9


def test_mission_grid_dry_run_lists_cells_and_resources(capsys) -> None:
    grid = load_grid(ROOT / "benchmarks" / "grids" / "mission.yaml")
    methods = {"argmax", "local_soft_argmax", "soft_argmax", "scn", "adaptive_gaussian"}
    methods |= {"one_hot_ensemble"}
    single = [c for c in grid.cells if c.dataset != "endovis2015"]
    assert {c.dataset for c in single} == {"isbi2015", "oai_pelvis", "mml"}
    assert {c.method for c in single} == methods
    assert {c.seed for c in grid.cells} == {0, 1, 2}
    assert len(single) == 3 * 6 * 3
    assert {c.method for c in grid.cells if c.dataset == "endovis2015"} == {"peak_heatmap"}
    assert main(["sweep", str(ROOT / "benchmarks" / "grids" / "mission.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{len(grid.cells)} cell(s)" in out
    assert "isbi2015/official/scn/seed 2" in out and "oai_pelvis/kfold/argmax/seed 0" in out
    assert "1 GPU" in out


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"methds": ["mean_shape"]}, ["Unknown key 'methds'", "Did you mean 'methods'"]),
        ({"exclude": [{"dataset": "synthetic_cep"}]}, ["matches no cell", "synthetic_ceph"]),
        ({"resources": {"num_cpus": 0}}, ["num_cpus 0", ">= 1"]),
        ({"methods": ["peak_heatmap"]}, ["cannot handle dataset 'synthetic_ceph'", "exclude"]),
        ({"methods": {"subpixel": {"max_epoch": 2}}}, ["max_epoch", "cell synthetic_ceph"]),
        ({"datasets": [{"name": "synthetic_ceph", "options": {"n_case": 3}}]}, ["n_case"]),
    ],
)
def test_bad_grid_is_refused_with_one_sentence_naming_the_file(
    workdir: Path, capsys, change: dict, words: list[str]
) -> None:
    data = {**FAST_GRID, **change}
    if "methds" in change:
        del data["methods"]
    path = write_grid(workdir, data)
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and err.count("\n") == 1
    for word in words:
        assert word in err
    assert not (workdir / "results").exists() and not (workdir / "mlflow.db").exists()


def test_a_missing_executor_extra_is_named_with_its_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from landmarkbench.run.sweep.executor import import_extra

    # None in sys.modules makes any import of ray fail, whether or not it is installed.
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'landmarkbench\[ray\]'"):
        import_extra("ray", "ray", "ray")


def test_local_sweep_runs_every_cell_then_resumes_with_none(workdir: Path, capsys) -> None:
    path = write_grid(workdir, FAST_GRID)
    assert main(["sweep", str(path)]) == 0
    out = capsys.readouterr().out
    assert "0 finished before (skipped)" in out and "4 to run on the local executor" in out
    assert "4/4 done, 0 running, 0 failed" in out
    assert "Grid overview" in out and "| synthetic_teeth |" in out
    assert "Sweep of 4 cell(s): 4 ran now, 0 were finished before, 0 failed" in out
    parents = find_runs(str(workdir / "mlflow.db"))
    assert len(parents) == 4 and {r.status for r in parents} == {"FINISHED"}
    summaries = sorted((workdir / "results").rglob("summary_*.json"))
    stamps = [p.stat().st_mtime_ns for p in summaries]

    assert main(["sweep", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 finished before (skipped)" in out and "0 to run" in out
    assert [p.stat().st_mtime_ns for p in summaries] == stamps  # nothing rewritten
    assert len(find_runs(str(workdir / "mlflow.db"), folds=True)) == 4 * 3

    assert main(["table", "--grid", str(path), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "Dataset,Protocol (ground truth),Metric,mean_shape" in out


def test_finished_cells_missing_from_a_new_store_are_recorded_without_training(
    workdir: Path, capsys
) -> None:
    path = write_grid(workdir, {**FAST_GRID, "datasets": FAST_GRID["datasets"][:1]})
    assert main(["sweep", str(path)]) == 0
    capsys.readouterr()
    assert main(["sweep", str(path), "--tracking-uri", str(workdir / "other.db")]) == 0
    out = capsys.readouterr().out
    assert "2 finished but not in the tracking store (recorded now" in out
    parents = find_runs(str(workdir / "other.db"))
    assert len(parents) == 2 and {r.status for r in parents} == {"FINISHED"}


def test_diverging_cell_fails_with_its_reason_while_the_others_finish(
    workdir: Path, capsys
) -> None:
    path = write_grid(workdir, DIVERGING_GRID)
    assert main(["sweep", str(path)]) == 1
    captured = capsys.readouterr()
    assert "synthetic_ceph/kfold/subpixel/seed 0: FAILED: 2 fold(s) failed" in captured.out
    assert "training loss became nan" in captured.out
    assert "Sweep of 2 cell(s): 1 ran now, 0 were finished before, 1 failed" in captured.out
    assert "1 of 2 cell(s) failed" in captured.err
    summary = next((workdir / "results").rglob("mean_shape__*/seed_0/summary_*.json"))
    assert json.loads(summary.read_text())["complete"]


def test_deferred_cells_train_without_the_store_and_the_driver_records_them(
    workdir: Path,
) -> None:
    """With a SQLite store and an out-of-process executor the driver is the only writer:
    a cell trains without touching MLflow, then ``record_cell`` logs its stored run here
    (nothing trains again): FINISHED, or FAILED with its failed folds' reasons."""
    from landmarkbench.run.sweep.cell import run_cell
    from landmarkbench.run.sweep.driver import cell_task, plan_sweep, record_cell
    from landmarkbench.run.sweep.grid import Resources

    planned = plan_sweep(expand_grid(DIVERGING_GRID, "test grid"))
    store = workdir / "mlflow.db"
    results = {p.cell.method: run_cell(cell_task(p, Resources(), True)) for p in planned}
    assert results["mean_shape"].finished and results["subpixel"].failed_folds
    assert not store.exists() or find_runs(str(store)) == []  # the cells logged nothing
    for _ in range(2):  # recording twice logs nothing twice
        for p in planned:
            recorded = record_cell(p, results[p.cell.method])
            assert recorded.status == results[p.cell.method].status, recorded.reason

    def method(run) -> str:
        return "subpixel" if "subpixel__" in run.run_key else "mean_shape"

    parents = find_runs(str(store))
    assert sorted((method(r), r.status) for r in parents) == [
        ("mean_shape", "FINISHED"),
        ("subpixel", "FAILED"),
    ]
    folds = [r for r in find_runs(str(store), folds=True) if r.fold is not None]
    assert sorted(r.status for r in folds if method(r) == "mean_shape") == ["FINISHED"] * 2
    assert all(r.status != "RUNNING" for r in folds)
