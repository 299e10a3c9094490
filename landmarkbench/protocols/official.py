"""The official protocol: the fixed train/test split a dataset declares."""

from __future__ import annotations

from landmarkbench.catalog import PROTOCOLS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import UsageError
from landmarkbench.protocols.split import Fold, Split


@PROTOCOLS.register("official", "The dataset's declared split: train once, test on each test set.")
def official_split(dataset: LandmarkDataset, **_ignored: object) -> Split:
    """One fold per declared test set, all trained on the declared training set.

    Raises:
        UsageError: if the dataset declares no official split.
    """
    declared = dataset.official_split()
    if not declared:
        raise UsageError(
            f"Dataset {dataset.name!r} declares no official split; use --protocol kfold."
        )
    if "train" not in declared:
        raise UsageError(
            f"The official split of dataset {dataset.name!r} has no 'train' part; "
            "fix the dataset adapter's official_split()."
        )
    train = tuple(sorted(declared["train"]))
    test_names = [name for name in declared if name != "train"]
    folds = tuple(
        Fold(index=k, name=name, train=train, test=tuple(sorted(declared[name])))
        for k, name in enumerate(test_names)
    )
    return Split(protocol="official", params={"test_sets": test_names}, folds=folds)
