"""The ``folder`` dataset: images plus one landmarks table, without code.

End to end through ``landmarkbench.cli.main.main`` on PNG + CSV (2D, k-fold) and NIfTI +
CSV (3D, with a split file): ``fixture``, ``validate``, ``run`` (mean_shape and argmax) and
``table``; then bad inputs, each refused with a sentence naming the file and row.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.datasets.folder import layout
from landmarkbench.datasets.folder.adapter import FolderDataset
from landmarkbench.errors import DataError, UsageError
from landmarkbench.imageio import write_image
from landmarkbench.results.layout import summary_files

TINY = ["--set", "max_epochs=1", "--set", "channels=4,8", "--set", "augment=false"]


def _stores(root: Path) -> list[str]:
    return ["--results-dir", str(root / "results"), "--tracking-uri", f"sqlite:///{root}/ml.db"]


def _rows(folder: Path) -> list[list[str]]:
    with open(folder / "landmarks.csv", newline="") as handle:
        return list(csv.reader(handle))


def _write_rows(folder: Path, rows: list[list[str]]) -> None:
    with open(folder / "landmarks.csv", "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize(
    ("fmt", "options", "protocol"),
    [
        ("png", ["--option", "n_images=6"], "kfold"),
        ("nifti", ["--option", "split=true"], "official"),
    ],
)
def test_fixture_validate_run_table(fmt, options, protocol, workdir: Path, capsys) -> None:
    tree = workdir / fmt
    assert main(["fixture", "folder", "--out", str(tree), "--option", f"fmt={fmt}", *options]) == 0
    assert main(["validate", "folder", "--data-dir", str(tree)]) == 0
    assert "OK: " in capsys.readouterr().out
    folds = ["--folds", "2"] if protocol == "kfold" else []
    run = ["run", "--dataset", "folder", "--data-dir", str(tree), "--no-progress"]
    assert main([*run, "--method", "mean_shape,argmax", *TINY, *folds, *_stores(workdir)]) == 0
    capsys.readouterr()
    assert main(["table", "--dataset", "folder", "--results-dir", str(workdir / "results")]) == 0
    out = capsys.readouterr().out.replace("⚠ ", "")  # a 1-epoch argmax may be flagged
    assert "| mean_shape |" in out and "| argmax |" in out
    summaries = [json.loads(p.read_text()) for p in summary_files(workdir / "results", "folder")]
    assert len(summaries) == 2 and all(s["complete"] for s in summaries)
    record = summaries[0]["record"]
    assert record["protocol"]["name"] == protocol
    assert record["dataset"]["ndim"] == (2 if fmt == "png" else 3)
    assert record["dataset"]["landmark_names"] == ["sella", "nasion", "menton", "gonion"]
    # case_01's gonion is missing (empty cells): left out of the scores, not an error.
    n_cases = 6 if fmt == "png" else 2
    assert summaries[0]["pooled"]["n_points"] == 4 * n_cases - (1 if fmt == "png" else 0)


def test_axes_units_and_spacing_sources(tmp_path: Path) -> None:
    """x = column, y = row for pictures; x, y, z = i, j, k for volumes; mm / spacing."""
    image = np.zeros((30, 50), dtype=np.uint8)
    write_image(tmp_path / "a.png", image)
    write_image(tmp_path / "v.nii.gz", np.zeros((10, 12, 14), dtype=np.uint8), (1.0, 2.0, 0.5))
    _write_rows(tmp_path, [["image", "landmark", "x", "y"], ["a.png", "tip", "40", "5"]])
    px = FolderDataset(data_dir=str(tmp_path), spacing="0.2,0.1")
    case = px.load("a.png")
    np.testing.assert_allclose(case.landmarks, [[5.0, 40.0]])  # (row, col)
    np.testing.assert_allclose(case.spacing, [0.1, 0.2])  # (row, col): y then x
    mm = FolderDataset(data_dir=str(tmp_path), spacing="0.2,0.1", units="mm")
    np.testing.assert_allclose(mm.load("a.png").landmarks, [[50.0, 200.0]])
    _write_rows(
        tmp_path,
        [["image", "landmark", "x", "y", "z"], ["v.nii.gz", "tip", "2", "4", "3"]],
    )
    (tmp_path / "a.png").unlink()
    volume = FolderDataset(data_dir=str(tmp_path), units="mm")
    assert volume.ndim == 3
    case = volume.load("v.nii.gz")
    np.testing.assert_allclose(case.spacing, [1.0, 2.0, 0.5])  # from the header
    np.testing.assert_allclose(case.landmarks, [[2.0, 2.0, 6.0]])
    assert FolderDataset.validate_tree(tmp_path) == []


def test_json_table_split_file_and_declared_names(tmp_path: Path) -> None:
    for name in ("a.png", "b.png", "c.png"):
        write_image(tmp_path / name, np.zeros((20, 20), dtype=np.uint8))
    records = [
        {"image": n, "landmark": m, "x": 3, "y": 4, "spacing_x": 0.5, "spacing_y": 0.5}
        for n in ("a.png", "b.png", "c.png")
        for m in ("p", "q")
    ]
    records[-1]["x"] = records[-1]["y"] = None  # c.png's q is missing
    (tmp_path / "marks.json").write_text(json.dumps(records))
    (tmp_path / "split.csv").write_text("image,part\na.png,train\nb.png,train\nc.png,test\n")
    data = FolderDataset(data_dir=str(tmp_path), landmarks_file="marks.json", landmarks="q,p")
    assert data.landmark_names == ("q", "p")
    assert data.official_split() == {"train": ["a.png", "b.png"], "test": ["c.png"]}
    assert np.isnan(data.load("c.png").landmarks[0]).all()
    np.testing.assert_allclose(data.load("c.png").landmarks[1], [4.0, 3.0])
    data.check_inputs()
    assert data.options()["split_file"] == "split.csv"


def _bad_tree(workdir: Path) -> Path:
    tree = FolderDataset.write_fixture(workdir / "tree", n_images=4)
    rows = _rows(tree)
    rows[2][2] = "abc"  # row 3: not a number
    rows[7][3] = "900"  # row 8: y outside the 40-row image
    rows.append(["images/gone.png", "sella", "1", "2", "0.1", "0.1"])  # row 18
    _write_rows(tree, rows)
    (tree / "images/case_03.png").unlink()
    write_image(tree / "images/extra.png", np.zeros((8, 8), dtype=np.uint8))
    return tree


def test_validate_lists_every_problem_by_file_and_row(workdir: Path, capsys) -> None:
    tree = _bad_tree(workdir)
    assert main(["validate", "folder", "--data-dir", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "landmarks.csv: row 3: image 'images/case_01.png' landmark 'nasion' has a " in out
    assert "landmarks.csv: row 8 (image 'images/case_02.png', landmark 'menton') puts a " in out
    assert "outside its 40 x 48 image" in out
    assert "images/case_03.png: is named in landmarks.csv row 10 but is not in the data" in out
    assert "images/gone.png: is named in landmarks.csv row 18" in out
    assert "images/extra.png: is an image that landmarks.csv does not name" in out


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("missing", "images/case_02.png: is named in landmarks.csv row 6 but is not in"),
        ("bad_row", "landmarks.csv: row 4: image 'images/case_01.png' landmark 'menton' has a"),
        ("outside", "landmarks.csv: row 5 (image 'images/case_01.png', landmark 'gonion') puts"),
        ("inf", "landmarks.csv: row 2 (image 'images/case_01.png', landmark 'sella') holds the"),
        ("typo", "landmarks.csv: row 9: landmark 'menron' (1 row(s)) looks like a misspelling"),
    ],
)
def test_run_refuses_bad_input_before_training(damage, expected, workdir: Path, capsys) -> None:
    tree = FolderDataset.write_fixture(workdir / "tree", n_images=4)
    rows = _rows(tree)
    if damage == "missing":
        (tree / "images/case_02.png").unlink()
    elif damage == "bad_row":
        rows[3][3] = "1O"
    elif damage == "outside":
        rows[4][2:4] = ["-3", "2"]
    elif damage == "inf":
        rows[1][2] = "inf"
    else:
        rows[8][1] = "menron"
    _write_rows(tree, rows)
    run = ["run", "--dataset", "folder", "--data-dir", str(tree), "--method", "mean_shape"]
    assert main([*run, "--folds", "2", "--no-progress", *_stores(workdir)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "nothing was trained" in err
    assert not (workdir / "results").exists() or not list((workdir / "results").rglob("fold_*"))


def test_bad_options_and_tables(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match=re.escape("Landmarks file 'landmarks.csv' does not exist")):
        FolderDataset(data_dir=str(tmp_path))
    (tmp_path / "landmarks.csv").write_text("img,landmark,x,y\na.png,p,1,1\n")
    with pytest.raises(DataError, match="lacks the header columns image"):
        FolderDataset(data_dir=str(tmp_path))
    problems = FolderDataset.validate_tree(tmp_path)
    assert problems[0].path == "landmarks.csv" and "lacks the header columns" in problems[0].message
    (tmp_path / "landmarks.csv").write_text("image,landmark,x,y\na.png,p,1,1\n")
    with pytest.raises(UsageError, match="folder spacing 'x' must be one positive number"):
        FolderDataset(data_dir=str(tmp_path), spacing="x")
    with pytest.raises(UsageError, match="folder units must be one of px, mm"):
        FolderDataset(data_dir=str(tmp_path), units="cm")
    data = FolderDataset(data_dir=str(tmp_path))
    with pytest.raises(DataError, match=re.escape("a.png: Image 'a.png' has no spacing")):
        data.check_inputs()
    assert FolderDataset.validate_tree(tmp_path, spacing="1") == []


def test_array_order_is_stated_once() -> None:
    assert layout.axis_of_xyz("png", 2) == (1, 0)
    assert layout.axis_of_xyz("dicom", 2) == (1, 0)
    assert layout.axis_of_xyz("nifti", 3) == (0, 1, 2)
    np.testing.assert_allclose(layout.to_array_order([3.0, 7.0], "bmp"), [7.0, 3.0])
    point = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        layout.to_array_order(layout.from_array_order(point, "nrrd"), "nrrd"), point
    )
