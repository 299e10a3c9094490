"""Device choice and seeding: CUDA when asked for and present, never required."""

from __future__ import annotations

import random

import numpy as np
import torch

from landmarkbench.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> str:
    """Turn "auto" | "cpu" | "cuda" into the device to use.

    Raises:
        UsageError: for an unknown name, or "cuda" on a machine without CUDA.
    """
    if requested not in DEVICE_CHOICES:
        raise UsageError(
            f"Device {requested!r} is unknown; use one of {', '.join(DEVICE_CHOICES)}."
        )
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "Device 'cuda' was requested but PyTorch sees no CUDA GPU here; "
            "use --device auto or --device cpu."
        )
    return requested


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for explicit sampling."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
