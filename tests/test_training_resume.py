"""Per-epoch checkpoints: a fold killed mid-training resumes and ends exactly as an
uninterrupted run; methods that differ only in decoding share one trained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY_DATA

from landmarkbench.cli.main import main
from landmarkbench.training import loop

NET = ["--set", "max_epochs=4", "--set", "channels=4,8", "--set", "batch_size=4"]
RUN = ["run", "--folds", "2", "--no-progress", *TINY_DATA, *NET]


def _fold_files(results: Path, method: str) -> dict[str, str]:
    run_dir = next(results.rglob(f"{method}__*/seed_0"))
    return {p.parent.name: p.read_text() for p in sorted(run_dir.glob("fold_*/predictions.csv"))}


def _fit(results: Path, method: str, fold: str) -> dict:
    run_dir = next(results.rglob(f"{method}__*/seed_0"))
    return json.loads((run_dir / fold / "fold.json").read_text())["fit"]


def test_killed_in_third_epoch_resumes_and_matches_uninterrupted(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main([*RUN, "--method", "subpixel", "--results-dir", "straight"]) == 0
    expected = _fold_files(workdir / "straight", "subpixel")

    real_epoch = loop._run_epoch

    def killed_in_third_epoch(*args, **kwargs):
        if args[10] == 2:  # the epoch argument (0-based): the third epoch
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "_run_epoch", killed_in_third_epoch)
    assert main([*RUN, "--method", "subpixel", "--results-dir", "killed"]) == 130
    checkpoints = list((workdir / "killed").rglob("last.pt"))
    assert len(checkpoints) == 1  # fold_0 stopped after its second epoch

    monkeypatch.setattr(loop, "_run_epoch", real_epoch)
    assert main([*RUN, "--method", "subpixel", "--results-dir", "killed"]) == 0
    assert _fit(workdir / "killed", "subpixel", "fold_0")["resumed_after_epoch"] == 1
    assert _fold_files(workdir / "killed", "subpixel") == expected
    assert not list((workdir / "killed").rglob("last.pt"))


def test_decoders_share_one_trained_model(workdir: Path) -> None:
    assert main([*RUN, "--method", "subpixel"]) == 0
    assert main([*RUN, "--method", "argmax"]) == 0
    results = workdir / "results"
    assert _fit(results, "argmax", "fold_0").get("reused_trained_model") is True
    assert _fit(results, "subpixel", "fold_0").get("reused_trained_model") is None
    assert len(list(results.rglob("final.pt"))) == 2  # one model per fold, not per method
