"""Safe extraction of zip, tar and rar archives: every member is checked before any is written.

A member is refused if its name is absolute or has a ``..`` component, if it passes through
a link member, if it is a link whose target leaves the extraction folder, or if it is a
device or pipe. Extraction goes to a temporary folder inside the target, and its top-level
entries move into place only once the whole archive is out: a refused or failed archive
leaves nothing behind.

A damaged archive (truncated, bad checksum inside, not the format its name says) raises
``DamagedArchiveError``, which names the archive's full path so that the user knows which file
to delete.
"""

from __future__ import annotations

import gzip
import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from landmarkbench.errors import DataError

RESERVED = (".downloads",)
_STAGING_PREFIX = ".extract-"
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# What zip, tar and their compressors raise on truncated or corrupted bytes.
_DAMAGE = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    gzip.BadGzipFile,
)


class DamagedArchiveError(DataError):
    """An archive's bytes are damaged; ``archive`` is its path, ``reason`` what was found."""

    def __init__(self, archive: Path, reason: str) -> None:
        self.archive = archive
        self.reason = reason
        super().__init__(
            f"Archive '{archive}' is damaged ({reason}); delete '{archive}' and download it again."
        )


@dataclass(frozen=True)
class Member:
    """An archive entry: its name, kind ("file", "dir", "symlink", "hardlink", "other")
    and, for links, the target as stored."""

    name: str
    kind: str
    link: str | None = None


def _refuse(archive: Path, name: str, why: str) -> DataError:
    return DataError(
        f"Archive '{archive}' member {name!r} {why}; refusing to extract anything from it "
        "(the archive is corrupt or malicious: delete it and download it again from a "
        "trusted source)."
    )


def _inside(path: str) -> bool:
    return path != ".." and not path.startswith("../") and not path.startswith("/")


def check_members(members: Iterable[Member], archive: Path) -> None:
    """Raise if any member could write outside the target folder.

    Raises:
        DataError: naming the first unsafe member and the archive.
    """
    links: set[str] = set()
    for member in members:
        name = member.name.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise _refuse(archive, member.name, "has an absolute path")
        if ".." in name.split("/"):
            raise _refuse(archive, member.name, "has a '..' component")
        clean = posixpath.normpath(name)
        if clean == ".":
            continue
        parts = clean.split("/")
        if parts[0] in RESERVED or parts[0].startswith(_STAGING_PREFIX):
            raise _refuse(archive, member.name, "would overwrite landmarkbench's own folder")
        if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
            raise _refuse(archive, member.name, "lies under a link member")
        if member.kind == "other":
            raise _refuse(archive, member.name, "is a device, pipe or unknown special file")
        if member.kind in ("symlink", "hardlink"):
            target = (member.link or "").replace("\\", "/")
            base = posixpath.dirname(clean) if member.kind == "symlink" else ""
            resolved = posixpath.normpath(posixpath.join(base, target)) if target else ".."
            if target.startswith("/") or re.match(r"^[A-Za-z]:", target) or not _inside(resolved):
                raise _refuse(
                    archive, member.name, f"is a link to {member.link!r} outside the target"
                )
            links.add(clean)


def _kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if name.endswith(".rar"):
        return "rar"
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise DataError(
        f"File '{archive}' is not a zip, tar or rar archive; set 'extract: false' for it "
        "in the manifest or check the download."
    )


def _zip_members(handle: zipfile.ZipFile) -> list[Member]:
    members = []
    for info in handle.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            link = handle.read(info).decode("utf-8", "replace")
            members.append(Member(info.filename, "symlink", link))
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            members.append(Member(info.filename, "other"))
        else:
            members.append(Member(info.filename, "dir" if info.is_dir() else "file"))
    return members


def _tar_members(handle: tarfile.TarFile) -> list[Member]:
    members = []
    for info in handle.getmembers():
        if info.issym():
            members.append(Member(info.name, "symlink", info.linkname))
        elif info.islnk():
            members.append(Member(info.name, "hardlink", info.linkname))
        elif info.isdir() or info.isfile():
            members.append(Member(info.name, "dir" if info.isdir() else "file"))
        else:
            members.append(Member(info.name, "other"))
    return members


def _rar_members(handle: object) -> list[Member]:
    import rarfile

    members = []
    for info in handle.infolist():  # type: ignore[attr-defined]
        redir = getattr(info, "file_redir", None)
        if info.is_symlink() or redir:
            kind = "hardlink" if redir and redir[0] == rarfile.RAR5_XREDIR_HARD_LINK else "symlink"
            members.append(Member(info.filename, kind, redir[2] if redir else None))
        else:
            members.append(Member(info.filename, "dir" if info.is_dir() else "file"))
    return members


def _extract_zip(archive: Path, staging: Path) -> None:
    with zipfile.ZipFile(archive) as handle:
        members = _zip_members(handle)
        check_members(members, archive)
        for member, info in zip(members, handle.infolist(), strict=True):
            destination = staging / posixpath.normpath(member.name.replace("\\", "/"))
            if member.kind == "dir":
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if member.kind == "symlink":
                os.symlink(member.link or "", destination)
                continue
            with handle.open(info) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


def _extract_tar(archive: Path, staging: Path) -> None:
    with tarfile.open(archive) as handle:
        check_members(_tar_members(handle), archive)
        if hasattr(tarfile, "data_filter"):
            # Belt and braces: the stdlib filter re-checks every path at write time.
            handle.extractall(staging, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            handle.extractall(staging)


def _extract_rar(archive: Path, staging: Path) -> None:
    import rarfile

    try:
        rarfile.tool_setup()
    except rarfile.RarCannotExec:
        raise DataError(
            f"Extracting '{archive.name}' needs an unrar tool and none was found; install one "
            "(e.g. 'sudo apt-get install unrar' or 'unar', 'brew install rar' on macOS) and "
            "rerun the same fetch command: the download is kept and not fetched again."
        ) from None
    damaged = (rarfile.BadRarFile, rarfile.NotRarFile, rarfile.NeedFirstVolume)
    try:
        with rarfile.RarFile(archive) as handle:
            check_members(_rar_members(handle), archive)
            handle.extractall(staging)
    except (*damaged, rarfile.RarCRCError) as exc:
        raise DamagedArchiveError(archive, f"{type(exc).__name__}: {exc}") from None
    except rarfile.Error as exc:
        raise DataError(
            f"Archive '{archive}' could not be extracted ({exc}); check that the unrar tool "
            f"works, or delete '{archive}' and download it again."
        ) from None


def extract_archive(archive: Path, target: Path) -> list[str]:
    """Extract ``archive`` into ``target`` safely and atomically per top-level entry.

    Existing top-level entries of the same name in ``target`` are replaced.

    Returns:
        The names of the top-level entries now in ``target``.

    Raises:
        DamagedArchiveError: if the archive's bytes are damaged (nothing is written).
        DataError: for an unsafe member (nothing is written), an unknown archive type or a
            missing unrar tool.
    """
    target.mkdir(parents=True, exist_ok=True)
    kind = _kind(archive)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=target))
    try:
        try:
            {"zip": _extract_zip, "tar": _extract_tar, "rar": _extract_rar}[kind](archive, staging)
        except _DAMAGE as exc:
            raise DamagedArchiveError(archive, f"{type(exc).__name__}: {exc}") from None
        names = sorted(p.name for p in staging.iterdir())
        for name in names:
            final = target / name
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            os.replace(staging / name, final)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_extractions(target: Path) -> None:
    """Delete temporary extraction folders left in ``target`` by a killed run."""
    if target.is_dir():
        for leftover in target.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
