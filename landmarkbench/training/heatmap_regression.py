"""The torch side of heatmap methods: tensors on the network grid, training, decoding.

Points are handled as (N, C, K, d): K = 1 for one point per landmark, K = the largest
instance count for multi-instance data (padded with NaN, whose target maps are zero).
A method is a configuration of this engine: the network (``training/networks.py``), the
objective (``training/objectives.py``), the decoder (below) and the number of ensemble
members (each trained with its own seed; their logits are averaged before decoding).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarkbench.config import Settings
from landmarkbench.datasets.base import Case
from landmarkbench.heatmaps.decoding import decode_maps
from landmarkbench.heatmaps.decoding import decode_points as decode_points  # re-exported
from landmarkbench.methods.base import FitContext
from landmarkbench.methods.network_grid import working_grid
from landmarkbench.preprocessing.geometry import ResizePad
from landmarkbench.preprocessing.network_input import network_input
from landmarkbench.training.augment import AffineAugmentation, random_affine
from landmarkbench.training.device import seed_everything
from landmarkbench.training.loop import (
    FINAL_FILE,
    LoopSettings,
    fit_loop,
    load_trained,
    save_trained,
)
from landmarkbench.training.networks import TrainableHeatmapModel, build_network
from landmarkbench.training.objectives import HeatmapObjective

MEMBER_SEED_STRIDE = 1_000_003


def network_shape(config: Settings, ctx: FitContext, example: Case) -> tuple[int, ...]:
    """The network grid: ``input_shape``, else the dataset's hint (else the example's
    shape), enlarged to the smallest grid the network's depth allows (``network_grid``)."""
    suggested = tuple(ctx.network_shape) or tuple(
        int(math.ceil(s / 16) * 16) for s in example.shape
    )
    return working_grid(config, suggested, example.ndim)


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
    from landmarkbench.training.preprocess_cache import PreprocessCache

    cache = PreprocessCache()
    instances = max((len(p) for c in cases for p in (c.instances or ())), default=1) or 1
    images, points, mappings = [], [], []
    for case in cases:
        image, mapping = network_input(cache.network_image(case, shape), case.shape)
        images.append(image)
        grid_points = mapping.points_to_target(case_points(case, instances))
        points.append(torch.as_tensor(grid_points, dtype=torch.float32))
        mappings.append(mapping)
    return torch.stack(images), torch.stack(points), mappings


def _flat_points(points: torch.Tensor) -> torch.Tensor:
    batch, classes, instances, d = points.shape
    return points.reshape(batch, classes * instances, d)


class HeatmapRegression:
    """Fit and apply heatmap networks (one per ensemble member) for one method.

    Args:
        config: The method's resolved configuration (network, target, decoder settings,
            optimisation, ``ensemble_size``).
        num_landmarks: Output channels (landmarks, or classes for multi-instance data).
        ndim: Spatial dimensionality.
        decoder: A point decoder of ``decode_points``, or "peaks" (multi-instance:
            non-maximum suppression with ``nms_radius_px`` and ``peak_threshold``).
    """

    def __init__(self, config: Settings, num_landmarks: int, ndim: int, decoder: str) -> None:
        self.config = config
        self.num_landmarks = num_landmarks
        self.ndim = ndim
        self.decoder = decoder
        self.models: list[TrainableHeatmapModel] = []

    def _new_model(self) -> TrainableHeatmapModel:
        objective = HeatmapObjective(
            self.config.target,
            self.config,
            self.num_landmarks,
            self.ndim,
            multi_instance=self.decoder == "peaks",
        )
        network = build_network(self.config, self.num_landmarks, self.ndim)
        return TrainableHeatmapModel(network, objective).to(self.device)

    @torch.no_grad()
    def _logits(self, images: torch.Tensor, models: list[TrainableHeatmapModel]) -> torch.Tensor:
        """Average of the members' maps for a batch (the ensemble rule: average logits)."""
        maps = None
        for model in models:
            model.eval()
            out = model(images.to(self.device)).float()
            maps = out if maps is None else maps + out
        return maps / len(models)

    def _predict_grid(self, images: torch.Tensor, models: list[TrainableHeatmapModel]) -> list:
        """Decoded points on the network grid: a (C, d) tensor or C (k, d) tensors per case."""
        decoded: list[Any] = []
        size = self.config.batch_size
        for start in range(0, images.shape[0], size):
            maps = self._logits(images[start : start + size], models)
            decoded += decode_maps(maps, self.decoder, self.config)
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
    def _validation_loss(self, model, images: torch.Tensor, points: torch.Tensor) -> float:
        model.eval()
        size = self.config.batch_size
        total = 0.0
        for start in range(0, images.shape[0], size):
            batch = slice(start, start + size)
            maps = model(images[batch].to(self.device))
            total += model.objective(maps, points[batch].to(self.device)).item() * maps.shape[0]
        return total / max(images.shape[0], 1)

    def _validation_error(self, model, images, points, mappings, cases) -> float:
        """Model-selection error on the inner validation cases (lower is better).

        One point per landmark: mean point error in mm on the original grids. Multi-instance:
        the objective on the validation cases (smooth from the first epoch, unlike a
        detection score that stays at zero until peaks first cross the threshold).
        """
        if self.decoder == "peaks":
            return self._validation_loss(model, images, points)
        from landmarkbench.evaluation.metrics import point_error_mm

        predicted = self._to_original(self._predict_grid(images, [model]), mappings)
        truth = np.stack([c.landmarks for c in cases])
        spacing = np.stack([c.spacing for c in cases])
        return float(np.nanmean(point_error_mm(np.stack(predicted), truth, spacing)))

    def _augment(self, generator: torch.Generator):
        aug = AffineAugmentation()

        def apply(images: torch.Tensor, points: torch.Tensor):
            warped, moved = random_affine(images, _flat_points(points), aug, generator)
            return warped, moved.view(points.shape)

        return apply

    def _fit_member(self, member_ctx: FitContext, data) -> tuple[TrainableHeatmapModel, dict]:
        images, points, val_images, val_points, val_maps, val = data
        generator = seed_everything(member_ctx.seed)
        model = self._new_model()
        reused = load_trained(member_ctx, model)
        if reused is not None:
            return model, reused
        settings = LoopSettings(
            max_epochs=self.config.max_epochs,
            batch_size=self.config.batch_size,
            learning_rate=self.config.learning_rate,
            weight_decay=self.config.weight_decay,
            patience=self.config.patience,
            grad_clip=self.config.grad_clip,
            lr_schedule=self.config.lr_schedule,
            amp=self.config.amp,
        )
        summary = fit_loop(
            model,
            lambda x, p: model.objective(model(x), p),
            partial(self._validation_error, model, val_images, val_points, val_maps, val),
            images,
            points,
            settings,
            member_ctx,
            generator,
            self._augment(generator) if self.config.augment else None,
        )
        summary["parameters"] = sum(p.numel() for p in model.network.parameters())
        summary["learned_targets"] = model.objective.describe()
        save_trained(member_ctx, model, summary)
        return model, summary

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        seed_everything(ctx.seed)
        if ctx.device == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.device = ctx.device
        self.shape = network_shape(self.config, ctx, train[0])
        images, points, _ = to_network_grid(train, self.shape)
        val_images, val_points, val_maps = to_network_grid(val, self.shape)
        data = (images, points, val_images, val_points, val_maps, val)
        members = []
        for member in range(int(self.config.get("ensemble_size", 1))):
            member_ctx = replace(
                ctx,
                seed=ctx.seed + MEMBER_SEED_STRIDE * member,
                checkpoint_dir=Path(ctx.checkpoint_dir) / f"member_{member}"
                if ctx.checkpoint_dir
                else None,
            )
            model, summary = self._fit_member(member_ctx, data)
            self.models.append(model)
            members.append(summary)
        summary = {
            **members[0],
            "members": members if len(members) > 1 else None,
            "network_shape": list(self.shape),
        }
        # The fold's model counts as reused only when no member was trained now.
        summary.pop("reused_trained_model", None)
        if all(m.get("reused_trained_model") for m in members):
            summary["reused_trained_model"] = True
        return summary

    def load_stored(
        self, member_dirs: Sequence[Path], shape: Sequence[int], device: str = "cpu"
    ) -> None:
        """Use stored trained models instead of fitting: one folder per model (each holding
        ``FINAL_FILE``, as ``fit`` stores it); their logits are averaged like an ensemble's.

        Raises:
            FileNotFoundError: for a folder without its final model.
        """
        self.device = device
        self.shape = tuple(int(s) for s in shape)
        self.models = []
        for folder in member_dirs:
            if not (Path(folder) / FINAL_FILE).is_file():
                raise FileNotFoundError(Path(folder) / FINAL_FILE)
            model = self._new_model()
            load_trained(FitContext(device, 0, Path(folder), checkpoint_dir=Path(folder)), model)
            self.models.append(model)

    def predict(self, cases: Sequence[Case]) -> Any:
        """Points on the original grids: (N, C, d), or per case C arrays (k, d) for peaks."""
        images, _, mappings = to_network_grid(cases, self.shape)
        predicted = self._to_original(self._predict_grid(images, self.models), mappings)
        return predicted if self.decoder == "peaks" else np.stack(predicted)

    def probability_batches(
        self, cases: Sequence[Case]
    ) -> Iterator[tuple[torch.Tensor, list[ResizePad]]]:
        """Spatial softmax of the (ensemble-averaged) logits on the network grid, per batch.

        The temperature is the method's ``softmax_temperature`` (1 when it has none): the
        maps a soft-argmax method decodes, and for the others the softmax of their raw maps.
        """
        from landmarkbench.uncertainty.probability_maps import spatial_softmax

        images, _, mappings = to_network_grid(cases, self.shape)
        size = self.config.batch_size
        temperature = float(self.config.get("softmax_temperature", 1.0))
        for start in range(0, images.shape[0], size):
            logits = self._logits(images[start : start + size], self.models)
            yield spatial_softmax(logits, temperature).cpu(), mappings[start : start + size]
