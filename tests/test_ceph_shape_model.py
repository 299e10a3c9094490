"""Tests for the ISBI 2015 cephalometric shape model and its committed JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.datasets.synthetic.ceph_shape_model import (
    SHAPE_MODEL_PATH,
    fit_shape_model,
    load_shape_model,
    main,
    write_shape_model,
)
from landmarkbench.errors import DataError, UsageError

ANNOTATIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2015-annotations"
needs_annotations = pytest.mark.skipif(
    not (ANNOTATIONS / "senior.csv").is_file(), reason="ISBI 2015 annotations not present"
)

EXPECTED_KEYS = {
    "source",
    "units",
    "axis_order",
    "num_shapes",
    "num_modes",
    "mean_shape",
    "modes",
    "variances",
    "explained_variance_ratio",
    "mean_radial_difference_mm",
    "annotator_noise_std_mm",
}


def _count_numbers(value) -> int:
    if isinstance(value, list):
        return sum(_count_numbers(v) for v in value)
    return 1 if isinstance(value, (int, float)) else 0


def test_committed_model_has_the_expected_shapes():
    model = load_shape_model()
    assert model.mean_shape.shape == (19, 2)
    assert 8 <= model.num_modes <= 12
    assert model.modes.shape == (model.num_modes, 19, 2)
    assert model.annotator_noise_std_mm.shape == (19,)
    assert np.all(np.diff(model.variances) <= 0) and np.all(model.variances > 0)
    assert np.allclose(model.mean_shape.mean(axis=0), 0.0, atol=1e-3)
    flat = model.modes.reshape(model.num_modes, -1)
    assert np.allclose(flat @ flat.T, np.eye(model.num_modes), atol=1e-3)


def test_committed_model_is_anatomically_oriented():
    mean = load_shape_model().mean_shape
    sella, nasion, menton, upper_lip = mean[0], mean[1], mean[7], mean[12]
    assert nasion[1] > sella[1] + 40  # the face points toward +col
    assert menton[0] > nasion[0] + 80  # (row, col) order: menton far below nasion
    assert upper_lip[1] > nasion[1]


def test_noise_matches_the_radial_difference():
    model = load_shape_model()
    expected = model.mean_radial_difference_mm / math.sqrt(math.pi)
    assert np.allclose(model.annotator_noise_std_mm, expected, atol=2e-4)
    assert model.mean_radial_difference_mm.mean() == pytest.approx(2.15, abs=0.01)
    assert model.mean_radial_difference_mm[15] == pytest.approx(6.57, abs=0.01)


def test_json_holds_only_summary_statistics():
    data = json.loads(SHAPE_MODEL_PATH.read_text(encoding="utf-8"))
    assert set(data) == EXPECTED_KEYS
    assert "ISBI 2015" in data["source"]
    assert _count_numbers(data) < 1000
    assert all(len(v) != data["num_shapes"] for v in data.values() if isinstance(v, list))


def test_zero_coefficients_give_the_mean_shape():
    model = load_shape_model()
    assert np.allclose(model.shape_from_coefficients(np.zeros(model.num_modes)), model.mean_shape)


@needs_annotations
def test_rederived_model_matches_the_committed_json():
    fitted = fit_shape_model(ANNOTATIONS / "senior.csv").to_json_dict()
    committed = json.loads(SHAPE_MODEL_PATH.read_text(encoding="utf-8"))
    assert fitted["source"] == committed["source"]
    assert fitted["num_modes"] == committed["num_modes"]
    for key in EXPECTED_KEYS - {"source", "units", "axis_order"}:
        assert np.allclose(fitted[key], committed[key], atol=2e-4), key


@needs_annotations
def test_write_and_load_round_trip(tmp_path):
    target = write_shape_model(fit_shape_model(ANNOTATIONS / "senior.csv", 4), tmp_path / "m.json")
    model = load_shape_model(target)
    assert model.num_modes == 4 and model.num_shapes == 400


def test_bad_inputs_raise_sentences(tmp_path):
    with pytest.raises(UsageError, match="between 1 and 38"):
        fit_shape_model(tmp_path / "senior.csv", n_modes=0)
    with pytest.raises(DataError, match="does not exist"):
        fit_shape_model(tmp_path / "senior.csv")
    (tmp_path / "broken.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="regenerate"):
        load_shape_model(tmp_path / "broken.json")


def test_entry_point_needs_one_folder(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
