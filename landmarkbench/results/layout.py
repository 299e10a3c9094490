"""Where results live: a results path is an identity, built and parsed in this one place.

Layout under the results root::

    <dataset>/splits/<split id>.json
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/fold_<name>/predictions.csv
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/fold_<name>/fold.json
    <dataset>/<split id>/<method>__<config hash>/seed_<s>/summary_<convention key>.json
    <dataset>/_models/<family>__<model hash>/          (final.pt, last.pt while training)

A fold folder holds predictions only, which no evaluation convention changes; every set of
conventions (SDR operator and radii, aggregation, ...) gets its own summary file, named by
its convention key, recomputed from the fold files. A fold folder exists only when complete
(it is written under a temporary name and renamed).

A model folder is keyed by what determines the trained model (dataset identity and ground
truth, training and inner validation ids, training settings, seed), never by the test set:
the test sets of an official split that share one training set share one model.

Earlier layouts still read: ``seed_<s>/summary.json`` (one summary per seed, before
convention keys) is listed by ``summary_files`` and replaced by the keyed summary the next
time that run is rerun with the same conventions. Model folders of the earlier layout
(``<split id>/_models/.../seed_<s>/fold_<name>``) are no longer read: the models are
retrained once when a fold folder is missing, and the old folders can be deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from landmarkbench.errors import ResultsError

_SEED_DIR = re.compile(r"^seed_(-?\d+)$")
_METHOD_DIR = re.compile(r"^(?P<method>[A-Za-z0-9_.+-]+?)__(?P<config>[0-9a-f]+)$")
# A method loaded as ``package.module:Class`` is stored as ``package.module+Class`` (':' is
# not allowed in folder names everywhere); ``parse`` turns it back.
_PATH_COLON = "+"

PREDICTIONS_FILE = "predictions.csv"
FOLD_FILE = "fold.json"
SUMMARY_FILE = "summary.json"  # the earlier layout: one summary per seed folder
SUMMARY_PREFIX = "summary_"
CONVENTIONS_PART = "conventions_"


@dataclass(frozen=True)
class RunIdentity:
    """The coordinates of one (dataset, split, method, config, seed, conventions) result.

    ``conventions`` is the convention key (``results.summary.convention_key``); None names a
    summary of the earlier layout, made before results were keyed by their conventions.
    """

    dataset: str
    split_id: str
    method: str
    config_hash: str
    seed: int
    conventions: str | None = None

    @property
    def key(self) -> str:
        """A single string naming the result (the MLflow run key tag)."""
        parts = self.relative_parts()
        if self.conventions:
            parts = (*parts, f"{CONVENTIONS_PART}{self.conventions}")
        return "/".join(parts)

    def relative_parts(self) -> tuple[str, ...]:
        """The run folder's parts under the results root (conventions are not a folder)."""
        return (
            self.dataset,
            self.split_id,
            f"{self.method.replace(':', _PATH_COLON)}__{self.config_hash}",
            f"seed_{self.seed}",
        )

    def run_dir(self, root: Path) -> Path:
        """The folder of this run (its folds and every convention's summary)."""
        return root.joinpath(*self.relative_parts())

    def summary_path(self, root: Path) -> Path:
        """The summary file of this result."""
        name = f"{SUMMARY_PREFIX}{self.conventions}.json" if self.conventions else SUMMARY_FILE
        return self.run_dir(root) / name

    def fold_dir(self, root: Path, fold_name: str) -> Path:
        """The folder of one fold of this run (shared by every set of conventions)."""
        return self.run_dir(root) / f"fold_{fold_name.removeprefix('fold_')}"

    @classmethod
    def parse(cls, run_dir: Path, root: Path) -> RunIdentity:
        """Inverse of ``run_dir`` (the conventions are read from a summary, not a path).

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
            method=method_match["method"].replace(_PATH_COLON, ":"),
            config_hash=method_match["config"],
            seed=int(seed_match[1]),
        )


def model_dir(root: Path, dataset: str, family: str, model_hash: str) -> Path:
    """Where a trained model and its checkpoints live, shared by every method, fold and
    run whose training is identical (``model_hash`` covers what determines the model)."""
    return root / dataset / "_models" / f"{family}__{model_hash}"


def split_file(root: Path, dataset: str, split_id: str) -> Path:
    """Where the split with id ``split_id`` of ``dataset`` is persisted."""
    return root / dataset / "splits" / f"{split_id}.json"


def summary_files(root: Path, dataset: str) -> list[Path]:
    """Every run summary stored for ``dataset`` (one per run and conventions), sorted;
    summaries of the earlier layout (``summary.json``) are included."""
    base = root / dataset
    keyed = base.glob(f"*/*__*/seed_*/{SUMMARY_PREFIX}*.json")
    legacy = base.glob(f"*/*__*/seed_*/{SUMMARY_FILE}")
    return sorted({*keyed, *legacy})


def run_folders(root: Path) -> list[Path]:
    """Every run folder (``<dataset>/<split>/<method>__<hash>/seed_<s>``) under ``root``."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*/*__*/seed_*") if p.is_dir())
