"""Dataset manifests: every bundled manifest validates, and broken ones fail with a sentence."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from landmarkbench.acquire.manifest import (
    available_manifests,
    load_checksums,
    load_manifest,
    manifest_dir,
    read_checksums,
    sha256_of,
)
from landmarkbench.errors import DataError, ManifestError, UnknownNameError

EXPECTED_COUNTS = {
    "isbi2015": 19,
    "oai_pelvis": 8,
    "mml": 14,
    "endovis2015": 6,
    "adaptor_sutures": 1,
}


def test_manifest_dir_is_the_checkout_folder() -> None:
    assert manifest_dir() == Path(__file__).resolve().parents[1] / "datasets_manifest"
    assert set(EXPECTED_COUNTS) <= set(available_manifests())


@pytest.mark.parametrize("name", available_manifests())
def test_every_manifest_validates(name: str) -> None:
    manifest = load_manifest(name)
    assert manifest.name == name
    if name in EXPECTED_COUNTS:
        assert manifest.num_landmarks == EXPECTED_COUNTS[name]
    assert manifest.ground_truth.default in manifest.ground_truth.options
    for result in manifest.published_results:
        assert result.protocol in manifest.protocols
    # Real datasets have no known checksums: none may be invented.
    assert load_checksums(name) == {}


def test_isbi_facts() -> None:
    m = load_manifest("isbi2015")
    assert m.ndim == 2 and not m.multi_instance
    assert m.spacing.rule == "fixed" and m.spacing.value_mm == (0.1, 0.1)
    assert m.landmark_names[:2] == ("sella", "nasion")
    assert m.landmark_names[-1] == "articulare"
    assert m.landmark_names[15] == "soft_tissue_pogonion"
    assert m.ground_truth.options == ("senior", "junior", "mean", "challenge")
    assert m.ground_truth.default == "mean"
    assert m.coordinates.order == "xy"
    assert len(m.urls) == 1 and "figshare.com" in m.urls[0].url and m.urls[0].sha256 is None
    splits = {(r.method, r.split): r for r in m.published_results}
    assert splits[("FARNet", "test1")].mre_mm == 1.12
    assert splits[("FARNet", "test2")].sdr[2.5] == 84.42
    landmarker = splits[("SCN + adaptive Gaussian", "test2")]
    assert landmarker.ground_truth == "mean" and landmarker.mre_mm == 1.51


def test_other_datasets_have_no_direct_download() -> None:
    for name in ("oai_pelvis", "mml", "endovis2015", "adaptor_sutures"):
        m = load_manifest(name)
        assert m.urls == () and m.access
    assert load_manifest("oai_pelvis").coordinates.scale == 4.0
    assert load_manifest("oai_pelvis").protocols["kfold"]["seed"] == 1817
    assert load_manifest("mml").ndim == 3
    assert load_manifest("mml").spacing.rule == "per_case_file"
    assert load_manifest("endovis2015").multi_instance


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    """A copy of the ISBI manifest in a folder named like the real one."""
    folder = tmp_path / "datasets_manifest"
    folder.mkdir()
    shutil.copy(manifest_dir() / "isbi2015.yaml", folder / "isbi2015.yaml")
    return folder


def _edit(folder: Path, change) -> None:
    path = folder / "isbi2015.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _error(folder: Path) -> str:
    with pytest.raises(ManifestError) as info:
        load_manifest("isbi2015", folder)
    return str(info.value)


def test_wrong_type_names_file_field_and_fix(broken_dir: Path) -> None:
    _edit(broken_dir, lambda d: d["published_results"][2].update(mre_mm="abc"))
    assert _error(broken_dir) == (
        "Manifest 'datasets_manifest/isbi2015.yaml' field 'published_results[2].mre_mm' "
        "must be a number, got 'abc'; fix the YAML."
    )


def test_missing_field(broken_dir: Path) -> None:
    _edit(broken_dir, lambda d: d["spacing"].pop("rule"))
    message = _error(broken_dir)
    assert "'datasets_manifest/isbi2015.yaml' field 'spacing.rule' is missing" in message
    assert message.endswith("fix the YAML.")


def test_missing_top_level_field(broken_dir: Path) -> None:
    _edit(broken_dir, lambda d: d.pop("landmark_names"))
    assert "field 'landmark_names' is missing; fix the YAML." in _error(broken_dir)


def test_bad_enum_and_unknown_field(broken_dir: Path) -> None:
    _edit(broken_dir, lambda d: d["spacing"].update(rule="sometimes"))
    assert "field 'spacing.rule' must be one of fixed," in _error(broken_dir)
    _edit(broken_dir, lambda d: (d["spacing"].update(rule="fixed"), d.update(colour="red")))
    assert "field 'colour' is not a known field" in _error(broken_dir)


def test_cross_field_rules(broken_dir: Path) -> None:
    _edit(broken_dir, lambda d: d["published_results"][0].update(protocol="kfold"))
    message = _error(broken_dir)
    assert "field 'published_results[0].protocol' must name a protocol" in message
    _edit(
        broken_dir,
        lambda d: (
            d["published_results"][0].update(protocol="official"),
            d["ground_truth"].update(default="average"),
        ),
    )
    assert "field 'ground_truth.default' must be one of" in _error(broken_dir)


def test_bad_yaml_syntax(broken_dir: Path) -> None:
    (broken_dir / "isbi2015.yaml").write_text("name: [unclosed\n")
    assert "is not valid YAML at line" in _error(broken_dir)


def test_unknown_manifest_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'isbi2015'"):
        load_manifest("isbi2016")


def test_checksum_file_round_trip(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    path = tmp_path / "demo.sha256"
    path.write_text(f"# comment line\n\nimages/001.bmp {digest}\nwith space.txt  {digest} # x\n")
    assert read_checksums(path) == {"images/001.bmp": digest, "with space.txt": digest}
    assert load_checksums("demo", tmp_path) == read_checksums(path)
    assert load_checksums("absent", tmp_path) == {}


def test_malformed_checksum_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.sha256"
    path.write_text("images/001.bmp not-a-hash\n")
    with pytest.raises(ManifestError, match="line 1 must read"):
        read_checksums(path)


def test_sha256_of_streams_and_reports_read_errors(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256_of(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    with pytest.raises(DataError, match=r"missing\.bin"):
        sha256_of(tmp_path / "missing.bin")
    with pytest.raises(DataError, match="cannot be read"):
        sha256_of(tmp_path)
