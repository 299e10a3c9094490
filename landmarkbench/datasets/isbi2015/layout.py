"""The ISBI 2015 cephalometric release on disk: its layout and its annotation files.

Pure parsing and path logic, shared by the adapter, its tree validator and its fixture
writer. Nothing here decodes an image.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.errors import DataError

NUM_LANDMARKS = 19
NUM_LABEL_LINES = 8
SPACING_MM = 0.1
FULL_IMAGE_SHAPE = (2400, 1935)
ANNOTATORS = ("senior", "junior")
# Test split name -> (image folder under RawImage/, first id, last id).
SPLIT_FOLDERS = {
    "train": ("TrainingData", 1, 150),
    "test1": ("Test1Data", 151, 300),
    "test2": ("Test2Data", 301, 400),
}
ALL_IDS = tuple(f"{k:03d}" for k in range(1, 401))
# Landmark 16 (soft tissue pogonion) on Test2 is where the challenge's truth differs.
CHALLENGE_LANDMARK = 15
_FIX = "Re-extract AnnotationsByMD.rar or run 'landmarkbench validate isbi2015'."


@dataclass(frozen=True)
class AnnotationFile:
    """One parsed ``NNN.txt``: landmarks in (row, col) pixels and the trailing label lines."""

    landmarks: np.ndarray
    labels: tuple[str, ...]
    # The file's line number (from 1) of each coordinate line, for messages.
    line_numbers: tuple[int, ...] = ()

    def line_of(self, k: int) -> str:
        """Where landmark ``k`` (from 0) is written: "line N"."""
        return f"line {self.line_numbers[k]}" if self.line_numbers else f"landmark {k + 1}"


def split_of(case_id: str) -> str:
    """The official split ("train", "test1" or "test2") a case id belongs to."""
    number = int(case_id)
    for split, (_folder, first, last) in SPLIT_FOLDERS.items():
        if first <= number <= last:
            return split
    raise DataError(
        f"Case id {case_id!r} is outside ISBI 2015's ids 001..400; use one of case_ids()."
    )


def image_relpath(case_id: str) -> str:
    """Where the image of ``case_id`` lives, relative to the data folder."""
    folder = SPLIT_FOLDERS[split_of(case_id)][0]
    return f"RawImage/{folder}/{case_id}.bmp"


def annotation_folder(data_dir: Path, annotator: str) -> Path:
    """``AnnotationsByMD/400_<annotator>``, or ``400_<annotator>`` at the top level.

    Some extractions drop the ``AnnotationsByMD`` level; the nested folder wins when both
    exist, and it is returned (for messages) when neither does.
    """
    nested = data_dir / "AnnotationsByMD" / f"400_{annotator}"
    flat = data_dir / f"400_{annotator}"
    return flat if not nested.is_dir() and flat.is_dir() else nested


def display_path(path: Path, data_dir: Path) -> str:
    """``path`` relative to ``data_dir`` with forward slashes (as messages show it)."""
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def _coordinate_pair(line: str) -> tuple[float, float] | None:
    parts = line.split(",")
    if len(parts) != 2:
        return None
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return None


def parse_annotation_text(text: str, display: str) -> AnnotationFile:
    """Parse the text of one annotation file.

    The file has 19 ``x,y`` lines (pixel column, row) followed by 8 label lines (the
    challenge's classification task: not landmarks). CRLF line ends, trailing spaces and
    blank lines are accepted. Label lines are returned as text; ``label_problem`` checks them.

    Args:
        text: The file content.
        display: How messages name the file (relative to the data folder).

    Raises:
        DataError: if the file does not start with exactly 19 coordinate lines.
    """
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    numbered = [(n, line) for n, line in numbered if line]
    lines = [line for _n, line in numbered]
    points: list[tuple[float, float]] = []
    for number, line in numbered:
        pair = _coordinate_pair(line)
        if pair is None:
            if len(points) < NUM_LANDMARKS and "," in line:
                raise DataError(
                    f"Landmark file '{display}' line {number} reads {line!r}; coordinate "
                    f"lines are 'x,y' pixel numbers. {_FIX}"
                )
            break
        if not all(np.isfinite(pair)):
            raise DataError(
                f"Landmark file '{display}' line {number} reads {line!r}; ISBI 2015 has no "
                f"missing landmarks, so every coordinate line holds two finite pixel numbers. "
                f"{_FIX}"
            )
        points.append(pair)
    if len(points) != NUM_LANDMARKS:
        raise DataError(
            f"Landmark file '{display}' has {len(points)} coordinate lines; ISBI 2015 files "
            f"have {NUM_LANDMARKS}. {_FIX}"
        )
    xy = np.asarray(points, dtype=float)
    return AnnotationFile(
        landmarks=xy[:, ::-1].copy(),
        labels=tuple(lines[NUM_LANDMARKS:]),
        line_numbers=tuple(n for n, _line in numbered[:NUM_LANDMARKS]),
    )


def read_annotation(path: Path, display: str) -> AnnotationFile:
    """Read and parse one annotation file (see ``parse_annotation_text``).

    Raises:
        DataError: if the file is missing, unreadable or malformed.
    """
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        raise DataError(
            f"Landmark file '{display}' does not exist; ISBI 2015 has one file per image "
            f"and annotator. {_FIX}"
        ) from None
    except OSError as exc:
        raise DataError(
            f"Landmark file '{display}' cannot be read ({exc.strerror or exc}); check its "
            "permissions."
        ) from None
    return parse_annotation_text(text, display)


def label_problem(annotation: AnnotationFile, display: str) -> str | None:
    """A sentence if the label lines are not 8 integers, else None."""
    labels = annotation.labels
    bad = [label for label in labels if not label.lstrip("+-").isdigit()]
    if bad:
        return (
            f"Landmark file '{display}' has a label line {bad[0]!r} after its 19 coordinate "
            f"lines; the 8 label lines hold one integer each. {_FIX}"
        )
    if len(labels) != NUM_LABEL_LINES:
        return (
            f"Landmark file '{display}' has {len(labels)} label lines after its coordinates; "
            f"ISBI 2015 files have {NUM_LABEL_LINES}. {_FIX}"
        )
    return None


def format_annotation(landmarks_rc: np.ndarray, labels: Sequence[int]) -> str:
    """The official text of one annotation file (CRLF line ends, integer ``x,y``)."""
    rows = [f"{round(col)},{round(row)}" for row, col in np.asarray(landmarks_rc)]
    return "".join(f"{line}\r\n" for line in [*rows, *(str(int(v)) for v in labels)])


def read_fold_files(cv_split_dir: Path) -> list[list[str]]:
    """The test ids of Thaler et al.'s 4 folds from ``fold1.txt`` .. ``fold4.txt``.

    Raises:
        DataError: if a fold file is missing or holds something other than image ids.
    """
    folds = []
    for k in range(1, 5):
        path = cv_split_dir / f"fold{k}.txt"
        try:
            words = path.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise DataError(
                f"Fold file '{path}' cannot be read ({exc.strerror or exc}); cv_split_dir must "
                "hold fold1.txt .. fold4.txt of Thaler et al. (one image id per line)."
            ) from None
        bad = [w for w in words if not w.isdigit() or not 1 <= int(w) <= 400]
        if bad:
            raise DataError(
                f"Fold file '{path}' lists {bad[0]!r}, which is not an ISBI 2015 image id "
                "(001..400); restore the original fold file."
            )
        folds.append(sorted(f"{int(w):03d}" for w in words))
    return folds


def read_challenge_table(path: Path) -> dict[str, np.ndarray]:
    """Challenge landmarks per id from a CSV ``id,x1,y1,...,x19,y19`` in millimetres.

    This is the format of ``setup_ann/all_landmarks/challenge.csv`` in Payer et al.'s public
    repository. A header row is skipped.

    Returns:
        ``{case_id: (19, 2) array of (row, col) pixels}``.

    Raises:
        DataError: if the file cannot be read or a row has the wrong number of values.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except OSError as exc:
        raise DataError(
            f"Challenge annotation file '{path}' cannot be read ({exc.strerror or exc}); "
            "pass challenge_file=<path to challenge.csv>."
        ) from None
    table = {}
    for number, row in enumerate(rows, start=1):
        if not row[0].strip().isdigit():
            continue
        try:
            values = np.asarray([float(v) for v in row[1:]], dtype=float)
        except ValueError:
            values = np.empty(0)
        if values.size != 2 * NUM_LANDMARKS:
            raise DataError(
                f"Challenge annotation file '{path}' line {number} does not hold an id and "
                f"{2 * NUM_LANDMARKS} millimetre coordinates; use the 'id,x1,y1,...,x19,y19' "
                "format of challenge.csv."
            )
        xy_px = np.round(values.reshape(NUM_LANDMARKS, 2) / SPACING_MM, 6)
        table[f"{int(row[0]):03d}"] = xy_px[:, ::-1].copy()
    return table
