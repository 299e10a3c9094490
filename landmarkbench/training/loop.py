"""A small, explicit training loop with model selection on the inner validation split.

The validation callback sees only the inner validation cases cut from the training fold,
never a reported split. The best state (lowest validation error) is restored at the end.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from landmarkbench.errors import ConfigError, TrainingError
from landmarkbench.methods.base import FitContext

BatchLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LoopSettings:
    """Optimisation settings of one fit.

    Attributes:
        max_epochs: Upper bound on passes over the training cases.
        batch_size: Cases per optimisation step.
        learning_rate: Adam's initial step size.
        weight_decay: Adam weight decay (L2).
        patience: Stop after this many epochs without validation improvement.
        grad_clip: Maximum gradient norm (0 disables clipping).
        lr_schedule: "cosine" (anneal to zero over max_epochs) or "plateau" (halve when the
            validation error stalls).
    """

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    grad_clip: float
    lr_schedule: str = "plateau"


def fit_loop(
    model: torch.nn.Module,
    batch_loss: BatchLoss,
    validate: Callable[[], float],
    images: torch.Tensor,
    points: torch.Tensor,
    settings: LoopSettings,
    ctx: FitContext,
    generator: torch.Generator,
    augment: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None,
) -> dict[str, Any]:
    """Train ``model`` on (images, points) and keep the state with the best validation error.

    Args:
        model: The network, already on the target device.
        batch_loss: ``(images, points) -> scalar loss`` for one batch.
        validate: Returns the validation error (lower is better) of the current model.
        images: (N, 1, *S) training images on the network grid (CPU).
        points: (N, C, d) training landmarks on the network grid (CPU).
        settings: Optimisation settings.
        ctx: The fold's context (device, progress bar, metric logging).
        generator: Seeded generator for shuffling and augmentation.
        augment: Optional ``(images, points) -> (images, points)`` applied per batch.

    Returns:
        Summary: epochs run, best epoch, best validation error, seconds.

    Raises:
        TrainingError: if the loss becomes NaN or infinite.
    """
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = _scheduler(optimizer, settings)
    best_error, best_epoch, best_state = math.inf, -1, None
    started = time.perf_counter()
    epochs = tqdm(
        range(settings.max_epochs),
        desc="train",
        leave=False,
        unit="ep",
        # None: tqdm shows the bar on a terminal only (no flood of lines in CI logs).
        disable=True if not ctx.progress else None,
    )
    epoch = -1
    for epoch in epochs:
        mean_loss = _run_epoch(
            model, optimizer, batch_loss, images, points, settings, ctx, generator, augment, epoch
        )
        error = validate()
        if settings.lr_schedule == "plateau":
            scheduler.step(error)
        else:
            scheduler.step()
        ctx.log_metric("train_loss", mean_loss, epoch)
        ctx.log_metric("val_error", error, epoch)
        epochs.set_postfix(loss=f"{mean_loss:.4g}", val_mre=f"{error:.3f}")
        if error < best_error:
            best_error, best_epoch = error, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {
        "epochs_run": epoch + 1,
        "best_epoch": best_epoch,
        "best_val_error": best_error,
        "train_seconds": round(time.perf_counter() - started, 3),
    }


def _scheduler(optimizer: torch.optim.Optimizer, settings: LoopSettings):
    if settings.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=max(1, settings.patience // 3)
        )
    if settings.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.max_epochs)
    raise ConfigError(
        f"Setting lr_schedule={settings.lr_schedule!r} is unknown; use 'cosine' or 'plateau'."
    )


def _run_epoch(
    model, optimizer, batch_loss, images, points, settings, ctx, generator, augment, epoch
):
    model.train()
    order = torch.randperm(images.shape[0], generator=generator)
    total, count = 0.0, 0
    for start in range(0, len(order), settings.batch_size):
        index = order[start : start + settings.batch_size]
        batch_images, batch_points = images[index], points[index]
        if augment is not None:
            batch_images, batch_points = augment(batch_images, batch_points)
        loss = batch_loss(batch_images.to(ctx.device), batch_points.to(ctx.device))
        if not torch.isfinite(loss):
            raise TrainingError(
                f"The training loss became {loss.item()} at epoch {epoch}; lower the learning "
                "rate (--set learning_rate=...) or the gradient clip (--set grad_clip=...)."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        total += loss.item() * len(index)
        count += len(index)
    return total / max(count, 1)
