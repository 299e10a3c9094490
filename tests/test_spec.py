"""The typed experiment spec, its YAML files, --config / --dump-config and the stored copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from landmarkbench.cli.main import main
from landmarkbench.config import short_hash
from landmarkbench.errors import ConfigError, UsageError
from landmarkbench.results.layout import summary_files
from landmarkbench.spec import (
    DatasetSpec,
    ExperimentSpec,
    MethodSpec,
    ProtocolSpec,
    dump_yaml,
    load_experiment,
    spec_from_dict,
)
from landmarkbench.spec.overrides import apply_options

TINY = ["--method", "mean_shape", "--folds", "2", "--data-option", "n_cases=8"]


def test_default_spec_round_trips_through_yaml_with_the_same_identity() -> None:
    spec = ExperimentSpec()
    again = spec_from_dict(yaml.safe_load(dump_yaml(spec)))
    assert again == spec
    assert again.canonical_json() == spec.canonical_json()
    assert again.identity == spec.identity == short_hash(spec.to_dict(), length=12)
    assert [m.name for m in spec.methods] == ["mean_shape", "subpixel"]
    assert spec.method("subpixel").settings["max_epochs"] == 25  # resolved, every key


def test_yaml_values_and_command_line_text_give_the_same_settings() -> None:
    typed = MethodSpec("subpixel", {"max_epochs": 3, "channels": [8, 16], "heatmap_peak": 10})
    text = MethodSpec("subpixel", {"max_epochs": "3", "channels": "8,16", "heatmap_peak": "10"})
    assert typed == text
    assert typed.settings["channels"] == (8, 16)
    assert isinstance(typed.settings["heatmap_peak"], float)  # hashes stay those of floats


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: ProtocolSpec(folds=1), ["--folds 1", "at least 2 folds"]),
        (lambda: ProtocolSpec(kind="official", folds=3), ["--folds applies"]),
        (lambda: ExperimentSpec(protocol=ProtocolSpec(val_fraction=5)), ["5.0"]),
        (lambda: ProtocolSpec(split_seed=-1), ["-1"]),
        (lambda: MethodSpec("subpixel", {"batch_size": 0}), ["batch_size=0"]),
        (lambda: MethodSpec("subpixl"), ["Did you mean 'subpixel'"]),
        (lambda: DatasetSpec(options={"n_cases": "abc"}), ["n_cases", "--data-option"]),
        (lambda: DatasetSpec(options={"ground_truth": "x"}), ["--gt"]),
        (lambda: ExperimentSpec(seeds=(0, 0)), ["repeat"]),
        (lambda: ExperimentSpec(device="tpu"), ["device=tpu", "'cuda'"]),
    ],
)
def test_the_spec_refuses_bad_values_when_built(build, words) -> None:
    with pytest.raises(UsageError) as caught:
        build()
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_options_override_a_spec_and_set_merges_into_its_settings() -> None:
    base = spec_from_dict({"methods": {"subpixel": {"max_epochs": 7, "batch_size": 2}}})
    spec = apply_options(base, overrides=("max_epochs=3",), folds=4)
    assert spec.method("subpixel").settings["max_epochs"] == 3
    assert spec.method("subpixel").settings["batch_size"] == 2
    assert spec.protocol.folds == 4
    with pytest.raises(ConfigError, match="max_epoch'"):
        apply_options(base, overrides=("max_epoch=3",))


def test_yaml_typo_names_the_file_and_the_key(workdir: Path, capsys) -> None:
    path = workdir / "e.yaml"
    path.write_text("protocol:\n  fold: 2\nmethods: [mean_shape]\n")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'fold'" in err and "Did you mean 'folds'?" in err
    path.write_text("methods:\n  subpixel: {max_epoch: 3}\n")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Did you mean 'max_epochs'?" in err


def test_invalid_yaml_value_is_refused_before_any_training(workdir: Path, capsys) -> None:
    path = workdir / "e.yaml"
    path.write_text("methods:\n  subpixel: {max_epochs: -1}\n")
    assert main(["run", "--config", str(path)]) == 2
    assert "max_epochs=-1" in capsys.readouterr().err
    assert not (workdir / "results").exists() and not (workdir / "mlflow.db").exists()


def test_dump_config_then_config_reproduces_the_run_identity(workdir: Path, capsys) -> None:
    assert main(["run", "--dump-config", *TINY]) == 0
    dumped = capsys.readouterr().out
    assert not (workdir / "results").exists()  # --dump-config runs nothing
    (workdir / "e.yaml").write_text(dumped)
    assert main(["run", *TINY, "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert "trained 2 fold(s)" in first
    (summary,) = summary_files(workdir / "results", "synthetic_ceph")

    assert main(["run", "--config", "e.yaml", "--no-progress"]) == 0
    again = capsys.readouterr().out
    assert "trained 0 fold(s)" in again and "reused 2 finished fold(s)" in again
    assert summary_files(workdir / "results", "synthetic_ceph") == [summary]
    stored = load_experiment(summary.parent / "experiment.yaml")
    assert stored == load_experiment(workdir / "e.yaml").for_run("mean_shape", 0)
    # An option on top of the file wins over it (and is a new run).
    assert main(["run", "--config", "e.yaml", "--dump-config", "--folds", "3"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["protocol"]["folds"] == 3


def test_dump_config_of_the_default_run_names_the_defaults(capsys) -> None:
    assert main(["run", "--dump-config"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert list(data["methods"]) == ["mean_shape", "subpixel"]
    assert data["dataset"]["name"] == "synthetic_ceph" and data["seeds"] == [0]
    assert spec_from_dict(data) == ExperimentSpec()
