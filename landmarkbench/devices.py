"""The compute devices a run may ask for, and the choice among them: CUDA when asked for and
present, never required. One list of names (the spec, the command line and ``predict`` offer
it); torch is imported only to resolve, so reading the names stays light."""

from __future__ import annotations

from landmarkbench.errors import UsageError

__all__ = ["DEVICE_CHOICES", "resolve_device"]

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
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "Device 'cuda' was requested but PyTorch sees no CUDA GPU here; "
            "use --device auto or --device cpu."
        )
    return requested
