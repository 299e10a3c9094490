"""Contract tests over the method registry: every method trains and predicts on a tiny
synthetic set, in 2D and (where declared) 3D, with finite outputs of the right shapes.

They train on the CPU; ``LANDMARKBENCH_TEST_DEVICE=cuda`` runs the same contract on a GPU
(the check that ``--device cuda``/``auto`` works end to end where one is present)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.catalog import DATASETS, METHODS
from landmarkbench.config import resolve_config, typed_settings
from landmarkbench.methods.base import FitContext

# Settings that make any method tiny; each method takes the keys it has.
TINY = {
    "max_epochs": "1",
    "channels": "4,8",
    "batch_size": "2",
    "scn_filters": "4",
    "scn_levels": "2",
    "ensemble_size": "2",
    "augment": "false",
}
DEVICE = os.environ.get("LANDMARKBENCH_TEST_DEVICE", "").strip() or "cpu"
DATASET_FOR = {
    (2, False): ("synthetic_ceph", {"n_cases": 6, "image_shape": (64, 48)}),
    (3, False): ("synthetic_ct", {"n_cases": 5, "image_shape": (16, 32, 32)}),
    (2, True): ("synthetic_endo", {"n_cases": 6, "image_shape": (32, 48)}),
}


def _cases():
    for name in METHODS.names():
        method = METHODS.get(name)
        for ndim in method.supported_ndim:
            key = (ndim, method.multi_instance)
            if key in DATASET_FOR:
                yield pytest.param(name, key, id=f"{name}-{ndim}d")


@pytest.mark.parametrize(("name", "kind"), list(_cases()))
def test_method_trains_and_predicts(name: str, kind, tmp_path: Path) -> None:
    dataset_name, options = DATASET_FOR[kind]
    dataset = DATASETS.get(dataset_name)(**options)
    cases = dataset.load_many(dataset.case_ids())
    train, val, test = cases[:3], cases[3:4], cases[4:]
    method_cls = METHODS.get(name)
    overrides = {k: v for k, v in TINY.items() if k in method_cls.defaults}
    config = resolve_config(method_cls.defaults, overrides, owner=name)
    method = method_cls(config, num_landmarks=dataset.num_landmarks, ndim=dataset.ndim)
    ctx = FitContext(
        device=DEVICE,
        seed=0,
        workdir=tmp_path,
        progress=False,
        network_shape=dataset.network_shape(),
        checkpoint_dir=tmp_path / "model",
    )
    summary = method.fit(train, val, ctx)
    assert isinstance(summary, dict)
    predicted = method.predict(test)
    if dataset.multi_instance:
        assert len(predicted) == len(test)
        for case_prediction in predicted:
            assert len(case_prediction) == dataset.num_landmarks
            for points in case_prediction:
                points = np.asarray(points)
                assert points.ndim == 2 and points.shape[1] == dataset.ndim
                assert np.isfinite(points).all()
    else:
        assert np.shape(predicted) == (len(test), dataset.num_landmarks, dataset.ndim)
        assert np.isfinite(predicted).all()
    if method_cls.supports_conformal:
        _check_probability_maps(method, test, dataset)


def _check_probability_maps(method, cases, dataset) -> None:
    """Conformal contract: one non-negative map per landmark summing to 1, for every case in
    order, with each case's own grid mapping."""
    seen = 0
    for probabilities, mappings in method.probability_batches(cases):
        assert probabilities.shape[:2] == (len(mappings), dataset.num_landmarks)
        assert probabilities.ndim == 2 + dataset.ndim
        assert (probabilities >= 0).all()
        sums = probabilities.flatten(2).sum(-1).double()
        assert np.allclose(sums.numpy(), 1.0, atol=1e-4)
        for mapping, case in zip(mappings, cases[seen : seen + len(mappings)], strict=True):
            assert mapping.original_shape == case.shape
        seen += len(mappings)
    assert seen == len(cases)


def test_every_method_is_covered() -> None:
    covered = {p.values[0] for p in _cases()}
    assert covered == set(METHODS.names())


@pytest.mark.parametrize("name", METHODS.names())
def test_defaults_obey_their_own_rules(name: str) -> None:
    """Every declared default passes the method's rules (no method ships a refused value),
    and every rule's choices cover what the engine implements."""
    method_cls = METHODS.get(name)
    resolve_config(method_cls.defaults, {}, owner=name)
    rules = getattr(method_cls.defaults, "rules", {})
    if "network" in method_cls.defaults:
        from landmarkbench.training.networks import NETWORKS
        from landmarkbench.training.objectives import OBJECTIVES

        assert set(rules["network"].choices) == set(NETWORKS)
        assert set(rules["target"].choices) == set(OBJECTIVES)


@pytest.mark.parametrize("name", METHODS.names())
def test_decoder_is_known_to_the_engine(name: str) -> None:
    """A method's decoder decodes a map: a typo in a decoder name fails here, not in a run."""
    import torch

    from landmarkbench.training.heatmap_regression import decode_points

    method_cls = METHODS.get(name)
    decoder = getattr(method_cls, "decoder", None)
    if decoder is None or decoder == "peaks":
        return
    maps = torch.zeros(1, 2, 9, 9)
    maps[0, :, 4, 4] = 1.0
    config = typed_settings(
        method_cls.defaults, resolve_config(method_cls.defaults, {}, owner=name)
    )
    points = decode_points(maps, decoder, config)
    assert points.shape == (1, 2, 2)


@pytest.mark.parametrize(
    ("overrides", "ndim", "suggested", "expected"),
    [
        ({}, 3, (16, 16, 16), (32, 32, 32)),  # the MML fixture: adapted, not a crash
        ({}, 2, (64, 48), (64, 48)),  # grids that fit stay as they are
        ({"channels": "4,8"}, 3, (16, 16, 16), (16, 16, 16)),
        ({"channels": "8,16,32,64,64,64"}, 2, (48, 48), (64, 64)),
        ({"input_shape": "32,48"}, 2, (64, 64), (32, 48)),
    ],
)
def test_working_grid_suits_the_network(overrides, ndim, suggested, expected) -> None:
    from landmarkbench.methods.network_grid import working_grid

    config = resolve_config(METHODS.get("one_hot").defaults, overrides, owner="one_hot")
    assert working_grid(config, suggested, ndim) == expected
