"""Checking an MML tree on disk and writing a miniature one in the official layout."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.datasets.mml.layout import (
    LABEL_SUFFIX,
    NUM_LANDMARKS,
    ROOT_NAME,
    SPACING_SUFFIX,
    SPLITS,
    VOLUME_SUFFIXES,
    dataset_root,
    parse_axes,
    read_header_spacing,
    read_label,
    read_spacing_file,
    volume_path,
)
from landmarkbench.errors import DataError

# Fixture: cases per split, the case with missing landmarks, and the rows it lacks.
FIXTURE_CASES = {
    "train": ("0001", "0002", "0003"),
    "val": ("0004", "0005"),
    "test": ("0006", "0007"),
}
FIXTURE_MISSING_CASE = "train/0002"
FIXTURE_MISSING_ROWS = {3: -1.0, 8: 0.0}
FIXTURE_BRIGHT = 1000.0


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def validate_mml_tree(data_dir: Path, **options: Any) -> list[Problem]:
    """Every problem in an MML tree: missing files, unreadable volumes, bad labels.

    Args:
        data_dir: The ``mmld_dataset`` folder or its parent.
        **options: The adapter's ``label_axes``, ``spacing_axes`` and ``spacing_source``
            (others are ignored).

    Returns:
        All problems found (empty when the tree is sound); nothing is raised or written.
    """
    data_dir = Path(data_dir)
    label_perm = parse_axes(options.get("label_axes", "ijk"))
    spacing_perm = parse_axes(options.get("spacing_axes") or options.get("label_axes", "ijk"))
    from_header = options.get("spacing_source", "file") == "header"
    root = dataset_root(data_dir)
    if root is None:
        message = f"no {ROOT_NAME}/ folder and no {', '.join(SPLITS)} folders; extract MML here."
        return [Problem(str(data_dir), message)]
    problems: list[Problem] = []
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            problems.append(Problem(_shown(folder, data_dir), f"split folder {split}/ is missing."))
            continue
        stems = sorted(p.name[: -len(LABEL_SUFFIX)] for p in folder.glob(f"*{LABEL_SUFFIX}"))
        if not stems:
            problems.append(Problem(_shown(folder, data_dir), "holds no *_label.npy files."))
        for other in sorted(folder.glob("*_volume.*")) + sorted(folder.glob(f"*{SPACING_SUFFIX}")):
            stem = other.name.rsplit("_", 1)[0]
            if stem not in stems:
                problems.append(Problem(_shown(other, data_dir), "has no matching _label.npy."))
        for stem in stems:
            problems.extend(
                _check_case(folder, stem, data_dir, label_perm, spacing_perm, from_header)
            )
    return problems


def _check_case(
    folder: Path,
    stem: str,
    base: Path,
    label_perm: tuple[int, int, int],
    spacing_perm: tuple[int, int, int],
    from_header: bool,
) -> list[Problem]:
    from landmarkbench.imageio import read_image

    problems = []
    landmarks = None
    label = folder / f"{stem}{LABEL_SUFFIX}"
    try:
        landmarks = read_label(label, label_perm)
    except DataError as error:
        problems.append(Problem(_shown(label, base), str(error)))
    spacing_file = folder / f"{stem}{SPACING_SUFFIX}"
    if not spacing_file.is_file():
        problems.append(Problem(_shown(spacing_file, base), "spacing file is missing."))
    else:
        try:
            read_spacing_file(spacing_file, spacing_perm)
        except DataError as error:
            problems.append(Problem(_shown(spacing_file, base), str(error)))
    volume = volume_path(folder, stem)
    if volume is None:
        missing = folder / f"{stem}{VOLUME_SUFFIXES[0]}"
        problems.append(Problem(_shown(missing, base), "volume (.nrrd or .npy) is missing."))
        return problems
    try:
        array = read_image(volume).array
        if from_header:
            read_header_spacing(volume)
    except DataError as error:
        problems.append(Problem(_shown(volume, base), str(error)))
        return problems
    problems += _volume_problems(array.shape, landmarks, _shown(volume, base), _shown(label, base))
    return problems


def _volume_problems(
    shape: tuple[int, ...], landmarks: np.ndarray | None, volume: str, label: str
) -> list[Problem]:
    """A volume that is not 3D, or a landmark outside it (``validation.landmark_problem``):
    the rules ``validate`` and ``run`` share."""
    from landmarkbench.acquire.validation import landmark_problem

    if len(shape) != 3:
        return [Problem(volume, f"is {len(shape)}D; MML volumes are 3D.")]
    if landmarks is None:
        return []
    text = landmark_problem(
        landmarks,
        shape,
        "check label_axes (the volume axis of each label column).",
        line_of=lambda k: f"row {k + 1} (L{k + 1}, array order)",
    )
    return [Problem(label, text)] if text else []


def case_input_problems(dataset: Any, case_id: str) -> list[Problem]:
    """What ``run`` must refuse before training for one case of an ``MML`` dataset: its
    label, spacing and volume header, and its landmarks against the volume's shape."""
    try:
        case = dataset.load(case_id)
    except DataError as error:
        return [Problem(case_id, str(error))]
    split_dir, stem = dataset._locate(case_id)
    label = _shown(split_dir / f"{stem}{LABEL_SUFFIX}", dataset.root)
    return _volume_problems(
        case.shape, case.landmarks, _shown(Path(case.source), dataset.root), label
    )


def _fixture_landmarks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """14 distinct voxels that no axis permutation maps onto another one, then offsets."""
    upper = np.array(shape) - 2
    while True:
        voxels = np.stack([rng.integers(1, u + 1, size=NUM_LANDMARKS) for u in upper], axis=1)
        taken = {tuple(v) for v in voxels.tolist()}
        swapped = {
            tuple(v[list(p)])
            for v in voxels
            for p in itertools.permutations(range(3))
            if p != (0, 1, 2)
        }
        if len(taken) == NUM_LANDMARKS and not taken & swapped:
            break
    # Quarter-voxel offsets check that coordinates survive exactly, not only as voxels.
    return voxels + rng.choice([-0.25, 0.0, 0.25], size=voxels.shape)


def write_mml_fixture(
    root: Path,
    volume_format: str = "nrrd",
    label_axes: str = "ijk",
    shape: tuple[int, int, int] = (12, 14, 10),
    seed: int = 0,
) -> Path:
    """Write a miniature MML tree (7 cases in train/val/test) in the official layout.

    Each volume is dim noise (0..100) with a voxel of value 1000 at every present landmark;
    labels are written in ``label_axes`` column order (spacing too); spacing is anisotropic,
    different per case, and the same in the NRRD header and the spacing file. Case
    ``train/0002`` lacks L4 (stored as -1) and L9 (stored as 0).

    Args:
        root: Folder that receives ``mmld_dataset/``.
        volume_format: "nrrd" or "npy".
        label_axes: Volume array axis of each label column, as the adapter option.
        shape: Volume shape (array order).
        seed: Seed of the landmark positions and noise.

    Returns:
        The ``mmld_dataset`` folder.
    """
    from landmarkbench.imageio import write_image

    perm = parse_axes(label_axes)
    rng = np.random.default_rng(seed)
    dataset = Path(root) / ROOT_NAME
    for number, (split, stem) in enumerate((s, c) for s in SPLITS for c in FIXTURE_CASES[s]):
        folder = dataset / split
        folder.mkdir(parents=True, exist_ok=True)
        landmarks = _fixture_landmarks(rng, shape)
        spacing = np.array([0.3, 0.4, 0.5]) * (1.0 + 0.1 * number)
        volume = rng.uniform(0.0, 100.0, size=shape).astype(np.float32)
        stored = landmarks.copy()
        if f"{split}/{stem}" == FIXTURE_MISSING_CASE:
            for row, value in FIXTURE_MISSING_ROWS.items():
                stored[row] = value
        for point in stored:
            if np.all(point > 0):
                volume[tuple(np.round(point).astype(int))] = FIXTURE_BRIGHT
        path = folder / f"{stem}_volume.{volume_format}"
        write_image(path, volume, spacing=tuple(spacing) if volume_format == "nrrd" else None)
        np.save(folder / f"{stem}{LABEL_SUFFIX}", stored[:, list(perm)])
        np.save(folder / f"{stem}{SPACING_SUFFIX}", spacing[list(perm)])
    return dataset
