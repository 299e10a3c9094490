"""A small, explicit training loop with model selection on the inner validation split.

The validation callback sees only the inner validation cases cut from the training fold,
never a reported split. The best state (lowest validation error) is restored at the end.

After every epoch the complete training state (model, optimiser, schedule, best state, RNG
states, curves) is written atomically to ``ctx.checkpoint_dir/last.pt``: a run killed
mid-fold resumes from the last finished epoch and, on the CPU, ends exactly as an
uninterrupted run with the same seed would.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from landmarkbench.atomic_io import write_atomically
from landmarkbench.errors import ConfigError, TrainingError
from landmarkbench.methods.base import FitContext

BatchLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CHECKPOINT_FILE = "last.pt"
AMP_DTYPE = torch.float16  # mixed precision on CUDA (with a GradScaler)


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
        amp: Mixed precision on CUDA (ignored on the CPU).
    """

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    grad_clip: float
    lr_schedule: str = "plateau"
    amp: bool = True


@dataclass
class _State:
    """Everything that must survive a restart of the loop."""

    epoch: int = -1
    best_error: float = math.inf
    best_epoch: int = -1
    best_state: dict[str, Any] | None = None
    history: dict[str, list[float]] | None = None
    seconds: float = 0.0


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
        points: Training points on the network grid (CPU), first axis N.
        settings: Optimisation settings.
        ctx: The fold's context (device, progress bar, metric logging, checkpoint folder).
        generator: Seeded generator for shuffling and augmentation.
        augment: Optional ``(images, points) -> (images, points)`` applied per batch.

    Returns:
        Summary: epochs run, best epoch, best validation error, seconds, resumed epoch.

    Raises:
        TrainingError: if the loss becomes NaN or infinite.
    """
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = _scheduler(optimizer, settings)
    use_amp = settings.amp and ctx.device == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    state = _State(history={})
    checkpoint = Path(ctx.checkpoint_dir) / CHECKPOINT_FILE if ctx.checkpoint_dir else None
    resumed_from = -1
    if checkpoint is not None and checkpoint.is_file():
        state = _restore(checkpoint, model, optimizer, scheduler, scaler, generator)
        resumed_from = state.epoch
        for name, values in (state.history or {}).items():
            for step, value in enumerate(values):
                ctx.log_metric(name, value, step)
    started = time.perf_counter() - state.seconds
    epochs = tqdm(
        range(state.epoch + 1, settings.max_epochs),
        desc="train",
        leave=False,
        unit="ep",
        initial=state.epoch + 1,
        total=settings.max_epochs,
        # None: tqdm shows the bar on a terminal only (no flood of lines in CI logs).
        disable=True if not ctx.progress else None,
    )
    for epoch in epochs:
        if state.best_epoch >= 0 and epoch - state.best_epoch > settings.patience:
            break
        mean_loss = _run_epoch(
            model, optimizer, scaler, batch_loss, images, points, settings, ctx, generator,
            augment, epoch, use_amp,
        )  # fmt: skip
        error = validate()
        if settings.lr_schedule == "plateau":
            scheduler.step(error)
        else:
            scheduler.step()
        for name, value in (("train_loss", mean_loss), ("val_error", error)):
            state.history.setdefault(name, []).append(float(value))
            ctx.log_metric(name, value, epoch)
        epochs.set_postfix(loss=f"{mean_loss:.4g}", val=f"{error:.3f}")
        if error < state.best_error:
            state.best_error, state.best_epoch = error, epoch
            state.best_state = copy.deepcopy(model.state_dict())
        state.epoch = epoch
        state.seconds = time.perf_counter() - started
        if checkpoint is not None:
            _save(checkpoint, state, model, optimizer, scheduler, scaler, generator)
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    return {
        "epochs_run": state.epoch + 1,
        "best_epoch": state.best_epoch,
        "best_val_error": state.best_error,
        "train_seconds": round(time.perf_counter() - started, 3),
        "resumed_after_epoch": resumed_from,
        "amp": use_amp,
    }


def _save(path: Path, state: _State, model, optimizer, scheduler, scaler, generator) -> None:
    """Write the whole training state atomically (a kill never leaves half a checkpoint)."""
    payload = {
        "state": state.__dict__,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    write_atomically(path, lambda stream: torch.save(payload, stream))


def _restore(path: Path, model, optimizer, scheduler, scaler, generator) -> _State:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    generator.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    return _State(**payload["state"])


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
    model, optimizer, scaler, batch_loss, images, points, settings, ctx, generator, augment,
    epoch, use_amp,
):  # fmt: skip
    model.train()
    order = torch.randperm(images.shape[0], generator=generator)
    total, count = 0.0, 0
    for start in range(0, len(order), settings.batch_size):
        index = order[start : start + settings.batch_size]
        batch_images, batch_points = images[index], points[index]
        if augment is not None:
            batch_images, batch_points = augment(batch_images, batch_points)
        autocast = torch.autocast("cuda", dtype=AMP_DTYPE) if use_amp else contextlib.nullcontext()
        with autocast:
            loss = batch_loss(batch_images.to(ctx.device), batch_points.to(ctx.device))
        if not torch.isfinite(loss):
            raise TrainingError(
                f"The training loss became {loss.item()} at epoch {epoch}; lower the learning "
                "rate (--set learning_rate=...) or the gradient clip (--set grad_clip=...)."
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if settings.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * len(index)
        count += len(index)
    return total / max(count, 1)


FINAL_FILE = "final.pt"


def load_trained(ctx: FitContext, model: torch.nn.Module) -> dict[str, Any] | None:
    """Load the finished model of this fold if one was trained before (shared by methods
    that differ only in decoding); returns its fit summary, or None."""
    path = Path(ctx.checkpoint_dir) / FINAL_FILE if ctx.checkpoint_dir else None
    if path is None or not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(payload["model"])
    return {**payload["summary"], "reused_trained_model": True}


def save_trained(ctx: FitContext, model: torch.nn.Module, summary: dict[str, Any]) -> None:
    """Store the selected model of this fold and drop the per-epoch checkpoint."""
    if not ctx.checkpoint_dir:
        return
    folder = Path(ctx.checkpoint_dir)
    payload = {"model": model.state_dict(), "summary": summary}
    write_atomically(folder / FINAL_FILE, lambda stream: torch.save(payload, stream))
    (folder / CHECKPOINT_FILE).unlink(missing_ok=True)
