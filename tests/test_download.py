"""``fetch`` downloads: short files refused, first-use hashes never called verified, damaged
archives named and downloaded again, and every bad input a sentence (local server only)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from test_fetch import GOOD, FileServer, _manifest, _zip

from landmarkbench.acquire.fetch import (
    DOWNLOADS,
    FIRST_USE,
    LEGACY_RECORD,
    RECORD,
    TRUST_NOTES,
    fetch_dataset,
)
from landmarkbench.acquire.manifest import UrlEntry, manifest_dir
from landmarkbench.cli.fetch_cmd import fetch_command
from landmarkbench.cli.main import cli, main
from landmarkbench.errors import DataError

MB = 1_000_000


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


def _records(data_dir: Path) -> dict:
    return json.loads((data_dir / DOWNLOADS / RECORD).read_text())


def _big_zip() -> bytes:
    """A zip of about 3 MB (stored, not compressed) holding GOOD plus incompressible bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as handle:
        for name, data in (GOOD | {"toy/noise.bin": os.urandom(3 * MB)}).items():
            handle.writestr(name, data)
    return out.getvalue()


def test_truncated_download_without_sha256_is_refused_and_deleted(server, tmp_path) -> None:
    archive = _big_zip()
    server.files["/toy.zip"] = archive[:MB]  # 1 MB of a promised ~3 MB, then the socket closes
    server.announce["/toy.zip"] = len(archive)
    data_dir = tmp_path / "data"
    manifest = _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True))
    messages: list[str] = []
    with pytest.raises(DataError) as info:
        fetch_dataset(manifest, data_dir, echo=messages.append)
    message = str(info.value)
    destination = data_dir / DOWNLOADS / "toy.zip"
    assert f"'{destination}'" in message
    assert f"announced {len(archive)} bytes (Content-Length) but {MB} arrived" in message
    assert "deleted" in message and "rerun the same fetch command" in message
    assert not destination.exists() and not destination.with_suffix(".zip.part").exists()
    assert not (data_dir / DOWNLOADS / RECORD).exists()
    assert not any("verified" in m and "not verified" not in m for m in messages)
    # Once the server sends the whole file, the same command completes.
    server.files["/toy.zip"] = archive
    del server.announce["/toy.zip"]
    fetch_dataset(manifest, data_dir, echo=messages.append)
    assert (data_dir / "toy/noise.bin").stat().st_size == 3 * MB


def test_resumed_transfer_that_ends_short_is_refused(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    server.announce["/toy.zip"] = len(archive) + 500
    data_dir = tmp_path / "data"
    (data_dir / DOWNLOADS).mkdir(parents=True)
    part = data_dir / DOWNLOADS / "toy.zip.part"
    part.write_bytes(archive[:100])
    entry = UrlEntry(server.url("toy.zip"), "toy.zip", True)
    with pytest.raises(DataError, match=rf"announced {len(archive) + 500} bytes"):
        fetch_dataset(_manifest(entry), data_dir, echo=lambda _: None)
    assert server.log == [("/toy.zip", "bytes=100-")]
    assert not part.exists()


def test_first_use_hash_is_printed_and_recorded_never_as_verified(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    digest = hashlib.sha256(archive).hexdigest()
    data_dir = tmp_path / "data"
    manifest = _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True))
    messages: list[str] = []
    fetch_dataset(manifest, data_dir, echo=messages.append)
    printed = [m for m in messages if digest in m]
    assert len(printed) == 1
    assert f"({len(archive)} bytes, the size the server announced)" in printed[0]
    assert "recorded on first use" in printed[0]
    assert "not verified against a published value" in printed[0]
    record = _records(data_dir)["toy.zip"]
    assert record == {
        "sha256": digest,
        "size": len(archive),
        "size_checked": True,
        "trust": FIRST_USE,
        "note": "sha256 recorded on first use, not verified against a published value",
        "extracted": True,
    }
    assert TRUST_NOTES[FIRST_USE] == record["note"]
    assert not (data_dir / DOWNLOADS / "verified.json").exists()
    messages.clear()
    fetch_dataset(manifest, data_dir, echo=messages.append)
    assert messages == [
        f"File 'toy.zip' is already downloaded (sha256 {digest} recorded on first use, not "
        "verified against a published value); skipping it."
    ]


def test_without_content_length_the_size_is_said_unchecked(server, tmp_path) -> None:
    server.files["/toy.zip"] = _zip(GOOD)
    server.omit_length = True
    data_dir = tmp_path / "data"
    messages: list[str] = []
    fetch_dataset(
        _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True)),
        data_dir,
        echo=messages.append,
    )
    assert any("announced no size, so it was not checked" in m for m in messages)
    assert _records(data_dir)["toy.zip"]["size_checked"] is False


def test_damaged_archive_names_the_file_and_rerun_downloads_it_again(server, tmp_path) -> None:
    good = _zip(GOOD)
    damaged = bytearray(good)
    damaged[-22:-18] = b"XXXX"  # break the end-of-central-directory signature; size unchanged
    server.files["/toy.zip"] = bytes(damaged)
    data_dir = tmp_path / "data"
    destination = data_dir / DOWNLOADS / "toy.zip"
    manifest = _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True))
    with pytest.raises(DataError) as info:
        fetch_dataset(manifest, data_dir, echo=lambda _: None)
    message = str(info.value)
    assert message.startswith(f"Archive '{destination}' is damaged (BadZipFile")
    assert f"delete '{destination}' and rerun the same fetch command" in message
    assert "toy.zip" not in _records(data_dir)
    # The user reruns without deleting anything: the damaged file is not reused.
    server.files["/toy.zip"] = good
    messages: list[str] = []
    fetch_dataset(manifest, data_dir, echo=messages.append)
    assert [path for path, _ in server.log] == ["/toy.zip", "/toy.zip"]
    assert any(m.startswith("Downloading file 'toy.zip'") for m in messages)
    assert destination.read_bytes() == good
    assert (data_dir / "toy/images/001.txt").read_bytes() == b"one"


def test_damaged_nested_archive_names_the_download_to_delete(server, tmp_path) -> None:
    server.files["/outer.zip"] = _zip({"inner.zip": b"PK\x03\x04 not really a zip"})
    data_dir = tmp_path / "data"
    entry = UrlEntry(server.url("outer.zip"), "outer.zip", True, extract_nested=("inner.zip",))
    with pytest.raises(DataError) as info:
        fetch_dataset(_manifest(entry), data_dir, echo=lambda _: None)
    outer = data_dir / DOWNLOADS / "outer.zip"
    message = str(info.value)
    assert f"Archive '{data_dir / 'inner.zip'}', extracted from '{outer}', is damaged" in message
    assert f"delete '{outer}'" in message
    assert "outer.zip" not in _records(data_dir)


def test_legacy_verified_record_is_not_trusted_without_a_published_hash(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    data_dir = tmp_path / "data"
    downloads = data_dir / DOWNLOADS
    downloads.mkdir(parents=True)
    short = archive[:50]  # what an older version could have called "verified"
    (downloads / "toy.zip").write_bytes(short)
    legacy = {"toy.zip": {"sha256": hashlib.sha256(short).hexdigest(), "size": 50}}
    (downloads / LEGACY_RECORD).write_text(json.dumps(legacy))
    messages: list[str] = []
    fetch_dataset(
        _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True)),
        data_dir,
        echo=messages.append,
    )
    assert any("written by an older landmarkbench" in m for m in messages)
    assert (downloads / "toy.zip").read_bytes() == archive
    assert not (downloads / LEGACY_RECORD).exists()


def test_legacy_record_matching_a_published_hash_is_kept(server, tmp_path) -> None:
    archive = _zip(GOOD)
    server.files["/toy.zip"] = archive
    digest = hashlib.sha256(archive).hexdigest()
    downloads = tmp_path / "data" / DOWNLOADS
    downloads.mkdir(parents=True)
    (downloads / "toy.zip").write_bytes(archive)
    record = {"sha256": digest, "size": len(archive), "extracted": False}
    (downloads / LEGACY_RECORD).write_text(json.dumps({"toy.zip": record}))
    fetch_dataset(
        _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True, sha256=digest)),
        tmp_path / "data",
        echo=lambda _: None,
    )
    assert server.log == []
    assert json.loads((downloads / RECORD).read_text())["toy.zip"]["trust"] == "published"


# --- bad inputs: exit code 1 or 2, a sentence naming the value or file, no internal error ---


@dataclass
class Env:
    server: FileServer
    tmp: Path
    manifests: Path
    data: Path

    def manifest(self, filename: str = "toy.zip", **fields: object) -> None:
        """Write manifests/toy.yaml with one download (a real manifest's other fields)."""
        data = yaml.safe_load((manifest_dir() / "isbi2015.yaml").read_text())
        url = {"url": f"https://example.invalid/files/{filename}", "filename": filename}
        data.update(name="toy", urls=[{**url, "extract": True, **fields}])
        (self.manifests / "toy.yaml").write_text(yaml.safe_dump(data))

    def args(self, *extra: str, dataset: str = "toy") -> list[str]:
        return [
            "fetch",
            dataset,
            "--data-dir",
            str(self.data),
            "--manifest-dir",
            str(self.manifests),
            "--url-base",
            self.server.base,
            *extra,
        ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unknown_dataset(env: Env) -> tuple[list[str], list[str]]:
    env.manifest()
    return env.args(dataset="tyo"), ["Unknown dataset manifest 'tyo'", "Did you mean 'toy'?"]


def _no_public_download(env: Env) -> tuple[list[str], list[str]]:
    return ["fetch", "mml", "--data-dir", str(env.data)], ["'mml' has no public download"]


def _url_base_without_scheme(env: Env) -> tuple[list[str], list[str]]:
    env.manifest()
    args = env.args()
    args[-1] = "mirror.example.org"
    return args, ["--url-base 'mirror.example.org' must start with a scheme"]


def _unreachable_loopback(env: Env) -> tuple[list[str], list[str]]:
    env.manifest()
    port = _closed_port()
    args = env.args()
    args[-1] = f"http://127.0.0.1:{port}"
    return args, [f"Cannot reach 'http://127.0.0.1:{port}/files/toy.zip'"]


def _missing_on_server(env: Env) -> tuple[list[str], list[str]]:
    env.manifest()
    return env.args(), [f"'{env.server.base}/files/toy.zip' failed with HTTP 404"]


def _truncated(env: Env) -> tuple[list[str], list[str]]:
    archive = _zip(GOOD)
    env.server.files["/files/toy.zip"] = archive[:100]
    env.server.announce["/files/toy.zip"] = len(archive)
    env.manifest()
    where = env.data / DOWNLOADS / "toy.zip"
    return env.args(), [f"download of '{where}'", f"announced {len(archive)} bytes"]


def _wrong_checksum(env: Env) -> tuple[list[str], list[str]]:
    env.server.files["/files/toy.zip"] = _zip(GOOD)
    env.manifest(sha256="0" * 64)
    where = env.data / DOWNLOADS / "toy.zip"
    return env.args(), [f"file '{where}'", f"expected {'0' * 64} but got"]


def _damaged_archive(env: Env) -> tuple[list[str], list[str]]:
    env.server.files["/files/toy.zip"] = b"<html>not a zip</html>"
    env.manifest()
    where = env.data / DOWNLOADS / "toy.zip"
    return env.args(), [f"Archive '{where}' is damaged", f"delete '{where}'"]


def _malicious_archive(env: Env) -> tuple[list[str], list[str]]:
    env.server.files["/files/toy.zip"] = _zip({"ok.txt": b"fine", "../evil.txt": b"evil"})
    env.manifest()
    where = env.data / DOWNLOADS / "toy.zip"
    return env.args(), [f"Archive '{where}' member '../evil.txt' has a '..' component"]


def _not_an_archive(env: Env) -> tuple[list[str], list[str]]:
    env.server.files["/files/toy.bin"] = b"plain bytes"
    env.manifest(filename="toy.bin")
    where = env.data / DOWNLOADS / "toy.bin"
    return env.args(), [f"File '{where}' is not a zip, tar or rar archive"]


def _target_under_a_file(env: Env) -> tuple[list[str], list[str]]:
    env.server.files["/files/toy.zip"] = _zip(GOOD)
    env.manifest()
    blocker = env.tmp / "blocker.txt"
    blocker.write_text("a file, not a folder")
    env.data = blocker / "data"
    return env.args(), [f"Cannot create the download folder '{env.data / DOWNLOADS}'"]


def _target_is_a_file(env: Env) -> tuple[list[str], list[str]]:
    env.manifest()
    env.data.write_text("a file")
    return env.args(), [f"Directory '{env.data}' is a file"]


def _missing_manifest_dir(env: Env) -> tuple[list[str], list[str]]:
    args = env.args()
    args[args.index("--manifest-dir") + 1] = str(env.tmp / "nowhere")
    return args, [f"Directory '{env.tmp / 'nowhere'}' does not exist"]


def _broken_manifest(env: Env) -> tuple[list[str], list[str]]:
    (env.manifests / "toy.yaml").write_text("name: toy\nurls: [\n")
    return env.args(), ["Manifest 'manifests/toy.yaml' is not valid YAML"]


def _manifest_with_bad_sha256(env: Env) -> tuple[list[str], list[str]]:
    env.manifest(sha256="abc")
    return env.args(), ["field 'urls[0].sha256' must match the pattern", "'abc'"]


BAD_INPUTS: dict[str, tuple[Callable[[Env], tuple[list[str], list[str]]], int]] = {
    "unknown_dataset": (_unknown_dataset, 2),
    "no_public_download": (_no_public_download, 2),
    "url_base_without_scheme": (_url_base_without_scheme, 2),
    "unreachable_url_on_loopback": (_unreachable_loopback, 1),
    "missing_on_server": (_missing_on_server, 1),
    "truncated_file": (_truncated, 1),
    "wrong_checksum": (_wrong_checksum, 1),
    "damaged_archive": (_damaged_archive, 1),
    "malicious_archive": (_malicious_archive, 1),
    "not_an_archive": (_not_an_archive, 1),
    "unwritable_target_folder": (_target_under_a_file, 1),
    "target_is_a_file": (_target_is_a_file, 2),
    "missing_manifest_dir": (_missing_manifest_dir, 2),
    "broken_manifest_yaml": (_broken_manifest, 1),
    "manifest_sha256_malformed": (_manifest_with_bad_sha256, 1),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_fetch_bad_input_is_one_sentence(case, server, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(cli.commands, "fetch", fetch_command)
    env = Env(server, tmp_path, tmp_path / "manifests", tmp_path / "data")
    env.manifests.mkdir()
    build, code = BAD_INPUTS[case]
    args, fragments = build(env)
    assert main(args) == code
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert "internal error" not in said and "Traceback" not in said
    for fragment in fragments:
        assert fragment in said, (fragment, said)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_target_folder_is_refused_before_downloading(server, tmp_path) -> None:
    server.files["/toy.zip"] = _zip(GOOD)
    data_dir = tmp_path / "data"
    (data_dir / DOWNLOADS).mkdir(parents=True)
    (data_dir / DOWNLOADS).chmod(0o500)
    try:
        with pytest.raises(DataError, match="is not writable"):
            fetch_dataset(
                _manifest(UrlEntry(server.url("toy.zip"), "toy.zip", True)),
                data_dir,
                echo=lambda _: None,
            )
    finally:
        (data_dir / DOWNLOADS).chmod(0o700)
    assert server.log == []
