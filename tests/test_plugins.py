"""Plugins: a distribution with entry points adds a dataset and a method, end to end.

The plugin is a real distribution built in a temporary folder and installed by pip (offline,
no build isolation) into a folder of its own that the commands get on PYTHONPATH: entry-point
discovery reads it exactly as it reads site-packages, and the shared virtual environment is
never changed (tests running in parallel do not see the plugin). ``--method module:Class``
and ``--dataset module:Class`` load the same classes from a plain module, installed nowhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from landmarkbench.registry import Registry

PLUGIN_MODULE = '''
"""A tiny landmarkbench plugin: a generated 2D dataset and a mean-position method."""

import numpy as np

from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.methods.base import Method


class TinyDots(LandmarkDataset):
    """Three jittered dots on a blank 32 x 32 image (a plugin dataset)."""

    name = "tiny_dots"
    version = "1"
    ndim = 2
    landmark_names = ("left", "right", "bottom")
    ground_truth_options = ("truth",)

    def __init__(self, n_cases: int = 10, ground_truth=None):
        super().__init__(ground_truth)
        self.n_cases = n_cases

    def case_ids(self):
        return [f"dots_{i:02d}" for i in range(self.n_cases)]

    def load(self, case_id):
        jitter = np.random.default_rng(int(case_id[-2:])).normal(0.0, 1.0, (3, 2))
        points = np.array([[8.0, 8.0], [8.0, 24.0], [24.0, 16.0]]) + jitter
        return Case.in_memory(case_id, np.zeros((32, 32), np.float32), points, np.ones(2))

    def options(self):
        return {"n_cases": self.n_cases}


class TrainingMean(Method):
    """Predicts the mean training position of every landmark (a plugin method)."""

    def fit(self, train, val, ctx):
        self.mean = np.nanmean(np.stack([c.landmarks for c in train]), axis=0)
        return {"n_train": len(train)}

    def predict(self, cases):
        return np.stack([self.mean for _ in cases])


def not_a_method():
    """A function, declared as a method by mistake."""
'''

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "lb-tiny-plugin"
version = "0.1"

[project.entry-points."landmarkbench.datasets"]
tiny_dots = "tiny_lb_plugin:TinyDots"

[project.entry-points."landmarkbench.methods"]
training_mean = "tiny_lb_plugin:TrainingMean"
broken_import = "tiny_lb_plugin_missing:Nothing"
wrong_type = "tiny_lb_plugin:not_a_method"
mean_shape = "tiny_lb_plugin:TrainingMean"

[tool.setuptools]
py-modules = ["tiny_lb_plugin"]
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the plugin distribution is installed into (by pip, offline)."""
    source = tmp_path_factory.mktemp("plugin-src")
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (source / "tiny_lb_plugin.py").write_text(PLUGIN_MODULE)
    target = tmp_path_factory.mktemp("plugin-installed")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"installing the plugin failed:\n{done.stdout}\n{done.stderr}")
    assert list(target.glob("lb_tiny_plugin-0.1.dist-info/entry_points.txt"))
    return target


def _cli(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(cwd)])}
    return subprocess.run(
        [sys.executable, "-m", "landmarkbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ls_lists_plugins_and_notes_the_broken_ones(plugin_path: Path, tmp_path: Path) -> None:
    done = _cli(["ls"], tmp_path, plugin_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    dots = next(line for line in lines if line.strip().startswith("tiny_dots"))
    assert "Three jittered dots" in dots and "[2D]" in dots
    assert "(plugin from lb-tiny-plugin 0.1)" in dots
    mean = next(line for line in lines if line.strip().startswith("training_mean"))
    assert "(plugin from lb-tiny-plugin 0.1)" in mean
    # The built-ins are all still there, the built-in mean_shape unchanged.
    builtin = next(line for line in lines if line.strip().startswith("mean_shape"))
    assert "plugin" not in builtin and "synthetic_ceph" in done.stdout
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 3, done.stderr
    text = "\n".join(notes)
    assert "'broken_import'" in text and "ModuleNotFoundError" in text
    assert "'wrong_type'" in text and "not a subclass of landmarkbench.methods.base.Method" in text
    assert "'mean_shape'" in text and "built-in method" in text
    assert "lb-tiny-plugin 0.1" in text


def test_asking_for_a_broken_plugin_gives_its_error(plugin_path: Path, tmp_path: Path) -> None:
    done = _cli(["run", "--method", "broken_import"], tmp_path, plugin_path)
    assert done.returncode == 2
    assert "broken_import" in done.stderr and "No module named" in done.stderr
    assert "Traceback" not in done.stderr


def test_plugin_dataset_and_method_run_end_to_end(plugin_path: Path, tmp_path: Path) -> None:
    args = ["--dataset", "tiny_dots", "--method", "training_mean,mean_shape", "--folds", "2"]
    done = _cli(["run", *args, "--no-progress"], tmp_path, plugin_path)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p.name for p in (tmp_path / "results" / "tiny_dots").glob("kfold-*/*"))
    assert [r.split("__")[0] for r in runs] == ["mean_shape", "training_mean"]
    summary = next((tmp_path / "results" / "tiny_dots").glob("kfold-*/training_mean__*/seed_0"))
    predictions = sorted(summary.glob("fold_*/predictions.csv"))
    assert len(predictions) == 2
    summaries = list(summary.glob("summary_*.json"))
    assert summaries and json.loads(summaries[0].read_text())
    table = _cli(["table", "--dataset", "tiny_dots"], tmp_path, plugin_path)
    assert table.returncode == 0, table.stderr
    assert "training_mean" in table.stdout and "mean_shape" in table.stdout


def test_module_class_reference_without_installation(tmp_path: Path) -> None:
    (tmp_path / "tests_plugin_module.py").write_text(PLUGIN_MODULE)
    args = [
        "run",
        "--dataset",
        "tests_plugin_module:TinyDots",
        "--method",
        "tests_plugin_module:TrainingMean",
        "--folds",
        "2",
        "--no-progress",
    ]
    done = _cli(args, tmp_path, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.glob("results/*/kfold-*/*TrainingMean__*/seed_0/fold_*/predictions.csv"))


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("tests_plugin_module:not_a_method", "is not a subclass of"),
        ("tests_plugin_module:Missing", "has no attribute 'Missing'"),
        ("tests_no_such_module:Thing", "No module named 'tests_no_such_module'"),
        ("tests_plugin_module:", "must be written package.module:Class"),
    ],
)
def test_bad_references_are_refused_with_a_sentence(
    tmp_path: Path, reference: str, expected: str
) -> None:
    (tmp_path / "tests_plugin_module.py").write_text(PLUGIN_MODULE)
    done = _cli(["run", "--method", reference], tmp_path, tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_registry_reads_plugins_in_process(
    plugin_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(plugin_path))
    methods: Registry[type] = Registry(
        "method", group="landmarkbench.methods", base="landmarkbench.methods.base:Method"
    )
    methods.register("mean_shape", "the built-in")(type("Builtin", (), {}))
    assert methods.names() == ["mean_shape", "training_mean"]
    assert methods.entry("training_mean").origin == "plugin from lb-tiny-plugin 0.1"
    assert methods.get("mean_shape").__name__ == "Builtin"
    assert sorted(methods.problems()) == ["broken_import", "mean_shape", "wrong_type"]
    with pytest.raises(Exception, match="not a subclass"):
        methods.get("wrong_type")
