"""What identifies a model and a result: one model per training set (an official split's
test sets share it), one summary and one MLflow run per set of evaluation conventions, and
reruns that change nothing leave the stored runs alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY_DATA

from landmarkbench.cli.main import main
from landmarkbench.datasets.isbi2015.adapter import ISBI2015
from landmarkbench.results.layout import RunIdentity, summary_files
from landmarkbench.results.tracking import find_runs

NET = [
    "--set", "max_epochs=1", "--set", "channels=4,8", "--set", "batch_size=4",
    "--set", "augment=false", "--set", "input_shape=32,32",
]  # fmt: skip
CASES = [f"{i:03d}" for i in (*range(1, 11), 151, 152, 153, 301, 302, 303)]


def _uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


def test_official_split_trains_one_model_for_both_test_sets(workdir: Path, capsys) -> None:
    tree = ISBI2015.write_fixture(workdir / "isbi", case_ids=CASES, image_shape=(40, 32))
    run = [
        "run", "--dataset", "isbi2015", "--data-dir", str(tree), "--protocol", "official",
        "--method", "subpixel", "--no-progress", *NET,
    ]  # fmt: skip
    assert main(run) == 0
    results = workdir / "results" / "isbi2015"
    models = sorted(p for p in (results / "_models").iterdir() if p.is_dir())
    assert len(models) == 1  # one model folder per seed, not one per test set
    assert len(list(models[0].rglob("final.pt"))) == 1
    run_dir = next(results.glob("official-*/subpixel__*/seed_0"))
    folds = {name: json.loads((run_dir / f"fold_{name}" / "fold.json").read_text())
             for name in ("test1", "test2")}  # fmt: skip
    assert folds["test1"]["training_seed"] == folds["test2"]["training_seed"] == 0
    assert folds["test1"]["validation_ids"] == folds["test2"]["validation_ids"]
    assert folds["test1"]["model_key"] == folds["test2"]["model_key"]
    assert folds["test1"]["fit"].get("reused_trained_model") is None
    assert folds["test2"]["fit"]["reused_trained_model"] is True
    assert (run_dir / "fold_test2" / "predictions.csv").is_file()
    assert "trained 1 fold(s)" in capsys.readouterr().out

    # A second seed is a second model.
    assert main([*run, "--seed", "1"]) == 0
    assert len([p for p in (results / "_models").iterdir() if p.is_dir()]) == 2


def test_a_fold_of_the_earlier_layout_with_its_own_model_is_refused(workdir: Path, capsys) -> None:
    tree = ISBI2015.write_fixture(workdir / "isbi", case_ids=CASES, image_shape=(40, 32))
    run = [
        "run", "--dataset", "isbi2015", "--data-dir", str(tree), "--protocol", "official",
        "--method", "mean_shape", "--no-progress",
    ]  # fmt: skip
    assert main(run) == 0
    fold_json = next((workdir / "results").rglob("mean_shape__*/seed_0/fold_test2/fold.json"))
    record = json.loads(fold_json.read_text())
    del record["training_seed"]  # as written before models were keyed by training set
    fold_json.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(run) == 1
    err = capsys.readouterr().err
    assert "earlier version" in err and str(fold_json.parent) in err and "delete" in err


def test_each_evaluation_convention_is_its_own_result_and_mlflow_run(workdir: Path, capsys) -> None:
    run = ["run", "--folds", "3", "--no-progress", *TINY_DATA, "--method", "mean_shape"]
    assert main(run) == 0
    assert main([*run, "--sdr-operator", "<", "--aggregation", "per_image"]) == 0
    out = capsys.readouterr().out
    assert "trained 0 fold(s)" in out and "reused 3 finished fold(s)" in out

    summaries = [json.loads(p.read_text()) for p in summary_files(workdir / "results",
                                                                  "synthetic_ceph")]  # fmt: skip
    assert len(summaries) == 2
    keys = {s["convention_key"] for s in summaries}
    assert len(keys) == 2
    for summary in summaries:
        assert summary["identity"]["conventions"] == summary["convention_key"]
        assert summary["conventions"]["sdr_operator"] == summary["record"]["metric"]["sdr_operator"]
        assert summary["conventions"]["split_id"] == summary["identity"]["split_id"]

    parents = find_runs(_uri(workdir), "synthetic_ceph")
    assert len(parents) == 2
    by_key = {RunIdentity(**s["identity"]).key: s for s in summaries}
    for parent in parents:
        summary = by_key[parent.run_key]
        assert parent.status == "FINISHED"
        assert parent.params["metric.sdr_operator"] == summary["record"]["metric"]["sdr_operator"]
        assert parent.params["metric.aggregation"] == summary["record"]["metric"]["aggregation"]
        assert parent.metrics["mre"] == pytest.approx(summary["pooled"]["mre"])
    fold_runs = [r for r in find_runs(_uri(workdir), "synthetic_ceph", folds=True) if r.fold]
    assert len(fold_runs) == 6  # three folds under each convention


def test_rerun_that_changes_nothing_keeps_the_mlflow_times(workdir: Path) -> None:
    run = ["run", "--folds", "2", "--no-progress", *TINY_DATA, "--method", "mean_shape"]
    assert main(run) == 0
    (before,) = find_runs(_uri(workdir), "synthetic_ceph")
    assert main(run) == 0
    (after,) = find_runs(_uri(workdir), "synthetic_ceph")
    assert (after.start_time, after.end_time) == (before.start_time, before.end_time)
    assert after.metrics == before.metrics


def test_legacy_summary_is_read_and_replaced_by_the_keyed_one(workdir: Path) -> None:
    run = ["run", "--folds", "2", "--no-progress", *TINY_DATA, "--method", "mean_shape"]
    assert main(run) == 0
    (keyed,) = summary_files(workdir / "results", "synthetic_ceph")
    legacy = keyed.parent / "summary.json"
    keyed.rename(legacy)  # the layout before convention keys
    assert summary_files(workdir / "results", "synthetic_ceph") == [legacy]
    assert main(run) == 0
    assert summary_files(workdir / "results", "synthetic_ceph") == [keyed]
