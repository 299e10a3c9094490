"""Download a dataset's files from its manifest: resumable, hash-checked, safely extracted.

Downloads go to ``<data_dir>/.downloads/<file>.part`` and move to their final name only once
complete and verified (pooch's ``stream_download`` pattern). A verified file is recorded in
``.downloads/verified.json`` with its size and sha256, so a rerun fetches nothing again.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from landmarkbench import __version__
from landmarkbench.archives import extract_archive, remove_stale_extractions
from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.errors import ChecksumError, DataError, UsageError
from landmarkbench.manifest import Manifest, UrlEntry, sha256_of

DOWNLOADS = ".downloads"
VERIFIED = "verified.json"
_CHUNK = 1 << 16
_TIMEOUT_S = 60


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


def _stream(response: Any, part: Path, offset: int, progress: bool) -> None:
    from tqdm import tqdm

    length = response.headers.get("Content-Length")
    total = int(length) + offset if length and length.isdigit() else None
    with (
        open(part, "ab" if offset else "wb") as sink,
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
            sink.write(chunk)
            bar.update(len(chunk))


def download(
    url: str,
    destination: Path,
    *,
    sha256: str | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> str:
    """Download ``url`` to ``destination`` via a resumable ``.part`` file; return its sha256.

    Raises:
        ChecksumError: if ``sha256`` is given and does not match (the download is deleted).
        DataError: if the server cannot be reached or the transfer breaks (the ``.part``
            file is kept and a rerun resumes).
    """
    part = destination.with_name(destination.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    try:
        try:
            response = _open(url, offset)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not offset:
                raise
            echo(f"Server refused to resume '{destination.name}'; downloading it again.")
            part.unlink()
            offset = 0
            response = _open(url, offset)
        with response:
            if offset and not _resumes(response, offset):
                echo(f"Server ignored the resume request for '{destination.name}'; restarting.")
                offset = 0
            elif offset:
                echo(f"Resuming '{destination.name}' from byte {offset}.")
            _stream(response, part, offset, progress)
    except urllib.error.HTTPError as exc:
        raise DataError(
            f"Downloading '{url}' failed with HTTP {exc.code} ({exc.reason}); check the URL "
            "or the --url-base mirror and retry."
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"Downloading '{url}' was interrupted ({reason}); check the connection and rerun "
            f"the same command: it resumes from '{part}'."
        ) from None
    got = sha256_of(part)
    if sha256 is not None and got != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"The sha256 of the downloaded file '{destination.name}' (from '{url}') does not "
            f"match the manifest: expected {sha256.lower()} but got {got}; the download was "
            "deleted for safety: it may have been corrupted in transit, the server may serve "
            "another version, or the manifest's hash may be outdated (rerun to retry)."
        )
    os.replace(part, destination)
    return got


def _read_verified(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged record only costs a re-download: every file is verified again.
        return {}
    return data if isinstance(data, dict) else {}


def _is_downloaded(entry: UrlEntry, record: Any, destination: Path) -> bool:
    """True if ``destination`` is the file recorded as verified (no need to fetch it)."""
    return (
        isinstance(record, dict)
        and destination.is_file()
        and destination.stat().st_size == record.get("size")
        and (entry.sha256 is None or record.get("sha256") == entry.sha256.lower())
    )


def _extract(entry: UrlEntry, archive: Path, data_dir: Path, echo: Callable[[str], None]) -> None:
    echo(f"Extracting '{entry.filename}' into '{data_dir}'.")
    extract_archive(archive, data_dir)
    for nested in entry.extract_nested:
        inner = data_dir / nested
        if not inner.is_file():
            raise DataError(
                f"Archive '{entry.filename}' should contain '{nested}' (manifest field "
                "extract_nested) but it is not there after extraction; the download may be "
                "another release: check the manifest."
            )
        echo(f"Extracting '{nested}' into '{data_dir}'.")
        extract_archive(inner, data_dir)


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
        ChecksumError: on a hash mismatch; DataError: on a transfer or extraction problem.
    """
    if not manifest.urls:
        raise UsageError(
            f"Dataset {manifest.name!r} has no public download that 'landmarkbench fetch' "
            f"can use; {manifest.access}"
        )
    show = sys.stderr.isatty() if progress is None else progress
    downloads = Path(data_dir) / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    remove_stale_extractions(Path(data_dir))
    record_path = downloads / VERIFIED
    verified = _read_verified(record_path)
    paths = []
    for entry in manifest.urls:
        destination = (downloads if entry.extract else Path(data_dir)) / entry.filename
        paths.append(destination)
        record = verified.get(entry.filename)
        downloaded = _is_downloaded(entry, record, destination)
        if downloaded and (not entry.extract or record.get("extracted")):
            echo(f"File '{entry.filename}' is already downloaded and verified; skipping it.")
            continue
        if not downloaded:
            url = rebase_url(entry.url, url_base)
            echo(f"Downloading file '{entry.filename}' from '{url}' to '{destination.parent}'.")
            digest = download(url, destination, sha256=entry.sha256, progress=show, echo=echo)
            if entry.sha256 is None:
                echo(
                    f"note: the manifest gives no sha256 for '{entry.filename}'; it is {digest}: "
                    f"add it to datasets_manifest/{manifest.name}.yaml once you trust the file."
                )
            record = {"sha256": digest, "size": destination.stat().st_size, "extracted": False}
            verified[entry.filename] = record
            write_json_atomically(record_path, verified)
        if entry.extract:
            _extract(entry, destination, Path(data_dir), echo)
            record["extracted"] = True
            write_json_atomically(record_path, verified)
    return paths
