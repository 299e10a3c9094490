"""The preprocessing cache: hits skip decoding, results equal the direct computation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.errors import DataError
from landmarkbench.imageio import read_image, read_image_shape, write_image
from landmarkbench.training.geometry import ResizePad
from landmarkbench.training.preprocess_cache import PreprocessCache, default_cache_root


class CountingReader:
    """An image_reader that counts how often the pixels were decoded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return read_image(self.path).array


def file_case(path: Path) -> tuple[Case, CountingReader]:
    reader = CountingReader(path)
    ndim = len(read_image_shape(path))
    case = Case(
        case_id=path.stem,
        landmarks=np.zeros((1, ndim)),
        spacing=np.ones(ndim),
        image_shape=read_image_shape(path),
        image_reader=reader,
        source=str(path),
    )
    return case, reader


def direct(case: Case, target: tuple[int, ...]) -> np.ndarray:
    image = torch.from_numpy(read_image(case.source).array)
    return ResizePad(case.shape, target).image_to_target(image).numpy()


@pytest.fixture
def image_2d(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "images" / "a.png"
    write_image(path, rng.integers(0, 255, (40, 30), dtype=np.uint8))
    return path


@pytest.fixture
def volume_3d(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    path = tmp_path / "images" / "v.nii.gz"
    write_image(path, rng.normal(size=(10, 12, 8)).astype(np.float32), spacing=(0.5, 0.8, 1.5))
    return path


def cache_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize(("fixture", "target"), [("image_2d", (32, 32)), ("volume_3d", (16,) * 3)])
def test_miss_then_hit_equals_direct(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str, target: tuple[int, ...]
) -> None:
    case, reader = file_case(request.getfixturevalue(fixture))
    cache = PreprocessCache(tmp_path / "cache")
    first = cache.network_image(case, target)
    second = cache.network_image(case, target)
    assert reader.calls == 1
    assert isinstance(second, np.memmap) and not second.flags.writeable
    assert first.dtype == np.float32 and first.shape == target
    np.testing.assert_array_equal(second, direct(case, target))
    assert len(cache_files(tmp_path / "cache")) == 1


def test_other_target_shape_is_another_entry(tmp_path: Path, image_2d: Path) -> None:
    case, reader = file_case(image_2d)
    cache = PreprocessCache(tmp_path / "cache")
    cache.network_image(case, (32, 32))
    cache.network_image(case, (16, 24))
    assert reader.calls == 2
    assert len(cache_files(tmp_path / "cache")) == 2


def test_changed_source_file_invalidates(tmp_path: Path, image_2d: Path) -> None:
    case, reader = file_case(image_2d)
    cache = PreprocessCache(tmp_path / "cache")
    before = np.array(cache.network_image(case, (32, 32)))
    write_image(image_2d, np.full((40, 30), 7, np.uint8))
    stat = image_2d.stat()  # make sure mtime moves even on coarse-clock file systems
    os.utime(image_2d, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = cache.network_image(case, (32, 32))
    assert reader.calls == 2
    assert not np.array_equal(before, after)
    np.testing.assert_allclose(after[:, 4:28], 7.0, atol=1e-4)  # the image, not the padding


def test_version_change_invalidates(tmp_path: Path, image_2d: Path) -> None:
    case, reader = file_case(image_2d)
    PreprocessCache(tmp_path / "cache", version="1").network_image(case, (32, 32))
    PreprocessCache(tmp_path / "cache", version="2").network_image(case, (32, 32))
    assert reader.calls == 2
    PreprocessCache(tmp_path / "cache", version="1").network_image(case, (32, 32))
    assert reader.calls == 2


def test_bumping_the_module_version_invalidates(
    tmp_path: Path, image_2d: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default cache (what training uses) follows PREPROCESSING_VERSION at creation."""
    import landmarkbench.training.preprocess_cache as module

    case, reader = file_case(image_2d)
    old_path = PreprocessCache(tmp_path / "cache").entry_path(case, (32, 32))
    PreprocessCache(tmp_path / "cache").network_image(case, (32, 32))
    assert reader.calls == 1 and old_path.is_file()
    monkeypatch.setattr(module, "PREPROCESSING_VERSION", module.PREPROCESSING_VERSION + "-next")
    bumped = PreprocessCache(tmp_path / "cache")
    assert bumped.entry_path(case, (32, 32)) != old_path
    bumped.network_image(case, (32, 32))
    assert reader.calls == 2  # recomputed, the old entry is not served


def test_failed_write_leaves_no_files(
    tmp_path: Path, image_2d: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _ = file_case(image_2d)
    cache = PreprocessCache(tmp_path / "cache")

    def broken_save(stream, array, allow_pickle=False) -> None:
        stream.write(b"\x93NUMPY partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(DataError, match=r"No space left.*LANDMARKBENCH_CACHE"):
        cache.network_image(case, (32, 32))
    assert cache_files(tmp_path / "cache") == []
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.network_image(case, (32, 32)), direct(case, (32, 32)))


def test_corrupt_entry_is_recomputed(tmp_path: Path, image_2d: Path) -> None:
    case, reader = file_case(image_2d)
    cache = PreprocessCache(tmp_path / "cache")
    path = cache.entry_path(case, (32, 32))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(cache.network_image(case, (32, 32)), direct(case, (32, 32)))
    assert reader.calls == 1


def test_in_memory_case_is_not_cached(tmp_path: Path) -> None:
    image = np.random.default_rng(2).random((20, 10)).astype(np.float32)
    case = Case.in_memory("s0", image, np.zeros((1, 2)), np.ones(2))
    cache = PreprocessCache(tmp_path / "cache")
    result = cache.network_image(case, (16, 16))
    expected = ResizePad((20, 10), (16, 16)).image_to_target(torch.from_numpy(image)).numpy()
    np.testing.assert_array_equal(result, expected)
    assert not (tmp_path / "cache").exists()


def test_shape_mismatch_is_a_data_error(tmp_path: Path, image_2d: Path) -> None:
    case, _ = file_case(image_2d)
    wrong = Case(
        case_id="bad",
        landmarks=case.landmarks,
        spacing=case.spacing,
        image_shape=(30, 40),
        image_reader=case.image_reader,
        source=case.source,
    )
    with pytest.raises(DataError, match="declares image shape"):
        PreprocessCache(tmp_path / "cache").network_image(wrong, (32, 32))


def test_default_root_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(tmp_path))
    assert default_cache_root() == tmp_path / "preprocessed"
    assert PreprocessCache().root == tmp_path / "preprocessed"
