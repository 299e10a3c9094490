"""Shared fixtures: an isolated cache, results folder and MLflow store per test."""

from __future__ import annotations

import shutil
import subprocess
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


def compile_latex(fragment: str, folder: Path) -> None:
    """Compile a LaTeX table fragment in a booktabs article with pdflatex; skip the test
    when pdflatex is not installed (callers check the structure before calling this)."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed; the structure was checked instead")
    document = folder / "table.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"{fragment}\\end{{document}}\n"
    )
    done = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
