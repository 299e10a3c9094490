"""Real ISBI 2015 training images (marker ``realdata``; opt in with ``-m realdata``).

They run when ``../shared/data/isbi2015-train-images`` holds the 150 real training images
(skipped with the reason otherwise); ``../shared/tools/isbi-train-layout`` writes them in
the official release layout.

- the adapter on the real training layout: ``validate isbi2015`` passes, 150 cases of
  2400 x 1935 pixels, spacing 0.1 mm, landmarks in array (row, col) order;
- a short training check (about 4-5 minutes on 2 shared cores): ``one_hot`` on a 128 x 112
  grid, 25 epochs, 40 training images, tested on 19 held-out training images (written as the
  official Test1/Test2 folders, so the official protocol trains one model); its pooled MRE
  must be below the mean shape's on the same split, and it is not flagged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from landmarkbench.cli.main import main

pytestmark = pytest.mark.realdata

IMAGES = SHARED / "data" / "isbi2015-train-images"
TOOL = SHARED / "tools" / "isbi-train-layout"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 150 real training images in the official layout (written once per module)."""
    if not IMAGES.is_dir() or not TOOL.is_file():
        pytest.skip(f"needs the real ISBI 2015 training images in {IMAGES} and {TOOL}")
    out = tmp_path_factory.mktemp("isbi_train")
    subprocess.run([sys.executable, str(TOOL), str(out)], check=True, capture_output=True)
    return out


def test_adapter_on_the_real_training_layout(layout: Path, capsys) -> None:
    from landmarkbench.datasets.isbi2015.adapter import ISBI2015

    # The layout holds only the training set (Test1/Test2 deliberately not provided):
    # validate finds no problem and notes the absent test parts.
    from landmarkbench.datasets.isbi2015.tree import validate_note, validate_tree

    assert [str(p) for p in validate_tree(layout)] == []
    assert "Test1Data (test1) and Test2Data (test2)" in validate_note(layout)
    data = ISBI2015(data_dir=str(layout))
    assert data.case_ids() == [f"{k:03d}" for k in range(1, 151)]
    case = data.load("001")
    assert case.shape == (2400, 1935)
    assert np.allclose(case.spacing, 0.1)
    # Array order: the file's "x,y" (column, row) lines become (row, col) points.
    senior = (layout / "AnnotationsByMD/400_senior/001.txt").read_text().splitlines()[:19]
    junior = (layout / "AnnotationsByMD/400_junior/001.txt").read_text().splitlines()[:19]
    xy = np.array([[float(v) for v in line.split(",")] for line in senior + junior])
    mean_rc = (xy[:19, ::-1] + xy[19:, ::-1]) / 2
    assert np.allclose(case.landmarks, mean_rc)
    assert (case.landmarks[:, 0] < 2400).all() and (case.landmarks[:, 1] < 1935).all()


def _held_out_layout(layout: Path, out: Path) -> Path:
    """40 training images (001-040) and 19 held-out ones (121-139) written as Test1
    (151-159) and Test2 (301-310), annotations copied under their new names."""
    parts = {
        "TrainingData": [(k, k) for k in range(1, 41)],
        "Test1Data": [(121 + k, 151 + k) for k in range(9)],
        "Test2Data": [(130 + k, 301 + k) for k in range(10)],
    }
    for folder, pairs in parts.items():
        (out / "RawImage" / folder).mkdir(parents=True)
        for source, target in pairs:
            image = layout / "RawImage/TrainingData" / f"{source:03d}.bmp"
            (out / "RawImage" / folder / f"{target:03d}.bmp").symlink_to(image)
            for annotator in ("senior", "junior"):
                folder_out = out / "AnnotationsByMD" / f"400_{annotator}"
                folder_out.mkdir(parents=True, exist_ok=True)
                shutil.copy(
                    layout / "AnnotationsByMD" / f"400_{annotator}" / f"{source:03d}.txt",
                    folder_out / f"{target:03d}.txt",
                )
    return out


def test_short_training_ends_below_the_mean_shape(
    layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    data = _held_out_layout(layout, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    code = main(
        [
            "run", "--dataset", "isbi2015", "--data-dir", str(data), "--no-progress",
            "--method", "mean_shape", "--method", "one_hot",
            "--set", "input_shape=128,112", "--set", "max_epochs=25",
        ]
    )  # fmt: skip
    minutes = (time.perf_counter() - started) / 60
    out = capsys.readouterr().out
    assert code == 0, out
    summaries = {
        path.parent.parent.name.split("__")[0]: json.loads(path.read_text())
        for path in (tmp_path / "results" / "isbi2015").glob("*/*/seed_0/summary_*.json")
    }
    floor = summaries["mean_shape"]["pooled"]["mre"]
    trained = summaries["one_hot"]["pooled"]["mre"]
    print(f"one_hot pooled MRE {trained:.2f} mm vs mean shape {floor:.2f} mm, {minutes:.1f} min")
    assert trained < floor
    assert not summaries["one_hot"]["failures"]["flagged"], summaries["one_hot"]["failures"]
    assert summaries["one_hot"]["failures"]["checked"]
