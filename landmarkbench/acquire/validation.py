"""Problems found in a dataset tree on disk, and the helpers adapters use to find them.

Adapters implement ``validate_tree(data_dir, **options) -> list[Problem]`` and call
``check_checksums`` for the files whose hashes their manifest's ``.sha256`` file lists.
Validation only reads: it never writes into the data folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.acquire.manifest import sha256_of
from landmarkbench.errors import DataError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset tree.

    Attributes:
        path: The file or folder concerned, relative to the data folder ("." for the root).
        message: What is wrong and how to fix it.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def check_checksums(data_dir: Path, checksums: Mapping[str, str]) -> list[Problem]:
    """Compare files under ``data_dir`` with their expected sha256.

    Args:
        data_dir: The dataset's root folder.
        checksums: ``relative/path -> sha256`` (as read by ``manifest.read_checksums``).

    Returns:
        One problem per missing, unreadable or mismatching file, in the order given.
    """
    problems = []
    root = Path(data_dir)
    for relative, expected in checksums.items():
        path = root / relative
        if not path.is_file():
            problems.append(Problem(relative, "missing; download or extract the dataset again"))
            continue
        try:
            got = sha256_of(path)
        except DataError as exc:
            problems.append(Problem(relative, str(exc)))
            continue
        if got != expected.lower():
            problems.append(
                Problem(
                    relative,
                    f"sha256 mismatch: expected {expected.lower()}, got {got}; the file is "
                    "corrupted or from another release: download it again",
                )
            )
    return problems


def _point_text(point: np.ndarray) -> str:
    if len(point) == 2:
        return f"row {point[0]:g}, col {point[1]:g}"
    return "index (" + ", ".join(f"{v:g}" for v in point) + ")"


def landmark_problem(
    landmarks: np.ndarray,
    shape: Sequence[int],
    fix: str,
    *,
    line_of: Callable[[int], str] | None = None,
    missing_allowed: bool = True,
) -> str | None:
    """The first landmark that is not finite or lies outside its image, as a sentence.

    The one rule ``validate`` and ``run`` apply to annotations (``run`` before training):
    with pixel centres at integers, an image of n pixels along an axis covers
    [-0.5, n - 0.5]. A landmark whose coordinates are all NaN is a missing landmark (allowed
    when ``missing_allowed``); a partly NaN or infinite one is never allowed.

    Args:
        landmarks: (C, d) in array-index order, on the image's grid.
        shape: The image's spatial shape (from its header).
        fix: What to do, appended to the sentence.
        line_of: Where landmark k is written in ``where``, e.g. "line 3"; default
            "landmark k+1". The sentence names neither the file nor the image: the
            ``Problem`` holding it names the file.
        missing_allowed: Whether all-NaN landmarks are the dataset's missing ones.

    Returns:
        None when every landmark passes.
    """
    points = np.asarray(landmarks, dtype=float)
    extent = np.asarray(shape[: points.shape[-1]], dtype=float) - 0.5
    for k, point in enumerate(points):
        place = line_of(k) if line_of else f"landmark {k + 1}"
        if np.isnan(point).all() and missing_allowed:
            continue
        if not np.isfinite(point).all():
            return (
                f"{place} holds the non-finite coordinates "
                f"{', '.join(f'{v:g}' for v in point)}; a landmark must be a finite position in "
                f"its image: {fix}"
            )
        if (point < -0.5).any() or (point > extent).any():
            size = " x ".join(str(int(s)) for s in shape)
            return (
                f"{place} puts a landmark at {_point_text(point)}, outside its {size} image; {fix}"
            )
    return None


def format_problems(problems: Iterable[Problem]) -> str:
    """One ``path: message`` line per problem (no trailing newline)."""
    return "\n".join(str(problem) for problem in problems)
