"""The package list in pyproject.toml covers every package folder (it is explicit)."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "landmarkbench").rglob("__init__.py")
    }
    assert on_disk <= listed
    assert "landmarkbench.manifests" in listed
    assert (
        config["tool"]["setuptools"]["package-dir"]["landmarkbench.manifests"]
        == "datasets_manifest"
    )
