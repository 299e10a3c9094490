"""Problems found in a dataset tree on disk, and the helpers adapters use to find them.

Adapters implement ``validate_tree(data_dir, **options) -> list[Problem]`` and call
``check_checksums`` for the files whose hashes their manifest's ``.sha256`` file lists.
Validation only reads: it never writes into the data folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from landmarkbench.errors import DataError
from landmarkbench.manifest import sha256_of


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


def format_problems(problems: Iterable[Problem]) -> str:
    """One ``path: message`` line per problem (no trailing newline)."""
    return "\n".join(str(problem) for problem in problems)
