"""Whole benchmarks on real-dataset miniatures in their official layouts: file-backed images
through the preprocessing cache, the official protocols through the runner and tables.

- ISBI 2015: training 001-150, Test1 151-300, Test2 301-400, with conformal regions;
- MML (3D NRRD volumes, anisotropic per-case spacing, missing landmarks): the mission's
  ``run --dataset mml --method one_hot_ensemble``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from landmarkbench.cli.main import main
from landmarkbench.datasets.isbi2015.adapter import ISBI2015
from landmarkbench.datasets.mml.adapter import MML
from landmarkbench.results.layout import summary_files

ANNOTATIONS = SHARED / "data/isbi2015-annotations"


@pytest.mark.skipif(not (ANNOTATIONS / "senior.csv").is_file(), reason="annotations absent")
def test_official_protocol_run_on_a_miniature(workdir: Path, capsys) -> None:
    tree = ISBI2015.write_fixture(
        workdir / "isbi",
        case_ids=[f"{i:03d}" for i in range(1, 401)],
        annotations_dir=ANNOTATIONS,
        image_shape=(48, 40),
    )
    run = [
        "run", "--dataset", "isbi2015", "--data-dir", str(tree), "--protocol", "official",
        "--gt", "senior", "--no-progress", "--uncertainty", "conformal",
        "--method", "mean_shape,argmax", "--set", "input_shape=48,48", "--set", "max_epochs=1",
        "--set", "channels=4,8", "--set", "augment=false",
    ]  # fmt: skip
    assert main(run) == 0
    out = capsys.readouterr().out
    assert "test1 Pooled MRE" in out and "test2 Pooled MRE" in out  # test sets side by side
    parts = "train 108, validation 12 (inner, not reported), calibration 30, test 150"
    assert f"[argmax] fold test1: {parts}" in out
    summaries = {
        json.loads(p.read_text())["identity"]["method"]: json.loads(p.read_text())
        for p in summary_files(workdir / "results", "isbi2015")
    }
    argmax = summaries["argmax"]["uncertainty"]
    assert argmax["n_pairs"] == 250 * 19
    assert sorted(argmax["per_fold"]) == ["test1", "test2"]
    assert summaries["mean_shape"]["uncertainty"] is None
    assert summaries["argmax"]["record"]["dataset"]["ground_truth"] == "senior"


def test_mml_one_hot_ensemble_on_the_official_split(workdir: Path, capsys) -> None:
    tree = MML.write_fixture(workdir / "mml")
    run = [
        "run", "--dataset", "mml", "--data-dir", str(tree), "--protocol", "official",
        "--method", "mean_shape,one_hot_ensemble", "--no-progress", "--recipe", "none",
        "--set", "max_epochs=2", "--set", "channels=4,8", "--set", "ensemble_size=2",
    ]  # fmt: skip
    assert main(run) == 0
    out = capsys.readouterr().out.replace("⚠ ", "")  # a 2-epoch ensemble may be flagged
    assert "| one_hot_ensemble |" in out and "Seeds: 0 (every row of ours)." in out
    assert "protocol official" in out
    summaries = [json.loads(p.read_text()) for p in summary_files(workdir / "results", "mml")]
    assert len(summaries) == 2 and all(s["complete"] for s in summaries)
    ensemble = next(s for s in summaries if s["identity"]["method"] == "one_hot_ensemble")
    assert list(ensemble["per_fold"]) == ["test"]
    # Training copes with the two missing landmarks of train/0002; every test point scored.
    assert ensemble["pooled"]["n_points"] == 14 * len(MML(data_dir=str(tree)).split_ids("test"))


@pytest.mark.parametrize(
    "dataset", ["isbi2015", "oai_pelvis", "mml", "endovis2015", "adaptor_sutures"]
)
def test_the_commands_a_fixture_suggests_work(dataset: str, workdir: Path, capsys) -> None:
    options = ["--option", "image_shape=48,40"] if dataset == "isbi2015" else []
    assert main(["fixture", dataset, "--out", str(workdir / "tree"), *options]) == 0
    suggested = [
        line.split("landmarkbench ", 1)[1].split()
        for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("landmarkbench ")
    ]
    assert [command[0] for command in suggested] == ["validate", "run"]
    assert main(suggested[0]) in (0, 1)  # a miniature may lack files of the full release
    assert main([*suggested[1], "--no-progress"]) == 0
    (summary,) = summary_files(workdir / "results", dataset)
    # Without --protocol a dataset's declared split is used, else k-fold.
    # (AdaptOR declares one only with its test_surgeries option.)
    expected = "kfold" if dataset in ("oai_pelvis", "adaptor_sutures") else "official"
    assert json.loads(summary.read_text())["record"]["protocol"]["name"] == expected


def test_folds_with_a_declared_split_is_refused_before_training(workdir: Path, capsys) -> None:
    tree = MML.write_fixture(workdir / "mml")
    run = ["run", "--dataset", "mml", "--data-dir", str(tree), "--method", "mean_shape"]
    assert main([*run, "--folds", "3"]) == 2
    err = capsys.readouterr().err
    assert "--folds applies to k-fold" in err and "'official' protocol" in err
    assert "--protocol kfold" in err
    assert not list((workdir / "results").rglob("fold_*"))
    assert main([*run, "--folds", "3", "--protocol", "kfold", "--no-progress"]) == 0
