"""The synthetic 3D CT and multi-instance endoscopy datasets."""

from __future__ import annotations

import numpy as np
import pytest

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.synthetic.ct import SyntheticCT
from landmarkbench.datasets.synthetic.endo import SyntheticEndo
from landmarkbench.errors import UsageError


@pytest.fixture(scope="module")
def ct_cases():
    dataset = SyntheticCT(n_cases=8)
    return dataset, dataset.load_many(dataset.case_ids())


def test_ct_is_registered_3d_and_anisotropic(ct_cases) -> None:
    dataset, cases = ct_cases
    assert DATASETS.get("synthetic_ct") is SyntheticCT
    assert dataset.num_landmarks == 14 and dataset.ndim == 3
    case = cases[0]
    assert case.image.shape == (32, 64, 64) and case.image.dtype == np.float32
    np.testing.assert_allclose(case.spacing, [1.5, 1.0, 1.0])
    assert dataset.network_shape() == (16, 32, 32)


def test_ct_landmarks_sit_on_bright_tooth_surfaces(ct_cases) -> None:
    _, cases = ct_cases
    values, background = [], []
    for case in cases:
        truth = case.extra["truth"]
        for point in truth[~np.isnan(truth).any(axis=1)]:
            index = tuple(np.clip(np.round(point).astype(int), 0, np.array(case.shape) - 1))
            values.append(case.image[index])
        background.append(np.median(case.image))
    # Landmarks are on the surface of bright solids: far above the soft-tissue level.
    assert np.median(values) > np.median(background) + 0.2


def test_ct_some_third_molars_are_missing_and_nan(ct_cases) -> None:
    dataset, _ = ct_cases
    many = SyntheticCT(n_cases=30)
    missing = [np.isnan(many.load(c).landmarks).any(axis=1) for c in many.case_ids()]
    counts = np.array(missing).sum(axis=0)
    m3 = [i for i, name in enumerate(dataset.landmark_names) if "_m3_" in name]
    assert counts[m3].sum() > 0 and counts[[i for i in range(14) if i not in m3]].sum() == 0
    inside = [
        np.all(
            (c.extra["truth"][~np.isnan(c.extra["truth"]).any(1)] >= 0)
            & (c.extra["truth"][~np.isnan(c.extra["truth"]).any(1)] <= np.array(c.shape) - 1)
        )
        for c in many.load_many(many.case_ids())
    ]
    assert all(inside)


def test_ct_is_deterministic(tmp_path) -> None:
    a = SyntheticCT(n_cases=3, cache_dir=tmp_path / "a").load("case_001")
    b = SyntheticCT(n_cases=9, cache_dir=tmp_path / "b").load("case_001")
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)


def test_endo_has_variable_instance_counts_including_zero() -> None:
    dataset = SyntheticEndo(n_cases=40)
    assert dataset.multi_instance and dataset.landmark_names == ("joint", "tip")
    counts = []
    for case in dataset.load_many(dataset.case_ids()):
        joints, tips = case.instances
        assert len(tips) == 2 * len(joints) and case.landmarks.shape == (0, 2)
        for points in (joints, tips):
            assert np.all(points >= 0) and np.all(points <= np.array(case.shape) - 1)
        counts.append(len(joints))
    assert {0, 1, 2, 3} <= set(counts)


def test_endo_points_are_on_instruments() -> None:
    dataset = SyntheticEndo(n_cases=10)
    values = []
    for case in dataset.load_many(dataset.case_ids()):
        for point in case.instances[0]:  # joints sit inside the bright shaft/jaw junction
            values.append(case.image[tuple(np.round(point).astype(int))])
    assert np.median(values) > 0.6


@pytest.mark.parametrize(
    "options",
    [
        {"image_shape": (40, 64, 64)},
        {"n_cases": 1},
        {"n_cases": 1_000_000},
        {"image_shape": (512, 64, 64)},
        {"seed": 2**33},
    ],
)
def test_ct_bad_options(options) -> None:
    with pytest.raises(UsageError, match="synthetic_ct"):
        SyntheticCT(**options)


@pytest.mark.parametrize("name", ["synthetic_endo", "synthetic_teeth", "synthetic_ct"])
def test_every_synthetic_dataset_bounds_n_cases_and_versions_its_cache(name, monkeypatch) -> None:
    from landmarkbench.catalog import DATASETS

    cls = DATASETS.get(name)
    with pytest.raises(UsageError, match=f"{name} n_cases must be an integer from 2 to 10000"):
        cls(n_cases=1_000_000)
    folder = cls(n_cases=2).cache_dir
    monkeypatch.setattr(cls, "GENERATOR_VERSION", cls.GENERATOR_VERSION + "x")
    assert cls(n_cases=2).cache_dir != folder


def test_teeth_are_identical_locally_and_ordered_from_the_anchor() -> None:
    from landmarkbench.datasets.synthetic.teeth import SyntheticTeeth

    dataset = SyntheticTeeth(n_cases=12)
    cases = dataset.load_many(dataset.case_ids())
    for case in cases:
        tips = case.landmarks
        assert tips.shape == (8, 2) and np.isfinite(tips).all()
        assert np.all(tips >= 0) and np.all(tips <= np.array(case.shape) - 1)
        gaps = np.linalg.norm(np.diff(tips, axis=0), axis=1)
        assert gaps.min() > 4 and gaps.max() < 14  # neighbours in a row, a tooth apart
    # The anchor sits on either side, so tooth_1 is left in some cases and right in others.
    sides = {bool(c.landmarks[0, 1] < c.landmarks[-1, 1]) for c in cases}
    assert sides == {True, False}
