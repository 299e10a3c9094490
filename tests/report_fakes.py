"""Stored runs without training, written through the public writers: the results folder of
issue 14's acceptance (2 datasets, 2 splits, 2 ground truths, 5 methods, one tagged smoke)
and its MLflow parent runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landmarkbench.protocols.split import Fold, Split
from landmarkbench.results.layout import RunIdentity
from landmarkbench.results.predictions import FoldPredictions, write_predictions
from landmarkbench.results.summary import build_summary, convention_key, write_fold_record

NAMES = [f"lm_{i}" for i in range(19)]
# (method, config hash, PE scale in mm, recipe, tags): a clear order, one smoke run.
METHODS = [
    ("good_net", "aaaa000001", 1.0, "cpu", ()),
    ("ok_net", "aaaa000002", 1.6, None, ()),
    ("twin_net", "aaaa000003", 1.62, None, ()),  # tied with ok_net by CI overlap
    ("mean_shape", "bb01", 4.0, None, ()),
    ("quick_net", "cc01", 0.5, None, ("smoke",)),  # best numbers, but a smoke run
]


def kfold(n_cases: int, k: int = 3) -> Split:
    ids = [f"{i:03d}" for i in range(n_cases)]
    folds = tuple(
        Fold(i, f"fold_{i}", tuple(c for c in ids if c not in ids[i::k]), tuple(ids[i::k]))
        for i in range(k)
    )
    return Split("kfold", {"folds": k, "split_seed": 0, "n_cases": n_cases}, folds)


def record_of(dataset, split, method, config, seed, gt, recipe=None, tags=()) -> dict:
    record = {
        "dataset": {
            "name": dataset,
            "ground_truth": gt,
            "landmark_names": NAMES,
            "multi_instance": False,
            "version": "1",
            "options": {"n_cases": len({c for f in split.folds for c in f.test})},
        },
        "metric": {"aggregation": "pooled", "sdr_operator": "<=", "sdr_radii_mm": [2.0, 4.0]},
        "protocol": {"name": split.protocol, "split_id": split.identity, "params": split.params},
        "method": {"name": method, "config": {}, **({"recipe": recipe} if recipe else {})},
        "config_hash": config,
        "seed": seed,
        "val_fraction": 0.1,
        **({"tags": list(tags)} if tags else {}),
    }
    record["convention_key"] = convention_key(record)
    return record


def store(root: Path, dataset: str, split: Split, method, config, scale, recipe=None,
          tags=(), seed: int = 0, gt: str = "mean") -> tuple[RunIdentity, dict]:  # fmt: skip
    """One complete fake run; returns its identity and protocol record. As in a real run,
    the ground truth is part of the config hash (the dataset's description is hashed)."""
    config = config if gt == "mean" else f"{config[:-2]}{gt[:2]}"
    rng = np.random.default_rng(abs(hash((dataset, method, seed, gt, split.identity))) % 2**32)
    record = record_of(dataset, split, method, config, seed, gt, recipe, tags)
    identity = RunIdentity(dataset, split.identity, method, config, seed, convention_key(record))
    for fold in split.folds:
        n = len(fold.test)
        truth = rng.uniform(0, 500, size=(n, len(NAMES), 2))
        offset = rng.normal(0.0, scale / np.sqrt(2), size=truth.shape) / 0.1
        folder = identity.fold_dir(root, fold.name)
        folder.mkdir(parents=True)
        write_predictions(
            folder / "predictions.csv",
            FoldPredictions(fold.test, tuple(NAMES), truth + offset, truth, np.full((n, 2), 0.1)),
        )
        fit = {"parameters": 123_456, "train_seconds": 60.0} if method.endswith("net") else {}
        write_fold_record(
            folder, fold=fold, train_ids=fold.train, val_ids=(), fit_summary=fit, history={},
            seconds=0.0, metrics={}, record=record,
        )  # fmt: skip
    build_summary(identity, root, split, record, failed={})
    (identity.run_dir(root) / "experiment.yaml").write_text(f"methods: [{method}]\n")
    return identity, record


def acceptance_results(root: Path) -> list[tuple[RunIdentity, dict]]:
    """synthetic_ceph (splits of 30 and 12 cases, ground truths mean and annotator1) and
    synthetic_ct (one split), each with the five methods of METHODS."""
    stored = []
    for dataset, splits, gts in (
        ("synthetic_ceph", (kfold(30), kfold(12)), ("mean", "annotator1")),
        ("synthetic_ct", (kfold(18),), ("mean",)),
    ):
        for split in splits:
            for gt in gts:
                for method, config, scale, recipe, tags in METHODS:
                    stored.append(store(root, dataset, split, method, config, scale, recipe,
                                        tags, gt=gt))  # fmt: skip
    return stored


def log_parents(tracking: Path, stored: list[tuple[RunIdentity, dict]]) -> None:
    """An MLflow parent run per stored run, named and described as the runner does."""
    from landmarkbench.results.tracking import (
        Tracker,
        resolve_tracking_uri,
        run_description,
        run_title,
    )

    uri = resolve_tracking_uri(str(tracking))
    trackers: dict[str, Tracker] = {}
    for identity, record in stored:
        tracker = trackers.setdefault(identity.dataset, Tracker(uri, identity.dataset))
        run_id, _ = tracker.parent_run(
            identity.key,
            run_title(identity.method, record),
            record,
            description=run_description(identity.method, record),
        )
        tracker.finish_parent(run_id, {}, "FINISHED")
