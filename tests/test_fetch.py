"""``fetch``: resumable, hash-checked downloads and safe extraction, against a local server."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from landmarkbench.acquire.archives import Member, check_members, extract_archive
from landmarkbench.acquire.fetch import DOWNLOADS, RECORD, fetch_dataset, rebase_url
from landmarkbench.acquire.manifest import (
    CoordinateConvention,
    GroundTruthChoice,
    Manifest,
    SpacingRule,
    UrlEntry,
    manifest_dir,
)
from landmarkbench.cli.fetch_cmd import fetch_command
from landmarkbench.cli.main import cli, main
from landmarkbench.errors import ChecksumError, DataError, UsageError


class FileServer:
    """A local HTTP server for ``files`` that honours (or ignores) Range requests.

    ``announce`` maps a path to the whole-file size it claims (Content-Length, Content-Range)
    while sending only the bytes it has: a transfer that ends short. ``omit_length`` sends
    no Content-Length at all.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.announce: dict[str, int] = {}
        self.omit_length = False
        self.log: list[tuple[str, str | None]] = []
        self.ignore_range = False
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.log.append((path, self.headers.get("Range")))
                body = owner.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                total = owner.announce.get(path, len(body))
                wanted = self.headers.get("Range")
                if wanted and not owner.ignore_range:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                else:
                    self.send_response(200)
                if not owner.omit_length:
                    self.send_header("Content-Length", str(total - start))
                self.end_headers()
                self.wfile.write(body[start:])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        for name, data in members.items():
            handle.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def _tar(members: list[tarfile.TarInfo], data: bytes = b"payload") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as handle:
        for info in members:
            if info.isfile():
                info.size = len(data)
                handle.addfile(info, io.BytesIO(data))
            else:
                handle.addfile(info)
    return buffer.getvalue()


def _tarinfo(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def _manifest(*urls: UrlEntry) -> Manifest:
    return Manifest(
        name="toy",
        title="Toy",
        citation="none",
        licence="none",
        access="none",
        urls=tuple(urls),
        ndim=2,
        multi_instance=False,
        landmark_names=("a",),
        spacing=SpacingRule("none"),
        coordinates=CoordinateConvention("xy"),
        layout={},
        ground_truth=GroundTruthChoice(("official",), "official"),
        protocols={"official": {}},
        published_results=(),
    )


GOOD = {"toy/images/001.txt": b"one", "toy/labels/001.txt": b"1,2\n"}


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_good_zip_is_verified_extracted_and_recorded(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    digest = hashlib.sha256(archive).hexdigest()
    data_dir = tmp_path / "data"
    entry = UrlEntry(server.url("toy.zip"), "toy.zip", True, sha256=digest)
    messages: list[str] = []
    fetch_dataset(_manifest(entry), data_dir, echo=messages.append)
    assert (data_dir / "toy/images/001.txt").read_bytes() == b"one"
    assert _files(data_dir) == {*GOOD, f"{DOWNLOADS}/toy.zip", f"{DOWNLOADS}/{RECORD}"}
    record = json.loads((data_dir / DOWNLOADS / RECORD).read_text())["toy.zip"]
    assert record == {
        "sha256": digest,
        "size": len(archive),
        "size_checked": True,
        "trust": "published",
        "note": "sha256 verified against the value published in the manifest",
        "extracted": True,
    }
    assert f"Downloading file 'toy.zip' from '{server.url('toy.zip')}'" in messages[0]


def test_good_tar_and_plain_file(server, tmp_path) -> None:
    server.files["/toy.tar.gz"] = _tar([_tarinfo("toy/a.txt"), _tarinfo("toy/link", b"2", "a.txt")])
    server.files["/readme.txt"] = b"hello"
    data_dir = tmp_path / "data"
    fetch_dataset(
        _manifest(
            UrlEntry(server.url("toy.tar.gz"), "toy.tar.gz", True),
            UrlEntry(server.url("readme.txt"), "readme.txt", False),
        ),
        data_dir,
        echo=lambda _: None,
    )
    assert (data_dir / "toy/a.txt").read_bytes() == b"payload"
    assert (data_dir / "toy/link").resolve() == (data_dir / "toy/a.txt").resolve()
    assert (data_dir / "readme.txt").read_bytes() == b"hello"


def test_corrupted_download_is_deleted_and_not_extracted(server, tmp_path) -> None:
    good = _zip(GOOD)
    server.files["/toy.zip"] = _zip({"toy/images/001.txt": b"tampered"})
    data_dir = tmp_path / "data"
    expected = hashlib.sha256(good).hexdigest()
    entry = UrlEntry(server.url("toy.zip"), "toy.zip", True, sha256=expected)
    with pytest.raises(ChecksumError) as info:
        fetch_dataset(_manifest(entry), data_dir, echo=lambda _: None)
    message = str(info.value)
    got = hashlib.sha256(server.files["/toy.zip"]).hexdigest()
    assert f"'{data_dir / DOWNLOADS / 'toy.zip'}'" in message
    assert f"expected {expected} but got {got}" in message
    assert "deleted" in message
    assert _files(data_dir) == set()


MALICIOUS = {
    "zip_dotdot": lambda t: _zip({"ok.txt": b"fine", "../evil.txt": b"evil"}),
    "zip_absolute": lambda t: _zip({"ok.txt": b"fine", f"{t}/abs_evil.txt": b"evil"}),
    "tar_dotdot": lambda t: _tar([_tarinfo("ok.txt"), _tarinfo("../evil.txt")]),
    "tar_absolute": lambda t: _tar([_tarinfo("ok.txt"), _tarinfo(f"{t}/abs_evil.txt")]),
    "tar_symlink_out": lambda t: _tar(
        [_tarinfo("ok.txt"), _tarinfo("sub/out", tarfile.SYMTYPE, "../../..")]
    ),
    "tar_hardlink_out": lambda t: _tar(
        [_tarinfo("ok.txt"), _tarinfo("hard", tarfile.LNKTYPE, "../evil.txt")]
    ),
    "tar_through_symlink": lambda t: _tar(
        [_tarinfo("ok.txt"), _tarinfo("d", tarfile.SYMTYPE, "."), _tarinfo("d/evil.txt")]
    ),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archive_writes_nothing(server, tmp_path, case) -> None:
    suffix = ".zip" if case.startswith("zip") else ".tar.gz"
    server.files[f"/bad{suffix}"] = MALICIOUS[case](tmp_path)
    data_dir = tmp_path / "data"
    entry = UrlEntry(server.url(f"bad{suffix}"), f"bad{suffix}", True)
    archive = re.escape(str(data_dir / DOWNLOADS / f"bad{suffix}"))
    with pytest.raises(DataError, match=rf"Archive '{archive}' member .* refusing"):
        fetch_dataset(_manifest(entry), data_dir, echo=lambda _: None)
    everything = _files(tmp_path)
    assert not any("evil" in name for name in everything)
    # Only the complete download and its record remain: no partial extraction, no staging folder.
    assert _files(data_dir) == {f"{DOWNLOADS}/bad{suffix}", f"{DOWNLOADS}/{RECORD}"}
    assert sorted(p.name for p in data_dir.iterdir()) == [DOWNLOADS]


def test_resume_uses_range_request(server, tmp_path) -> None:
    archive = _zip({"toy/big.bin": bytes(range(256)) * 400})
    server.files["/toy.zip"] = archive
    data_dir = tmp_path / "data"
    (data_dir / DOWNLOADS).mkdir(parents=True)
    (data_dir / DOWNLOADS / "toy.zip.part").write_bytes(archive[:1000])
    entry = UrlEntry(server.url("toy.zip"), "toy.zip", True, hashlib.sha256(archive).hexdigest())
    messages: list[str] = []
    fetch_dataset(_manifest(entry), data_dir, echo=messages.append)
    assert server.log == [("/toy.zip", "bytes=1000-")]
    assert any("Resuming 'toy.zip' from byte 1000" in m for m in messages)
    assert (data_dir / "toy/big.bin").stat().st_size == 256 * 400
    assert not (data_dir / DOWNLOADS / "toy.zip.part").exists()


def test_resume_restarts_when_server_ignores_range(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    server.ignore_range = True
    data_dir = tmp_path / "data"
    (data_dir / DOWNLOADS).mkdir(parents=True)
    (data_dir / DOWNLOADS / "toy.zip.part").write_bytes(archive[:100])
    entry = UrlEntry(server.url("toy.zip"), "toy.zip", True, hashlib.sha256(archive).hexdigest())
    messages: list[str] = []
    fetch_dataset(_manifest(entry), data_dir, echo=messages.append)
    assert server.log == [("/toy.zip", "bytes=100-")]
    assert any("ignored the resume request" in m for m in messages)
    assert (data_dir / DOWNLOADS / "toy.zip").read_bytes() == archive


def test_second_fetch_makes_no_request(server, tmp_path) -> None:
    server.files["/toy.zip"] = _zip(GOOD)
    data_dir = tmp_path / "data"
    manifest = _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True))
    fetch_dataset(manifest, data_dir, echo=lambda _: None)
    assert len(server.log) == 1
    messages: list[str] = []
    fetch_dataset(manifest, data_dir, echo=messages.append)
    assert len(server.log) == 1
    digest = hashlib.sha256(server.files["/toy.zip"]).hexdigest()
    assert messages == [
        f"File 'toy.zip' is already downloaded (sha256 {digest} recorded on first use, not "
        "verified against a published value); skipping it."
    ]


def test_missing_file_on_server_is_a_sentence(server, tmp_path) -> None:
    entry = UrlEntry(server.url("absent.zip"), "absent.zip", True)
    with pytest.raises(DataError, match="failed with HTTP 404"):
        fetch_dataset(_manifest(entry), tmp_path / "data", echo=lambda _: None)


def test_manifest_without_urls_explains_access(tmp_path) -> None:
    with pytest.raises(UsageError, match="has no public download"):
        fetch_dataset(_manifest(), tmp_path)


def test_rebase_url_keeps_path_and_query() -> None:
    url = "https://figshare.com/ndownloader/articles/3471833?private_link=abc"
    assert rebase_url(url, None) == url
    assert (
        rebase_url(url, "http://127.0.0.1:8000/mirror/")
        == "http://127.0.0.1:8000/mirror/ndownloader/articles/3471833?private_link=abc"
    )
    with pytest.raises(UsageError, match="--url-base"):
        rebase_url(url, "mirror.example.org")


def test_rar_without_unrar_tool_says_how_to_install(tmp_path, monkeypatch) -> None:
    rarfile = pytest.importorskip("rarfile")

    def no_tool(**_: object) -> None:
        raise rarfile.RarCannotExec("no tool")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    archive = tmp_path / "RawImage.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x00")
    with pytest.raises(DataError, match=r"needs an unrar tool.*apt-get install unrar"):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_check_members_accepts_links_inside() -> None:
    check_members([Member("a/b.txt", "file"), Member("a/link", "symlink", "b.txt")], Path("x.tar"))
    with pytest.raises(DataError, match="'a/link' is a link to '/etc/passwd'"):
        check_members([Member("a/link", "symlink", "/etc/passwd")], Path("x.tar"))


def test_cli_fetch_with_manifest_dir_and_url_base(server, tmp_path, monkeypatch, capsys) -> None:
    archive = _zip(GOOD)
    server.files["/files/toy.zip"] = archive
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    data = yaml.safe_load((manifest_dir() / "isbi2015.yaml").read_text())
    data.update(
        name="toy",
        urls=[
            {
                "url": "https://example.invalid/files/toy.zip",
                "filename": "toy.zip",
                "sha256": hashlib.sha256(archive).hexdigest(),
                "extract": True,
            }
        ],
    )
    (manifests / "toy.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setitem(cli.commands, "fetch", fetch_command)
    data_dir = tmp_path / "data"
    args = ["fetch", "toy", "--data-dir", str(data_dir), "--manifest-dir", str(manifests)]
    assert main([*args, "--url-base", server.base]) == 0
    assert (data_dir / "toy/labels/001.txt").read_bytes() == b"1,2\n"
    assert "Done: toy is in" in capsys.readouterr().out
    assert (
        main(["fetch", "tyo", "--data-dir", str(data_dir), "--manifest-dir", str(manifests)]) == 2
    )
    assert "Did you mean 'toy'?" in capsys.readouterr().err
