"""Atomic file writes: the target appears complete, or the old one stays untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest

from landmarkbench.atomic_io import (
    write_atomically,
    write_json_atomically,
    write_text_atomically,
)


class WriterFailed(Exception):
    """Raised by a test writer halfway through."""


def leftovers(folder: Path) -> list[Path]:
    """Temporary files left beside the targets."""
    return sorted(folder.glob(".*.tmp"))


def test_target_appears_complete_in_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "array.npy"
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_atomically(target, lambda stream: np.save(stream, array, allow_pickle=False))
    np.testing.assert_array_equal(np.load(target), array)
    assert leftovers(target.parent) == []


def test_existing_target_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("old\n")
    write_text_atomically(target, "new ü\n")
    assert target.read_text(encoding="utf-8") == "new ü\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [WriterFailed("boom"), KeyboardInterrupt()])
def test_failing_writer_keeps_old_file_and_leaves_no_temporary(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content")

    def half_then_fail(stream: BinaryIO) -> None:
        stream.write(b"half of the new")
        raise error

    with pytest.raises(type(error)):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_failing_writer_creates_no_target(tmp_path: Path) -> None:
    target = tmp_path / "never.bin"

    def fail(stream: BinaryIO) -> None:
        raise WriterFailed("boom")

    with pytest.raises(WriterFailed):
        write_atomically(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_json_is_sorted_indented_and_ends_with_newline(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json_atomically(target, {"b": 1, "a": [1.5, float("nan")]})
    text = target.read_text()
    assert text.endswith("}\n")
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text)["b"] == 1


def test_unserialisable_json_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text('{"kept": true}\n')
    with pytest.raises(TypeError):
        write_json_atomically(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"kept": True}
    assert leftovers(tmp_path) == []


def test_module_imports_without_torch() -> None:
    code = (
        "import sys; import landmarkbench.atomic_io; sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
