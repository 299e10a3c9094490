"""Atomic writes: a file or folder appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
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
    """Delete staging folders left behind by a killed run (call with ``parent`` locked)."""
    if parent.is_dir():
        for leftover in parent.glob(".*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)


LOCK_FILE = ".lock"
# A folder holding only its lock file is left alone this long after the lock was last
# opened: the window between creating a run folder and locking it.
_LOCK_ONLY_GRACE_S = 10.0


@contextlib.contextmanager
def exclusive_lock(folder: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (one writer per folder at a time).

    Args:
        folder: Created if missing; the lock is its ``.lock`` file (released when the
            process ends, however it ends).
        wait: Block until the lock is free instead of refusing.

    Raises:
        ResultsError: if another process holds the lock and ``wait`` is False.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, run unguarded
        yield
        return
    with open(folder / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError:
            raise ResultsError(
                f"Another landmarkbench process is writing '{folder}'; wait for it to finish "
                "(or stop it) before running the same benchmark again."
            ) from None
        os.utime(folder / LOCK_FILE)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _try_lock(folder: Path) -> Iterator[bool]:
    """Take ``folder``'s lock without waiting and without creating anything: yields True
    while holding it, False when another process holds it (or there is no lock file)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield False
        return
    try:
        handle = open(folder / LOCK_FILE)  # noqa: SIM115 - closed below
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean_dead_folders(
    folders: Iterable[Path], stop_at: Path, grace_s: float = _LOCK_ONLY_GRACE_S
) -> list[Path]:
    """Remove what dead processes left in locked folders: staging folders
    (``.*.partial``), and folders that hold nothing but their lock file (with their empty
    parents up to ``stop_at``). A folder whose lock is held by a live process is skipped,
    and so is a lock-only folder whose lock was opened less than ``grace_s`` seconds ago.

    Returns:
        The staging folders and lock-only folders removed.
    """
    import time

    removed: list[Path] = []
    for folder in folders:
        if not (folder / LOCK_FILE).is_file():
            continue
        with _try_lock(folder) as free:
            if not free:
                continue
            for leftover in folder.glob(".*.partial"):
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
            entries = [p.name for p in folder.iterdir()]
            lock_age = time.time() - (folder / LOCK_FILE).stat().st_mtime
            if entries == [LOCK_FILE] and lock_age >= grace_s:
                (folder / LOCK_FILE).unlink(missing_ok=True)
                removed.append(folder)
        if folder in removed:
            _remove_empty_parents(folder, stop_at)
    return removed


def _remove_empty_parents(folder: Path, stop_at: Path) -> None:
    current = folder
    while current != stop_at and stop_at in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def check_writable_folder(folder: Path, what: str, fix: str) -> None:
    """Fail fast when ``folder`` (or, if missing, its nearest existing parent) cannot be
    written, instead of failing deep inside a run.

    Raises:
        UsageError: naming the folder, ``what`` it is and the ``fix``.
    """
    from landmarkbench.errors import UsageError

    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    reason = None
    if not existing.is_dir():
        return  # a file in the way is reported by the caller's own checks
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is not writable"
    else:
        try:  # root passes os.access on a read-only mount's permission bits: probe
            handle, probe = tempfile.mkstemp(dir=existing, prefix=".landmarkbench-probe.")
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            reason = f"cannot be written ({exc.strerror or exc})"
    if reason:
        raise UsageError(f"{what} '{existing}' {reason}; {fix}")
