"""Spatial Configuration Net: shapes, the product structure, initialisation, errors, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landmarkbench.models.scn import HEAD_INIT_STD, SpatialConfigurationNet, count_parameters

LANDMARKS = 5
TINY = {
    "filters": 8,
    "levels": 3,
    "sc_downsample": 4,
    "sc_filters": 8,
    "sc_kernel": 3,
}
SHAPES = {2: (16, 12), 3: (8, 8, 4)}


def _tiny(spatial_dims: int, seed: int = 0, **overrides) -> SpatialConfigurationNet:
    torch.manual_seed(seed)
    return SpatialConfigurationNet(spatial_dims, 1, LANDMARKS, **{**TINY, **overrides})


def _image(spatial_dims: int, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 1, *SHAPES[spatial_dims], generator=generator)


def _expected_parameters(
    dims: int, inputs: int, c: int, f: int, levels: int, g: int, layers: int, k: int
) -> int:
    """The closed form of the module docstring: skips by addition add no parameters."""
    local = 3**dims
    wide = k**dims
    la = (local * inputs * f + f) + 2 * levels * (local * f * f + f) + (local * f * c + c)
    sc = (wide * c * g + g) + (layers - 1) * (wide * g * g + g) + (wide * g * c + c)
    return la + sc


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_forward_shapes(spatial_dims):
    model = _tiny(spatial_dims)
    x = _image(spatial_dims)
    h, h_la, h_sc = model(x, return_parts=True)
    expected = (2, LANDMARKS, *SHAPES[spatial_dims])
    assert h.shape == h_la.shape == h_sc.shape == expected
    assert model(x).shape == expected


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_output_is_local_appearance_times_spatial_configuration(spatial_dims):
    model = _tiny(spatial_dims).eval()
    with torch.no_grad():
        h, h_la, h_sc = model(_image(spatial_dims), return_parts=True)
    assert torch.equal(h, h_la * h_sc)
    assert h_sc.abs().max() < 1.0  # tanh, and tiny at initialisation


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_heatmap_layers_start_with_std_1e_4(spatial_dims):
    torch.manual_seed(0)
    model = SpatialConfigurationNet(
        spatial_dims, 1, 19, filters=64, levels=1, sc_filters=32, sc_kernel=5, sc_layers=1
    )
    for head in (model.local_appearance.head, model.spatial_configuration.head):
        assert head.weight.std().item() == pytest.approx(HEAD_INIT_STD, rel=0.05)
        assert torch.count_nonzero(head.bias) == 0


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parameter_count_matches_additive_skips(spatial_dims):
    model = _tiny(spatial_dims)
    k = TINY["sc_kernel"]
    expected = _expected_parameters(spatial_dims, 1, LANDMARKS, 8, 3, 8, 3, k)
    assert count_parameters(model) == expected
    # Concatenated skips would double the input width of some conv; addition keeps it at F.
    convs = [
        m for m in model.local_appearance.levels.modules() if isinstance(m, nn.Conv2d | nn.Conv3d)
    ]
    assert {conv.in_channels for conv in convs} == {TINY["filters"]}


def test_reference_cephalogram_configuration_size():
    model = SpatialConfigurationNet(2, 1, 19)
    assert model.spatial_configuration.head.kernel_size == (11, 11)
    assert model.spatial_configuration.upsample_mode == "bicubic"
    assert count_parameters(model) == _expected_parameters(2, 1, 19, 128, 4, 128, 3, 11)
    assert count_parameters(model) == 5_757_734


def test_3d_defaults_scale_the_kernel_down_and_upsample_trilinearly():
    model = SpatialConfigurationNet(3, 1, 4, filters=4, sc_filters=4)
    assert model.spatial_configuration.head.kernel_size == (7, 7, 7)
    assert model.spatial_configuration.upsample_mode == "trilinear"


@pytest.mark.parametrize(
    ("spatial_dims", "shape", "padded"),
    [(2, (1, 1, 16, 14), "(16, 16)"), (3, (1, 1, 8, 6, 8), "(8, 8, 8)")],
)
def test_bad_input_size_raises_a_sentence_with_the_fix(spatial_dims, shape, padded):
    model = _tiny(spatial_dims)
    with pytest.raises(ValueError, match=r"multiple of 4") as error:
        model(torch.zeros(shape))
    message = str(error.value)
    assert str(shape) in message
    assert f"pad or resize the spatial shape {shape[2:]} to {padded}." in message


def test_missing_batch_axis_raises():
    with pytest.raises(ValueError, match=r"expects input of shape \(B, C, H, W\)"):
        _tiny(2)(torch.zeros(1, 16, 16))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"spatial_dims": 4}, "spatial_dims must be 2 or 3"),
        ({"sc_kernel": 4}, "positive odd size"),
        ({"spatial_dims": 3, "upsample_mode": "bicubic"}, "not available in 3D"),
        ({"levels": 0}, "levels must be at least 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_arguments_raise(overrides, match):
    arguments = {"spatial_dims": 2, "in_channels": 1, "out_channels": 3, **TINY, **overrides}
    with pytest.raises(ValueError, match=match):
        SpatialConfigurationNet(**arguments)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_gradients_reach_both_branches(spatial_dims):
    model = _tiny(spatial_dims).train()
    x = _image(spatial_dims)
    target = torch.rand(2, LANDMARKS, *SHAPES[spatial_dims])
    nn.functional.mse_loss(model(x), target).backward()
    for branch in (model.local_appearance, model.spatial_configuration):
        for name, parameter in branch.named_parameters():
            assert parameter.grad is not None, name
            assert torch.count_nonzero(parameter.grad) > 0, name


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_eval_mode_is_deterministic_for_a_fixed_seed(spatial_dims):
    x = _image(spatial_dims)
    first, second = _tiny(spatial_dims, seed=3).eval(), _tiny(spatial_dims, seed=3).eval()
    with torch.no_grad():
        assert torch.equal(first(x), second(x))
        assert torch.equal(first(x), first(x))


def test_dropout_is_active_only_in_training():
    model = _tiny(2, dropout=0.5)
    x = _image(2)
    with torch.no_grad():
        assert not torch.equal(model.train()(x), model(x))
        assert torch.equal(model.eval()(x), model(x))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_memory_format_does_not_change_the_result(spatial_dims):
    x = _image(spatial_dims)
    fast = _tiny(spatial_dims, seed=5).eval()
    plain = _tiny(spatial_dims, seed=5, channels_last=False).eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-4, atol=1e-12)
