"""The published-folds protocol: a cross-validation whose folds a dataset declares."""

from __future__ import annotations

from landmarkbench.catalog import PROTOCOLS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import UsageError
from landmarkbench.protocols.split import Fold, Split


@PROTOCOLS.register(
    "published_folds", "The cross-validation folds published with the dataset (e.g. ISBI 4-fold)."
)
def published_folds_split(dataset: LandmarkDataset, **_ignored: object) -> Split:
    """One fold per published test fold, trained on the union of the others.

    Raises:
        UsageError: if the dataset publishes no folds.
    """
    declared = dataset.published_folds()
    if not declared:
        raise UsageError(
            f"Dataset {dataset.name!r} publishes no cross-validation folds; use "
            "--protocol kfold (seeded folds) or --protocol official."
        )
    ids = sorted({case for fold in declared for case in fold})
    folds = []
    for k, test in enumerate(declared):
        test_set = set(test)
        train = tuple(i for i in ids if i not in test_set)
        folds.append(Fold(index=k, name=f"fold_{k}", train=train, test=tuple(sorted(test))))
    return Split(protocol="published_folds", params={"folds": len(folds)}, folds=tuple(folds))
