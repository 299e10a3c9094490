"""The torch side of heatmap regression: tensors on the network grid, U-Net, loss, decoding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.geometry import ResizePad
from landmarkbench.heatmaps.decoders import argmax_decode, quadratic_subpixel_decode
from landmarkbench.heatmaps.targets import gaussian_heatmaps, landmark_mask
from landmarkbench.methods.base import FitContext
from landmarkbench.training.augment import AffineAugmentation, random_affine
from landmarkbench.training.device import seed_everything
from landmarkbench.training.loop import LoopSettings, fit_loop

DECODERS = {"argmax": argmax_decode, "subpixel": quadratic_subpixel_decode}


def network_shape(requested: Sequence[int], ctx: FitContext, example: Case) -> tuple[int, ...]:
    """The network grid: ``requested``, else the dataset's hint, else the example's shape
    rounded up to multiples of 16."""
    if requested:
        return tuple(int(s) for s in requested)
    if ctx.network_shape:
        return tuple(ctx.network_shape)
    return tuple(int(math.ceil(s / 16) * 16) for s in example.shape)


def normalise_intensity(image: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per image (robust to constant images)."""
    return (image - image.mean()) / image.std().clamp_min(1e-6)


def to_network_grid(
    cases: Sequence[Case], shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, list[ResizePad]]:
    """Stack cases as (N, 1, *shape) images and (N, C, d) landmarks on the network grid."""
    images, points, mappings = [], [], []
    for case in cases:
        mapping = ResizePad(case.shape, shape)
        image = torch.from_numpy(np.ascontiguousarray(case.image, dtype=np.float32))
        images.append(mapping.image_to_target(normalise_intensity(image)[None, None])[0])
        points.append(
            torch.as_tensor(mapping.points_to_target(case.landmarks), dtype=torch.float32)
        )
        mappings.append(mapping)
    return torch.stack(images), torch.stack(points), mappings


class HeatmapRegression:
    """Fit and apply a U-Net that regresses one Gaussian heatmap per landmark."""

    def __init__(self, config: dict[str, Any], num_landmarks: int, ndim: int, decoder: str) -> None:
        self.config = config
        self.num_landmarks = num_landmarks
        self.ndim = ndim
        self.decode = DECODERS[decoder]

    def _build_network(self) -> torch.nn.Module:
        from monai.networks.nets import UNet

        channels = tuple(self.config["channels"])
        return UNet(
            spatial_dims=self.ndim,
            in_channels=1,
            out_channels=self.num_landmarks,
            channels=channels,
            strides=(2,) * (len(channels) - 1),
            num_res_units=self.config["num_res_units"],
        )

    def _loss(self, images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        predicted = self.network(images)
        target = self.config["heatmap_peak"] * gaussian_heatmaps(
            points, tuple(images.shape[2:]), self.config["sigma_px"]
        )
        valid = landmark_mask(points).to(predicted.dtype)
        squared = (predicted - target).pow(2).flatten(2).sum(-1)
        return (squared * valid).sum() / valid.sum().clamp_min(1.0)

    @torch.no_grad()
    def _predict_grid(self, images: torch.Tensor) -> torch.Tensor:
        self.network.eval()
        decoded = []
        for start in range(0, images.shape[0], self.config["batch_size"]):
            batch = images[start : start + self.config["batch_size"]].to(self.device)
            decoded.append(self.decode(self.network(batch)).cpu())
        return torch.cat(decoded)

    def _validation_error(self, images, points, mappings, cases) -> float:
        """Mean point error in mm on the validation cases' original grids."""
        from landmarkbench.metrics import point_error_mm

        predicted = self._to_original(self._predict_grid(images), mappings)
        truth = np.stack([c.landmarks for c in cases])
        spacing = np.stack([c.spacing for c in cases])
        return float(np.nanmean(point_error_mm(predicted, truth, spacing)))

    @staticmethod
    def _to_original(grid_points: torch.Tensor, mappings: Sequence[ResizePad]) -> np.ndarray:
        return np.stack(
            [
                np.asarray(m.points_to_original(p.numpy()))
                for m, p in zip(mappings, grid_points, strict=True)
            ]
        )

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        generator = seed_everything(ctx.seed)
        if ctx.device == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.device = ctx.device
        self.shape = network_shape(self.config["input_shape"], ctx, train[0])
        self.network = self._build_network().to(ctx.device)
        images, points, _ = to_network_grid(train, self.shape)
        val_images, val_points, val_maps = to_network_grid(val, self.shape)
        augment = None
        if self.config["augment"]:
            augment = partial(random_affine, aug=AffineAugmentation(), generator=generator)
        settings = LoopSettings(
            max_epochs=self.config["max_epochs"],
            batch_size=self.config["batch_size"],
            learning_rate=self.config["learning_rate"],
            weight_decay=self.config["weight_decay"],
            patience=self.config["patience"],
            grad_clip=self.config["grad_clip"],
            lr_schedule=self.config["lr_schedule"],
        )
        summary = fit_loop(
            self.network,
            self._loss,
            partial(self._validation_error, val_images, val_points, val_maps, val),
            images,
            points,
            settings,
            ctx,
            generator,
            augment,
        )
        summary["network_shape"] = list(self.shape)
        summary["parameters"] = sum(p.numel() for p in self.network.parameters())
        return summary

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        images, _, mappings = to_network_grid(cases, self.shape)
        return self._to_original(self._predict_grid(images), mappings)
