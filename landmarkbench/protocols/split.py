"""Splits as data: folds of case ids, validated, saved as canonical JSON and hashed.

The sha256 of the canonical JSON (sorted keys, no whitespace) identifies a split; it is
recorded with every result and is part of every results path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarkbench.atomic_io import write_json_atomically
from landmarkbench.config import canonical_json
from landmarkbench.errors import SplitError


@dataclass(frozen=True)
class Fold:
    """One train/test partition. ``name`` is how results call the test part."""

    index: int
    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    """The folds of one protocol applied to one dataset."""

    protocol: str
    params: dict[str, Any]
    folds: tuple[Fold, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "params": self.params,
            "folds": [
                {"index": f.index, "name": f.name, "train": list(f.train), "test": list(f.test)}
                for f in self.folds
            ],
        }

    def canonical_json(self) -> str:
        return canonical_json(self.to_json_dict())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def identity(self) -> str:
        """Short, path-safe name of the split: protocol, main parameters and hash prefix."""
        return f"{self.protocol}-{self.sha256[:10]}"

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Split:
        folds = tuple(
            Fold(int(f["index"]), str(f["name"]), tuple(f["train"]), tuple(f["test"]))
            for f in data["folds"]
        )
        return cls(protocol=data["protocol"], params=dict(data["params"]), folds=folds)


def validate_split(split: Split, case_ids: Sequence[str]) -> None:
    """Check that every fold is disjoint and uses only known case ids.

    Raises:
        SplitError: on train/test overlap, an unknown id, or an empty train or test part.
    """
    known = set(case_ids)
    for fold in split.folds:
        overlap = sorted(set(fold.train) & set(fold.test))
        if overlap:
            raise SplitError(
                f"Fold {fold.name!r} of the {split.protocol} split has {len(overlap)} case(s) "
                f"in both train and test (first: {overlap[0]!r}); a test case must never be "
                "trained on: delete the split file so it is regenerated, or fix it."
            )
        unknown = sorted((set(fold.train) | set(fold.test)) - known)
        if unknown:
            raise SplitError(
                f"Fold {fold.name!r} of the {split.protocol} split names {len(unknown)} case "
                f"id(s) the dataset does not have (first: {unknown[0]!r}); the split was made "
                "for other data: delete the split file or pass the matching dataset options."
            )
        if not fold.train or not fold.test:
            raise SplitError(
                f"Fold {fold.name!r} of the {split.protocol} split has an empty "
                f"{'train' if not fold.train else 'test'} part; use fewer folds or more cases."
            )


def persist_split(split: Split, path: Path) -> Split:
    """Save ``split`` at ``path``, or load the one already there and check it is the same.

    A split is generated once and then read back, so that every later run uses the very
    same folds. A stored split that differs from the regenerated one is an error.

    Raises:
        SplitError: if the file exists with different folds or cannot be parsed.
    """
    if path.exists():
        try:
            stored = Split.from_json_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise SplitError(
                f"Split file '{path}' cannot be parsed ({exc}); delete it to regenerate it."
            ) from exc
        if stored.sha256 != split.sha256:
            raise SplitError(
                f"Split file '{path}' (sha256 {stored.sha256[:12]}) differs from the split "
                f"these settings generate (sha256 {split.sha256[:12]}); it was edited or made "
                "by another version: delete it to regenerate, or restore the original."
            )
        return stored
    write_json_atomically(path, split.to_json_dict())
    return split
