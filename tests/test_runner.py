"""End-to-end runs on a tiny synthetic benchmark: files, resume, MLflow, tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATA, TINY_NET

from landmarkbench.cli.main import main
from landmarkbench.evaluation.metrics import point_error_mm
from landmarkbench.results import summary as run_summary
from landmarkbench.results.layout import RunIdentity, summary_files
from landmarkbench.results.predictions import read_predictions

RUN = ["run", "--folds", "3", "--no-progress", *TINY_DATA]


def _finished_fold_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("landmarkbench/synthetic_ceph")
    runs = client.search_runs([experiment.experiment_id])
    return [r for r in runs if "landmarkbench.fold" in r.data.tags]


def test_tiny_run_writes_the_source_of_truth_and_logs(workdir: Path, capsys) -> None:
    assert main([*RUN, *TINY_NET, "--method", "mean_shape", "--method", "subpixel"]) == 0
    out = capsys.readouterr().out
    # A 2-epoch network on 7 cases may not beat the mean shape: then its row is flagged ⚠.
    assert "| mean_shape |" in out and ("| subpixel |" in out or "| ⚠ subpixel |" in out)
    assert "mlflow ui --backend-store-uri sqlite:///" in out

    summaries = summary_files(workdir / "results", "synthetic_ceph")
    assert len(summaries) == 2
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["complete"]
        record = summary["record"]
        assert record["protocol"]["split_sha256"]
        assert record["metric"]["sdr_operator"] == "<="
        assert record["dataset"]["ground_truth"] == "mean"
        assert record["code_version"]
        assert sorted(summary["per_fold"]) == ["fold_0", "fold_1", "fold_2"]
        # The pooled MRE is the mean over every out-of-fold PE in the prediction files.
        run_dir = path.parent
        pe = np.concatenate(
            [
                read_predictions(d / "predictions.csv").point_error
                for d in sorted(run_dir.glob("fold_*"))
            ]
        )
        assert pe.shape == (12, 19)
        assert summary["pooled"]["mre"] == pytest.approx(float(np.mean(pe)))
        identity = RunIdentity.parse(run_dir, (workdir / "results").resolve())
        assert identity.run_dir((workdir / "results").resolve()) == run_dir

    uri = f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    folds = _finished_fold_runs(uri)
    assert len(folds) == 6
    assert all(r.info.status == "FINISHED" for r in folds)
    params = folds[0].data.params
    for key in (
        "protocol.split_sha256",
        "dataset.ground_truth",
        "metric.sdr_operator",
        "metric.aggregation",
        "seed",
        "code_version",
        "dataset.version",
    ):
        assert key in params


def test_predictions_file_recomputes_pe(workdir: Path) -> None:
    assert main([*RUN, "--method", "mean_shape"]) == 0
    fold_dir = next((workdir / "results").rglob("mean_shape__*/seed_0/fold_0"))
    predictions = read_predictions(fold_dir / "predictions.csv")
    recomputed = point_error_mm(predictions.predicted, predictions.truth, predictions.spacing)
    np.testing.assert_allclose(recomputed, predictions.point_error)
    assert predictions.landmark_names[0] == "sella"


def test_interrupted_fold_leaves_nothing_half_written_and_rerun_completes(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real_write = run_summary.write_fold_record
    calls = {"n": 0}

    def crash_on_second_fold(folder, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed after predictions.csv, before fold.json
        return real_write(folder, **kwargs)

    monkeypatch.setattr("landmarkbench.run.runner.write_fold_record", crash_on_second_fold)
    assert main([*RUN, *TINY_NET, "--method", "subpixel"]) == 130
    run_dir = next((workdir / "results").rglob("subpixel__*/seed_0"))
    assert sorted(p.name for p in run_dir.glob("fold_*")) == ["fold_0"]
    assert not list(run_dir.glob(".*.partial"))  # the interrupted fold's staging is gone

    monkeypatch.setattr("landmarkbench.run.runner.write_fold_record", real_write)
    capsys.readouterr()
    assert main([*RUN, *TINY_NET, "--method", "subpixel"]) == 0
    out = capsys.readouterr().out
    # fold_1's model was saved before the interruption: it is loaded, not trained again.
    assert "trained 1 fold(s)" in out and "reused 1 finished fold(s)" in out
    assert sorted(p.name for p in run_dir.glob("fold_*")) == ["fold_0", "fold_1", "fold_2"]
    assert not list(run_dir.glob(".*.partial"))

    # A third run trains nothing, and MLflow holds exactly one finished run per fold.
    assert main([*RUN, *TINY_NET, "--method", "subpixel"]) == 0
    out = capsys.readouterr().out
    assert "trained 0 fold(s)" in out and "reused 3 finished fold(s)" in out
    folds = _finished_fold_runs(f"sqlite:///{(workdir / 'mlflow.db').resolve()}")
    assert sorted(r.data.tags["landmarkbench.fold"] for r in folds) == [
        "fold_0",
        "fold_1",
        "fold_2",
    ]


def test_changing_the_sdr_operator_reuses_folds_and_changes_the_record(
    workdir: Path, capsys
) -> None:
    assert main([*RUN, "--method", "mean_shape"]) == 0
    assert main([*RUN, "--method", "mean_shape", "--sdr-operator", "<"]) == 0
    out = capsys.readouterr().out
    assert "reused 3 finished fold(s)" in out
    assert "point error < r mm" in out  # the units line states the operator


def test_table_formats_from_stored_results(workdir: Path, capsys) -> None:
    assert main([*RUN, *TINY_NET, "--method", "mean_shape", "--method", "subpixel"]) == 0
    capsys.readouterr()
    assert main(["table", "--dataset", "synthetic_ceph"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.count("**") >= 2 and "± " in markdown
    assert main(["table", "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("Method,Protocol,Seeds")
    assert main(["table", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert "\\begin{tabular}" in latex and "\\textbf{" in latex and "mean\\_shape" in latex


def test_custom_tracking_uri_path(workdir: Path) -> None:
    store = workdir / "elsewhere" / "runs.db"
    assert main([*RUN, "--method", "mean_shape", "--tracking-uri", str(store)]) == 0
    assert store.is_file()
    assert not (workdir / "mlflow.db").exists()


def test_second_writer_of_the_same_run_is_refused(workdir: Path, capsys) -> None:
    from landmarkbench.atomic_io import exclusive_lock

    assert main([*RUN, "--method", "mean_shape"]) == 0
    run_dir = next((workdir / "results").rglob("mean_shape__*/seed_0"))
    capsys.readouterr()
    with exclusive_lock(run_dir):
        assert main([*RUN, "--method", "mean_shape"]) == 1
    assert "Another landmarkbench process is writing" in capsys.readouterr().err


def test_fold_run_left_running_by_a_killed_process_is_replaced(workdir: Path) -> None:
    from mlflow.tracking import MlflowClient

    assert main([*RUN, "--method", "mean_shape"]) == 0
    uri = f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri)
    fold_runs = _finished_fold_runs(uri)
    stale = next(r for r in fold_runs if r.data.tags["landmarkbench.fold"] == "fold_1")
    client.set_terminated(stale.info.run_id, "RUNNING")  # as if killed while logging
    assert main([*RUN, "--method", "mean_shape"]) == 0
    fold_runs = _finished_fold_runs(uri)
    assert sorted(r.data.tags["landmarkbench.fold"] for r in fold_runs) == [
        "fold_0",
        "fold_1",
        "fold_2",
    ]
    assert all(r.info.status == "FINISHED" for r in fold_runs)


def test_results_dir_that_is_a_file_exits_2(workdir: Path, capsys) -> None:
    (workdir / "results").write_text("not a folder")
    assert main([*RUN, "--method", "mean_shape"]) == 2
    assert "is a file" in capsys.readouterr().err
