"""Bad inputs to ``run`` and ``validate`` are refused with one sentence before anything trains.

Each case: exit code 1 or 2, a sentence naming the value or the file, never "internal
error", and (for ``run``) nothing written under the results folder or the tracking store.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.datasets.endoscopy.adaptor_sutures import AdaptORSutures
from landmarkbench.datasets.isbi2015.adapter import ISBI2015
from landmarkbench.datasets.mml.adapter import MML
from landmarkbench.datasets.oai_pelvis.adapter import OAIPelvis


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    """Miniature trees written once; each test works on its own copy."""
    base = tmp_path_factory.mktemp("trees")
    return {
        "isbi2015": ISBI2015.write_fixture(base / "isbi2015", image_shape=(64, 52)),
        "oai_pelvis": OAIPelvis.write_fixture(
            base / "oai_pelvis", n_cases=4, image_shape=(32, 32), table_format="csv"
        ),
        "mml": MML.write_fixture(base / "mml"),
        "adaptor_sutures": AdaptORSutures.write_fixture(base / "adaptor_sutures"),
    }


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_bytes().decode("ascii").split("\r\n")
    lines[number - 1] = text
    path.write_bytes("\r\n".join(lines).encode("ascii"))


def _isbi_far_landmark(root: Path) -> None:
    _replace_line(root / "AnnotationsByMD/400_senior/001.txt", 3, "99999,-500")


def _isbi_nan_line(root: Path) -> None:
    _replace_line(root / "AnnotationsByMD/400_junior/002.txt", 5, "nan,nan")


def _isbi_small_image(root: Path) -> None:
    from landmarkbench.imageio import write_image

    write_image(root / "RawImage/TrainingData/003.bmp", np.zeros((30, 40), np.uint8), rgb=True)


def _isbi_empty(root: Path) -> None:
    shutil.rmtree(root / "RawImage")


def _oai_outside(root: Path) -> None:
    import pandas as pd

    table = pd.read_csv(root / "Coordinates_information.csv")
    table.loc[1, "x2"] = 5000.0
    table.to_csv(root / "Coordinates_information.csv", index=False)


def _adaptor_outside(root: Path) -> None:
    import json

    for path in sorted(root.glob("*/*/point_labels/*.json")):
        document = json.loads(path.read_text())
        if document["points"]:
            document["points"][0]["x"] = 99999
            path.write_text(json.dumps(document))
            return


def _mml_label(change: Callable[[np.ndarray], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "train/0001_label.npy"
        label = np.load(path)
        change(label)
        np.save(path, label)

    return edit


def _nan_row(label: np.ndarray) -> None:
    label[2] = np.nan


def _far_row(label: np.ndarray) -> None:
    label[6] = [500.0, 3.0, 3.0]


SYNTH = ["--dataset", "synthetic_ceph", "--data-option", "n_cases=6"]

# (id, dataset tree or None, edit of the tree or None, argv after 'run', expected words)
RUN_CASES = [
    ("network", None, None, ["--method", "subpixel", "--set", "network=unte"], ["network=unte"]),
    (
        "typo-second-method",
        None,
        None,
        ["--method", "mean_shape,subpixel", "--set", "network=unte"],
        ["network=unte", "'subpixel'"],
    ),
    ("lr_schedule", None, None, ["--method", "argmax", "--set", "lr_schedule=cosin"], ["cosin"]),
    ("target", None, None, ["--method", "argmax", "--set", "target=gausian"], ["gausian"]),
    ("batch_size", None, None, ["--method", "argmax", "--set", "batch_size=0"], ["batch_size=0"]),
    ("lr-nan", None, None, ["--method", "argmax", "--set", "learning_rate=nan"], ["nan"]),
    ("lr-inf", None, None, ["--method", "argmax", "--set", "learning_rate=inf"], ["inf"]),
    ("lr-zero", None, None, ["--method", "one_hot", "--set", "learning_rate=0"], ["learning_rate"]),
    ("sigma", None, None, ["--method", "argmax", "--set", "sigma_px=-1"], ["sigma_px"]),
    ("channels", None, None, ["--method", "argmax", "--set", "channels="], ["channels"]),
    ("channel-0", None, None, ["--method", "argmax", "--set", "channels=16,0"], ["channels"]),
    ("input-shape", None, None, ["--method", "argmax", "--set", "input_shape=17,17"], ["17,17"]),
    (
        "input-shape-axes",
        None,
        None,
        ["--method", "argmax", "--set", "input_shape=32,32,32"],
        ["input_shape=32,32,32", "2-D"],
    ),
    (
        "ensemble",
        None,
        None,
        ["--method", "one_hot", "--set", "ensemble_size=0"],
        ["ensemble_size"],
    ),
    ("max-epochs", None, None, ["--method", "argmax", "--set", "max_epochs=-1"], ["max_epochs=-1"]),
    ("epochs-type", None, None, ["--method", "argmax", "--set", "max_epochs=ten"], ["ten"]),
    ("lsa-even", None, None, ["--method", "local_soft_argmax", "--set", "lsa_window=4"], ["4"]),
    ("scn-dropout", None, None, ["--method", "scn", "--set", "scn_dropout=1.5"], ["scn_dropout"]),
    ("unknown-key", None, None, ["--method", "argmax", "--set", "max_epoch=3"], ["max_epoch"]),
    ("folds-0", None, None, ["--method", "mean_shape", "--folds", "0"], ["--folds 0"]),
    ("folds-1", None, None, ["--method", "mean_shape", "--folds", "1"], ["--folds 1"]),
    ("radii", None, None, ["--method", "mean_shape", "--sdr-radii", "-1"], ["-1"]),
    ("val-fraction", None, None, ["--method", "mean_shape", "--val-fraction", "5"], ["5.0"]),
    (
        "calibration-fraction",
        None,
        None,
        ["--method", "subpixel", "--uncertainty", "conformal", "--calibration-fraction", "0.9"],
        ["--calibration-fraction 0.9"],
    ),
    (
        "alpha",
        None,
        None,
        ["--method", "subpixel", "--uncertainty", "conformal", "--alpha", "2"],
        ["--alpha 2"],
    ),
    ("seed", None, None, ["--method", "mean_shape", "--seed", "-1"], ["-1"]),
    ("n-cases-type", None, None, ["--data-option", "n_cases=abc"], ["n_cases", "--data-option"]),
    ("gt-option", None, None, ["--data-option", "ground_truth=senior"], ["--gt"]),
    ("gt-unknown", "isbi2015", None, ["--gt", "nobody"], ["nobody"]),
    ("isbi-empty", "isbi2015", _isbi_empty, [], ["holds no images"]),
    ("isbi-empty-heatmap", "isbi2015", _isbi_empty, ["--method", "subpixel"], ["holds no images"]),
    ("isbi-far", "isbi2015", _isbi_far_landmark, [], ["400_senior/001.txt", "line 3"]),
    ("isbi-nan", "isbi2015", _isbi_nan_line, [], ["400_junior/002.txt", "line 5"]),
    ("isbi-small-image", "isbi2015", _isbi_small_image, [], ["TrainingData/003.bmp"]),
    ("oai-outside", "oai_pelvis", _oai_outside, ["--folds", "2"], ["pelvis_001", "row 3"]),
    (
        "adaptor-outside",
        "adaptor_sutures",
        _adaptor_outside,
        ["--method", "peak_heatmap"],
        ["x=99999", "outside"],
    ),
    ("mml-nan", "mml", _mml_label(_nan_row), [], ["0001_label.npy", "row 3"]),
    ("mml-outside", "mml", _mml_label(_far_row), [], ["0001_label.npy", "row 7"]),
    (
        "mml-grid",
        "mml",
        None,
        ["--method", "one_hot_ensemble", "--set", "input_shape=16,16,16"],
        ["input_shape=16,16,16", "--set input_shape=32,32,32"],
    ),
]


def _copy(trees: dict[str, Path], name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(trees[name], target)
    return target


@pytest.mark.parametrize(
    ("tree", "edit", "argv", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in RUN_CASES],
)
def test_run_refuses_before_training(trees, tmp_path, capsys, tree, edit, argv, words) -> None:
    results, store = tmp_path / "results", tmp_path / "store"
    data: list[str] = SYNTH
    if tree is not None:
        root = _copy(trees, tree, tmp_path)
        if edit is not None:
            edit(root)
        method = [] if "--method" in argv else ["--method", "mean_shape"]
        data = ["--dataset", tree, "--data-dir", str(root), *method]
    code = main(
        [
            "run",
            *data,
            *argv,
            "--results-dir",
            str(results),
            "--tracking-uri",
            f"sqlite:///{store}/mlflow.db",
            "--no-progress",
        ]
    )
    out = capsys.readouterr()
    message = out.err.strip()
    assert code in (1, 2), out
    assert message.lower().startswith("error: ") and "internal error" not in message, message
    assert message.count("\n") == 0, message
    for word in words:
        assert word in message, message
    assert not results.exists() or not any(results.rglob("*")), list(results.rglob("*"))
    assert not store.exists()


VALIDATE_CASES = [
    ("gt-option", "isbi2015", None, ["--data-option", "ground_truth=senior"], 2, ["--gt"]),
    ("gt-unknown", "isbi2015", None, ["--gt", "nobody"], 2, ["nobody"]),
    ("option-type", "oai_pelvis", None, ["--data-option", "coordinate_scale=abc"], 2, ["abc"]),
    ("isbi-far", "isbi2015", _isbi_far_landmark, [], 1, ["400_senior/001.txt", "line 3"]),
    ("isbi-nan", "isbi2015", _isbi_nan_line, [], 1, ["400_junior/002.txt", "line 5"]),
    ("isbi-small-image", "isbi2015", _isbi_small_image, [], 1, ["TrainingData/003.bmp"]),
    ("oai-outside", "oai_pelvis", _oai_outside, [], 1, ["pelvis_001", "row 3"]),
    ("mml-nan", "mml", _mml_label(_nan_row), [], 1, ["0001_label.npy", "row 3"]),
    ("mml-outside", "mml", _mml_label(_far_row), [], 1, ["0001_label.npy", "row 7"]),
]


@pytest.mark.parametrize(
    ("tree", "edit", "argv", "code", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in VALIDATE_CASES],
)
def test_validate_names_the_problem(trees, tmp_path, capsys, tree, edit, argv, code, words) -> None:
    root = _copy(trees, tree, tmp_path)
    if edit is not None:
        edit(root)
    got = main(["validate", tree, "--data-dir", str(root), *argv])
    out = capsys.readouterr()
    text = out.out + out.err
    assert got == code, text
    assert "internal error" not in text
    for word in words:
        assert word in text, text


def test_run_and_validate_share_the_annotation_rule(trees, tmp_path, capsys) -> None:
    """The sentence ``run`` refuses with is the problem ``validate`` lists for that file."""
    root = _copy(trees, "isbi2015", tmp_path)
    _isbi_far_landmark(root)
    main(["validate", "isbi2015", "--data-dir", str(root)])
    listed = capsys.readouterr().out
    store = f"sqlite:///{tmp_path}/s.db"
    run = ["run", "--dataset", "isbi2015", "--data-dir", str(root), "--method", "mean_shape"]
    main([*run, "--results-dir", str(tmp_path / "r"), "--tracking-uri", store])
    refused = capsys.readouterr().err
    line = next(x for x in listed.splitlines() if "001.txt" in x)
    assert line.rstrip(".") in refused
