"""A diverging fold stops with its reason recorded; the other folds still run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_DATA

from landmarkbench.cli.main import main
from landmarkbench.training import objectives

NET = ["--set", "max_epochs=2", "--set", "channels=4,8", "--set", "batch_size=4"]


def test_nan_loss_fails_one_fold_and_keeps_the_others(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real_forward = objectives.HeatmapObjective.forward
    calls = {"n": 0}

    def nan_in_second_fold(self, maps, points):
        loss = real_forward(self, maps, points)
        calls["n"] += 1
        # Each fold trains 2 epochs of 2 batches: folds 0 and 1 finish, fold 2 diverges.
        return loss * torch.nan if calls["n"] > 8 else loss

    monkeypatch.setattr(objectives.HeatmapObjective, "forward", nan_in_second_fold)
    code = main(["run", "--folds", "3", "--no-progress", "--method", "subpixel", *TINY_DATA, *NET])
    assert code == 1
    err = capsys.readouterr().err
    assert "fold(s) failed" in err and "training loss became nan" in err
    summary_path = next((workdir / "results").rglob("subpixel__*/seed_0/summary*.json"))
    summary = json.loads(summary_path.read_text())
    assert not summary["complete"]
    assert set(summary["per_fold"]) == {"fold_0", "fold_1"}
    assert set(summary["failed_folds"]) == {"fold_2"}
    assert "lower the learning rate" in summary["failed_folds"]["fold_2"]
