"""The torch side of heatmap regression: tensors on the network grid, U-Net, loss, decoding.

Points are handled as (N, C, K, d): K = 1 for one point per landmark, K = the largest
instance count for multi-instance data (padded with NaN, whose target maps are zero). The
target of a class is the maximum of its instances' Gaussians.
"""

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
from landmarkbench.heatmaps.peaks import find_peaks
from landmarkbench.heatmaps.targets import gaussian_heatmaps, landmark_mask
from landmarkbench.methods.base import FitContext
from landmarkbench.training.augment import AffineAugmentation, random_affine
from landmarkbench.training.device import seed_everything
from landmarkbench.training.loop import LoopSettings, fit_loop, load_trained, save_trained

DECODERS = {"argmax": argmax_decode, "subpixel": quadratic_subpixel_decode}


def network_shape(requested: Sequence[int], ctx: FitContext, example: Case) -> tuple[int, ...]:
    """The network grid: ``requested``, else the dataset's hint, else the example's shape
    rounded up to multiples of 16."""
    if requested:
        return tuple(int(s) for s in requested)
    if ctx.network_shape:
        return tuple(ctx.network_shape)
    return tuple(int(math.ceil(s / 16) * 16) for s in example.shape)


def normalise_intensity(image: torch.Tensor, mapping: ResizePad) -> torch.Tensor:
    """Zero mean, unit standard deviation over the image's own pixels (not the padding);
    the padding becomes 0, the image mean."""
    region = tuple(
        slice(p, p + n) for p, n in zip(mapping.pad_before, mapping.resized_shape, strict=True)
    )
    pixels = image[region]
    normalised = torch.zeros_like(image)
    normalised[region] = (pixels - pixels.mean()) / pixels.std().clamp_min(1e-6)
    return normalised


def case_points(case: Case, instances: int) -> np.ndarray:
    """A case's points as (C, K, d): its landmarks (K = 1) or its instances padded with NaN."""
    if case.instances is None:
        return case.landmarks[:, None, :]
    padded = np.full((len(case.instances), instances, case.ndim), np.nan)
    for c, points in enumerate(case.instances):
        padded[c, : len(points)] = points
    return padded


def to_network_grid(
    cases: Sequence[Case], shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, list[ResizePad]]:
    """Stack cases as (N, 1, *shape) images and (N, C, K, d) points on the network grid.

    Images come through the preprocessing cache: a file-backed image is decoded and resized
    once, later epochs, folds and runs read the resized array from disk.
    """
    from landmarkbench.preprocess_cache import PreprocessCache

    cache = PreprocessCache()
    instances = max((len(p) for c in cases for p in (c.instances or ())), default=1) or 1
    images, points, mappings = [], [], []
    for case in cases:
        mapping = ResizePad(case.shape, shape)
        resized = torch.from_numpy(np.array(cache.network_image(case, shape), dtype=np.float32))
        images.append(normalise_intensity(resized, mapping)[None])
        grid_points = mapping.points_to_target(case_points(case, instances))
        points.append(torch.as_tensor(grid_points, dtype=torch.float32))
        mappings.append(mapping)
    return torch.stack(images), torch.stack(points), mappings


def _flat_points(points: torch.Tensor) -> torch.Tensor:
    batch, classes, instances, d = points.shape
    return points.reshape(batch, classes * instances, d)


class HeatmapRegression:
    """Fit and apply a U-Net that regresses one Gaussian heatmap per landmark or class.

    Args:
        config: The method's resolved configuration.
        num_landmarks: Output channels (landmarks, or classes for multi-instance data).
        ndim: Spatial dimensionality.
        decoder: "argmax" or "subpixel" (one point per map), or "peaks" (multi-instance:
            non-maximum suppression with ``nms_radius_px`` and ``peak_threshold``).
    """

    def __init__(self, config: dict[str, Any], num_landmarks: int, ndim: int, decoder: str) -> None:
        self.config = config
        self.num_landmarks = num_landmarks
        self.ndim = ndim
        self.decoder = decoder

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
        batch, classes, instances, _ = points.shape
        spatial = tuple(images.shape[2:])
        maps = gaussian_heatmaps(_flat_points(points), spatial, self.config["sigma_px"])
        target = self.config["heatmap_peak"] * maps.view(batch, classes, instances, *spatial).amax(
            2
        )
        if self.decoder == "peaks":  # an empty class is a valid target: predict nothing
            valid = torch.ones(batch, classes, device=points.device, dtype=predicted.dtype)
        else:
            valid = landmark_mask(points[:, :, 0]).to(predicted.dtype)
        squared = (predicted - target).pow(2).flatten(2).sum(-1)
        return (squared * valid).sum() / valid.sum().clamp_min(1.0)

    @torch.no_grad()
    def _predict_grid(self, images: torch.Tensor) -> list[Any]:
        """Decoded points on the network grid: a (C, d) tensor or C (k, d) tensors per case."""
        self.network.eval()
        decoded: list[Any] = []
        for start in range(0, images.shape[0], self.config["batch_size"]):
            maps = self.network(images[start : start + self.config["batch_size"]].to(self.device))
            if self.decoder == "peaks":
                threshold = self.config["peak_threshold"] * self.config["heatmap_peak"]
                peaks = find_peaks(maps.float(), self.config["nms_radius_px"], threshold)
                decoded += [[p.cpu() for p in case] for case in peaks.as_lists()]
            else:
                decoded += list(DECODERS[self.decoder](maps).cpu())
        return decoded

    def _to_original(self, grid_points: Sequence[Any], mappings: Sequence[ResizePad]) -> list:
        def back(mapping: ResizePad, points: torch.Tensor) -> np.ndarray:
            return np.asarray(mapping.points_to_original(points.double().numpy()))

        if self.decoder == "peaks":
            return [
                tuple(back(m, p) for p in case)
                for m, case in zip(mappings, grid_points, strict=True)
            ]
        return [back(m, p) for m, p in zip(mappings, grid_points, strict=True)]

    @torch.no_grad()
    def _validation_loss(self, images: torch.Tensor, points: torch.Tensor) -> float:
        self.network.eval()
        size = self.config["batch_size"]
        total = 0.0
        for start in range(0, images.shape[0], size):
            batch = slice(start, start + size)
            loss = self._loss(images[batch].to(self.device), points[batch].to(self.device))
            total += loss.item() * images[batch].shape[0]
        return total / max(images.shape[0], 1)

    def _validation_error(self, images, points, mappings, cases) -> float:
        """Model-selection error on the inner validation cases (lower is better).

        One point per landmark: mean point error in mm on the original grids. Multi-instance:
        the heatmap loss (smooth from the first epoch, unlike a detection score that stays
        at zero until peaks first cross the threshold).
        """
        if self.decoder == "peaks":
            return self._validation_loss(images, points)
        predicted = self._to_original(self._predict_grid(images), mappings)
        from landmarkbench.metrics import point_error_mm

        truth = np.stack([c.landmarks for c in cases])
        spacing = np.stack([c.spacing for c in cases])
        return float(np.nanmean(point_error_mm(np.stack(predicted), truth, spacing)))

    def _augment(self, generator: torch.Generator):
        aug = AffineAugmentation()

        def apply(images: torch.Tensor, points: torch.Tensor):
            warped, moved = random_affine(images, _flat_points(points), aug, generator)
            return warped, moved.view(points.shape)

        return apply

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        generator = seed_everything(ctx.seed)
        if ctx.device == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.device = ctx.device
        self.shape = network_shape(self.config["input_shape"], ctx, train[0])
        self.network = self._build_network().to(ctx.device)
        images, points, _ = to_network_grid(train, self.shape)
        val_images, val_points, val_maps = to_network_grid(val, self.shape)
        settings = LoopSettings(
            max_epochs=self.config["max_epochs"],
            batch_size=self.config["batch_size"],
            learning_rate=self.config["learning_rate"],
            weight_decay=self.config["weight_decay"],
            patience=self.config["patience"],
            grad_clip=self.config["grad_clip"],
            lr_schedule=self.config["lr_schedule"],
            amp=self.config["amp"],
        )
        reused = load_trained(ctx, self.network)
        if reused is not None:
            return reused
        summary = fit_loop(
            self.network,
            self._loss,
            partial(self._validation_error, val_images, val_points, val_maps, val),
            images,
            points,
            settings,
            ctx,
            generator,
            self._augment(generator) if self.config["augment"] else None,
        )
        summary["network_shape"] = list(self.shape)
        summary["parameters"] = sum(p.numel() for p in self.network.parameters())
        save_trained(ctx, self.network, summary)
        return summary

    def predict(self, cases: Sequence[Case]) -> Any:
        """Points on the original grids: (N, C, d), or per case C arrays (k, d) for peaks."""
        images, _, mappings = to_network_grid(cases, self.shape)
        predicted = self._to_original(self._predict_grid(images), mappings)
        return predicted if self.decoder == "peaks" else np.stack(predicted)
