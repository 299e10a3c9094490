"""Tests for landmarkbench.heatmaps.covariance: rotation convention and affine transforms."""

from __future__ import annotations

import math

import pytest
import torch

from landmarkbench.heatmaps.covariance import (
    covariance_matrix,
    rotation_matrix,
    transform_covariance,
)


@pytest.mark.parametrize("ndim", [2, 3])
def test_rotations_are_proper_and_orthonormal(ndim):
    angles = torch.rand(5, *(() if ndim == 2 else (3,)), dtype=torch.float64) * 6 - 3
    rotation = rotation_matrix(angles, ndim)
    eye = torch.eye(ndim, dtype=torch.float64).expand(5, ndim, ndim)
    torch.testing.assert_close(rotation @ rotation.transpose(-1, -2), eye)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(5, dtype=torch.float64))


def test_rotation_2d_convention():
    rotation = rotation_matrix(torch.tensor(math.pi / 2, dtype=torch.float64), 2)
    # Column axis e_1 = (0, 1) goes to (-1, 0): R = [[cos, -sin], [sin, cos]].
    torch.testing.assert_close(
        rotation @ torch.tensor([0.0, 1.0], dtype=torch.float64),
        torch.tensor([-1.0, 0.0], dtype=torch.float64),
    )


def test_rotation_3d_is_rz_ry_rx_about_array_axes():
    a, b, c = 0.3, -0.7, 1.1
    rotation = rotation_matrix(torch.tensor([a, b, c], dtype=torch.float64), 3)

    def about(axis: int, angle: float) -> torch.Tensor:
        cos, sin = math.cos(angle), math.sin(angle)
        if axis == 2:
            rows = [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]
        elif axis == 1:
            rows = [[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]]
        else:
            rows = [[1, 0, 0], [0, cos, -sin], [0, sin, cos]]
        return torch.tensor(rows, dtype=torch.float64)

    torch.testing.assert_close(rotation, about(2, a) @ about(1, b) @ about(0, c))


def test_rotation_rejects_bad_input():
    with pytest.raises(ValueError, match="three angles"):
        rotation_matrix(torch.zeros(4, 2), 3)
    with pytest.raises(ValueError, match="ndim 2 or 3"):
        rotation_matrix(torch.zeros(4), 4)


@pytest.mark.parametrize("ndim", [2, 3])
def test_covariance_has_sigma_squared_eigenvalues(ndim):
    sigma = torch.tensor([2.0, 3.0, 5.0][:ndim], dtype=torch.float64)
    angles = torch.tensor(0.4 if ndim == 2 else [0.4, 0.1, -0.8], dtype=torch.float64)
    cov = covariance_matrix(sigma, angles)
    torch.testing.assert_close(torch.linalg.eigvalsh(cov), (sigma**2).sort().values)
    torch.testing.assert_close(covariance_matrix(sigma), torch.diag(sigma**2))


@pytest.mark.parametrize("ndim", [2, 3])
def test_translation_does_not_change_covariance(ndim):
    sigma = torch.tensor([2.0, 3.0, 5.0][:ndim], dtype=torch.float64)
    angles = torch.tensor(0.4 if ndim == 2 else [0.4, 0.1, -0.8], dtype=torch.float64)
    cov = covariance_matrix(sigma, angles)
    linear = torch.tensor([[1.2, 0.3, 0.0], [-0.1, 0.9, 0.2], [0.0, 0.4, 1.1]])[:ndim, :ndim]
    homogeneous = torch.eye(ndim + 1, dtype=torch.float64)
    homogeneous[:ndim, :ndim] = linear
    expected = linear.double() @ cov @ linear.double().T
    torch.testing.assert_close(transform_covariance(cov, homogeneous), expected)
    homogeneous[:ndim, ndim] = torch.tensor([50.0, -20.0, 7.0][:ndim])  # a translation
    torch.testing.assert_close(transform_covariance(cov, homogeneous), expected)
    torch.testing.assert_close(transform_covariance(cov, homogeneous[:ndim]), expected)
    torch.testing.assert_close(transform_covariance(cov, torch.eye(ndim)), cov)


def test_transform_covariance_rejects_mismatched_affine():
    with pytest.raises(ValueError, match="Affine"):
        transform_covariance(torch.eye(2), torch.eye(4))
    with pytest.raises(ValueError, match="Covariance"):
        transform_covariance(torch.ones(2, 3), torch.eye(2))
