"""Registry behaviour: decorator registration, duplicates, did-you-mean, lazy providers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from landmarkbench.catalog import DATASETS, METHODS, PROTOCOLS
from landmarkbench.errors import UnknownNameError, UsageError
from landmarkbench.registry import Registry


def test_register_and_get_with_docstring_description() -> None:
    registry: Registry[type] = Registry("widget")

    @registry.register("round_widget")
    class RoundWidget:
        """A widget that is round.

        More text that is not part of the description.
        """

    assert registry.get("round_widget") is RoundWidget
    assert registry.entry("round_widget").description == "A widget that is round."
    assert registry.names() == ["round_widget"]
    assert "round_widget" in registry and len(registry) == 1


def test_duplicate_name_is_an_error() -> None:
    registry: Registry[object] = Registry("widget")
    registry.register("a", "first")(object())
    with pytest.raises(UsageError, match="registered twice"):
        registry.register("a", "second")(object())


def test_unknown_name_suggests_close_matches_and_lists_all() -> None:
    registry: Registry[int] = Registry("method")
    for name in ("scn_adaptive", "argmax", "soft_argmax"):
        registry.register(name, name)(1)
    with pytest.raises(UnknownNameError) as info:
        registry.get("scn_adaptiv")
    message = str(info.value)
    assert "Unknown method 'scn_adaptiv'." in message
    assert "Did you mean 'scn_adaptive'?" in message
    assert "Available: argmax, scn_adaptive, soft_argmax." in message


def test_unknown_name_without_close_match_has_no_guess() -> None:
    registry: Registry[int] = Registry("dataset")
    registry.register("isbi2015", "x")(1)
    with pytest.raises(UnknownNameError) as info:
        registry.get("zzz")
    assert "Did you mean" not in str(info.value)


def test_project_registries_hold_the_skeleton_entries() -> None:
    assert "synthetic_ceph" in DATASETS.names()
    assert {"mean_shape", "argmax", "subpixel"} <= set(METHODS.names())
    assert {"kfold", "official"} <= set(PROTOCOLS.names())
    for registry in (DATASETS, METHODS, PROTOCOLS):
        assert all(entry.description for entry in registry.entries())


def test_listing_imports_neither_torch_nor_mlflow() -> None:
    code = (
        "import sys; from landmarkbench.cli.main import main; main(['ls']);"
        "heavy = [m for m in ('torch', 'mlflow', 'monai', 'pandas', 'scipy') if m in sys.modules];"
        "print('HEAVY', heavy)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    assert "HEAVY []" in out.stdout
    assert "synthetic_ceph" in out.stdout
    assert elapsed < 5.0  # generous here; the 0.5 s target is measured on the console script
