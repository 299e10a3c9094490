"""The hold-out protocol: one seeded test part of 1/K of the cases, trained on the rest.

It is the first fold of the seeded K-fold split (``protocols.kfold``), so a hold-out and a
K-fold cross-validation with the same seed and K test the same cases in their fold 0. With
K = 5 (the default) 150 cases become 120 training and 30 test cases.
"""

from __future__ import annotations

from landmarkbench.catalog import PROTOCOLS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.protocols.kfold import kfold_split
from landmarkbench.protocols.split import Fold, Split


@PROTOCOLS.register(
    "holdout", "One seeded hold-out test part (1/K of the cases, K = --folds, default 5)."
)
def holdout_split(dataset: LandmarkDataset, *, folds: int = 5, split_seed: int = 0) -> Split:
    """Fold 0 of ``kfold_split(dataset, folds, split_seed)``, named ``holdout``.

    Raises:
        UsageError: as ``kfold_split`` for a K below 2 or above the number of cases.
    """
    first = kfold_split(dataset, folds=folds, split_seed=split_seed).folds[0]
    fold = Fold(index=0, name="holdout", train=first.train, test=first.test)
    return Split(
        protocol="holdout",
        params={"folds": folds, "split_seed": split_seed, "n_cases": len(dataset.case_ids())},
        folds=(fold,),
    )
