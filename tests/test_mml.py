"""The MML adapter on miniature trees written in the official mmld_dataset layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landmarkbench.datasets.mml.adapter import MML
from landmarkbench.datasets.mml.tree import (
    FIXTURE_BRIGHT,
    FIXTURE_CASES,
    FIXTURE_MISSING_CASE,
    FIXTURE_MISSING_ROWS,
)
from landmarkbench.errors import DataError, UsageError

ALL_IDS = sorted(f"{s}/{c}" for s, cases in FIXTURE_CASES.items() for c in cases)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return MML.write_fixture(tmp_path_factory.mktemp("mml"))


def _expected_spacing(case_id: str) -> np.ndarray:
    """The fixture's spacing, in array order: (0.3, 0.4, 0.5) x (1 + 0.1 x case number)."""
    number = int(case_id.split("/")[1]) - 1
    return np.array([0.3, 0.4, 0.5]) * (1.0 + 0.1 * number)


def _is_brightest(volume: np.ndarray, point: np.ndarray) -> bool:
    voxel = np.round(point).astype(int)
    if np.any(voxel < 0) or np.any(voxel >= volume.shape):
        return False
    return bool(volume[tuple(voxel)] == volume.max())


@pytest.mark.parametrize("volume_format", ["nrrd", "npy"])
@pytest.mark.parametrize("label_axes", ["ijk", "kji", "jki"])
def test_landmarks_sit_on_the_bright_voxels(
    tmp_path: Path, volume_format: str, label_axes: str
) -> None:
    root = MML.write_fixture(tmp_path, volume_format=volume_format, label_axes=label_axes)
    dataset = MML(data_dir=root, label_axes=label_axes)
    assert dataset.case_ids() == ALL_IDS
    for case_id in ALL_IDS:
        case = dataset.load(case_id)
        volume = case.image
        assert volume.shape == case.image_shape == (12, 14, 10)
        assert case.source.endswith(f"{case_id}_volume.{volume_format}")
        present = case.landmarks[~np.isnan(case.landmarks).any(axis=1)]
        assert all(_is_brightest(volume, p) for p in present)
        # Every bright voxel is one landmark: nothing was lost or moved.
        bright = {tuple(v) for v in np.argwhere(volume == FIXTURE_BRIGHT).tolist()}
        assert bright == {tuple(np.round(p).astype(int).tolist()) for p in present}
        # Exact continuous coordinates: the label columns mapped to array axes by hand.
        label = np.load(root / f"{case_id}_label.npy")
        column_of_axis = [label_axes.index(letter) for letter in "ijk"]
        expected = label[:, column_of_axis]
        expected[~np.all(expected > 0, axis=1)] = np.nan
        np.testing.assert_array_equal(case.landmarks, expected)


@pytest.mark.parametrize("wrong", ["kji", "ikj", "jik", "jki", "kij"])
def test_a_wrong_axis_mapping_misses_the_bright_voxels(tree: Path, wrong: str) -> None:
    dataset = MML(data_dir=tree, label_axes=wrong, spacing_axes="ijk")
    case = dataset.load("train/0001")
    volume = case.image
    assert not any(_is_brightest(volume, p) for p in case.landmarks)


def test_point_error_in_mm_uses_per_axis_spacing(tree: Path) -> None:
    dataset = MML(data_dir=tree.parent)  # the parent of mmld_dataset/ works too
    for case_id in ALL_IDS:
        case = dataset.load(case_id)
        np.testing.assert_allclose(case.spacing, _expected_spacing(case_id), rtol=1e-12)
        truth = case.landmarks
        for axis in range(3):
            shifted = truth.copy()
            shifted[:, axis] += 2.0
            pe = np.linalg.norm(case.spacing * (shifted - truth), axis=1)
            present = ~np.isnan(truth).any(axis=1)
            np.testing.assert_allclose(pe[present], 2.0 * case.spacing[axis])
            assert np.isnan(pe[~present]).all()


def test_missing_landmarks_are_nan(tree: Path) -> None:
    case = MML(data_dir=tree).load(FIXTURE_MISSING_CASE)
    missing = np.isnan(case.landmarks).any(axis=1)
    assert sorted(np.flatnonzero(missing)) == sorted(FIXTURE_MISSING_ROWS)
    assert np.isnan(case.landmarks[missing]).all()
    assert case.landmarks.shape == (14, 3)


def test_subsets(tree: Path) -> None:
    assert MML(data_dir=tree, subset="full").case_ids() == [
        c for c in ALL_IDS if c != FIXTURE_MISSING_CASE
    ]
    mini = MML(data_dir=tree, subset="mini", mini_cases=1).case_ids()
    assert mini == ["test/0006", "train/0001", "val/0004"]
    assert MML(data_dir=tree, subset="mini", mini_cases=2).options()["subset"] == "mini"


def test_official_split_keeps_val_apart(tree: Path) -> None:
    dataset = MML(data_dir=tree)
    assert dataset.official_split() == {
        "train": ["train/0001", "train/0002", "train/0003"],
        "test": ["test/0006", "test/0007"],
    }
    assert dataset.validation_ids() == ["val/0004", "val/0005"]
    with_val = MML(data_dir=tree, report_validation=True).official_split()
    assert with_val["val"] == ["val/0004", "val/0005"]


def test_spacing_source_is_a_recorded_choice(tmp_path: Path) -> None:
    root = MML.write_fixture(tmp_path)
    np.save(root / "train/0001_spacing.npy", np.array([1.0, 1.0, 1.0]))  # a stale spacing
    from_file = MML(data_dir=root).load("train/0001")
    from_header = MML(data_dir=root, spacing_source="header").load("train/0001")
    np.testing.assert_array_equal(from_file.spacing, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(from_header.spacing, _expected_spacing("train/0001"))
    assert from_header.extra["spacing_source"] == "header"
    assert MML(data_dir=root, spacing_source="header").options()["spacing_source"] == "header"


def test_header_spacing_needs_a_header(tmp_path: Path) -> None:
    root = MML.write_fixture(tmp_path, volume_format="npy")
    with pytest.raises(DataError, match="spacing_source='file'"):
        MML(data_dir=root, spacing_source="header").load("train/0001")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs data_dir"),
        ({"data_dir": ".", "label_axes": "xyz"}, "permutation of 'ijk'"),
        ({"data_dir": ".", "subset": "tiny"}, "subset must be one of"),
        ({"data_dir": ".", "spacing_source": "guess"}, "spacing_source must be one of"),
        ({"data_dir": ".", "mini_cases": 0}, "mini_cases"),
    ],
)
def test_bad_options_are_usage_errors(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MML(**options)


def test_wrong_folder_and_unknown_case(tmp_path: Path, tree: Path) -> None:
    with pytest.raises(DataError, match="neither mmld_dataset"):
        MML(data_dir=tmp_path)
    with pytest.raises(DataError, match="not an MML case"):
        MML(data_dir=tree).load("train/9999")


def test_validate_tree_passes_a_sound_tree(tree: Path) -> None:
    assert MML.validate_tree(tree) == []
    assert MML.validate_tree(tree.parent) == []


def test_validate_tree_finds_planted_faults(tmp_path: Path) -> None:
    root = MML.write_fixture(tmp_path)
    (root / "test/0006_volume.nrrd").unlink()
    label = np.load(root / "train/0003_label.npy")
    label[0] = [50.0, 5.0, 5.0]
    np.save(root / "train/0003_label.npy", label)
    (root / "val/0004_label.npy").write_bytes(b"not an array")
    (root / "val/0005_volume.nrrd").write_bytes(b"NRRD0004\ngarbage\n")
    (root / "train/0001_spacing.npy").unlink()
    problems = MML.validate_tree(tmp_path)
    by_path = {p.path: p.message for p in problems}
    assert set(by_path) == {
        "mmld_dataset/test/0006_volume.nrrd",
        "mmld_dataset/train/0003_label.npy",
        "mmld_dataset/val/0004_label.npy",
        "mmld_dataset/val/0005_volume.nrrd",
        "mmld_dataset/train/0001_spacing.npy",
    }
    assert "missing" in by_path["mmld_dataset/test/0006_volume.nrrd"]
    assert "L1" in by_path["mmld_dataset/train/0003_label.npy"]
    assert "outside" in by_path["mmld_dataset/train/0003_label.npy"]


def test_validate_tree_reports_a_missing_root(tmp_path: Path) -> None:
    problems = MML.validate_tree(tmp_path / "nowhere")
    assert len(problems) == 1 and "mmld_dataset" in problems[0].message
