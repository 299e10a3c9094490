"""Where results live: a results path is an identity, built and parsed in this one place.

Layout under the results root::

    <dataset>/splits/<split id>.json
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/fold_<name>/predictions.csv
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/fold_<name>/fold.json
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/summary.json

A fold folder exists only when complete (it is written under a temporary name and renamed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from landmarkbench.errors import ResultsError

_SEED_DIR = re.compile(r"^seed_(-?\d+)$")
_METHOD_DIR = re.compile(r"^(?P<method>[A-Za-z0-9_.-]+?)__(?P<config>[0-9a-f]+)$")

PREDICTIONS_FILE = "predictions.csv"
FOLD_FILE = "fold.json"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class RunIdentity:
    """The coordinates of one (dataset, split, method, config, seed) run."""

    dataset: str
    split_id: str
    method: str
    config_hash: str
    seed: int

    @property
    def key(self) -> str:
        """A single string naming the run (used as the MLflow tag)."""
        return "/".join(self.relative_parts())

    def relative_parts(self) -> tuple[str, ...]:
        return (
            self.dataset,
            self.split_id,
            f"{self.method}__{self.config_hash}",
            f"seed_{self.seed}",
        )

    def run_dir(self, root: Path) -> Path:
        """The folder of this run under the results ``root``."""
        return root.joinpath(*self.relative_parts())

    def fold_dir(self, root: Path, fold_name: str) -> Path:
        """The folder of one fold of this run."""
        return self.run_dir(root) / f"fold_{fold_name.removeprefix('fold_')}"

    @classmethod
    def parse(cls, run_dir: Path, root: Path) -> RunIdentity:
        """Inverse of ``run_dir``.

        Raises:
            ResultsError: if ``run_dir`` is not a run folder under ``root``.
        """
        try:
            dataset, split_id, method_dir, seed_dir = run_dir.relative_to(root).parts
        except ValueError:
            raise ResultsError(
                f"'{run_dir}' is not a run folder under '{root}' "
                "(expected <dataset>/<split>/<method>__<hash>/seed_<s>)."
            ) from None
        method_match, seed_match = _METHOD_DIR.match(method_dir), _SEED_DIR.match(seed_dir)
        if not method_match or not seed_match:
            raise ResultsError(
                f"'{run_dir}' does not follow <dataset>/<split>/<method>__<hash>/seed_<s>; "
                "it was not written by landmarkbench: move it out of the results folder."
            )
        return cls(
            dataset=dataset,
            split_id=split_id,
            method=method_match["method"],
            config_hash=method_match["config"],
            seed=int(seed_match[1]),
        )


def model_dir(
    root: Path, dataset: str, split_id: str, family: str, model_hash: str, seed: int, fold: str
) -> Path:
    """Where a fold's trained model and checkpoints live, shared by every method whose
    training is identical (same family, training settings, data, split and seed)."""
    fold_part = f"fold_{fold.removeprefix('fold_')}"
    return (
        root
        / dataset
        / split_id
        / "_models"
        / f"{family}__{model_hash}"
        / f"seed_{seed}"
        / fold_part
    )


def split_file(root: Path, dataset: str, split_id: str) -> Path:
    """Where the split with id ``split_id`` of ``dataset`` is persisted."""
    return root / dataset / "splits" / f"{split_id}.json"


def summary_files(root: Path, dataset: str) -> list[Path]:
    """Every run summary stored for ``dataset``, sorted."""
    return sorted((root / dataset).glob(f"*/*__*/seed_*/{SUMMARY_FILE}"))
