"""Helpers shared by the adapters of downloaded datasets: data_dir, fixtures, tree checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import DataError, UsageError


def require_data_dir(data_dir: str | Path | None, dataset: str) -> Path:
    """``data_dir`` as a Path, or a UsageError sentence when it is missing or not a folder."""
    if data_dir is None or str(data_dir) == "":
        raise UsageError(
            f"Dataset {dataset!r} needs data_dir, the folder of your downloaded copy; pass "
            f"--data-dir /path/to/{dataset} (or write a miniature with "
            f"'landmarkbench fixture {dataset} --out DIR')."
        )
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"Dataset {dataset!r} data_dir '{path}' is not a folder; pass the folder that "
            f"holds the extracted release as --data-dir (or 'landmarkbench fetch {dataset}')."
        )
    return path


def refuse_problems(problems: Sequence[Any], dataset: str, data_dir: Path) -> None:
    """Raise the first problem found before a run as a DataError (``check_inputs``).

    Raises:
        DataError: naming the file, what is wrong, the fix, and how to list every problem.
    """
    if not problems:
        return
    more = f" ({len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    first = str(problems[0]).rstrip(". ")
    raise DataError(
        f"{dataset} data folder '{data_dir}': {first}{more}; nothing was trained. Fix "
        f"the files, or list every problem with 'landmarkbench validate {dataset} "
        f"--data-dir {data_dir}'."
    )


def draw_landmark_dots(
    shape: tuple[int, int], landmarks_rc: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A uint8 image: a dim gradient with noise and a bright disc at each landmark.

    Args:
        shape: (rows, cols).
        landmarks_rc: (C, 2) (row, col) pixel positions; NaN rows are skipped.
        rng: Source of the noise.

    Returns:
        (rows, cols) uint8 array, background in 30..120 and dots at 255.
    """
    rows, cols = shape
    ramp = 30 + 60 * np.arange(rows)[:, None] / max(rows - 1, 1)
    image = ramp + rng.uniform(0, 30, size=shape)
    radius = max(1.0, min(rows, cols) / 200)
    reach = int(np.ceil(radius))
    for row, col in np.asarray(landmarks_rc, dtype=float):
        if not (np.isfinite(row) and np.isfinite(col)):
            continue
        r0, r1 = max(int(row) - reach, 0), min(int(row) + reach + 1, rows)
        c0, c1 = max(int(col) - reach, 0), min(int(col) + reach + 1, cols)
        near_r, near_c = np.ogrid[r0:r1, c0:c1]
        disc = (near_r - row) ** 2 + (near_c - col) ** 2 <= radius**2
        image[r0:r1, c0:c1][disc] = 255
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def parse_id_list(
    value: str | Sequence[str] | None,
    default: Sequence[str],
    allowed: Sequence[str],
    dataset: str,
) -> list[str]:
    """Case ids from a list or comma-separated text ("001,002"); ``default`` when None.

    Raises:
        UsageError: if an id is not in ``allowed``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return list(default)
    items = value.split(",") if isinstance(value, str) else list(value)
    known = set(allowed)
    ids = []
    for item in items:
        text = str(item).strip()
        case_id = f"{int(text):03d}" if text.isdigit() else text
        if case_id not in known:
            raise UsageError(
                f"Fixture case id {text!r} is not a {dataset} id; use ids like "
                f"{allowed[0]!r} .. {allowed[-1]!r}, e.g. case_ids={allowed[0]},{allowed[1]}."
            )
        ids.append(case_id)
    return sorted(set(ids))


# More missing files than this in one folder are reported as one problem for the folder.
MAX_LISTED_MISSING = 5


def missing_file_problems(
    folder: str, missing: Sequence[str], expected: int, kind: str, archive: str
) -> list:
    """Problems for files missing from ``folder``: one each, or one for the folder if many.

    Args:
        folder: The folder, relative to the data folder.
        missing: The missing files, relative to the data folder.
        expected: How many files the folder should hold.
        kind: What the files are ("image", "annotation file").
        archive: The archive to extract them from, for the fix.
    """
    from landmarkbench.acquire.validation import Problem

    fix = f"re-extract {archive} into the data folder"
    if len(missing) <= MAX_LISTED_MISSING:
        return [Problem(path, f"missing {kind}; {fix}") for path in missing]
    names = ", ".join(path.rsplit("/", 1)[-1] for path in missing[:3])
    return [
        Problem(
            folder,
            f"{len(missing)} of {expected} {kind}s are missing ({names}, ...); {fix}",
        )
    ]
