"""Atomic writes: a file or folder appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from landmarkbench.errors import ResultsError


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through a temporary file beside it and one rename (never half-written).

    The parent folder is created if missing. ``write`` fills a temporary file
    ``.{name}.XXXX.tmp`` in the same folder, which then replaces ``path`` with ``os.replace``,
    so readers see either the old file or the complete new one. The data is not fsynced: a
    killed process never leaves a partial file, a power cut may.

    Args:
        path: The file to create or replace.
        write: Called once with a binary file object open for writing, e.g.
            ``lambda stream: np.save(stream, array)`` or ``torch.save(payload, stream)``;
            its return value is ignored.

    Raises:
        OSError: If the folder or the file cannot be written. Anything ``write`` raises is
            raised as is. In every case the temporary file is removed and ``path`` is left
            as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``write_atomically``).

    Args:
        path: The file to create or replace.
        text: The whole new content.

    Raises:
        OSError: If the folder or the file cannot be written; ``path`` is left as it was.
    """
    data = text.encode("utf-8")
    write_atomically(path, lambda stream: stream.write(data))


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically.

    Args:
        path: The file to create or replace.
        data: A JSON-serialisable value (NaN and infinities are written as JavaScript does).

    Raises:
        TypeError: If ``data`` is not JSON-serialisable (nothing is written).
        OSError: If the folder or the file cannot be written; ``path`` is left as it was.
    """
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def staging_dir(final: Path) -> Path:
    """A fresh, empty sibling folder of ``final`` to fill before ``commit_dir``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))


def commit_dir(staging: Path, final: Path) -> None:
    """Move a filled staging folder to its final name in one rename.

    A stale, incomplete ``final`` (left by an older version) is replaced.
    """
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)


def remove_stale_staging(parent: Path) -> None:
    """Delete staging folders left behind by a killed run."""
    if parent.is_dir():
        for leftover in parent.glob(".*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def exclusive_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (one writer per run folder at a time).

    Raises:
        ResultsError: if another process holds the lock.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, run unguarded
        yield
        return
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ResultsError(
                f"Another landmarkbench process is writing '{folder}'; wait for it to finish "
                "(or stop it) before running the same benchmark again."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
