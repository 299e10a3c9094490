"""Download a dataset's files from its manifest: resumable, size and hash checked, extracted safely.

Downloads go to ``<data_dir>/.downloads/<file>.part`` and move to their final name only once
complete (pooch's ``stream_download`` pattern). A file is complete when its size equals what the
server announced (``Content-Length``, or the total of ``Content-Range`` on a resumed transfer);
a short file is deleted and refused. Its sha256 is then compared with the one the manifest
publishes; where the manifest publishes none, the hash is printed and recorded as trust on first
use, never as verified. ``.downloads/downloads.json`` records each file's size, sha256 and how
far it was checked, so a rerun fetches nothing again. An archive found damaged at extraction
loses its record, so the next fetch downloads it again.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarkbench import __version__
from landmarkbench.acquire.archives import (
    DamagedArchiveError,
    extract_archive,
    remove_stale_extractions,
)
from landmarkbench.acquire.manifest import Manifest, UrlEntry, sha256_of
from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.errors import ChecksumError, DataError, UsageError

DOWNLOADS = ".downloads"
RECORD = "downloads.json"
# The record of earlier versions, which called downloads "verified" without checking their size.
LEGACY_RECORD = "verified.json"
PUBLISHED = "published"
FIRST_USE = "first_use"
TRUST_NOTES = {
    PUBLISHED: "sha256 verified against the value published in the manifest",
    FIRST_USE: "sha256 recorded on first use, not verified against a published value",
}
_CHUNK = 1 << 16
_TIMEOUT_S = 60
# What a broken transfer raises: socket errors, and http.client's own (IncompleteRead, ...).
_TRANSFER_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Downloaded:
    """A completed download: its sha256, its size and the size the server announced."""

    sha256: str
    size: int
    announced: int | None


def rebase_url(url: str, url_base: str | None) -> str:
    """Replace the scheme and host of ``url`` with those of ``url_base`` (a mirror).

    A path in ``url_base`` is put in front of the original path.
    """
    if not url_base:
        return url
    base = urllib.parse.urlsplit(url_base)
    if not base.scheme or not base.netloc:
        raise UsageError(
            f"--url-base {url_base!r} must start with a scheme and host; write e.g. "
            "--url-base https://mirror.example.org."
        )
    original = urllib.parse.urlsplit(url)
    path = base.path.rstrip("/") + original.path
    return urllib.parse.urlunsplit((base.scheme, base.netloc, path, original.query, ""))


def _open(url: str, offset: int) -> Any:
    headers = {"User-Agent": f"landmarkbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)


def _resumes(response: Any, offset: int) -> bool:
    """True if the server answered a Range request with the bytes from ``offset`` on."""
    if not offset or response.status != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _announced_size(response: Any, offset: int) -> int | None:
    """The whole file's size as the server announced it, or None when it announced none.

    A resumed transfer (206) states the total after the slash of ``Content-Range``; otherwise
    ``Content-Length`` counts the bytes from ``offset`` on.
    """
    if offset:
        total = response.headers.get("Content-Range", "").rpartition("/")[2].strip()
        if total.isdigit():
            return int(total)
    length = (response.headers.get("Content-Length") or "").strip()
    return int(length) + offset if length.isdigit() else None


def _unwritable(path: Path, exc: OSError) -> DataError:
    return DataError(
        f"Cannot write '{path}' ({exc.strerror or exc}); free disk space or fix the folder's "
        "permissions (or choose another --data-dir), then rerun the same fetch command."
    )


def _stream(response: Any, part: Path, offset: int, total: int | None, progress: bool) -> None:
    from tqdm import tqdm

    try:
        sink = open(part, "ab" if offset else "wb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _unwritable(part, exc) from None
    with (
        sink,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
            file=sys.stderr,
        ) as bar,
    ):
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            try:
                sink.write(chunk)
            except OSError as exc:
                raise _unwritable(part, exc) from None
            bar.update(len(chunk))


def _connect(url: str, destination: Path, part: Path, offset: int, echo: Callable) -> Any:
    """Open ``url`` asking for the bytes from ``offset`` on; start over if the server refuses."""
    try:
        try:
            return _open(url, offset)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not offset:
                raise
            echo(f"Server refused to resume '{destination.name}'; downloading it again.")
            part.unlink()
            return _open(url, 0)
    except urllib.error.HTTPError as exc:
        raise DataError(
            f"Downloading '{url}' failed with HTTP {exc.code} ({exc.reason}); check the URL "
            "or the --url-base mirror and retry."
        ) from None
    except _TRANSFER_ERRORS as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"Cannot reach '{url}' ({reason}); check the address (or the --url-base mirror) "
            "and the network connection, then rerun the same fetch command."
        ) from None


def download(
    url: str,
    destination: Path,
    *,
    sha256: str | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> Downloaded:
    """Download ``url`` to ``destination`` via a resumable ``.part`` file.

    The file must reach the size the server announced; with ``sha256`` it must also have that
    hash. Without an announced size (no ``Content-Length``) the size cannot be checked:
    ``Downloaded.announced`` is then None.

    Raises:
        DataError: if the server cannot be reached or the transfer breaks (the ``.part``
            file is kept and a rerun resumes), or if the file is shorter or longer than
            announced (it is deleted).
        ChecksumError: if ``sha256`` is given and does not match (the download is deleted).
    """
    part = destination.with_name(destination.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    response = _connect(url, destination, part, offset, echo)
    if offset and not part.exists():
        offset = 0  # the server refused to resume and the .part file was dropped
    try:
        with response:
            if offset and not _resumes(response, offset):
                echo(f"Server ignored the resume request for '{destination.name}'; restarting.")
                offset = 0
            elif offset:
                echo(f"Resuming '{destination.name}' from byte {offset}.")
            announced = _announced_size(response, offset)
            _stream(response, part, offset, announced, progress)
    except _TRANSFER_ERRORS as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"Downloading '{url}' was interrupted ({reason}); check the connection and rerun "
            f"the same command: it resumes from '{part}'."
        ) from None
    size = part.stat().st_size
    if announced is not None and size != announced:
        part.unlink(missing_ok=True)
        raise DataError(
            f"The download of '{destination}' from '{url}' is incomplete: the server announced "
            f"{announced} bytes (Content-Length) but {size} arrived; the partial file '{part}' "
            "was deleted: rerun the same fetch command to download it again (or use another "
            "--url-base mirror)."
        )
    got = sha256_of(part)
    if sha256 is not None and got != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"The sha256 of the downloaded file '{destination}' (from '{url}') does not "
            f"match the manifest: expected {sha256.lower()} but got {got}; the download was "
            "deleted for safety: it may have been corrupted in transit, the server may serve "
            "another version, or the manifest's hash may be outdated (rerun to retry)."
        )
    try:
        os.replace(part, destination)
    except OSError as exc:
        raise _unwritable(destination, exc) from None
    return Downloaded(got, size, announced)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # Missing or damaged: it only costs a re-download, every file is checked again.
        return {}
    return data if isinstance(data, dict) else {}


def _save_records(path: Path, records: dict[str, Any]) -> None:
    try:
        write_json_atomically(path, records)
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _read_records(
    downloads: Path, manifest: Manifest, echo: Callable[[str], None]
) -> dict[str, Any]:
    """The download records; entries of an older ``verified.json`` are carried over only when
    the manifest publishes the hash they recorded (that version never checked sizes)."""
    records = _load_json(downloads / RECORD)
    legacy = downloads / LEGACY_RECORD
    if not legacy.is_file():
        return records
    legacy_records = _load_json(legacy)
    for entry in manifest.urls:
        old = legacy_records.get(entry.filename)
        if entry.filename in records or not isinstance(old, dict):
            continue
        if entry.sha256 is not None and old.get("sha256") == entry.sha256.lower():
            records[entry.filename] = {**old, "trust": PUBLISHED, "note": TRUST_NOTES[PUBLISHED]}
        else:
            echo(
                f"note: '{legacy}' (written by an older landmarkbench) recorded "
                f"'{entry.filename}' without checking its size against the server's; it is "
                "downloaded again."
            )
    _save_records(downloads / RECORD, records)
    legacy.unlink(missing_ok=True)
    return records


def _is_downloaded(entry: UrlEntry, record: Any, destination: Path) -> bool:
    """True if ``destination`` is the file recorded as complete (no need to fetch it)."""
    return (
        isinstance(record, dict)
        and record.get("trust") in TRUST_NOTES
        and destination.is_file()
        and destination.stat().st_size == record.get("size")
        and (entry.sha256 is None or record.get("sha256") == entry.sha256.lower())
    )


def _extract(entry: UrlEntry, archive: Path, data_dir: Path, echo: Callable[[str], None]) -> None:
    """Extract ``archive`` (and its nested archives) into ``data_dir``.

    Raises:
        DamagedArchiveError: if ``archive`` or an archive inside it is damaged.
        DataError: if a nested archive is missing or the folder cannot be written.
    """
    try:
        echo(f"Extracting '{entry.filename}' into '{data_dir}'.")
        extract_archive(archive, data_dir)
        for nested in entry.extract_nested:
            inner = data_dir / nested
            if not inner.is_file():
                raise DataError(
                    f"Archive '{archive}' should contain '{nested}' (manifest field "
                    "extract_nested) but it is not there after extraction; the download may "
                    "be another release: check the manifest."
                )
            echo(f"Extracting '{nested}' into '{data_dir}'.")
            extract_archive(inner, data_dir)
    except OSError as exc:
        raise DataError(
            f"Extracting '{archive}' into '{data_dir}' failed ({exc.strerror or exc}); free "
            "disk space or fix the folder's permissions, then rerun the same fetch command "
            "(the download is kept)."
        ) from None


def _prepare(data_dir: Path) -> Path:
    """Create ``data_dir/.downloads`` and check that it can be written; return it."""
    downloads = data_dir / DOWNLOADS
    try:
        downloads.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot create the download folder '{downloads}' ({exc.strerror or exc}); "
            "choose a --data-dir that you can write to."
        ) from None
    if not os.access(downloads, os.W_OK | os.X_OK):
        raise DataError(
            f"The download folder '{downloads}' is not writable; fix its permissions or choose "
            "another --data-dir."
        )
    return downloads


def _report_first_use(
    manifest: Manifest,
    entry: UrlEntry,
    got: Downloaded,
    previous: Any,
    record_path: Path,
    echo: Callable[[str], None],
) -> None:
    where = manifest.path or f"datasets_manifest/{manifest.name}.yaml"
    if got.announced is not None:
        size = f"{got.size} bytes, the size the server announced"
    else:
        size = f"{got.size} bytes; the server announced no size, so it was not checked"
    echo(
        f"File '{entry.filename}' ({size}) has sha256 {got.sha256}: recorded on first use in "
        f"'{record_path}', not verified against a published value ('{where}' publishes "
        "none); compare it with a trusted copy before adding it to the manifest."
    )
    if isinstance(previous, dict) and previous.get("sha256") not in (None, got.sha256):
        echo(
            f"warning: '{entry.filename}' differs from the file recorded on first use before "
            f"(sha256 {previous['sha256']}): the server now serves other bytes."
        )


def fetch_dataset(
    manifest: Manifest,
    data_dir: Path,
    *,
    url_base: str | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Download (and extract) every file of ``manifest`` into ``data_dir``.

    Archives stay in ``data_dir/.downloads/`` and are extracted into ``data_dir``; other
    files land in ``data_dir`` itself.

    Args:
        manifest: The dataset's manifest.
        data_dir: The dataset's root folder (created if needed).
        url_base: Mirror whose scheme and host replace those of the manifest's URLs.
        progress: Show progress bars (default: when stderr is a terminal).
        echo: Where messages go.

    Returns:
        The downloaded files' final paths.

    Raises:
        UsageError: if the manifest lists no download.
        ChecksumError: on a hash mismatch; DataError: on a short file, a transfer or an
            extraction problem, or a folder that cannot be written.
    """
    if not manifest.urls:
        raise UsageError(
            f"Dataset {manifest.name!r} has no public download that 'landmarkbench fetch' "
            f"can use; {manifest.access}"
        )
    show = sys.stderr.isatty() if progress is None else progress
    data_dir = Path(data_dir)
    downloads = _prepare(data_dir)
    remove_stale_extractions(data_dir)
    record_path = downloads / RECORD
    records = _read_records(downloads, manifest, echo)
    paths = []
    for entry in manifest.urls:
        destination = (downloads if entry.extract else data_dir) / entry.filename
        paths.append(destination)
        record = records.get(entry.filename)
        downloaded = _is_downloaded(entry, record, destination)
        if downloaded and (not entry.extract or record.get("extracted")):
            if entry.sha256 is not None:
                how = "verified against its published sha256"
            else:
                how = (
                    f"sha256 {record['sha256']} recorded on first use, not verified against a "
                    "published value"
                )
            echo(f"File '{entry.filename}' is already downloaded ({how}); skipping it.")
            continue
        if not downloaded:
            url = rebase_url(entry.url, url_base)
            echo(f"Downloading file '{entry.filename}' from '{url}' to '{destination.parent}'.")
            got = download(url, destination, sha256=entry.sha256, progress=show, echo=echo)
            trust = PUBLISHED if entry.sha256 is not None else FIRST_USE
            if trust == FIRST_USE:
                _report_first_use(manifest, entry, got, record, record_path, echo)
            record = {
                "sha256": got.sha256,
                "size": got.size,
                "size_checked": got.announced is not None,
                "trust": trust,
                "note": TRUST_NOTES[trust],
                "extracted": False,
            }
            records[entry.filename] = record
            _save_records(record_path, records)
        if entry.extract:
            try:
                _extract(entry, destination, data_dir, echo)
            except DamagedArchiveError as exc:
                # Never reuse a damaged download: the next fetch downloads it again.
                records.pop(entry.filename, None)
                _save_records(record_path, records)
                inside = "" if exc.archive == destination else f", extracted from '{destination}',"
                raise DataError(
                    f"Archive '{exc.archive}'{inside} is damaged ({exc.reason}); delete "
                    f"'{destination}' and rerun the same fetch command: it downloads the file "
                    "again."
                ) from None
            record["extracted"] = True
            _save_records(record_path, records)
    return paths
