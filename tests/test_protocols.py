"""Splits: determinism, persistence, hashing and the overlap error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import SplitError, UsageError
from landmarkbench.protocols.kfold import kfold_split
from landmarkbench.protocols.official import official_split
from landmarkbench.protocols.published_folds import published_folds_split
from landmarkbench.protocols.split import Fold, Split, persist_split, validate_split


class IdsOnly(LandmarkDataset):
    """A dataset that has case ids and nothing else (splits need nothing more)."""

    name = "ids_only"
    version = "1"
    ndim = 2
    landmark_names = ("a",)
    ground_truth_options = ("only",)

    def __init__(self, ids, official=None) -> None:
        super().__init__()
        self._ids = list(ids)
        self._official = official

    def case_ids(self):
        return sorted(self._ids)

    def load(self, case_id):  # pragma: no cover - not needed for splits
        raise NotImplementedError

    def official_split(self):
        return self._official


IDS = [f"c{i:03d}" for i in range(23)]


def test_kfold_partitions_every_case_once_with_balanced_sizes() -> None:
    split = kfold_split(IdsOnly(IDS), folds=5, split_seed=0)
    tested = [c for fold in split.folds for c in fold.test]
    assert sorted(tested) == sorted(IDS)
    assert sorted(len(f.test) for f in split.folds) == [4, 4, 5, 5, 5]
    for fold in split.folds:
        assert not set(fold.train) & set(fold.test)
        assert set(fold.train) | set(fold.test) == set(IDS)


def test_kfold_is_deterministic_and_independent_of_id_order() -> None:
    a = kfold_split(IdsOnly(IDS), folds=5, split_seed=3)
    b = kfold_split(IdsOnly(list(reversed(IDS))), folds=5, split_seed=3)
    c = kfold_split(IdsOnly(IDS), folds=5, split_seed=4)
    assert a.sha256 == b.sha256
    assert a.sha256 != c.sha256


@pytest.mark.parametrize("folds", [1, 0, 24])
def test_kfold_rejects_impossible_fold_counts(folds: int) -> None:
    with pytest.raises(UsageError, match=f"--folds {folds}"):
        kfold_split(IdsOnly(IDS), folds=folds)


def test_split_is_persisted_once_and_read_back(tmp_path: Path) -> None:
    split = kfold_split(IdsOnly(IDS), folds=4)
    path = tmp_path / "splits" / f"{split.identity}.json"
    assert persist_split(split, path) == split
    stored = json.loads(path.read_text())
    assert stored["params"] == {"folds": 4, "split_seed": 0, "n_cases": 23}
    assert persist_split(split, path).sha256 == split.sha256


def test_edited_split_file_is_refused(tmp_path: Path) -> None:
    split = kfold_split(IdsOnly(IDS), folds=4)
    path = tmp_path / "split.json"
    persist_split(split, path)
    data = json.loads(path.read_text())
    data["folds"][0]["test"].append(data["folds"][0]["train"][0])
    path.write_text(json.dumps(data))
    with pytest.raises(SplitError, match="differs from the split"):
        persist_split(split, path)


def test_overlap_between_train_and_test_is_an_error() -> None:
    bad = Split("kfold", {}, (Fold(0, "fold_0", ("c000", "c001"), ("c001", "c002")),))
    with pytest.raises(SplitError, match=r"both train and test.*'c001'"):
        validate_split(bad, IDS)


def test_unknown_case_in_split_is_an_error() -> None:
    bad = Split("kfold", {}, (Fold(0, "fold_0", ("c000",), ("nope",)),))
    with pytest.raises(SplitError, match="'nope'"):
        validate_split(bad, IDS)


def test_official_split_makes_one_fold_per_test_set() -> None:
    dataset = IdsOnly(IDS, {"train": IDS[:10], "test1": IDS[10:15], "test2": IDS[15:]})
    split = official_split(dataset)
    assert [f.name for f in split.folds] == ["test1", "test2"]
    assert all(f.train == tuple(IDS[:10]) for f in split.folds)


def test_official_split_requires_a_declaration() -> None:
    with pytest.raises(UsageError, match="declares no official split"):
        official_split(IdsOnly(IDS))


def test_published_folds_train_on_the_other_folds() -> None:
    class Published(IdsOnly):
        def published_folds(self):
            return [IDS[:8], IDS[8:16], IDS[16:]]

    split = published_folds_split(Published(IDS))
    assert [len(f.test) for f in split.folds] == [8, 8, 7]
    validate_split(split, IDS)
    assert set(split.folds[0].train) == set(IDS[8:])


def test_published_folds_require_a_declaration() -> None:
    with pytest.raises(UsageError, match="publishes no cross-validation folds"):
        published_folds_split(IdsOnly(IDS))
