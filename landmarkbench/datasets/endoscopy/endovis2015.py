"""EndoVis 2015 instrument joints: multi-instance 2D points on robotic surgery frames.

Annotations (Du et al., IEEE TMI 2018, MIT licence): ``train_labels/train{1..4}_labels.json``
and ``test_labels/test{1..6}_labels.json`` (landmarker's copies under
``Tracking_Robotic_{Training,Testing}/labels/`` are accepted too). The challenge ships videos,
``Tracking_Robotic_Training/Dataset{1..4}/Video.avi`` and
``Tracking_Robotic_Testing/Dataset{1..6}/Video.avi``; decoding AVI needs opencv, so the
adapter reads frames extracted beside each video:
``Tracking_Robotic_{Training,Testing}/Dataset{n}/<frames_subdir>/<basename>`` (default
subdir ``frames``), or ``<frames_dir>/<sequence>/<basename>`` with ``sequence`` = ``train1``
... ``test6``. ``<basename>`` is the last component of the annotation's ``filename`` (an
absolute path on the annotator's machine); a frame saved without the ``_raw`` part
(landmarker's extraction, e.g. ``Dataset1/raw/img_000001.png``) is found as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from landmarkbench.acquire.validation import Problem
from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.endoscopy.layout import (
    CLASSES,
    SEQUENCES,
    FrameLabel,
    label_file,
    parse_label_file,
    video_folder,
)
from landmarkbench.datasets.endoscopy.points import (
    MultiInstancePointDataset,
    as_instances,
    frame_case,
)
from landmarkbench.errors import DataError, UsageError


@DATASETS.register("endovis2015", "EndoVis 2015 instrument joints: multi-instance 2D points.")
class EndoVis2015(MultiInstancePointDataset, manifest="endovis2015"):
    """EndoVis 2015 instrument joints (6 classes, 0..n points each); errors in pixels.

    Case ids are ``"<sequence>/<frame stem>"`` (e.g. ``train1/img_000001_raw``), sorted;
    every listed frame is a case, including frames with no points. The official split
    trains on train1-4 and tests on test1-6. ``Case.extra["instance_ids"]`` holds the tool
    id of each point per class (None where the file has no "id", as in test5/test6).

    Args:
        data_dir: Folder holding ``train_labels/``, ``test_labels/`` and the
            ``Tracking_Robotic_*`` folders.
        classes: Classes to load, default all six (landmarker uses the two clasper points).
        frames_subdir: Folder of extracted frames inside each ``Dataset{n}`` folder.
        frames_dir: Alternative frame root: ``<frames_dir>/<sequence>/<basename>``.
        ground_truth: Only "official" (the released annotation).
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        classes: Sequence[str] | str | None = None,
        frames_subdir: str = "frames",
        frames_dir: str | Path | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        if data_dir is None:
            raise UsageError(
                "Dataset 'endovis2015' needs data_dir, the folder holding train_labels/ and "
                "Tracking_Robotic_Training/; pass --data-dir /path/to/endovis2015."
            )
        self.data_dir = Path(data_dir)
        if isinstance(classes, str):
            classes = [name.strip() for name in classes.split(",") if name.strip()]
        chosen = list(classes or CLASSES)
        unknown = [c for c in chosen if c not in CLASSES]
        if unknown or not chosen:
            raise UsageError(
                f"endovis2015 classes must be a non-empty selection of {', '.join(CLASSES)}, "
                f"got {classes!r}; e.g. classes=LeftClasperPoint,RightClasperPoint."
            )
        self.landmark_names = tuple(chosen)
        self.frames_subdir = frames_subdir
        self.frames_dir = Path(frames_dir) if frames_dir else None
        self._frames: dict[str, dict[str, FrameLabel]] = {}

    def options(self) -> dict[str, Any]:
        """Options that change the data (the class selection)."""
        return {"classes": list(self.landmark_names)}

    def sequence_frames(self, sequence: str) -> dict[str, FrameLabel]:
        """Frames of one sequence by stem (parsed once).

        Raises:
            DataError: if the label file is missing, not JSON or has a malformed entry.
        """
        if sequence not in self._frames:
            path = label_file(self.data_dir, sequence)
            frames, problems = parse_label_file(path)
            if problems:
                raise DataError(
                    f"EndoVis label file '{path}' is malformed: {problems[0]} Run "
                    "'landmarkbench validate endovis2015' for every problem."
                )
            self._frames[sequence] = {frame.stem: frame for frame in frames}
        return self._frames[sequence]

    def case_ids(self) -> list[str]:
        """``<sequence>/<frame stem>`` of every listed frame, sorted."""
        return sorted(f"{s}/{stem}" for s in SEQUENCES for stem in self.sequence_frames(s))

    def official_split(self) -> dict[str, list[str]]:
        """{"train": frames of train1-4, "test": frames of test1-6}."""
        ids = self.case_ids()
        return {
            "train": [c for c in ids if c.startswith("train")],
            "test": [c for c in ids if c.startswith("test")],
        }

    def frame_path(self, sequence: str, basename: str) -> Path:
        """Where the frame is read from (the ``_raw``-less name if only that exists)."""
        if self.frames_dir is not None:
            folder = self.frames_dir / sequence
        else:
            folder = video_folder(self.data_dir, sequence) / self.frames_subdir
        path = folder / basename
        alternative = folder / basename.replace("_raw", "")
        return alternative if not path.is_file() and alternative.is_file() else path

    def load(self, case_id: str) -> Case:
        """One frame: lazy image, points per class in (row, col) pixels.

        Raises:
            DataError: if the case id is unknown or its frame is missing.
        """
        sequence, _, stem = case_id.partition("/")
        frame = self.sequence_frames(sequence).get(stem) if sequence in SEQUENCES else None
        if frame is None:
            raise DataError(
                f"Case id {case_id!r} is not an EndoVis 2015 frame; ids look like "
                "'train1/img_000001_raw' (see case_ids())."
            )
        ids = tuple(tuple(frame.ids.get(name, ())) for name in self.landmark_names)
        return frame_case(
            case_id,
            self.frame_path(sequence, frame.basename),
            as_instances(frame.points, self.landmark_names),
            extra={"sequence": sequence, "instance_ids": ids},
        )

    @classmethod
    def validate_tree(
        cls,
        data_dir: Path,
        frames_subdir: str = "frames",
        frames_dir: str | Path | None = None,
        **_other: Any,
    ) -> list[Problem]:
        """Every problem of an EndoVis 2015 tree; writes nothing, raises nothing for data.

        All six classes are checked whatever ``classes`` selects.
        """
        from landmarkbench.datasets.endoscopy.tree import validate_endovis_tree

        dataset = cls(data_dir=data_dir, frames_subdir=frames_subdir, frames_dir=frames_dir)
        return validate_endovis_tree(dataset)

    @classmethod
    def write_fixture(cls, root: Path, frames_subdir: str = "frames") -> Path:
        """A miniature EndoVis 2015 tree in the official layout; returns its data_dir.

        See ``tree.write_endovis_fixture``: labels for all 10 sequences and
        72 x 58 PNG frames in ``Dataset{n}/<frames_subdir>/``.
        """
        from landmarkbench.datasets.endoscopy.tree import write_endovis_fixture

        return write_endovis_fixture(Path(root), frames_subdir=frames_subdir)
