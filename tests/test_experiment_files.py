"""The suite's own experiment files (benchmarks/experiments/*.yaml) load and validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.run.gate import gate_spec
from landmarkbench.spec import ExperimentSpec, load_experiment

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "benchmarks" / "experiments"
REAL = ("isbi2015", "oai_pelvis", "mml", "endovis2015", "adaptor_sutures")


def test_the_suite_ships_the_default_the_gate_and_one_file_per_real_dataset() -> None:
    names = {path.stem for path in FOLDER.glob("*.yaml")}
    assert {"default", "ci_gate", *REAL} <= names


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_file_loads_and_fits_its_data(path: Path) -> None:
    spec = load_experiment(path)  # validates every value and combination it can without data
    dataset = DATASETS.get(spec.dataset.name)
    for method in spec.methods:
        method_cls = METHODS.get(method.name)
        assert method_cls.multi_instance == dataset.multi_instance, method.name
        assert dataset.ndim in method_cls.supported_ndim, method.name


def test_default_file_is_the_default_run() -> None:
    assert load_experiment(FOLDER / "default.yaml") == ExperimentSpec()


def test_gate_file_is_the_committed_baseline_spec() -> None:
    block = json.loads((ROOT / "results" / "baselines" / "ci_tiny.json").read_text())["spec"]
    spec = load_experiment(FOLDER / "ci_gate.yaml")
    assert spec.seeds == (0, 1, 2)
    assert spec.replace(seeds=(0,)) == gate_spec(block)


@pytest.mark.parametrize("name", REAL)
def test_real_dataset_files_name_their_dataset(name: str) -> None:
    spec = load_experiment(FOLDER / f"{name}.yaml")
    assert spec.dataset.name == name and "data_dir" in spec.dataset.options
