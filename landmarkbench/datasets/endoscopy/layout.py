"""The EndoVis 2015 and AdaptOR 2021 releases on disk: paths, label files and their parsers.

Paths and parsers only (no dataset class), shared by the adapters and the tree checks. The
frame sizes are the releases' own (the manifests' ``layout.frame_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from landmarkbench.datasets.endoscopy.points import file_basename, point_row_col, read_json
from landmarkbench.errors import DataError

# ----------------------------------------------------------------- EndoVis 2015

CLASSES = (
    "LeftClasperPoint",
    "RightClasperPoint",
    "HeadPoint",
    "ShaftPoint",
    "EndPoint",
    "TrackedPoint",
)
TRAIN_SEQUENCES = tuple(f"train{n}" for n in range(1, 5))
TEST_SEQUENCES = tuple(f"test{n}" for n in range(1, 7))
SEQUENCES = TRAIN_SEQUENCES + TEST_SEQUENCES
ENDOVIS_FRAME_SHAPE = (576, 720)


@dataclass(frozen=True)
class FrameLabel:
    """One annotated frame: its basename and (row, col) points and tool ids per class."""

    basename: str
    points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    ids: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.basename.rsplit(".", 1)[0]


def video_folder(data_dir: Path, sequence: str) -> Path:
    """``Tracking_Robotic_{Training,Testing}/Dataset{n}`` of a sequence like ``test3``."""
    kind = "Training" if sequence.startswith("train") else "Testing"
    number = sequence.removeprefix("train").removeprefix("test")
    return Path(data_dir) / f"Tracking_Robotic_{kind}" / f"Dataset{number}"


def label_file(data_dir: Path, sequence: str) -> Path:
    """The sequence's label JSON (the annotation repository's place first)."""
    kind = "train" if sequence.startswith("train") else "test"
    official = Path(data_dir) / f"{kind}_labels" / f"{sequence}_labels.json"
    landmarker = video_folder(data_dir, sequence).parent / "labels" / official.name
    return landmarker if not official.is_file() and landmarker.is_file() else official


def parse_label_file(path: Path) -> tuple[list[FrameLabel], list[str]]:
    """The frames of one label file and every problem found in it (never raises on content).

    Raises:
        DataError: if the file is missing or is not JSON.
    """
    document = read_json(path)
    if not isinstance(document, list):
        return [], [f"holds a {type(document).__name__}; EndoVis label files are a JSON list."]
    frames, problems, seen = [], [], set()
    for index, entry in enumerate(document):
        where = f"entry {index}"
        filename = entry.get("filename") if isinstance(entry, dict) else None
        annotations = entry.get("annotations", []) if isinstance(entry, dict) else None
        if not isinstance(filename, str) or not isinstance(annotations, list):
            problems.append(f"{where} needs a 'filename' string and an 'annotations' list.")
            continue
        frame = FrameLabel(basename=file_basename(filename))
        if frame.basename in seen:
            problems.append(f"{where}: frame {frame.basename} is listed twice.")
            continue
        seen.add(frame.basename)
        for point in annotations:
            name = point.get("class") if isinstance(point, dict) else None
            if name not in CLASSES:
                problems.append(
                    f"{where} ({frame.basename}): class {name!r} is not one of "
                    f"{', '.join(CLASSES)}."
                )
                continue
            try:
                row_col = point_row_col(point, f"{where} ({frame.basename})")
            except DataError as error:
                problems.append(str(error))
                continue
            frame.points.setdefault(name, []).append(row_col)
            frame.ids.setdefault(name, []).append(point.get("id"))
        frames.append(frame)
    return frames, problems


# ----------------------------------------------------------------- AdaptOR 2021 sutures

ADAPTOR_CLASS_NAME = "suture"
ADAPTOR_FRAME_SHAPE = (288, 512)
ADAPTOR_LABEL_GLOB = "*/*/point_labels/*.json"


def parse_point_label(path: Path) -> tuple[list[tuple[float, float]], tuple[int, int] | None]:
    """The (row, col) points of one label file and its declared (height, width), if any.

    Raises:
        DataError: if the file is missing, not JSON, or a point or size is malformed.
    """
    document = read_json(path)
    points = document.get("points") if isinstance(document, dict) else None
    if not isinstance(points, list):
        raise DataError(
            f"AdaptOR label file '{path}' needs a 'points' list ({{\"points\": [{{\"x\": .., "
            '"y": ..}]}); restore the original file.'
        )
    size = (document.get("imageHeight"), document.get("imageWidth"))
    if size == (None, None):
        declared = None
    elif all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        declared = (int(size[0]), int(size[1]))
    else:
        raise DataError(
            f"AdaptOR label file '{path}' has imageHeight, imageWidth = {size}; they must be "
            "positive integers (e.g. 288, 512). Restore the original file."
        )
    return [point_row_col(p, f"'{path}'") for p in points], declared
