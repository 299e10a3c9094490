"""Maps to points by decoder name: the one dispatch shared by the heatmap engine and
exported models (``DECODER_SETTINGS`` names the settings each decoder reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from landmarkbench.errors import ConfigError
from landmarkbench.heatmaps.decoders import (
    argmax_decode,
    local_soft_argmax,
    log_quadratic_subpixel_decode,
    quadratic_subpixel_decode,
    soft_argmax,
)
from landmarkbench.heatmaps.peaks import find_peaks

# The settings each decoder reads (an exported model stores exactly these).
DECODER_SETTINGS: dict[str, tuple[str, ...]] = {
    "argmax": (),
    "subpixel": (),
    "log_subpixel": (),
    "local_soft_argmax": ("lsa_window", "lsa_temperature"),
    "soft_argmax": ("softmax_temperature",),
    "peaks": ("peak_threshold", "heatmap_peak", "nms_radius_px"),
}


def decode_points(maps: torch.Tensor, decoder: str, settings: Mapping[str, Any]) -> torch.Tensor:
    """One point per map, (B, C, d), by the named decoder.

    Raises:
        ConfigError: for an unknown decoder.
    """
    if decoder == "argmax":
        return argmax_decode(maps)
    if decoder == "subpixel":
        return quadratic_subpixel_decode(maps)
    if decoder == "log_subpixel":
        return log_quadratic_subpixel_decode(maps)
    if decoder == "local_soft_argmax":
        return local_soft_argmax(
            maps, window=settings["lsa_window"], temperature=settings["lsa_temperature"]
        )
    if decoder == "soft_argmax":
        return soft_argmax(maps, temperature=settings["softmax_temperature"])
    raise ConfigError(f"Decoder {decoder!r} is unknown to the heatmap engine.")


@torch.no_grad()
def decode_maps(maps: torch.Tensor, decoder: str, settings: Mapping[str, Any]) -> list[Any]:
    """Points on the maps' grid per case: a (C, d) tensor, or for ``peaks`` (multi-instance:
    peaks above ``peak_threshold`` x ``heatmap_peak``, ``nms_radius_px`` apart) C (k, d)
    tensors, on the CPU."""
    if decoder == "peaks":
        threshold = settings["peak_threshold"] * settings["heatmap_peak"]
        peaks = find_peaks(maps, settings["nms_radius_px"], threshold)
        return [[p.cpu() for p in case] for case in peaks.as_lists()]
    return list(decode_points(maps, decoder, settings).cpu())
