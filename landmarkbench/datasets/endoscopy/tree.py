"""Checking EndoVis 2015 and AdaptOR trees on disk, and writing miniature ones to test with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.datasets.endoscopy.layout import (
    SEQUENCES,
    label_file,
    parse_label_file,
    parse_point_label,
    video_folder,
)
from landmarkbench.datasets.endoscopy.points import decoded_shape, outside_points, shown_path
from landmarkbench.errors import DataError


class EndoVisTree(Protocol):
    """What ``validate_endovis_tree`` reads of an ``EndoVis2015`` dataset (this module does
    not import the adapters, which import it)."""

    data_dir: Path

    def frame_path(self, sequence: str, basename: str) -> Path: ...


class AdaptORTree(Protocol):
    """What ``validate_adaptor_tree`` reads of an ``AdaptORSutures`` dataset."""

    data_dir: Path

    def case_ids(self) -> list[str]: ...

    def paths(self, case_id: str) -> tuple[Path, Path]: ...


# EndoVis fixture: per sequence, frames (basename, [(class, id or None, x, y), ...]) on
# 72 x 58 frames (the real 720 x 576 scaled by 0.1). Ids None are written without "id".
ENDOVIS_FIXTURE_SHAPE = (58, 72)
ENDOVIS_FIXTURE: dict[str, list[tuple[str, list[tuple[str, str | None, float, float]]]]] = {
    "train1": [
        (
            "img_000001_raw.png",
            [
                ("LeftClasperPoint", "tool1", 38.6, 27.1),
                ("RightClasperPoint", "tool1", 40.0, 29.5),
                ("LeftClasperPoint", "tool2", 12.0, 30.25),
                ("ShaftPoint", "tool1", 50.0, 20.0),
            ],
        ),
        ("img_000002_raw.png", []),
    ],
    "train2": [("img_000005_raw.png", [("HeadPoint", "tool1", 10.5, 44.0)])],
    "train3": [
        (
            "img_000010_raw.png",
            [("EndPoint", "tool2", 70.0, 5.0), ("TrackedPoint", "tool2", 35.0, 57.0)],
        )
    ],
    "train4": [("img_000100_raw.png", [("LeftClasperPoint", "tool1", 0.0, 0.0)])],
    "test1": [("img_0001_raw.png", [("RightClasperPoint", "tool2", 66.5, 12.0)])],
    "test2": [("img_0002_raw.png", [("HeadPoint", "tool1", 33.0, 33.0)])],
    "test3": [("img_0003_raw.png", [])],
    "test4": [("img_0004_raw.png", [("ShaftPoint", "tool1", 1.0, 56.0)])],
    "test5": [
        (
            "img_0005_raw.png",
            [("LeftClasperPoint", None, 20.0, 21.0), ("LeftClasperPoint", "tool1", 22.5, 23.5)],
        )
    ],
    "test6": [("img_0001_raw.png", [("RightClasperPoint", None, 71.0, 57.0)])],
}
# Sequence train2 is written with a Windows path, the others with POSIX annotator paths.
ENDOVIS_WINDOWS_SEQUENCE = "train2"

# AdaptOR fixture: case id -> [(x, y), ...] on 64 x 36 frames (512 x 288 scaled by 1/8).
ADAPTOR_FIXTURE_SHAPE = (36, 64)
ADAPTOR_FIXTURE: dict[str, list[tuple[float, float]]] = {
    "surgery01/video01/000012": [(10.0, 5.5), (60.25, 30.0)],
    "surgery01/video01/000013": [],
    "surgery01/video02/000001": [(3.0, 33.0)],
    "surgery02/video01/000007": [(63.0, 35.0), (0.0, 0.0), (31.5, 17.5)],
    "surgery03/video05/000100": [(40.0, 2.0)],
}


def validate_endovis_tree(dataset: EndoVisTree) -> list[Problem]:
    """Every problem of an EndoVis 2015 tree: label files, frames, points inside frames."""
    base = dataset.data_dir
    problems: list[Problem] = []
    for sequence in SEQUENCES:
        path = label_file(base, sequence)
        try:
            frames, messages = parse_label_file(path)
        except DataError as error:
            problems.append(Problem(shown_path(path, base), str(error)))
            continue
        problems.extend(Problem(shown_path(path, base), m) for m in messages)
        if not frames:
            problems.append(Problem(shown_path(path, base), "lists no frames."))
        for frame in frames:
            image = dataset.frame_path(sequence, frame.basename)
            shape = decoded_shape(image, shown_path(image, base), problems)
            if shape is None:
                continue
            points = [
                (f"{name} #{k}", row, col)
                for name, rows_cols in frame.points.items()
                for k, (row, col) in enumerate(rows_cols)
            ]
            problems.extend(
                Problem(shown_path(path, base), f"frame {frame.basename}: {message}")
                for message in outside_points(points, shape)
            )
    return problems


def validate_adaptor_tree(dataset: AdaptORTree) -> list[Problem]:
    """Every problem of an AdaptOR tree: labels, frames, declared sizes, points inside."""
    base = dataset.data_dir
    if not base.is_dir():
        return [Problem(".", f"data folder '{base}' does not exist; extract AdaptOR there.")]
    problems: list[Problem] = []
    ids = dataset.case_ids()
    if not ids:
        problems.append(Problem(".", "holds no <surgery>/<video>/point_labels/*.json files."))
    for image in sorted(base.glob("*/*/images/*.png")):
        if not (image.parent.parent / "point_labels" / f"{image.stem}.json").is_file():
            problems.append(Problem(shown_path(image, base), "frame has no point_labels JSON."))
    for case_id in ids:
        image, label = dataset.paths(case_id)
        shown = shown_path(label, base)
        try:
            points, declared = parse_point_label(label)
        except DataError as error:
            problems.append(Problem(shown, str(error)))
            continue
        shape = decoded_shape(image, shown_path(image, base), problems)
        if shape is None:
            continue
        if declared is not None and declared != shape:
            problems.append(
                Problem(
                    shown,
                    f"declares imageHeight x imageWidth {declared[0]} x {declared[1]} but the "
                    f"frame is {shape[0]} x {shape[1]}; the label belongs to another frame size.",
                )
            )
        labelled = [(f"#{k}", row, col) for k, (row, col) in enumerate(points)]
        problems.extend(Problem(shown, m) for m in outside_points(labelled, shape))
    return problems


def _noise_frame(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def write_endovis_fixture(
    root: Path, frames_subdir: str = "frames", shape: tuple[int, int] = ENDOVIS_FIXTURE_SHAPE
) -> Path:
    """Write a miniature EndoVis 2015 tree (labels and extracted PNG frames); return root.

    Points are ``ENDOVIS_FIXTURE`` (coordinates for 72 x 58 frames); label files name frames
    by absolute annotator paths, one sequence with Windows separators.
    """
    from landmarkbench.imageio import write_image

    rng = np.random.default_rng(0)
    for sequence, frames in ENDOVIS_FIXTURE.items():
        kind = "train" if sequence.startswith("train") else "test"
        folder = video_folder(root, sequence)
        entries = []
        for basename, points in frames:
            annotator = f"/home/annotator/EndoVis/{folder.parent.name}/{folder.name}/{basename}"
            if sequence == ENDOVIS_WINDOWS_SEQUENCE:
                annotator = f"C:\\Users\\annotator\\EndoVis\\{folder.name}\\{basename}"
            annotations = []
            for name, tool, x, y in points:
                point = {"class": name, "x": x, "y": y}
                if tool is not None:
                    point["id"] = tool
                annotations.append(point)
            entries.append({"filename": annotator, "class": "image", "annotations": annotations})
            write_image(folder / frames_subdir / basename, _noise_frame(shape, rng))
        labels = Path(root) / f"{kind}_labels" / f"{sequence}_labels.json"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    return Path(root)


def write_adaptor_fixture(root: Path, shape: tuple[int, int] = ADAPTOR_FIXTURE_SHAPE) -> Path:
    """Write a miniature AdaptOR tree (``ADAPTOR_FIXTURE``, 3 surgeries); return root."""
    from landmarkbench.imageio import write_image

    rng = np.random.default_rng(0)
    for case_id, points in ADAPTOR_FIXTURE.items():
        surgery, video, frame = case_id.split("/")
        folder = Path(root) / surgery / video
        write_image(folder / "images" / f"{frame}.png", _noise_frame(shape, rng))
        document = {
            "imageHeight": shape[0],
            "imageWidth": shape[1],
            "points": [{"x": x, "y": y} for x, y in points],
        }
        label = folder / "point_labels" / f"{frame}.json"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(json.dumps(document), encoding="utf-8")
    return Path(root)
