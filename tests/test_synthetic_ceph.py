"""Tests for the synthetic cephalogram dataset: determinism, cache, statistics, features."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.synthetic import ceph_render
from landmarkbench.datasets.synthetic.ceph import SyntheticCeph
from landmarkbench.errors import DataError, UsageError

SMALL = {"image_shape": (160, 128)}


@pytest.fixture(scope="module")
def fifty_cases(tmp_path_factory):
    """50 cases of the default dataset, generated once into a temporary cache."""
    dataset = SyntheticCeph(n_cases=50, cache_dir=tmp_path_factory.mktemp("ceph"))
    return dataset, dataset.load_many(dataset.case_ids())


def _stack(cases, key):
    return np.stack([c.extra[key] for c in cases])


def test_is_registered_and_describes_itself():
    assert DATASETS.get("synthetic_ceph") is SyntheticCeph
    description = SyntheticCeph(n_cases=5).describe()
    assert description["options"] == {"n_cases": 5, "image_shape": [160, 128], "seed": 0}
    assert description["ground_truth"] == "mean"
    assert description["num_landmarks"] == 19


def test_module_import_stays_light():
    code = (
        "import sys, landmarkbench.datasets.synthetic.ceph; "
        "print(sorted(m for m in ('torch', 'scipy', 'platformdirs') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_renderer_landmark_order_matches_the_names():
    names = SyntheticCeph.landmark_names
    assert names.index("sella") == ceph_render.SELLA
    assert names.index("posterior_nasal_spine") == ceph_render.PNS
    assert names.index("articulare") == ceph_render.ARTICULARE
    assert len(names) == ceph_render.NUM_LANDMARKS


def test_case_ids_are_zero_padded_and_sorted():
    ids = SyntheticCeph(n_cases=12).case_ids()
    assert ids[0] == "case_000" and ids[-1] == "case_011" and ids == sorted(ids)
    assert SyntheticCeph(n_cases=1001).case_ids()[-1] == "case_1000"


def test_same_seed_is_identical_and_other_seed_differs(tmp_path):
    first = SyntheticCeph(n_cases=3, cache_dir=tmp_path / "a").generate_case(1)
    again = SyntheticCeph(n_cases=3, cache_dir=tmp_path / "b").generate_case(1)
    other = SyntheticCeph(n_cases=3, seed=1, cache_dir=tmp_path / "c").generate_case(1)
    for key in ("image", "truth", "annotator1", "annotator2"):
        assert np.array_equal(first[key], again[key])
        assert not np.allclose(first[key], other[key])


def test_case_does_not_depend_on_n_cases(tmp_path):
    few = SyntheticCeph(n_cases=3, cache_dir=tmp_path / "few").load("case_002")
    many = SyntheticCeph(n_cases=40, cache_dir=tmp_path / "many").load("case_002")
    assert np.array_equal(few.image, many.image)
    assert np.array_equal(few.landmarks, many.landmarks)


def test_cache_round_trip_reads_the_file(tmp_path, monkeypatch):
    dataset = SyntheticCeph(n_cases=2, cache_dir=tmp_path)
    first = dataset.load("case_001")
    assert (tmp_path / "meta.json").is_file()
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert not list(tmp_path.glob("*.tmp"))

    def refuse(*args, **kwargs):
        raise AssertionError("the cached case was generated again")

    monkeypatch.setattr(ceph_render, "render_cephalogram", refuse)
    second = SyntheticCeph(n_cases=2, cache_dir=tmp_path).load("case_001")
    assert np.array_equal(first.image, second.image)
    assert second.image.dtype == np.float32
    assert np.array_equal(first.landmarks, second.landmarks)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(tmp_path))
    dataset = SyntheticCeph(n_cases=2)
    assert dataset.cache_dir == tmp_path / "synthetic_ceph" / dataset.generation_hash()
    assert SyntheticCeph(n_cases=7).cache_dir == dataset.cache_dir
    assert SyntheticCeph(n_cases=2, seed=3).cache_dir != dataset.cache_dir


def test_generator_version_change_invalidates_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(tmp_path))
    dataset = SyntheticCeph(n_cases=2)
    dataset.load("case_000")
    old_folder = dataset.cache_dir
    assert (old_folder / "case_00000.npz").is_file()
    monkeypatch.setattr(SyntheticCeph, "GENERATOR_VERSION", SyntheticCeph.GENERATOR_VERSION + "x")
    bumped = SyntheticCeph(n_cases=2)
    assert bumped.cache_dir != old_folder
    assert bumped.generation_identity()["generator_version"] == SyntheticCeph.GENERATOR_VERSION
    generated = []
    original = SyntheticCeph.generate_case
    monkeypatch.setattr(
        SyntheticCeph,
        "generate_case",
        lambda self, index: generated.append(index) or original(self, index),
    )
    bumped.load("case_000")
    assert generated == [0]  # made again by the new code, not read from the old folder
    assert (bumped.cache_dir / "case_00000.npz").is_file()


def test_cache_from_other_settings_is_refused(tmp_path):
    SyntheticCeph(n_cases=2, cache_dir=tmp_path).load("case_000")
    with pytest.raises(DataError, match="other settings"):
        SyntheticCeph(n_cases=2, seed=5, cache_dir=tmp_path).load("case_000")


def test_landmarks_lie_inside_the_image(fifty_cases):
    dataset, cases = fifty_cases
    for key in ("truth", "annotator1", "annotator2"):
        points = _stack(cases, key)
        assert points.min() >= 0
        assert np.all(points.max(axis=(0, 1)) <= np.array(dataset.image_shape) - 1)
    assert cases[0].image.shape == (160, 128)
    assert np.allclose(cases[0].spacing, [1.25, 1.25])


def test_annotators_differ_like_the_real_ones(fifty_cases):
    dataset, cases = fifty_cases
    difference = _stack(cases, "annotator1") - _stack(cases, "annotator2")
    mre = np.linalg.norm(difference, axis=2).mean() * dataset.spacing_mm
    assert 1.7 < mre < 2.6


def test_mean_shape_predictor_is_clearly_worse_than_annotators(fifty_cases):
    dataset, cases = fifty_cases
    landmarks = np.stack([c.landmarks for c in cases])
    predicted = landmarks[:40].mean(axis=0)
    mre = np.linalg.norm(landmarks[40:] - predicted, axis=2).mean() * dataset.spacing_mm
    assert mre > 4.5


def test_features_are_locally_identifiable(fifty_cases):
    from scipy import ndimage

    _, cases = fifty_cases
    rng = np.random.default_rng(0)
    at_landmarks, at_random = [], []
    for case in cases[:25]:
        smooth = ndimage.gaussian_filter(case.image.astype(float), 1.0)
        gradient = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
        local_max = ndimage.maximum_filter(gradient, size=3)
        rows, cols = np.rint(case.extra["truth"]).astype(int).T
        at_landmarks.append(local_max[rows, cols])
        random_rows = rng.integers(0, case.image.shape[0], 19)
        random_cols = rng.integers(0, case.image.shape[1], 19)
        at_random.append(local_max[random_rows, random_cols])
    assert np.mean(at_landmarks) > 1.8 * np.mean(at_random)


def test_ground_truth_options_select_the_landmarks(tmp_path):
    loaded = {
        option: SyntheticCeph(n_cases=2, cache_dir=tmp_path, ground_truth=option).load("case_000")
        for option in SyntheticCeph.ground_truth_options
    }
    extra = loaded["mean"].extra
    assert np.array_equal(loaded["truth"].landmarks, extra["truth"])
    assert np.array_equal(loaded["annotator1"].landmarks, extra["annotator1"])
    assert np.array_equal(loaded["annotator2"].landmarks, extra["annotator2"])
    average = (extra["annotator1"] + extra["annotator2"]) / 2
    assert np.allclose(loaded["mean"].landmarks, average)
    assert SyntheticCeph(n_cases=2).ground_truth == "mean"


def test_anatomy_keeps_its_size_at_other_image_sizes(tmp_path):
    small = SyntheticCeph(n_cases=2, cache_dir=tmp_path / "s")
    large = SyntheticCeph(n_cases=2, image_shape=(320, 256), cache_dir=tmp_path / "l")
    assert large.spacing_mm == pytest.approx(0.625)

    def centred_mm(dataset):
        truth = dataset.generate_case(0)["truth"]
        centre = (np.array(dataset.image_shape) - 1) / 2
        return (truth - centre) * dataset.spacing_mm

    assert np.allclose(centred_mm(small), centred_mm(large))


@pytest.mark.parametrize(
    "options",
    [
        {"n_cases": 1},
        {"n_cases": 2.5},
        {"n_cases": True},
        {"image_shape": (100, 128)},
        {"image_shape": (16, 16)},
        {"image_shape": (160,)},
        {"image_shape": "big"},
        {"seed": -1},
        {"seed": 2**40},
        {"n_cases": 1_000_000},
        {"image_shape": (4096, 128)},
        {"image_shape": (10**30, 128)},
        {"ground_truth": "senior"},
    ],
)
def test_bad_options_raise_usage_errors(options):
    with pytest.raises(UsageError, match="synthetic_ceph"):
        SyntheticCeph(**options)


def test_absurd_n_cases_names_the_option_the_bound_and_an_example():
    with pytest.raises(UsageError) as caught:
        SyntheticCeph(n_cases=1_000_000)
    message = str(caught.value)
    assert "n_cases must be an integer from 2 to 10000, got 1000000" in message
    assert "use e.g. n_cases=100" in message
    assert SyntheticCeph(n_cases=10_000).n_cases == 10_000  # the bound itself is accepted


@pytest.mark.parametrize("case_id", ["case_005", "case_5", "001", ""])
def test_unknown_case_id_raises_a_data_error(case_id, tmp_path):
    with pytest.raises(DataError, match="case_000"):
        SyntheticCeph(n_cases=5, cache_dir=tmp_path).load(case_id)
