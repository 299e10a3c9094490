"""Shared fixtures: an isolated cache, results folder and MLflow store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# A tiny synthetic benchmark that trains in seconds on a CPU.
TINY_DATA = ["--data-option", "n_cases=12", "--data-option", "image_shape=64,48"]
TINY_NET = [
    "--set",
    "max_epochs=2",
    "--set",
    "channels=4,8",
    "--set",
    "batch_size=4",
    "--set",
    "augment=false",
]


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Generated datasets go to a per-session temporary cache, never the user's."""
    cache = tmp_path_factory.getbasetemp() / "lb-cache"
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(cache))
    return cache


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so ./results and ./mlflow.db are test-local."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
