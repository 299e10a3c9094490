"""landmarkbench predict on a finished tiny synthetic_ceph run: files, formats, the fold
ensemble, and one-sentence refusals before anything is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.datasets.synthetic.ceph import SyntheticCeph
from landmarkbench.imageio import write_image
from landmarkbench.results.predictions import read_predictions

DATA = {"n_cases": 15, "image_shape": (64, 48)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 3-fold subpixel run (1 epoch) and a mean_shape run of the same data."""
    base = tmp_path_factory.mktemp("predict")
    common = [
        "run", "--folds", "3", "--no-progress", "--data-option", "n_cases=15",
        "--data-option", "image_shape=64,48", "--results-dir", str(base / "results"),
        "--tracking-uri", str(base / "ml.db"),
    ]  # fmt: skip
    net = ["--set", "max_epochs=1", "--set", "channels=4,8", "--set", "augment=false"]
    assert main([*common, "--method", "subpixel", *net]) == 0
    assert main([*common, "--method", "mean_shape"]) == 0
    return {"base": base, **_runs(base)}


def _runs(base: Path) -> dict:
    found = {}
    for folder in (base / "results" / "synthetic_ceph").glob("*/*__*/seed_0"):
        found[folder.parent.name.split("__")[0]] = folder
    return found


def _stored(run: Path, fold: str):
    return read_predictions(run / fold / "predictions.csv")


def _write_cases(folder: Path, case_ids, seed: int = 0) -> Path:
    dataset = SyntheticCeph(**DATA, seed=seed)
    folder.mkdir(parents=True)
    for case in dataset.load_many(case_ids):
        write_image(folder / f"{case.case_id}.npy", case.image)
    return folder


def _json_points(path: Path) -> dict[str, np.ndarray]:
    document = json.loads(path.read_text())
    return {
        image["image"]: np.array([lm["array_index"] for lm in image["landmarks"]])
        for image in document["images"]
    }


def test_predict_files_equal_the_stored_predictions(finished: dict, tmp_path: Path) -> None:
    run = finished["subpixel"]
    stored = _stored(run, "fold_0")
    assert len(stored.case_ids) == 5
    images = _write_cases(tmp_path / "images", stored.case_ids)
    out = tmp_path / "out"
    assert main(["predict", "--run", str(run), "--fold", "0", str(images), "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "cl_detection_2023.json", "cl_detection_2024.csv", "landmarks.csv", "landmarks.json",
    ]  # fmt: skip
    points = _json_points(out / "landmarks.json")
    for k, case_id in enumerate(stored.case_ids):
        np.testing.assert_allclose(points[f"{case_id}.npy"], stored.predicted[k], atol=1e-9)
    # CSV: one row per image and landmark, x = first array axis for NPY, mm = px x spacing.
    rows = list(csv.DictReader((out / "landmarks.csv").open()))
    assert len(rows) == 5 * 19
    first = rows[0]
    spacing = stored.spacing[0]
    assert float(first["x"]) == pytest.approx(stored.predicted[0, 0, 0])
    assert float(first["y_mm"]) == pytest.approx(stored.predicted[0, 0, 1] * spacing[1])
    # CL-Detection 2024 (predictions.csv): one row per image, pixels, x = column, y = row.
    text = (out / "cl_detection_2024.csv").read_text()
    header = ["image file"] + [f"p{k}{a}" for k in range(1, 20) for a in "xy"]
    assert text.splitlines()[0].split(",") == header
    cl = list(csv.DictReader(text.splitlines()))
    assert [r["image file"] for r in cl] == [f"{c}.npy" for c in stored.case_ids]
    assert float(cl[0]["p1x"]) == pytest.approx(stored.predicted[0, 0, 1])
    assert float(cl[0]["p19y"]) == pytest.approx(stored.predicted[0, 18, 0])
    assert float(cl[4]["p7x"]) == pytest.approx(stored.predicted[4, 6, 1])
    # CL-Detection 2023 ("Multiple points"): [x, y, image number from 1] per image and landmark.
    document = json.loads((out / "cl_detection_2023.json").read_text())
    assert document["name"] == "Orthodontic landmarks" and document["type"] == "Multiple points"
    assert document["version"] == {"major": 1, "minor": 0}
    assert len(document["points"]) == 5 * 19
    point = document["points"][19 * 4 + 6]  # image 5, landmark 7
    assert point["name"] == "7" and point["point"][2] == 5
    np.testing.assert_allclose(point["point"][:2], stored.predicted[4, 6, ::-1], atol=1e-9)


def test_new_generated_images_and_the_fold_ensemble(finished: dict, tmp_path: Path, capsys) -> None:
    run = finished["subpixel"]
    images = _write_cases(tmp_path / "new", [f"case_{k:03d}" for k in range(5)], seed=7)
    single, ensemble = tmp_path / "single", tmp_path / "ensemble"
    assert main(["predict", "--run", str(run), "--fold", "fold_1", str(images), "--out",
                 str(single), "--no-progress", "--format", "json"]) == 0  # fmt: skip
    assert main(["predict", "--run", str(run), "--folds", "all", str(images), "--out",
                 str(ensemble), "--no-progress", "--format", "json"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "cross-validation ensemble of the 3 fold models" in out
    statement = json.loads((ensemble / "landmarks.json").read_text())["model"]
    assert "cross-validation ensemble" in statement and "logits are averaged" in statement
    one, many = _json_points(single / "landmarks.json"), _json_points(ensemble / "landmarks.json")
    assert sorted(one) == sorted(many) and len(one) == 5
    assert max(np.abs(one[k] - many[k]).max() for k in one) > 1e-3
    # A dataset part as input gives the run's own predictions for that part.
    part = tmp_path / "part"
    assert main(["predict", "--run", str(run), "--fold", "2", "--part", "fold_2", "--out",
                 str(part), "--no-progress", "--format", "json"]) == 0  # fmt: skip
    stored = _stored(run, "fold_2")
    points = _json_points(part / "landmarks.json")
    np.testing.assert_allclose(np.stack([points[c] for c in stored.case_ids]), stored.predicted)


def test_bad_inputs_are_refused_in_one_sentence_before_writing(
    finished: dict, tmp_path: Path, capsys
) -> None:
    run, out = finished["subpixel"], tmp_path / "out"
    volume = tmp_path / "volume.npy"
    np.save(volume, np.zeros((4, 8, 8), dtype=np.float32))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    # Exit 1 for bad data or results, 2 for a usage error (cli.main's codes).
    cases = [
        (["--run", str(run), str(volume)], 1, "is 3-D (shape (4, 8, 8)) but the model takes 2-D"),
        (["--run", str(run), str(broken)], 1, "broken.png"),
        (["--run", str(finished["mean_shape"]), str(volume)], 1, "stores no trained"),
        (["--run", str(run), "--fold", "7", str(volume)], 2, "has no finished fold '7'"),
        (["--model", str(tmp_path / "none.zip"), str(volume)], 1, "does not exist"),
        (["--run", str(run), str(tmp_path / "missing.png")], 2, "does not exist"),
    ]
    for args, code, message in cases:
        assert main(["predict", *args, "--out", str(out), "--no-progress"]) == code, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_challenge_formats_apply_to_2d_single_point_models_only() -> None:
    from landmarkbench.deploy.outputs import formats_for
    from landmarkbench.errors import UsageError

    assert formats_for((), 2, False) == ["csv", "json", "cldetection", "cldetection2023"]
    assert formats_for((), 3, False) == ["csv", "json"]
    assert formats_for((), 2, True) == ["csv", "json"]
    for fmt in ("cldetection", "cldetection2023"):
        with pytest.raises(UsageError, match=f"--format {fmt} needs a 2D model"):
            formats_for(("json", fmt), 3, False)
