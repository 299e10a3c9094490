"""Recipes: shipped experiment files of method settings per real dataset, chosen by device
when none is named, validated before anything trains, part of a result's identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.cli.main import main
from landmarkbench.datasets.isbi2015.adapter import ISBI2015
from landmarkbench.errors import UsageError
from landmarkbench.spec.experiment import ExperimentSpec, MethodSpec
from landmarkbench.spec.overrides import apply_options
from landmarkbench.spec.recipes import RECIPES_DIR, available_recipes, recipe_settings
from landmarkbench.spec.yaml_io import load_experiment

MISSION_METHODS = {
    "argmax", "subpixel", "local_soft_argmax", "soft_argmax", "scn", "adaptive_gaussian",
    "one_hot", "one_hot_ensemble",
}  # fmt: skip
RECIPE_FILES = sorted(RECIPES_DIR.glob("*/*.yaml"))


def test_the_real_datasets_ship_a_cpu_and_a_paper_recipe() -> None:
    for dataset in ("isbi2015", "oai_pelvis", "mml"):
        assert available_recipes(dataset) == ("cpu", "paper"), dataset
    assert available_recipes("synthetic_ceph") == ()


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recipe_file_is_a_valid_experiment_file(path: Path) -> None:
    spec = load_experiment(path)
    assert spec.dataset.name == path.parent.name and spec.recipe == path.stem
    assert path.read_text().startswith("# "), "the first line says what the recipe is"
    listed = set(yaml.safe_load(path.read_text())["methods"])
    assert listed >= MISSION_METHODS, sorted(MISSION_METHODS - listed)
    for method in spec.methods:
        assert method.recipe == (path.stem if recipe_settings(spec.dataset.name, path.stem)
                                 .get(method.name) else None)  # fmt: skip
        # every setting the file gives is one the method declares, and it is the one used
        for key, value in recipe_settings(spec.dataset.name, path.stem)[method.name].items():
            assert key in METHODS.get(method.name).defaults
            used = method.settings[key]
            assert (list(used) if isinstance(used, tuple) else used) == value, (method.name, key)


def test_a_real_dataset_runs_the_cpu_recipe_on_a_cpu_and_the_paper_recipe_on_cuda(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    spec = apply_options(ExperimentSpec(), dataset="isbi2015", methods=["subpixel"])
    assert spec.recipe == "cpu" and not spec.recipe_chosen
    cpu = recipe_settings("isbi2015", "cpu")["subpixel"]
    assert spec.method("subpixel").settings["max_epochs"] == cpu["max_epochs"]
    assert "chosen for this device, cpu" in spec.recipe_note()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    spec = apply_options(ExperimentSpec(), dataset="isbi2015", methods=["subpixel"])
    assert spec.recipe == "paper"
    paper = recipe_settings("isbi2015", "paper")["subpixel"]
    assert spec.method("subpixel").settings["max_epochs"] == paper["max_epochs"]
    assert "chosen for this device, cuda" in spec.recipe_note()


def test_set_overrides_the_recipe_and_none_runs_the_declared_defaults() -> None:
    spec = apply_options(
        ExperimentSpec(), dataset="isbi2015", methods=["scn"], overrides=["max_epochs=3"]
    )
    settings = spec.method("scn").settings
    cpu = recipe_settings("isbi2015", "cpu")["scn"]
    assert settings["max_epochs"] == 3
    assert list(settings["input_shape"]) == cpu["input_shape"]  # the rest is the recipe's
    plain = apply_options(ExperimentSpec(), dataset="isbi2015", methods=["scn"], recipe="none")
    assert plain.method("scn").settings == MethodSpec("scn").settings
    assert plain.method("scn").recipe is None and "declared defaults" in plain.recipe_note()


def test_datasets_without_recipes_keep_their_experiment_hash() -> None:
    spec = ExperimentSpec()
    assert spec.recipe is None and spec.recipe_note() is None
    assert "recipe" not in spec.to_dict()
    assert all(m.recipe is None for m in spec.methods)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"dataset": "isbi2015", "recipe": "fast"}, ["no recipe 'fast'", "cpu, paper"]),
        ({"recipe": "cpu"}, ["'synthetic_ceph' has no recipe", "no recipes"]),
    ],
)
def test_an_unknown_recipe_is_refused_with_the_choices(options: dict, words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        apply_options(ExperimentSpec(), **options)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_a_dumped_recipe_run_reloads_to_the_same_spec(tmp_path: Path) -> None:
    spec = apply_options(ExperimentSpec(), dataset="isbi2015", methods=["one_hot", "mean_shape"])
    path = tmp_path / "e.yaml"
    from landmarkbench.spec.yaml_io import dump_yaml

    path.write_text(dump_yaml(spec))
    again = load_experiment(path)
    assert again == spec and again.identity == spec.identity and again.recipe == "cpu"
    assert again.method("mean_shape").recipe is None  # no settings: no recipe


def test_the_recipe_is_announced_stored_and_named_in_the_table(workdir: Path, capsys) -> None:
    cases = [f"{i:03d}" for i in (*range(1, 9), 151, 152, 301, 302)]
    tree = ISBI2015.write_fixture(workdir / "isbi", case_ids=cases, image_shape=(40, 32))
    net = ["--set", "max_epochs=1", "--set", "channels=4,8", "--set", "input_shape=32,32",
           "--set", "augment=false"]  # fmt: skip
    run = ["run", "--dataset", "isbi2015", "--data-dir", str(tree), "--method", "one_hot",
           "--no-progress", *net]  # fmt: skip
    assert main(run) == 0
    out = capsys.readouterr().out
    assert out.startswith("Recipe: cpu for isbi2015 (chosen for this device, cpu")
    assert "one_hot (cpu)" in out  # the table names the recipe
    summary = json.loads(next((workdir / "results").rglob("one_hot__*/seed_0/summary_*.json"))
                         .read_text())  # fmt: skip
    assert summary["record"]["method"]["recipe"] == "cpu"
    cpu_dir = next((workdir / "results").rglob("one_hot__*/seed_0")).parent
    # The same settings under another recipe are another result (recipe in the hash).
    assert main([*run, "--recipe", "none"]) == 0
    folders = {p.name for p in cpu_dir.parent.glob("one_hot__*")}
    assert len(folders) == 2, folders
    capsys.readouterr()
    assert main(["table", "--dataset", "isbi2015"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "one_hot" in line and line.startswith("|")]
    names = sorted(r.split(" | ")[0].replace("⚠ ", "") for r in rows)  # tiny net: flagged
    assert names == ["| one_hot", "| one_hot (cpu)"], out
    # minutes of training per model, from the fold records (a 1-epoch model: well under 1)
    assert "Train min/model |" in out
    assert all(0.0 <= float(r.rstrip(" |").rsplit("| ", 1)[1]) < 1.0 for r in rows), rows


def test_every_real_dataset_with_recipes_is_registered() -> None:
    for folder in RECIPES_DIR.iterdir():
        if folder.is_dir():
            DATASETS.get(folder.name)
