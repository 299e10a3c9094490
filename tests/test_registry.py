"""Registry behaviour: decorator registration, duplicates, did-you-mean, discovered providers,
``module:Class`` references (plugins from entry points: test_plugins.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from landmarkbench.catalog import DATASETS, METHODS, PROTOCOLS
from landmarkbench.errors import UnknownNameError, UsageError
from landmarkbench.registry import Registry, registering_modules


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


# --- where entries come from: discovered provider modules, plugins, module:Class ---

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "landmarkbench"


def _modules_with_registrations() -> set[str]:
    """Every module of the package whose source calls ``<REGISTRY>.register(`` as a decorator,
    found independently of the registry's own discovery (any indentation, any name)."""
    pattern = re.compile(r"^\s*@\s*[A-Za-z_][A-Za-z0-9_]*\s*\.\s*register\s*\(", re.MULTILINE)
    found = set()
    for path in PACKAGE_ROOT.rglob("*.py"):
        if path.name in ("registry.py", "catalog.py") and path.parent == PACKAGE_ROOT:
            continue  # the mechanism itself, whose docstrings show the decorator
        if pattern.search(path.read_text(encoding="utf-8")):
            parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_module_with_a_registration_is_a_discovered_provider() -> None:
    discovered = {m for r in (DATASETS, METHODS, PROTOCOLS) for m in r.provider_modules()}
    missing = _modules_with_registrations() - discovered
    assert not missing, (
        f"{sorted(missing)} register entries but no registry imports them; put the decorator "
        "at module level (@DATASETS.register(...)) in a module under landmarkbench.datasets, "
        ".methods or .protocols"
    )
    assert "landmarkbench.datasets.synthetic.ceph" in discovered
    assert "landmarkbench.methods.mean_shape" in discovered
    assert "landmarkbench.protocols.kfold" in discovered


def test_discovery_reads_source_and_imports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lbt_discovery_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "data").mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "one.py").write_text("raise RuntimeError\n@THINGS.register('a')\nclass A: ...\n")
    (package / "sub" / "two.py").write_text("@THINGS.register('b')\ndef b(): ...\n")
    (package / "data" / "three.py").write_text("@THINGS.register('c')\nclass C: ...\n")
    (package / "doc.py").write_text('"""\n    @THINGS.register("d")\n"""\n')
    (package / "other.py").write_text("@OTHER.register('e')\nclass E: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = registering_modules("lbt_discovery_pkg", "THINGS")
    assert found == ["lbt_discovery_pkg.one", "lbt_discovery_pkg.sub.two"]
    assert "lbt_discovery_pkg.one" not in sys.modules


def _method_registry() -> Registry[type]:
    return Registry("method", base="landmarkbench.methods.base:Method")


def test_module_class_reference_loads_a_subclass_and_is_not_listed() -> None:
    registry = _method_registry()
    from landmarkbench.methods.mean_shape import MeanShape

    assert registry.get("landmarkbench.methods.mean_shape:MeanShape") is MeanShape
    entry = registry.entry("landmarkbench.methods.mean_shape:MeanShape")
    assert entry.origin == "landmarkbench.methods.mean_shape:MeanShape"
    assert entry.description.startswith("Predicts, for every image")
    assert registry.names() == []


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("landmarkbench.methods.base:FitContext", "is not a subclass of"),
        ("landmarkbench.methods.base:Method", "does not implement fit, predict"),
        ("landmarkbench.methods.base:Nope", "has no attribute 'Nope'"),
        ("landmarkbench.no_such_module:X", "No module named 'landmarkbench.no_such_module'"),
        (":X", "must be written package.module:Class"),
    ],
)
def test_bad_module_class_reference_is_one_sentence(reference: str, expected: str) -> None:
    with pytest.raises(UsageError, match=re.escape(expected)):
        _method_registry().get(reference)


def test_dataset_reference_needs_the_class_attributes() -> None:
    from landmarkbench.datasets.base import LandmarkDataset

    class Bare(LandmarkDataset):
        def case_ids(self) -> list[str]:
            return []

        def load(self, case_id: str) -> Any:
            raise NotImplementedError

    sys.modules[__name__].Bare = Bare  # type: ignore[attr-defined]
    registry: Registry[type] = Registry(
        "dataset", base="landmarkbench.datasets.base:LandmarkDataset", required=("name", "ndim")
    )
    with pytest.raises(UsageError, match="does not set the class attribute"):
        registry.get(f"{__name__}:Bare")


def test_listing_without_plugins_has_no_problems() -> None:
    for registry in (DATASETS, METHODS, PROTOCOLS):
        assert registry.problems() == {}
