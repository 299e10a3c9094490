"""MML's official protocol selects models on its val/ folder, and the fold record says so."""

from __future__ import annotations

import json
from pathlib import Path

from landmarkbench.cli.main import main
from landmarkbench.datasets.mml.adapter import MML
from landmarkbench.protocols.fold_parts import declared_validation, fold_parts


def _fold_records(results: Path) -> list[dict]:
    return [
        json.loads(p.read_text()) for p in sorted(results.glob("mml/*/*/seed_0/fold_*/fold.json"))
    ]


def test_official_run_selects_on_val_and_records_those_ids(tmp_path: Path) -> None:
    tree = MML.write_fixture(tmp_path / "mml")
    dataset = MML(data_dir=tree)
    val_ids = dataset.validation_ids()
    assert val_ids == ["val/0004", "val/0005"]
    results = tmp_path / "results"
    code = main([
        "run", "--dataset", "mml", "--data-dir", str(tree), "--method", "mean_shape",
        "--no-progress", "--results-dir", str(results), "--tracking-uri", str(tmp_path / "ml.db"),
    ])  # fmt: skip
    assert code == 0
    (record,) = _fold_records(results)
    assert record["validation_ids"] == val_ids
    # Nothing is cut from train/ for validation: every training case is trained on.
    assert record["train_ids"] == dataset.split_ids("train")
    assert record["test_ids"] == dataset.split_ids("test")
    assert "declared validation" in record["record"]["validation"]


def test_reported_val_is_never_selected_on(tmp_path: Path) -> None:
    tree = MML.write_fixture(tmp_path / "mml")
    reported = MML(data_dir=tree, report_validation=True)
    assert declared_validation(reported, "official") is None  # val/ is a test set then
    assert declared_validation(MML(data_dir=tree), "kfold") is None
    train, val, _ = fold_parts(reported.split_ids("train"), 0, 0.2)
    assert val and set(val) <= set(reported.split_ids("train")) and not set(val) & set(train)


def test_declared_validation_leaves_calibration_cut_from_train() -> None:
    train_ids = [f"train/{k:04d}" for k in range(10)]
    train, val, calibration = fold_parts(train_ids, 3, 0.2, 0.2, validation_ids=["val/b", "val/a"])
    assert val == ["val/a", "val/b"]
    assert len(calibration) == 2 and sorted(train + calibration) == train_ids
