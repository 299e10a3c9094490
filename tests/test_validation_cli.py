"""Validation helpers and ``landmarkbench validate`` with fake dataset adapters."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import pytest

import landmarkbench.catalog as catalog
from landmarkbench.acquire.validation import Problem, check_checksums, format_problems
from landmarkbench.cli.main import cli, main
from landmarkbench.cli.validate_cmd import validate_command
from landmarkbench.registry import Registry


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_check_checksums_reports_missing_and_mismatch(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.txt").write_bytes(b"good")
    (tmp_path / "bad.txt").write_bytes(b"changed")
    problems = check_checksums(
        tmp_path,
        {
            "sub/good.txt": _digest(b"good"),
            "bad.txt": _digest(b"original"),
            "gone.txt": _digest(b"x"),
        },
    )
    assert [p.path for p in problems] == ["bad.txt", "gone.txt"]
    assert f"expected {_digest(b'original')}, got {_digest(b'changed')}" in problems[0].message
    assert "missing" in problems[1].message
    assert format_problems(problems).splitlines()[1].startswith("gone.txt: missing")


class FakeTree:
    """A fake adapter whose check needs 3 files named case_<i>.txt."""

    name: ClassVar[str] = "fake_tree"

    def __init__(self, data_dir: Path, min_cases: int = 3) -> None:
        self.data_dir = Path(data_dir)

    @classmethod
    def validate_tree(cls, data_dir: Path, min_cases: int = 3) -> list[Problem]:
        problems = []
        for i in range(min_cases):
            if not (data_dir / f"case_{i}.txt").is_file():
                problems.append(Problem(f"case_{i}.txt", "missing; re-extract the archive"))
        return problems

    def case_ids(self) -> list[str]:
        return sorted(p.stem for p in self.data_dir.glob("case_*.txt"))


class NoCheck:
    """A dataset without a validate_tree check."""


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    registry: Registry = Registry("dataset")
    registry.register("fake_tree")(FakeTree)
    registry.register("no_check")(NoCheck)
    monkeypatch.setattr(catalog, "DATASETS", registry)
    monkeypatch.setitem(cli.commands, "validate", validate_command)
    return registry


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_validate_lists_every_problem_and_exits_1(fake_registry, tmp_path, capsys) -> None:
    (tmp_path / "case_1.txt").write_text("x")
    before = _snapshot(tmp_path)
    assert main(["validate", "fake_tree", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "case_0.txt: missing; re-extract the archive",
        "case_2.txt: missing; re-extract the archive",
    ]
    assert "has 2 problem(s), listed above" in captured.err
    assert _snapshot(tmp_path) == before


def test_validate_ok_counts_cases(fake_registry, tmp_path, capsys) -> None:
    for i in range(3):
        (tmp_path / f"case_{i}.txt").write_text("x")
    before = _snapshot(tmp_path)
    assert main(["validate", "fake_tree", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 3 cases checked"
    assert _snapshot(tmp_path) == before


def test_validate_passes_typed_options(fake_registry, tmp_path, capsys) -> None:
    (tmp_path / "case_0.txt").write_text("x")
    args = ["validate", "fake_tree", "--data-dir", str(tmp_path), "--data-option", "min_cases=1"]
    assert main(args) == 0
    assert "OK: 1 cases checked" in capsys.readouterr().out
    assert main([*args[:-1], "min_case=1"]) == 2
    assert "Did you mean 'min_cases'?" in capsys.readouterr().err
    assert main([*args[:-1], "min_cases=many"]) == 2


def test_validate_unknown_dataset_suggests(fake_registry, tmp_path, capsys) -> None:
    assert main(["validate", "fake_tre", "--data-dir", str(tmp_path)]) == 2
    assert "Did you mean 'fake_tree'?" in capsys.readouterr().err


def test_validate_without_check_exits_2(fake_registry, tmp_path, capsys) -> None:
    assert main(["validate", "no_check", "--data-dir", str(tmp_path)]) == 2
    assert "Validation is not available for dataset 'no_check'" in capsys.readouterr().err


def test_validate_missing_data_dir_exits_2(fake_registry, tmp_path, capsys) -> None:
    missing = tmp_path / "nowhere"
    assert main(["validate", "fake_tree", "--data-dir", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()
