"""The k-fold cross-validation protocol: K folds over the sorted case ids, fixed seed."""

from __future__ import annotations

import random

from landmarkbench.catalog import PROTOCOLS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import UsageError
from landmarkbench.protocols.split import Fold, Split


@PROTOCOLS.register("kfold", "K-fold cross-validation over sorted case ids with a fixed seed.")
def kfold_split(dataset: LandmarkDataset, *, folds: int = 5, split_seed: int = 0) -> Split:
    """Partition the dataset's cases into ``folds`` test folds of near-equal size.

    The ids are sorted first and shuffled with ``random.Random(split_seed)``, so the split
    depends only on the set of ids, K and the seed, never on file-system order.

    Raises:
        UsageError: if ``folds`` is below 2 or above the number of cases.
    """
    ids = sorted(dataset.case_ids())
    if folds < 2:
        raise UsageError(
            f"--folds {folds} is not a cross-validation: k-fold needs at least 2 folds so "
            "that every case is tested by a model that never saw it; use --folds 2 or more "
            "(5 is usual), or --protocol official."
        )
    if folds > len(ids):
        raise UsageError(
            f"--folds {folds} exceeds the {len(ids)} cases of dataset {dataset.name!r}; "
            f"use at most {len(ids)} folds."
        )
    shuffled = ids[:]
    random.Random(split_seed).shuffle(shuffled)
    test_parts = [sorted(shuffled[k::folds]) for k in range(folds)]
    built = []
    for k, test in enumerate(test_parts):
        test_set = set(test)
        train = tuple(i for i in ids if i not in test_set)
        built.append(Fold(index=k, name=f"fold_{k}", train=train, test=tuple(test)))
    return Split(
        protocol="kfold",
        params={"folds": folds, "split_seed": split_seed, "n_cases": len(ids)},
        folds=tuple(built),
    )
