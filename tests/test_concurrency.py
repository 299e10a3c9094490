"""Runs side by side and runs that die: a fresh store shared by concurrent runs, failed
runs marked FAILED, debris of dead runs cleaned by the next run, read-only folders refused
at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_DATA, TINY_NET

from landmarkbench.atomic_io import exclusive_lock
from landmarkbench.cli.main import main
from landmarkbench.results.tracking import LIVE_TAG, find_runs

RUN = ["run", "--folds", "2", "--no-progress", *TINY_DATA]


def _uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


def _statuses(workdir: Path) -> list[str]:
    return [r.status for r in find_runs(_uri(workdir), folds=True)]


def _cli(workdir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "landmarkbench", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_four_runs_started_together_on_a_fresh_store_all_finish(workdir: Path) -> None:
    procs = [
        _cli(workdir, *RUN, "--method", "mean_shape", "--seed", str(seed)) for seed in range(4)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    parents = find_runs(_uri(workdir), "synthetic_ceph")
    assert len(parents) == 4 and all(r.status == "FINISHED" for r in parents)
    assert "RUNNING" not in _statuses(workdir)


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_and_cleaned_by_the_next_run(workdir: Path) -> None:
    slow = ["--set", "max_epochs=200", "--set", "channels=4,8", "--set", "augment=false"]
    proc = _cli(workdir, *RUN, "--method", "subpixel", *slow)
    deadline = time.time() + 240
    while time.time() < deadline and not list((workdir / "results").rglob(".fold_*.partial")):
        time.sleep(0.5)
    assert list((workdir / "results").rglob(".fold_*.partial")), "the run never started a fold"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "RUNNING" in _statuses(workdir)  # a killed process cannot close its runs

    assert main([*RUN, "--method", "mean_shape"]) == 0  # any other run in that folder
    assert "RUNNING" not in _statuses(workdir)
    assert not list((workdir / "results").rglob(".fold_*.partial"))


def test_a_run_that_fails_marks_its_mlflow_runs_failed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("planted internal error")

    monkeypatch.setattr("landmarkbench.run.runner.build_summary", broken)
    assert main([*RUN, "--method", "mean_shape"]) == 1
    assert "planted internal error" in capsys.readouterr().err
    statuses = _statuses(workdir)
    assert statuses and "RUNNING" not in statuses
    (parent,) = find_runs(_uri(workdir), "synthetic_ceph")
    assert parent.status == "FAILED"


def test_an_interrupted_run_marks_its_mlflow_runs_failed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    from landmarkbench.results import summary as run_summary

    monkeypatch.setattr("landmarkbench.run.runner.write_fold_record", interrupted)
    assert main([*RUN, *TINY_NET, "--method", "subpixel"]) == 130
    (parent,) = find_runs(_uri(workdir), "synthetic_ceph")
    assert parent.status == "FAILED"
    monkeypatch.setattr("landmarkbench.run.runner.write_fold_record", run_summary.write_fold_record)
    assert main([*RUN, *TINY_NET, "--method", "subpixel"]) == 0
    (parent,) = find_runs(_uri(workdir), "synthetic_ceph")
    assert parent.status == "FINISHED"


def test_runs_left_running_by_dead_processes_are_failed_by_the_next_run(
    workdir: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    assert main([*RUN, "--method", "mean_shape"]) == 0
    client = MlflowClient(tracking_uri=_uri(workdir))
    experiment = client.get_experiment_by_name("landmarkbench/synthetic_ceph").experiment_id
    live_dir = workdir / ".mlflow.db.live"
    held = open(live_dir / "held.lock", "w")  # noqa: SIM115 - a live process's lock
    import fcntl

    fcntl.flock(held, fcntl.LOCK_EX)
    dead = client.create_run(experiment, tags={LIVE_TAG: "gone-1234"}).info.run_id
    legacy = client.create_run(experiment).info.run_id  # from before liveness tags
    alive = client.create_run(experiment, tags={LIVE_TAG: "held"}).info.run_id
    try:
        assert main([*RUN, "--method", "mean_shape", "--seed", "1"]) == 0
        status = {rid: client.get_run(rid).info.status for rid in (dead, legacy, alive)}
        assert status == {dead: "FAILED", legacy: "FAILED", alive: "RUNNING"}
    finally:
        held.close()


def test_debris_of_dead_runs_is_cleaned_by_the_next_run_in_the_folder(workdir: Path) -> None:
    assert main([*RUN, "--method", "mean_shape"]) == 0
    base = workdir / "results" / "synthetic_ceph"
    run_dir = next(base.glob("kfold-*/mean_shape__*/seed_0"))
    staging = run_dir / ".fold_1.abc.partial"
    staging.mkdir()
    lock_only = run_dir.parent.parent / "subpixel__0123456789" / "seed_0"
    lock_only.mkdir(parents=True)
    (lock_only / ".lock").touch()
    os.utime(lock_only / ".lock", (time.time() - 3600, time.time() - 3600))
    busy = run_dir.parent.parent / "argmax__0123456789" / "seed_0"
    busy_staging = busy / ".fold_0.xyz.partial"
    busy_staging.mkdir(parents=True)
    with exclusive_lock(busy):  # a live run: its staging stays
        os.utime(busy / ".lock", (time.time() - 3600, time.time() - 3600))
        assert main([*RUN, "--method", "mean_shape", "--seed", "1"]) == 0
    assert not staging.exists()
    assert not lock_only.parent.exists()
    assert busy_staging.is_dir()


def test_unwritable_results_folder_and_store_fail_at_once(workdir: Path, capsys) -> None:
    unwritable = Path("/proc/landmarkbench-test")  # /proc takes no new files, even as root
    started = time.perf_counter()
    assert main([*RUN, "--method", "mean_shape", "--results-dir", str(unwritable)]) == 2
    err = capsys.readouterr().err
    assert "results folder '/proc'" in err and "--results-dir" in err
    store = unwritable / "mlflow.db"
    assert main([*RUN, "--method", "mean_shape", "--tracking-uri", str(store)]) == 2
    err = capsys.readouterr().err
    assert "MLflow store's folder '/proc'" in err and "--tracking-uri" in err
    assert time.perf_counter() - started < 30
    assert not (workdir / "results").exists()  # refused before anything was written
