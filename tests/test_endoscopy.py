"""EndoVis 2015 and AdaptOR sutures adapters on miniature trees in their official layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.datasets.endoscopy.adaptor_sutures import AdaptORSutures
from landmarkbench.datasets.endoscopy.endovis2015 import CLASSES, EndoVis2015
from landmarkbench.datasets.endoscopy.tree import (
    ADAPTOR_FIXTURE,
    ADAPTOR_FIXTURE_SHAPE,
    ENDOVIS_FIXTURE,
    ENDOVIS_FIXTURE_SHAPE,
)
from landmarkbench.errors import DataError, UsageError


@pytest.fixture(scope="module")
def endovis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return EndoVis2015.write_fixture(tmp_path_factory.mktemp("endovis"))


@pytest.fixture(scope="module")
def adaptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return AdaptORSutures.write_fixture(tmp_path_factory.mktemp("adaptor"))


def _copy(tree: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tree, tmp_path / "copy"))


# ----------------------------------------------------------------------------- EndoVis 2015


def test_endovis_recovers_every_point_in_row_col_order(endovis: Path) -> None:
    dataset = EndoVis2015(data_dir=endovis)
    assert dataset.multi_instance and dataset.landmark_names == CLASSES
    for sequence, frames in ENDOVIS_FIXTURE.items():
        for basename, points in frames:
            case = dataset.load(f"{sequence}/{basename.removesuffix('.png')}")
            assert case.landmarks.shape == (0, 2)
            assert case.image_shape == ENDOVIS_FIXTURE_SHAPE == case.image.shape
            np.testing.assert_array_equal(case.spacing, [1.0, 1.0])
            assert Path(case.source).name == basename
            for name, found in zip(CLASSES, case.instances, strict=True):
                expected = [(y, x) for c, _, x, y in points if c == name]
                np.testing.assert_array_equal(found, np.reshape(expected, (-1, 2)))


def test_endovis_explicit_points_counts_and_ids(endovis: Path) -> None:
    dataset = EndoVis2015(data_dir=endovis)
    case = dataset.load("train1/img_000001_raw")
    counts = dict(zip(CLASSES, (len(i) for i in case.instances), strict=True))
    assert counts == {
        "LeftClasperPoint": 2,
        "RightClasperPoint": 1,
        "HeadPoint": 0,
        "ShaftPoint": 1,
        "EndPoint": 0,
        "TrackedPoint": 0,
    }
    np.testing.assert_array_equal(case.instances[0], [[27.1, 38.6], [30.25, 12.0]])
    assert case.extra["instance_ids"][0] == ("tool1", "tool2")
    no_ids = dataset.load("test5/img_0005_raw")
    assert no_ids.extra["instance_ids"][0] == (None, "tool1")
    empty = dataset.load("train1/img_000002_raw")
    assert [len(i) for i in empty.instances] == [0] * 6
    assert all(i.shape == (0, 2) for i in empty.instances)


def test_endovis_basenames_and_split(endovis: Path) -> None:
    dataset = EndoVis2015(data_dir=endovis)
    split = dataset.official_split()
    assert split["train"] == [
        "train1/img_000001_raw",
        "train1/img_000002_raw",
        "train2/img_000005_raw",  # labelled with a Windows path
        "train3/img_000010_raw",
        "train4/img_000100_raw",
    ]
    assert len(split["test"]) == 6 and dataset.case_ids() == sorted(dataset.case_ids())
    # The same 4-digit basename in two test sequences names two different frames.
    first, sixth = dataset.load("test1/img_0001_raw"), dataset.load("test6/img_0001_raw")
    assert Path(first.source).parts[-3] == "Dataset1"
    assert Path(sixth.source).parts[-4:-2] == ("Tracking_Robotic_Testing", "Dataset6")
    assert not np.array_equal(first.image, sixth.image)


def test_endovis_frames_dir_and_landmarker_names(endovis: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    for sequence, items in ENDOVIS_FIXTURE.items():
        for basename, _ in items:
            folder = "Training" if sequence.startswith("train") else "Testing"
            number = sequence.removeprefix("train").removeprefix("test")
            source = endovis / f"Tracking_Robotic_{folder}/Dataset{number}/frames/{basename}"
            target = frames / sequence / basename.replace("_raw", "")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    dataset = EndoVis2015(data_dir=endovis, frames_dir=frames)
    case = dataset.load("train1/img_000001_raw")
    assert case.source == str(frames / "train1" / "img_000001.png")
    assert case.image.shape == ENDOVIS_FIXTURE_SHAPE


def test_endovis_class_selection(endovis: Path) -> None:
    dataset = EndoVis2015(data_dir=endovis, classes="LeftClasperPoint,RightClasperPoint")
    case = dataset.load("train1/img_000001_raw")
    assert dataset.landmark_names == ("LeftClasperPoint", "RightClasperPoint")
    assert [len(i) for i in case.instances] == [2, 1]
    with pytest.raises(UsageError, match="classes must be"):
        EndoVis2015(data_dir=endovis, classes=["Tip"])
    with pytest.raises(UsageError, match="needs data_dir"):
        EndoVis2015()


def test_endovis_validate_tree_passes_a_sound_tree(endovis: Path) -> None:
    assert EndoVis2015.validate_tree(endovis) == []


def test_endovis_validate_tree_finds_planted_faults(endovis: Path, tmp_path: Path) -> None:
    root = _copy(endovis, tmp_path)
    (root / "test_labels/test3_labels.json").write_text("[{not json", encoding="utf-8")
    (root / "Tracking_Robotic_Training/Dataset2/frames/img_000005_raw.png").unlink()
    test1 = json.loads((root / "test_labels/test1_labels.json").read_text(encoding="utf-8"))
    test1[0]["annotations"][0].update(x=20.0, y=66.0)  # fits only with x and y swapped
    test1[0]["annotations"].append({"class": "Tip", "x": 1.0, "y": 1.0})
    (root / "test_labels/test1_labels.json").write_text(json.dumps(test1), encoding="utf-8")
    (root / "test_labels/test4_labels.json").unlink()
    test2 = json.loads((root / "test_labels/test2_labels.json").read_text(encoding="utf-8"))
    (root / "test_labels/test2_labels.json").write_text(json.dumps(test2 * 2), encoding="utf-8")
    problems = EndoVis2015.validate_tree(root)
    text = "\n".join(str(p) for p in problems)
    assert len(problems) == 6, text
    assert "test_labels/test2_labels.json: entry 1: frame img_0002_raw.png is listed twice" in text
    assert "test_labels/test3_labels.json: " in text and "not valid JSON" in text
    assert "Tracking_Robotic_Training/Dataset2/frames/img_000005_raw.png: frame image" in text
    assert "swapped" in text and "'Tip' is not one of" in text
    assert "test_labels/test4_labels.json" in text
    with pytest.raises(DataError, match=r"test1_labels.json' is malformed: .*'Tip'"):
        EndoVis2015(data_dir=root).case_ids()


# ----------------------------------------------------------------------------- AdaptOR


def test_adaptor_recovers_every_point(adaptor: Path) -> None:
    dataset = AdaptORSutures(data_dir=adaptor)
    assert dataset.case_ids() == sorted(ADAPTOR_FIXTURE)
    assert dataset.landmark_names == ("suture",) and dataset.match_radius_px == 6.0
    for case_id, points in ADAPTOR_FIXTURE.items():
        case = dataset.load(case_id)
        assert case.landmarks.shape == (0, 2) and len(case.instances) == 1
        expected = np.reshape([(y, x) for x, y in points], (-1, 2))
        np.testing.assert_array_equal(case.instances[0], expected)
        assert case.image.shape == case.image_shape == ADAPTOR_FIXTURE_SHAPE
        assert case.extra["declared_shape"] == ADAPTOR_FIXTURE_SHAPE
    assert len(dataset.load("surgery01/video01/000013").instances[0]) == 0


def test_adaptor_splits_keep_surgeries_whole(adaptor: Path) -> None:
    assert AdaptORSutures(data_dir=adaptor).official_split() is None
    assert AdaptORSutures(data_dir=adaptor).published_folds() is None
    split = AdaptORSutures(data_dir=adaptor, test_surgeries="surgery02").official_split()
    assert split["test"] == ["surgery02/video01/000007"]
    assert len(split["train"]) == 4
    folds = AdaptORSutures(data_dir=adaptor, surgery_folds=2).published_folds()
    groups = [{AdaptORSutures.group_of(c) for c in fold} for fold in folds]
    assert groups == [{"surgery01", "surgery03"}, {"surgery02"}]
    with pytest.raises(DataError, match="surgery09"):
        AdaptORSutures(data_dir=adaptor, test_surgeries=["surgery09"]).official_split()
    with pytest.raises(DataError, match="fewer"):
        AdaptORSutures(data_dir=adaptor, surgery_folds=4).published_folds()
    with pytest.raises(UsageError, match="surgery_folds"):
        AdaptORSutures(data_dir=adaptor, surgery_folds=1)


def test_adaptor_validate_tree_passes_a_sound_tree(adaptor: Path) -> None:
    assert AdaptORSutures.validate_tree(adaptor) == []


def test_adaptor_validate_tree_finds_planted_faults(adaptor: Path, tmp_path: Path) -> None:
    root = _copy(adaptor, tmp_path)
    (root / "surgery01/video01/point_labels/000012.json").write_text("{", encoding="utf-8")
    (root / "surgery01/video02/images/000001.png").unlink()
    outside = {"imageHeight": 36, "imageWidth": 64, "points": [{"x": 80.0, "y": 3.0}]}
    (root / "surgery03/video05/point_labels/000100.json").write_text(json.dumps(outside))
    wrong_size = {"imageHeight": 288, "imageWidth": 512, "points": []}
    (root / "surgery01/video01/point_labels/000013.json").write_text(json.dumps(wrong_size))
    (root / "surgery02/video01/point_labels/000007.json").unlink()
    problems = AdaptORSutures.validate_tree(root)
    by_path = {p.path: p.message for p in problems}
    assert set(by_path) == {
        "surgery01/video01/point_labels/000012.json",
        "surgery01/video02/images/000001.png",
        "surgery03/video05/point_labels/000100.json",
        "surgery01/video01/point_labels/000013.json",
        "surgery02/video01/images/000007.png",
    }
    assert "not valid JSON" in by_path["surgery01/video01/point_labels/000012.json"]
    assert "outside" in by_path["surgery03/video05/point_labels/000100.json"]
    assert "288 x 512" in by_path["surgery01/video01/point_labels/000013.json"]
    assert "no point_labels" in by_path["surgery02/video01/images/000007.png"]
    with pytest.raises(DataError, match="not valid JSON"):
        AdaptORSutures(data_dir=root).load("surgery01/video01/000012")
