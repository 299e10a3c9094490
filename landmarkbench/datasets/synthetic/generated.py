"""Shared machinery of the synthetic datasets: seeded per-case generation and an npz cache.

Case ``k`` is generated from ``SeedSequence(seed, spawn_key=(k,))``, so it depends on the
seed and the generation settings, never on ``n_cases``. Generated cases are cached as one
``.npz`` per case (written atomically) under a folder named by a hash of the settings AND of
the dataset's ``GENERATOR_VERSION``: bump that class attribute whenever a change of the
generating code (sampling, rendering, annotator simulation) changes what a case holds, so
cases made by older code are never reused (they stay in their old folder, unused).

Options are bounded: ``n_cases`` at most :data:`MAX_CASES`, ``seed`` below 2**32, each image
side at most :data:`MAX_SIDE_2D` (2D) or :data:`MAX_SIDE_3D` (3D), so an absurd value is
refused at construction with a sentence instead of generating for hours.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from landmarkbench.atomic_io import write_atomically, write_text_atomically
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import DataError, UsageError

_CACHE_FORMAT = 1
MAX_CASES = 10_000
MAX_SEED = 2**32 - 1
MAX_SIDE_2D = 2048
MAX_SIDE_3D = 256


def cache_root() -> Path:
    """``$LANDMARKBENCH_CACHE`` if set, else the platform's user cache folder."""
    override = os.environ.get("LANDMARKBENCH_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("landmarkbench"))


def whole_number(
    dataset: str, name: str, value: Any, minimum: int, example: int, maximum: int
) -> int:
    """Validate an integer option in ``[minimum, maximum]`` (bools and floats are refused)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not minimum <= value <= maximum
    ):
        raise UsageError(
            f"{dataset} {name} must be an integer from {minimum} to {maximum}, got {value!r}; "
            f"use e.g. {name}={example}."
        )
    return int(value)


def grid_shape(dataset: str, shape: Any, ndim: int, example: Sequence[int]) -> tuple[int, ...]:
    """Validate an image shape: ``ndim`` integers, each a multiple of 16 from 16 to the
    maximum side (:data:`MAX_SIDE_2D` in 2D, :data:`MAX_SIDE_3D` in 3D)."""
    largest = MAX_SIDE_3D if ndim >= 3 else MAX_SIDE_2D
    try:
        values = tuple(int(v) for v in shape)
        exact = len(values) == ndim and all(int(v) == v and not isinstance(v, bool) for v in shape)
    except (TypeError, ValueError, OverflowError):
        values, exact = (), False
    if not exact or any(v < 16 or v > largest or v % 16 for v in values):
        raise UsageError(
            f"{dataset} image_shape must be {ndim} integers, each a multiple of 16 from 16 to "
            f"{largest}, got {shape!r}; use e.g. image_shape={','.join(map(str, example))}."
        )
    return values


class GeneratedDataset(LandmarkDataset):
    """Base of datasets generated from a seed: ids, per-case seeds, the on-disk cache.

    Subclasses set ``image_shape`` before calling ``_setup_generation`` (from their
    ``__init__``) and implement ``generate_case`` and ``case_from_arrays``.
    """

    cached_arrays: ClassVar[frozenset[str]]
    # Version of the code that generates the cases (part of the cache folder's hash); bump it
    # whenever generated content changes, so older cached cases are never read again.
    GENERATOR_VERSION: ClassVar[str]
    image_shape: tuple[int, ...]

    def _setup_generation(self, n_cases: Any, seed: Any, cache_dir: str | Path | None) -> None:
        self.n_cases = whole_number(self.name, "n_cases", n_cases, 2, 100, MAX_CASES)
        self.seed = whole_number(self.name, "seed", seed, 0, 0, MAX_SEED)
        self._explicit_cache_dir = Path(cache_dir) if cache_dir else None
        self._cache_ready: bool | None = None
        self._digits = max(3, len(str(self.n_cases - 1)))

    @abstractmethod
    def generate_case(self, index: int) -> dict[str, np.ndarray]:
        """Generate case ``index`` from scratch; keys are ``cached_arrays``."""

    def generation_identity(self) -> dict[str, Any]:
        """Everything that determines case content (hashed into the cache folder name)."""
        return {
            "dataset": self.name,
            "version": self.version,
            "generator_version": self.GENERATOR_VERSION,
            "cache_format": _CACHE_FORMAT,
            "image_shape": list(self.image_shape),
            "seed": self.seed,
        }

    def options(self) -> dict[str, Any]:
        """The generation parameters (recorded and hashed with every result)."""
        return {"n_cases": self.n_cases, "image_shape": list(self.image_shape), "seed": self.seed}

    def case_ids(self) -> list[str]:
        """``case_000`` ... zero padded, sorted."""
        return [f"case_{k:0{self._digits}d}" for k in range(self.n_cases)]

    def case_sequences(self, index: int, count: int) -> list[np.random.SeedSequence]:
        """``count`` independent seed sequences for case ``index``."""
        return np.random.SeedSequence(self.seed, spawn_key=(index,)).spawn(count)

    @property
    def cache_dir(self) -> Path:
        """Folder holding ``meta.json`` and one ``.npz`` per generated case."""
        if self._explicit_cache_dir is not None:
            return self._explicit_cache_dir
        return cache_root() / self.name / self.generation_hash()

    def generation_hash(self) -> str:
        """Short hash of ``generation_identity`` (generator version included, not
        ``n_cases``)."""
        text = json.dumps(self.generation_identity(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def case_arrays(self, index: int) -> dict[str, np.ndarray]:
        """Arrays of case ``index``, read from the cache or generated and cached.

        Raises:
            DataError: if the cache folder holds cases generated with other settings.
        """
        cache_ready = self._prepare_cache()
        path = self.cache_dir / f"case_{index:05d}.npz"
        arrays = self._read_cached(path) if cache_ready else None
        if arrays is None:
            arrays = self.generate_case(index)
            if cache_ready:
                self._write_cached(path, arrays)
        return arrays

    def case_index(self, case_id: str) -> int:
        """Position of ``case_id`` in ``case_ids()``.

        Raises:
            DataError: for an id the dataset does not have.
        """
        ids = self.case_ids()
        if case_id not in ids:
            raise DataError(
                f"Case id {case_id!r} is not in {self.name} with n_cases={self.n_cases}; "
                f"use one of {ids[0]!r} .. {ids[-1]!r} (see case_ids())."
            )
        return ids.index(case_id)

    def _read_cached(self, path: Path) -> dict[str, np.ndarray] | None:
        if not path.is_file():
            return None
        try:
            with np.load(path) as stored:
                arrays = {key: stored[key] for key in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            return None
        if set(arrays) != set(self.cached_arrays) or arrays["image"].shape != self.image_shape:
            return None
        return arrays

    def _write_cached(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        try:
            write_atomically(path, lambda stream: np.savez(stream, **arrays))
        except OSError as error:
            self._warn_uncached(error)

    def _warn_uncached(self, error: OSError) -> None:
        warnings.warn(
            f"Could not cache {self.name} cases in {str(self.cache_dir)!r} ({error}); they "
            "will be generated again next time. Set LANDMARKBENCH_CACHE to a writable folder.",
            stacklevel=4,
        )

    def _prepare_cache(self) -> bool:
        """Create the cache folder with its ``meta.json`` once; False if it is not writable."""
        if self._cache_ready is None:
            try:
                self._cache_ready = self._check_or_write_meta(self.cache_dir)
            except OSError as error:
                self._warn_uncached(error)
                self._cache_ready = False
        return self._cache_ready

    def _check_or_write_meta(self, folder: Path) -> bool:
        meta_path = folder / "meta.json"
        meta = self.generation_identity()
        if meta_path.is_file():
            try:
                existing = json.loads(meta_path.read_text(encoding="utf-8"))
            except ValueError:
                existing = None
            if existing == json.loads(json.dumps(meta)):
                return True
            raise DataError(
                f"Cache folder {str(folder)!r} holds {self.name} data generated with other "
                f"settings (meta.json: {existing}); pass another cache_dir or delete that folder."
            )
        write_text_atomically(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return True
