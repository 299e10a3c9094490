"""Checking a downloaded ISBI 2015 tree, and writing miniature trees in its exact layout."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.datasets.isbi2015 import layout as files
from landmarkbench.datasets.real_data import (
    draw_landmark_dots,
    missing_file_problems,
    parse_id_list,
)
from landmarkbench.errors import DataError, UsageError

DEFAULT_FIXTURE_IDS = ("001", "002", "003", "151", "152", "301", "302")
# Options of the adapter that validate_tree accepts (and ignores) so callers may pass all.
_ADAPTER_OPTIONS = {"cv_split_dir", "challenge_file", "ground_truth", "data_dir"}


# ----------------------------------------------------------------------- validation


def validate_tree(data_dir: Path, checksum_file: str | Path | None = None, **options: Any) -> list:
    """Every problem of an ISBI 2015 tree; reads only, never raises for data problems.

    Checks that all 400 images and both annotators' files exist where the official layout
    puts them, the checksums (when known), that every image decodes, that every annotation
    file has 19 coordinate lines and 8 label lines, and that every landmark lies inside its
    image (shape from the image header).

    Args:
        data_dir: The folder holding ``RawImage/`` and ``AnnotationsByMD/``.
        checksum_file: A ``relative/path sha256`` file; default: the bundled
            ``datasets_manifest/isbi2015.sha256`` when it exists; "" skips checksums.
        **options: The adapter's own options (cv_split_dir, ...) are accepted; fold files
            in ``cv_split_dir`` are checked too.

    Returns:
        A list of ``validation.Problem`` (path relative to ``data_dir``).

    Raises:
        UsageError: for an unknown option or a data_dir that is not a folder.
    """
    from landmarkbench.acquire.validation import Problem

    unknown = sorted(set(options) - _ADAPTER_OPTIONS)
    if unknown:
        raise UsageError(
            f"validate_tree of isbi2015 got unknown option {unknown[0]!r}; it takes "
            f"checksum_file and the dataset options {', '.join(sorted(_ADAPTER_OPTIONS))}."
        )
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UsageError(f"ISBI 2015 data_dir '{data_dir}' is not a folder; pass the data folder.")
    problems: list[Problem] = []
    absent = absent_test_parts(data_dir)
    shapes = _check_images(data_dir, problems, absent)
    problems += shape_problems(shapes)
    for annotator in files.ANNOTATORS:
        _check_annotations(data_dir, annotator, shapes, problems, absent)
    problems += _checksum_problems(data_dir, checksum_file)
    if options.get("cv_split_dir"):
        try:
            files.read_fold_files(Path(options["cv_split_dir"]))
        except DataError as exc:
            problems.append(Problem(str(options["cv_split_dir"]), str(exc)))
    return problems


def absent_test_parts(data_dir: Path) -> tuple[str, ...]:
    """The test parts ("test1", "test2") of which neither an image nor an annotation file
    (of any annotator) is present: a training-only copy of the release, not a damaged one.
    Such a tree runs k-fold or hold-out protocols; the official split needs its test sets."""
    absent = []
    for split, (_folder, first, last) in files.SPLIT_FOLDERS.items():
        if split == "train":
            continue
        ids = [f"{number:03d}" for number in range(first, last + 1)]
        if any((data_dir / files.image_relpath(case_id)).is_file() for case_id in ids):
            continue
        folders = [files.annotation_folder(data_dir, a) for a in files.ANNOTATORS]
        if any((f / f"{case_id}.txt").is_file() for f in folders for case_id in ids):
            continue
        absent.append(split)
    return tuple(absent)


def validate_note(data_dir: Path, **_options: Any) -> str | None:
    """What ``validate`` adds to its verdict for a training-only tree (None otherwise)."""
    absent = absent_test_parts(Path(data_dir))
    if not absent:
        return None
    names = " and ".join(f"{files.SPLIT_FOLDERS[s][0]} ({s})" for s in absent)
    return (
        f"Note: {names} and their annotations are absent (a training-only copy), so the "
        "official protocol has no such test set here; run --protocol kfold or holdout on it."
    )


def _check_images(
    data_dir: Path, problems: list, absent: Sequence[str] = ()
) -> dict[str, tuple[int, ...]]:
    """Presence and decoding of every image (of the parts not ``absent``); returns the
    header shape of each good one."""
    from landmarkbench.acquire.validation import Problem
    from landmarkbench.imageio import read_image

    shapes = {}
    for split, (folder, first, last) in files.SPLIT_FOLDERS.items():
        if split in absent:
            continue
        missing = []
        for number in range(first, last + 1):
            relative = files.image_relpath(f"{number:03d}")
            path = data_dir / relative
            if not path.is_file():
                missing.append(relative)
                continue
            try:
                shapes[f"{number:03d}"] = read_image(path).array.shape
            except DataError as exc:
                problems.append(Problem(relative, str(exc)))
        problems += missing_file_problems(
            f"RawImage/{folder}", missing, last - first + 1, "image", "RawImage.rar"
        )
    return shapes


def _check_annotations(
    data_dir: Path,
    annotator: str,
    shapes: dict[str, tuple[int, ...]],
    problems: list,
    absent: Sequence[str] = (),
) -> None:
    from landmarkbench.acquire.validation import Problem

    folder = files.annotation_folder(data_dir, annotator)
    missing = []
    expected = [c for c in files.ALL_IDS if files.split_of(c) not in absent]
    for case_id in expected:
        path = folder / f"{case_id}.txt"
        relative = files.display_path(path, data_dir)
        if not path.is_file():
            missing.append(relative)
            continue
        try:
            annotation = files.read_annotation(path, relative)
        except DataError as exc:
            problems.append(Problem(relative, str(exc)))
            continue
        label_text = files.label_problem(annotation, relative)
        if label_text:
            problems.append(Problem(relative, label_text))
        if case_id in shapes:
            outside = annotation_problem(annotation, shapes[case_id])
            if outside:
                problems.append(Problem(relative, outside))
    problems += missing_file_problems(
        files.display_path(folder, data_dir),
        missing,
        len(expected),
        "annotation file",
        "AnnotationsByMD.rar",
    )


def annotation_problem(annotation: files.AnnotationFile, shape: tuple[int, ...]) -> str | None:
    """A sentence when a landmark of ``annotation`` lies outside its image of ``shape``
    (the rule ``validate`` and ``run`` share: ``validation.landmark_problem``)."""
    from landmarkbench.acquire.validation import landmark_problem

    return landmark_problem(
        annotation.landmarks,
        shape,
        "the file belongs to another image or is corrupt: re-extract AnnotationsByMD.rar.",
        line_of=annotation.line_of,
        missing_allowed=False,
    )


def shape_problems(shapes: dict[str, tuple[int, ...]]) -> list:
    """Images whose shape differs from the tree's usual one (all ISBI 2015 images share one
    grid, 2400 x 1935 in the release): a stray file from elsewhere, or a resized copy."""
    from collections import Counter

    from landmarkbench.acquire.validation import Problem

    if len(shapes) < 2:
        return []
    usual, count = Counter(tuple(s) for s in shapes.values()).most_common(1)[0]
    if count == 1:
        return []
    size = " x ".join(map(str, usual))
    return [
        Problem(
            files.image_relpath(case_id),
            f"is {' x '.join(map(str, shape))} pixels while {count} other images of this tree "
            f"are {size} (rows x cols; the release's are "
            f"{' x '.join(map(str, files.FULL_IMAGE_SHAPE))}); replace it with the original "
            "from RawImage.rar.",
        )
        for case_id, shape in sorted(shapes.items())
        if tuple(shape) != usual
    ]


def input_problems(data_dir: Path, case_ids: Sequence[str], annotators: Sequence[str]) -> list:
    """What ``run`` must refuse before training: image headers that disagree with the tree,
    annotation files that are malformed or put a landmark outside their image. Reads image
    headers and annotation files only (fast); ``validate_tree`` applies the same rules."""
    from landmarkbench.acquire.validation import Problem
    from landmarkbench.imageio import read_image_shape

    problems: list = []
    shapes = {}
    for case_id in case_ids:
        try:
            shapes[case_id] = read_image_shape(data_dir / files.image_relpath(case_id))
        except DataError as exc:
            problems.append(Problem(files.image_relpath(case_id), str(exc)))
    problems += shape_problems(shapes)
    for case_id, shape in shapes.items():
        for annotator in annotators:
            path = files.annotation_folder(data_dir, annotator) / f"{case_id}.txt"
            relative = files.display_path(path, data_dir)
            try:
                annotation = files.read_annotation(path, relative)
            except DataError as exc:
                problems.append(Problem(relative, str(exc)))
                continue
            outside = annotation_problem(annotation, shape)
            if outside:
                problems.append(Problem(relative, outside))
    return problems


def _checksum_problems(data_dir: Path, checksum_file: str | Path | None) -> list:
    from landmarkbench.acquire.manifest import load_checksums, read_checksums
    from landmarkbench.acquire.validation import Problem, check_checksums

    try:
        if checksum_file is None:
            checksums = load_checksums("isbi2015")
        elif str(checksum_file) == "":
            checksums = {}
        else:
            checksums = read_checksums(Path(checksum_file))
    except DataError as exc:
        return [Problem(str(checksum_file or "isbi2015.sha256"), str(exc))]
    return check_checksums(data_dir, checksums)


# ----------------------------------------------------------------------- fixtures


def write_fixture(
    root: Path,
    case_ids: str | Sequence[str] | None = None,
    annotations_dir: str | Path | None = None,
    image_shape: Sequence[int] = files.FULL_IMAGE_SHAPE,
    seed: int = 0,
    flat_annotations: bool = False,
) -> Path:
    """Write a miniature ISBI 2015 tree in the official layout and return ``root``.

    Images are 24-bit BMPs (three identical channels) with a bright dot at each senior
    landmark; annotation files have 19 integer ``x,y`` lines and 8 label lines with CRLF
    ends. With ``annotations_dir`` (a folder with ``senior.csv`` and ``junior.csv`` in mm,
    e.g. ``shared/data/isbi2015-annotations``) the real coordinates are written,
    ``round(mm * 10)`` pixels, multiplied by ``image_shape / (2400, 1935)`` per axis and
    rounded when the images are smaller than the originals. Otherwise landmarks are random
    inside the image and the junior annotation is the senior one plus a few pixels of noise.

    Args:
        root: Folder to write into (created).
        case_ids: Ids to write (a list or comma-separated text); default 3 train, 2 Test1
            and 2 Test2 ids.
        annotations_dir: Folder with the real annotations, or None for random ones.
        image_shape: (rows, cols) of the images; default the real 2400 x 1935.
        seed: Seed of the random image content and landmarks.
        flat_annotations: Put ``400_senior/`` and ``400_junior/`` at the top level instead
            of under ``AnnotationsByMD/`` (a variant some extractions produce).

    Raises:
        UsageError: for an unknown id, a bad shape or an annotations_dir without the tables.
    """
    from landmarkbench.imageio import write_image

    ids = parse_id_list(case_ids, DEFAULT_FIXTURE_IDS, files.ALL_IDS, "isbi2015")
    shape = _fixture_shape(image_shape)
    rng = np.random.default_rng(seed)
    real = _real_annotations(Path(annotations_dir), shape) if annotations_dir else None
    root = Path(root)
    for case_id in ids:
        senior, junior = (real[0][case_id], real[1][case_id]) if real else _random_pair(rng, shape)
        image = draw_landmark_dots(shape, senior, rng)
        write_image(root / files.image_relpath(case_id), image, rgb=True)
        labels = rng.integers(1, 5, size=files.NUM_LABEL_LINES)
        for annotator, landmarks in zip(files.ANNOTATORS, (senior, junior), strict=True):
            folder = root / f"400_{annotator}"
            if not flat_annotations:
                folder = root / "AnnotationsByMD" / f"400_{annotator}"
            folder.mkdir(parents=True, exist_ok=True)
            text = files.format_annotation(landmarks, labels)
            (folder / f"{case_id}.txt").write_bytes(text.encode("ascii"))
    return root


def _fixture_shape(image_shape: Sequence[int]) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        rows = cols = 0
    if rows < 8 or cols < 8:
        raise UsageError(
            f"isbi2015 fixture image_shape must be two integers (rows, cols) of at least 8, "
            f"got {image_shape!r}; use e.g. image_shape=240,194 (the real one is 2400,1935)."
        )
    return rows, cols


def _random_pair(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Senior landmarks inside the central 80 % of the image; junior a few pixels off."""
    high = np.array(shape) - 1
    senior = np.round(rng.uniform(0.1, 0.9, size=(files.NUM_LANDMARKS, 2)) * high)
    noise = np.round(rng.normal(0.0, max(1.0, min(shape) / 200), size=senior.shape))
    return senior, np.clip(senior + noise, 0, high)


def _real_annotations(
    folder: Path, shape: tuple[int, int]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(senior, junior) ``{id: (19, 2) (row, col) integer pixels}`` scaled into ``shape``."""
    scale = np.array(shape, dtype=float) / np.array(files.FULL_IMAGE_SHAPE)
    tables = []
    for annotator in files.ANNOTATORS:
        path = folder / f"{annotator}.csv"
        if not path.is_file():
            raise UsageError(
                f"annotations_dir '{folder}' has no {annotator}.csv; pass the folder of the "
                "real annotations (id,x1,y1,...,x19,y19 in mm), e.g. isbi2015-annotations."
            )
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and row[0].strip().isdigit()]
        table = {}
        for row in rows:
            xy_px = np.round(np.asarray(row[1:], dtype=float).reshape(-1, 2) * 10)
            rc_px = xy_px[:, ::-1]
            if not np.allclose(scale, 1.0):
                rc_px = np.clip(np.round(rc_px * scale), 0, np.array(shape) - 1)
            table[f"{int(row[0]):03d}"] = rc_px
        tables.append(table)
    return tables[0], tables[1]
