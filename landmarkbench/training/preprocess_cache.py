"""A disk cache of network-grid images, so later epochs and runs never decode full images again.

Each entry is the case's image resized-with-pad to a target shape by
:func:`landmarkbench.preprocessing.network_input.resize_to_grid` (float32, NOT
intensity-normalised), stored as one ``.npy`` file and returned as a read-only memory map.
The file name is a hash of

- the case's ``source`` (its image file path or another identity the adapter chose),
- the size and modification time (ns) of ``source`` when it names an existing file, so an
  edited or replaced image is never served stale,
- the original shape, the target shape and the preprocessing ``version``.

Entries are written to a temporary file in the cache folder and moved into place with
``os.replace``, so concurrent writers (threads or processes) can only race to publish the same
complete file and readers never see a partial one. Cases with an empty ``source`` (in-memory
synthetic data) are computed directly and never cached: there is no identity to key them by.
Bump :data:`PREPROCESSING_VERSION` whenever the resampling (``resize_to_network``,
``ResizePad.image_to_target``) changes what an entry holds: entries of the old version are then
never served again (they keep their old file names, unused).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landmarkbench.atomic_io import write_atomically
from landmarkbench.errors import DataError

if TYPE_CHECKING:
    from landmarkbench.datasets.base import Case

PREPROCESSING_VERSION = "1"


def default_cache_root() -> Path:
    """``<$LANDMARKBENCH_CACHE or the user cache folder>/preprocessed``."""
    from landmarkbench.datasets.synthetic.generated import cache_root

    return cache_root() / "preprocessed"


class PreprocessCache:
    """Network-grid images of cases, memory-mapped from ``.npy`` files under ``root``.

    Args:
        root: Cache folder; defaults to :func:`default_cache_root`.
        version: Preprocessing version; entries of other versions are never served
            [default: :data:`PREPROCESSING_VERSION`, read when the cache is created].
    """

    def __init__(self, root: Path | None = None, version: str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        self.version = str(PREPROCESSING_VERSION if version is None else version)

    def network_image(self, case: Case, target_shape: tuple[int, ...]) -> np.ndarray:
        """The case's image resized-with-pad to ``target_shape`` (float32, read-only).

        Args:
            case: The case; its pixels are decoded only on a cache miss.
            target_shape: Spatial shape of the network grid, one size per image axis.

        Returns:
            A read-only float32 array of shape ``target_shape``: a memory map of the cache
            entry, or an in-memory array when ``case.source`` is empty. Copy it before
            modifying it in place.

        Raises:
            DataError: If the decoded image's shape differs from ``case.shape`` or the entry
                cannot be written.
        """
        target = tuple(int(s) for s in target_shape)
        if not case.source:
            direct = resize_to_network(case, target)
            direct.setflags(write=False)  # same contract as a cache hit
            return direct
        path = self.entry_path(case, target)
        cached = _load_entry(path, target)
        if cached is not None:
            return cached
        resized = resize_to_network(case, target)
        try:
            write_atomically(path, lambda stream: np.save(stream, resized, allow_pickle=False))
        except OSError as exc:
            raise DataError(
                f"Cannot write cache entry '{path}' ({exc}); free disk space or set "
                "LANDMARKBENCH_CACHE to a writable folder."
            ) from exc
        loaded = _load_entry(path, target)
        if loaded is None:  # pragma: no cover - only if another process corrupts the file
            raise DataError(
                f"Cache entry '{path}' could not be read back after writing it; check that "
                f"the cache folder '{self.root}' is on a working, writable disk."
            )
        return loaded

    def entry_path(self, case: Case, target_shape: tuple[int, ...]) -> Path:
        """Where the entry of ``case`` at ``target_shape`` lives (it may not exist yet)."""
        key = {
            "source": case.source,
            "file": _file_signature(case.source),
            "original_shape": [int(s) for s in case.shape],
            "target_shape": [int(s) for s in target_shape],
            "version": self.version,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return self.root / f"{digest[:32]}.npy"


def resize_to_network(case: Case, target_shape: tuple[int, ...]) -> np.ndarray:
    """Decode the case's image and resize-with-pad it to ``target_shape`` (no caching).

    Raises:
        DataError: If the decoded image's shape differs from ``case.shape``.
    """
    from landmarkbench.preprocessing.network_input import resize_to_grid

    image = np.ascontiguousarray(case.image, dtype=np.float32)
    if tuple(image.shape) != tuple(case.shape):
        raise DataError(
            f"Case {case.case_id!r} declares image shape {tuple(case.shape)} but its image "
            f"has shape {image.shape}; fix the adapter's image_shape or the image file."
        )
    return resize_to_grid(image, tuple(int(s) for s in target_shape))


def _file_signature(source: str) -> list[int] | None:
    """[size, mtime_ns] of ``source`` when it is an existing file, else None."""
    try:
        stat = os.stat(source)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(source):
        return None
    return [int(stat.st_size), int(stat.st_mtime_ns)]


def _load_entry(path: Path, target_shape: tuple[int, ...]) -> np.ndarray | None:
    """The memory-mapped entry, or None when it is missing or not the expected array."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if array.shape != target_shape or array.dtype != np.float32:
        return None
    return array
