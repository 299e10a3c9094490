"""ISBI 2015 adapter: official layout, exact coordinates, ground truths, validation, fixtures."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

import landmarkbench.datasets.isbi2015.adapter  # noqa: F401  (registers the dataset)
from landmarkbench.cli.fixture_cmd import fixture_command
from landmarkbench.datasets.isbi2015.adapter import ISBI2015
from landmarkbench.errors import DataError, UsageError
from landmarkbench.evaluation.metrics import point_error_mm

ANNOTATIONS = Path(__file__).resolve().parents[1].parent / "shared/data/isbi2015-annotations"
needs_real_annotations = pytest.mark.skipif(
    not (ANNOTATIONS / "senior.csv").is_file(), reason="shared ISBI 2015 annotations absent"
)
SMALL = (40, 32)


def _known_rc(offset: int = 0) -> np.ndarray:
    """19 distinct (row, col) integer positions inside a 40 x 32 image (offset <= 1)."""
    k = np.arange(19)
    return np.stack([2 + 2 * k + offset, 1 + k + offset], axis=1).astype(float)


def _annotation_text(rc: np.ndarray, labels=(1, 2, 3, 1, 2, 3, 1, 2)) -> bytes:
    """Official text written by hand here (independent of the package's writer): x,y = col,row,
    CRLF line ends and trailing spaces."""
    lines = [f"{int(c)},{int(r)}  " for r, c in rc] + [f"{v} " for v in labels]
    return "\r\n".join(lines).encode() + b"\r\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return ISBI2015.write_fixture(tmp_path / "isbi", case_ids="001,151,301", image_shape=SMALL)


def test_known_landmarks_are_recovered_exactly_in_row_col_pixels_and_mm(tree: Path) -> None:
    senior, junior = _known_rc(0), _known_rc(1)
    (tree / "AnnotationsByMD/400_senior/151.txt").write_bytes(_annotation_text(senior))
    (tree / "AnnotationsByMD/400_junior/151.txt").write_bytes(_annotation_text(junior))

    case = ISBI2015(data_dir=str(tree), ground_truth="senior").load("151")
    np.testing.assert_array_equal(case.landmarks, senior)
    np.testing.assert_array_equal(case.extra["junior"], junior)
    np.testing.assert_array_equal(case.spacing, [0.1, 0.1])
    mean = ISBI2015(data_dir=str(tree)).load("151")
    np.testing.assert_array_equal(mean.landmarks, (senior + junior) / 2)
    # 3 rows and 4 columns off is 0.5 mm at 0.1 mm spacing, whatever the axis order.
    shifted = case.landmarks + np.array([3.0, 4.0])
    np.testing.assert_allclose(
        point_error_mm(shifted[None], case.landmarks[None], case.spacing), 0.5
    )
    pe = point_error_mm(senior[None], junior[None], case.spacing)
    np.testing.assert_allclose(pe, np.hypot(0.1, 0.1))


def test_image_is_lazy_single_channel_and_dots_sit_at_row_col(tree: Path) -> None:
    case = ISBI2015(data_dir=str(tree), ground_truth="senior").load("301")
    assert case.pixels is None and case.image_shape == SMALL
    assert case.source.endswith("RawImage/Test2Data/301.bmp")
    image = case.image
    assert image.shape == SMALL and image.dtype == np.float32
    rows, cols = case.landmarks.astype(int).T
    assert (image[rows, cols] == 255).all()
    assert Path(case.source).read_bytes()[28] == 24  # 24-bit BMP as the real release


@pytest.mark.parametrize("flat", [False, True])
def test_both_annotation_placements(tmp_path: Path, flat: bool) -> None:
    root = ISBI2015.write_fixture(
        tmp_path / "t", case_ids=["002"], image_shape=SMALL, flat_annotations=flat
    )
    assert (root / "400_senior").is_dir() == flat
    assert (root / "AnnotationsByMD/400_senior").is_dir() == (not flat)
    case = ISBI2015(data_dir=str(root), ground_truth="junior").load("002")
    assert case.landmarks.shape == (19, 2)
    assert ISBI2015.validate_tree(root, checksum_file="")[0].path.startswith("RawImage/")


def test_label_lines_are_ignored_and_lf_files_parse(tree: Path) -> None:
    rc = _known_rc(1)[::-1]
    text = "\n".join(f"{int(c)},{int(r)}" for r, c in rc) + "\n5\n7\n1\n2\n3\n4\n1\n2\n\n"
    (tree / "AnnotationsByMD/400_senior/001.txt").write_text(text)
    landmarks = ISBI2015(data_dir=str(tree), ground_truth="senior").load_annotations(
        "001", "senior"
    )
    np.testing.assert_array_equal(landmarks, rc)


def test_parse_errors_name_file_line_and_fix(tree: Path) -> None:
    dataset = ISBI2015(data_dir=str(tree), ground_truth="senior")
    path = tree / "AnnotationsByMD/400_senior/001.txt"
    lines = _annotation_text(_known_rc()).decode().split("\r\n")
    path.write_text("\r\n".join([*lines[:5], *lines[6:]]))
    with pytest.raises(DataError, match=r"'AnnotationsByMD/400_senior/001.txt' has 18 coordinate"):
        dataset.load("001")
    path.write_text("\r\n".join([*lines[:3], "12;x,40", *lines[4:]]))
    with pytest.raises(DataError, match=r"line 4 reads '12;x,40'.*Re-extract"):
        dataset.load("001")
    (tree / "AnnotationsByMD/400_junior/151.txt").unlink()
    with pytest.raises(DataError, match=r"400_junior/151\.txt' does not exist"):
        ISBI2015(data_dir=str(tree)).load("151")
    with pytest.raises(DataError, match="does not exist"):
        dataset.load("002")


def test_case_ids_and_official_split_follow_the_files_present(tree: Path) -> None:
    dataset = ISBI2015(data_dir=str(tree))
    assert dataset.case_ids() == ["001", "151", "301"]
    assert dataset.official_split() == {"train": ["001"], "test1": ["151"], "test2": ["301"]}
    assert dataset.published_folds() is None
    assert dataset.default_sdr_radii_mm == (2.0, 2.5, 3.0, 4.0)
    assert dataset.describe()["ground_truth"] == "mean"


def test_published_folds_are_read_from_the_given_folder(tree: Path, tmp_path: Path) -> None:
    folds_dir = tmp_path / "cv"
    folds_dir.mkdir()
    for k, ids in enumerate([["1", "2"], ["151"], ["301", "300"], ["400"]], start=1):
        (folds_dir / f"fold{k}.txt").write_text("\n".join(ids) + "\n")
    dataset = ISBI2015(data_dir=str(tree), cv_split_dir=str(folds_dir))
    assert dataset.published_folds() == [["001"], ["151"], ["301"], []]
    (folds_dir / "fold4.txt").unlink()
    with pytest.raises(DataError, match=r"fold4\.txt"):
        dataset.published_folds()


def test_options_are_checked_with_sentences(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs data_dir"):
        ISBI2015()
    with pytest.raises(UsageError, match="is not a folder"):
        ISBI2015(data_dir=str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="challenge_file"):
        ISBI2015(data_dir=str(tmp_path), ground_truth="challenge")
    with pytest.raises(UsageError, match="senior, junior"):
        ISBI2015(data_dir=str(tmp_path), ground_truth="doctor")


# ------------------------------------------------------------------ real annotations


def _read_mm(name: str) -> dict[str, np.ndarray]:
    with open(ANNOTATIONS / f"{name}.csv", newline="") as handle:
        return {
            row[0]: np.asarray(row[1:], dtype=float).reshape(19, 2) for row in csv.reader(handle)
        }


def _write_annotations_only(root: Path) -> None:
    """All 400 x 2 official annotation files (px = round(mm * 10)), no images."""
    for annotator in ("senior", "junior"):
        folder = root / "AnnotationsByMD" / f"400_{annotator}"
        folder.mkdir(parents=True)
        for case_id, xy_mm in _read_mm(annotator).items():
            xy = np.round(xy_mm * 10).astype(int)
            lines = [f"{x},{y}" for x, y in xy] + ["1"] * 8
            (folder / f"{case_id}.txt").write_text("\r\n".join(lines) + "\r\n")


@needs_real_annotations
def test_real_annotations_senior_vs_junior_and_challenge(tmp_path: Path) -> None:
    _write_annotations_only(tmp_path)
    ids = [f"{k:03d}" for k in range(1, 401)]
    senior_ds = ISBI2015(data_dir=str(tmp_path), ground_truth="senior")
    junior_ds = ISBI2015(data_dir=str(tmp_path), ground_truth="junior")
    challenge_ds = ISBI2015(
        data_dir=str(tmp_path),
        ground_truth="challenge",
        challenge_file=str(ANNOTATIONS / "challenge.csv"),
    )
    senior = np.stack([senior_ds.ground_truth_landmarks(i) for i in ids])
    junior = np.stack([junior_ds.ground_truth_landmarks(i) for i in ids])
    challenge = np.stack([challenge_ds.ground_truth_landmarks(i) for i in ids])

    np.testing.assert_array_equal(
        senior[0, :4], [[996, 835], [1029, 1473], [1279, 1289], [1228, 604]]
    )
    pe = point_error_mm(junior, senior, np.array([0.1, 0.1]))  # (400, 19)
    assert round(float(pe.mean()), 2) == 2.15
    assert round(float(pe[:, 15].mean()), 2) == 6.57

    differs = (challenge != senior).any(axis=2)
    assert differs[300:, 15].all()
    differs[300:, 15] = False
    assert not differs.any()
    # Landmark 16 on Test2 is an annotation of its own: neither annotator nor their mean.
    for other in (junior, (senior + junior) / 2):
        assert (challenge[300:, 15] != other[300:, 15]).any(axis=1).all()
    expected = np.stack([xy[:, ::-1] * 10 for xy in _read_mm("challenge").values()])
    np.testing.assert_allclose(challenge, expected, atol=1e-9)


@needs_real_annotations
def test_fixture_with_real_annotations_full_and_reduced_size(tmp_path: Path) -> None:
    full = ISBI2015.write_fixture(tmp_path / "full", case_ids=["001"], annotations_dir=ANNOTATIONS)
    case = ISBI2015(data_dir=str(full), ground_truth="senior").load("001")
    assert case.image_shape == (2400, 1935)
    np.testing.assert_array_equal(case.landmarks[0], [996, 835])
    small = ISBI2015.write_fixture(
        tmp_path / "small", case_ids=["001"], annotations_dir=ANNOTATIONS, image_shape=(240, 194)
    )
    reduced = ISBI2015(data_dir=str(small), ground_truth="senior").load("001").landmarks
    scale = np.array([240 / 2400, 194 / 1935])
    np.testing.assert_array_equal(reduced, np.round(case.landmarks * scale))


# ------------------------------------------------------------------ validate_tree


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(root.rglob("*"))
    }


def test_validate_tree_reports_all_five_planted_faults_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ISBI2015.write_fixture(
        tmp_path / "isbi", case_ids=[f"{k:03d}" for k in range(1, 401)], image_shape=(24, 20)
    )
    (root / "RawImage/TrainingData/010.bmp").unlink()
    truncated = root / "RawImage/Test1Data/160.bmp"
    truncated.write_bytes(truncated.read_bytes()[:200])
    short = root / "AnnotationsByMD/400_senior/017.txt"
    lines = short.read_bytes().split(b"\r\n")
    short.write_bytes(b"\r\n".join(lines[:4] + lines[5:]))
    outside = root / "AnnotationsByMD/400_junior/305.txt"
    outside.write_bytes(b"5000,12\r\n" + outside.read_bytes().split(b"\r\n", 1)[1])
    checksum_file = tmp_path / "isbi2015.sha256"
    checksum_file.write_text(
        "".join(
            f"{p.relative_to(root).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n"
            for p in sorted(root.rglob("*.*"))
        )
    )
    changed = root / "AnnotationsByMD/400_senior/002.txt"
    changed.write_bytes(changed.read_bytes().replace(b"\r\n", b" \r\n", 1))  # content only

    before = _snapshot(root)
    problems = ISBI2015.validate_tree(root, checksum_file=str(checksum_file))
    assert _snapshot(root) == before

    by_path = {p.path: p.message for p in problems}
    assert len(problems) == 5, problems
    assert "missing image" in by_path["RawImage/TrainingData/010.bmp"]
    assert "Cannot read BMP" in by_path["RawImage/Test1Data/160.bmp"]
    assert "18 coordinate lines" in by_path["AnnotationsByMD/400_senior/017.txt"]
    assert "outside" in by_path["AnnotationsByMD/400_junior/305.txt"]
    assert "sha256 mismatch" in by_path["AnnotationsByMD/400_senior/002.txt"]

    # The same through the command line: all five listed, exit 1, nothing written.
    from landmarkbench.cli.main import main

    args = ["validate", "isbi2015", "--data-dir", str(root)]
    assert main([*args, "--data-option", f"checksum_file={checksum_file}"]) == 1
    printed = capsys.readouterr().out
    for path in by_path:
        assert path in printed
    assert _snapshot(root) == before


def test_validate_tree_summarises_a_miniature_and_checks_labels(tree: Path) -> None:
    path = tree / "AnnotationsByMD/400_junior/001.txt"
    path.write_bytes(path.read_bytes().rsplit(b"\r\n", 2)[0] + b"\r\n")  # 7 label lines
    problems = ISBI2015.validate_tree(tree, checksum_file="", ground_truth="senior")
    messages = {p.path: p.message for p in problems}
    assert (
        "149 of 150 images are missing (002.bmp, 003.bmp, 004.bmp, ...)"
        in messages["RawImage/TrainingData"]
    )
    assert "397 of 400 annotation files" in messages["AnnotationsByMD/400_senior"]
    assert "7 label lines" in messages["AnnotationsByMD/400_junior/001.txt"]
    with pytest.raises(UsageError, match="unknown option 'colour'"):
        ISBI2015.validate_tree(tree, colour="red")


def test_a_training_only_tree_is_valid_with_a_note_and_a_partial_test_part_is_not(
    tmp_path: Path,
) -> None:
    train_only = ISBI2015.write_fixture(
        tmp_path / "train", case_ids=[f"{k:03d}" for k in range(1, 151)], image_shape=(24, 20)
    )
    assert ISBI2015.validate_tree(train_only, checksum_file="") == []
    note = ISBI2015.validate_note(train_only)
    assert "Test1Data (test1) and Test2Data (test2)" in note and "kfold or holdout" in note
    # One Test1 image present: Test1 is a damaged part, its 149 missing images are problems.
    partial = ISBI2015.write_fixture(
        tmp_path / "partial",
        case_ids=[f"{k:03d}" for k in range(1, 152)],
        image_shape=(24, 20),
    )
    messages = {p.path: p.message for p in ISBI2015.validate_tree(partial, checksum_file="")}
    assert "149 of 150 images are missing" in messages["RawImage/Test1Data"]
    assert "RawImage/Test2Data" not in messages
    assert ISBI2015.validate_note(partial).startswith("Note: Test2Data (test2) and")


# ------------------------------------------------------------------ fixture command


def test_fixture_command_writes_a_tree_and_suggests_next_commands(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mini"
    fixture_command.main(
        ["isbi2015", "--out", str(out), "--option", "image_shape=24,20", "--option", "case_ids=5"],
        standalone_mode=False,
    )
    printed = capsys.readouterr().out
    assert f"landmarkbench validate isbi2015 --data-dir {out}" in printed
    assert f"--data-dir {out}" in printed
    assert ISBI2015(data_dir=str(out)).case_ids() == ["005"]


def test_fixture_command_refuses_datasets_without_a_writer(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no fixture writer") as info:
        fixture_command.main(["synthetic_ceph", "--out", str(tmp_path)], standalone_mode=False)
    assert info.value.exit_code == 2
